// The action's post step (runs.post): clean up what the main step could not,
// e.g. when the runner killed it mid-wait. State comes from core.saveState.
import * as core from '@actions/core'
import { readConfig } from '../config/config.ts'
import { ConsulClient } from '../consul/client.ts'
import { completeAbandoned } from '../github/reporter.ts'
import { releaseLock } from '../consul/lock.ts'
import { releaseS3Lock } from '../serf/s3-lock.ts'
import { leaveSavedAgent } from '../serf/own-agent.ts'
import type { SavedAgent } from '../serf/own-agent.ts'
import type { AnnounceJournal } from '../consul/announce.ts'
import { announcementProgress, isSettled, settle } from '../consul/announce.ts'
import { coreLog } from './core-log.ts'
import { STATE } from './state.ts'
import { abandonedMarkdown } from '../report/report.ts'
import { runFacts } from '../report/run-facts.ts'

/** How long the post step may take to settle an interrupted announcement. */
const SETTLE_MS = 30_000

export async function post(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // The Serf RPC key is read with the config below: masked before anything could print it.
  for (const secret of [core.getInput('serf-rpc-auth'), env.SERF_RPC_AUTH])
    if (secret) core.setSecret(secret)
  // latest first: the lock keeps other runs out until it is settled.
  const left = await settleLeftAnnouncement(env)
  await releaseLeftLock(env)
  await leaveLeftAgent()
  if (core.getState(STATE.summarized) !== 'true') await summarizeLeft(env, left)
  if (core.getState(STATE.reported) !== 'true') {
    const token = core.getInput('github-token')
    if (token) core.setSecret(token)
    await completeAbandoned({
      token,
      env,
      checkRunId: Number(core.getState(STATE.checkRunId)) || undefined,
      deploymentId: Number(core.getState(STATE.deploymentId)) || undefined,
      pendingStatus: core.getState(STATE.statusSha)
        ? { sha: core.getState(STATE.statusSha), context: core.getState(STATE.statusContext) }
        : undefined,
      log: coreLog
    })
  }
}

/** serf-join: the action's agent is still running when the main step died before it left. */
async function leaveLeftAgent(): Promise<void> {
  const saved = core.getState(STATE.serfAgent)
  if (!saved || core.getState(STATE.serfAgentLeft) === 'true') return
  try {
    const agent = JSON.parse(saved) as SavedAgent
    if (await leaveSavedAgent(agent))
      core.info(`the serf agent the main step left (pid ${agent.pid}) left the cluster`)
  } catch (error) {
    core.warning(
      `could not make the serf agent the main step left leave: ${(error as Error).message}`
    )
  }
}

function consulFromInputs(env: NodeJS.ProcessEnv, retryForMs: number): ConsulClient {
  const token = core.getInput('consul-token') || env.CONSUL_HTTP_TOKEN
  if (token) core.setSecret(token)
  const config = readConfig((name) => core.getInput(name), env)
  return new ConsulClient({ addr: config.consul.addr, token: config.consul.token, retryForMs })
}

interface LeftAnnouncement {
  journal: AnnounceJournal
  /** the event went out; undefined: not known */
  fired?: boolean
}

/** A main step that stopped with no job summary of its own: the post step writes what it knows. */
async function summarizeLeft(env: NodeJS.ProcessEnv, left: LeftAnnouncement | undefined) {
  if (!left || !env.GITHUB_STEP_SUMMARY) return
  try {
    const config = readConfig((name) => core.getInput(name), env)
    const { journal, fired } = left
    const facts = runFacts(config, { journal: announcementProgress(journal) })
    await core.summary
      .addRaw(
        abandonedMarkdown({
          ...facts,
          deployId: journal.deployId,
          manifestUrl: journal.manifestUrl,
          eventFired: fired,
          latestMoved: fired === undefined ? undefined : fired
        })
      )
      .write()
  } catch (error) {
    core.warning(`could not write the job summary: ${(error as Error).message}`)
  }
}

/** A main step cancelled or killed inside the announcement leaves its journal unsettled. */
async function settleLeftAnnouncement(
  env: NodeJS.ProcessEnv
): Promise<LeftAnnouncement | undefined> {
  const saved = core.getState(STATE.announce)
  if (!saved) return undefined
  let journal: AnnounceJournal
  try {
    journal = JSON.parse(saved) as AnnounceJournal
  } catch {
    return undefined
  }
  if (isSettled(journal)) return { journal, fired: journal.phase === 'fired' }
  const log = coreLog
  try {
    const consul = consulFromInputs(env, SETTLE_MS)
    const bound = consul.inDatacenter(journal.datacenter)
    const outcome = await settle(bound, journal, log, {
      deadline: Date.now() + SETTLE_MS
    })
    if (outcome.settled)
      core.info(
        outcome.fired
          ? `settled the announcement the main step left: ${journal.pointerOnly ? 'latest moved with no event' : 'its event went out'}, latest names ${journal.deployId}`
          : `settled the announcement the main step left: latest is as it was before the run`
      )
    return { journal, fired: outcome.settled ? outcome.fired : undefined }
  } catch (error) {
    core.warning(
      `could not settle the announcement the main step left: ${(error as Error).message}`
    )
    return { journal }
  }
}

async function releaseLeftLock(env: NodeJS.ProcessEnv): Promise<void> {
  const session = core.getState(STATE.lockSession)
  const key = core.getState(STATE.lockKey)
  if (!session || !key || core.getState(STATE.lockReleased) === 'true') return
  try {
    // Serf (contract 13): the lock is an S3 object, named by its s3:// URL.
    if (key.startsWith('s3://')) await releaseObjectLock(env, key, session)
    else {
      const datacenter = core.getState(STATE.lockDatacenter) || undefined
      await releaseLock(consulFromInputs(env, 10_000).inDatacenter(datacenter), key, session)
    }
    core.info(`released the deploy lock ${key} the main step left behind`)
  } catch (error) {
    // The session's TTL frees the lock anyway; the post step must not fail the job.
    core.warning(
      `could not release the deploy lock ${key} (it frees itself when its session expires): ${(error as Error).message}`
    )
  }
}

async function releaseObjectLock(env: NodeJS.ProcessEnv, url: string, session: string) {
  const config = readConfig((name) => core.getInput(name), env)
  const { createS3Store } = await import('../publish/s3-store.ts')
  const store = createS3Store(config.s3)
  try {
    const key = url.slice(`s3://${store.bucket}/`.length)
    await releaseS3Lock(store, key, session, Date.now() + 10_000)
  } finally {
    store.destroy()
  }
}
