// The action's post step (runs.post): clean up what the main step could not,
// e.g. when the runner killed it mid-wait. State comes from core.saveState.
import * as core from '@actions/core'
import { readConfig } from './config.ts'
import { ConsulClient } from './consul.ts'
import { completeAbandoned } from './github.ts'
import { releaseLock } from './lock.ts'

export const STATE = {
  lockSession: 'lock-session',
  lockKey: 'lock-key',
  lockReleased: 'lock-released',
  checkRunId: 'check-run-id',
  deploymentId: 'deployment-id',
  /** a commit status left pending: its SHA and context */
  statusSha: 'status-sha',
  statusContext: 'status-context',
  /** the main step completed its check run and deployment */
  reported: 'reported'
} as const

export async function post(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await releaseLeftLock(env)
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
      log: { info: core.info, warning: core.warning, debug: core.debug, group: core.group }
    })
  }
}

async function releaseLeftLock(env: NodeJS.ProcessEnv): Promise<void> {
  const session = core.getState(STATE.lockSession)
  const key = core.getState(STATE.lockKey)
  if (!session || !key || core.getState(STATE.lockReleased) === 'true') return
  const token = core.getInput('consul-token') || env.CONSUL_HTTP_TOKEN
  if (token) core.setSecret(token)
  try {
    const config = readConfig((name) => core.getInput(name), env)
    const consul = new ConsulClient({
      addr: config.consul.addr,
      token: config.consul.token,
      retryForMs: 10_000
    })
    await releaseLock(consul, key, session)
    core.info(`released the deploy lock ${key} the main step left behind`)
  } catch (error) {
    // The session's TTL frees the lock anyway; the post step must not fail the job.
    core.warning(
      `could not release the deploy lock ${key} (it frees itself when its session expires): ${(error as Error).message}`
    )
  }
}
