// The stages of one run, wired together: plan → pack/publish → announce →
// await → report. Every client is passed in, so tests run the whole pipeline
// against local servers.
import { readFile } from 'node:fs/promises'
import { announce, isSettled, kvKeys } from './announce.ts'
import type { AnnounceJournal, HistoryRecord } from './announce.ts'
import { awaitFleet, catalogJoinerCheck, readCatalog } from './await.ts'
import type { Config } from './config.ts'
import { releaseKey, s3Url } from './config.ts'
import type { ConsulClient } from './consul.ts'
import type { DryRunPlan } from './dry-run.ts'
import { dryRunLines, dryRunMarkdown, dryRunMessage, readLock, readPrevious } from './dry-run.ts'
import { InputError, quote } from './errors.ts'
import type { Verdict } from './fleet-state.ts'
import { FleetState } from './fleet-state.ts'
import type { Log } from './log.ts'
import { throttle } from './log.ts'
import type { ManifestTemplate } from './manifest.ts'
import { parseManifestTemplate } from './manifest.ts'
import type { CheckedBuild } from './pack.ts'
import { archiveShape } from './pack.ts'
import { failureCommands, successCommands } from './node-report.ts'
import { checkPlatform } from './pack-tools.ts'
import type { Release, ReportingCommands } from './publish.ts'
import { checkBuild, checkManifestRenders, nextFileTime, publish } from './publish.ts'
import type { DeployFacts, FleetReport } from './report.ts'
import { plainText, progressLine, resultRows, summaryMarkdown, verdictMessage } from './report.ts'
import { runFacts } from './run-facts.ts'
import type { HeldLock } from './lock.ts'
import { acquireLock } from './lock.ts'
import { findRelease } from './rollback.ts'
import type { ReleaseStore } from './store.ts'
import type { TargetSelection } from './targets.ts'
import { selectTargets } from './targets.ts'

export type OutputName =
  | 'deploy-id'
  | 'manifest-url'
  | 'src-url'
  | 'checksum'
  | 'nodes-total'
  | 'nodes-succeeded'
  | 'nodes-failed'
  | 'nodes-pending'
  | 'results'

export interface PipelineDeps {
  store: ReleaseStore
  consul: ConsulClient
  log: Log
  setOutput: (name: OutputName, value: string) => void
  /** the job summary (markdown); absent outside GitHub Actions */
  writeSummary?: (markdown: string) => Promise<void>
  /** aborts the wait (SIGINT/SIGTERM) */
  signal?: AbortSignal
  /** the lock's session, so the post step can release it if this process dies */
  onLockSession?: (sessionId: string) => void
  onLockReleased?: () => void
  /** each step of the announcement, so the post step can finish an interrupted one */
  onAnnounceJournal?: (journal: AnnounceJournal) => void
  /** after the event is fired (for the PR check) */
  onAnnounced?: (state: {
    release: Release
    fleet: FleetState
    facts: DeployFacts
  }) => Promise<void>
  /** on each change while waiting */
  onProgress?: (fleet: FleetState) => void
  /** the runner's platform (process.platform); a seam for the tests */
  platform?: NodeJS.Platform
}

export interface PipelineResult {
  /** undefined when cancelled before the release was published or found */
  release?: Release
  fleet?: FleetState
  verdict?: Verdict
  /** failed nodes' log tails */
  excerpts?: Array<{ node: string; text: string }>
  /** true when the run must fail; `message` says why in one line */
  failed: boolean
  /** stopped by SIGINT/SIGTERM */
  cancelled: boolean
  message: string
  /** `dry-run`: what a deploy would have done */
  dryRun?: DryRunPlan
}

/** How long a cancelled run tries to release the lock (its session's TTL frees it anyway). */
const CANCELLED_LOCK_RELEASE_MS = 1_500

/** How long the plan stage retries an unreachable Consul before saying so. */
const PLAN_RETRY_MS = 15_000

/** How many of a failed node's last log lines are printed, and for how many nodes. */
const EXCERPT_LINES = 40
const MAX_EXCERPTS = 10
/** Failed nodes whose logs are read for the report (grouped by cause), 8 at a time. */
const MAX_LOGS_READ = 200

async function loadTemplate(config: Config, log: Log): Promise<ManifestTemplate | undefined> {
  if (!config.manifestFile) return undefined
  let text: string
  try {
    text = await readFile(config.manifestFile, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new InputError('manifest', `cannot be read: ${quote(config.manifestFile)} (${code})`)
  }
  const template = parseManifestTemplate(text, config.manifestName ?? config.manifestFile)
  for (const warning of template.warnings) log.warning(warning)
  return template
}

export function reportingCommands(config: Config): ReportingCommands {
  const opts = { kvPrefix: config.kvPrefix, deployId: config.deployId }
  return { success: successCommands(opts), failure: failureCommands(opts) }
}

function setFleetOutputs(fleet: FleetState, setOutput: PipelineDeps['setOutput']): void {
  const c = fleet.counts()
  setOutput('nodes-total', String(c.total))
  setOutput('nodes-succeeded', String(c.succeeded))
  setOutput('nodes-failed', String(c.failed))
  setOutput('nodes-pending', String(c.pending))
  setOutput('results', JSON.stringify(resultRows(fleet)))
}

/** A failed node's stretcher log (at most 64 KiB, contract 5); '' when none is stored. */
async function readLog(consul: ConsulClient, key: string): Promise<string | undefined> {
  const read = await consul.kvGet(key).catch(() => undefined)
  return read === undefined ? undefined : (read.entries[0]?.value ?? '')
}

/** The last lines of a log, as plain text, for the job log. */
function logTail(text: string): string {
  return text
    .split('\n')
    .slice(-EXCERPT_LINES)
    .map((l) => plainText(l, 400))
    .join('\n')
}

/**
 * Text from the fleet (node names, logs) printed to the job log must never be
 * read by the runner as a workflow command: it trims each line and obeys
 * `::cmd::` and `##[cmd]`, so a node could add an error, set an output or mask
 * text. Such lines get a visible `> ` in front.
 */
export function inert(text: string): string {
  return text.replace(/^([^\S\n]*)(::|##\[)/gm, '$1> $2')
}

function isCancelled(deps: PipelineDeps): boolean {
  return deps.signal?.aborted === true
}

/**
 * `dry-run`: after the plan stage, what a deploy would do, from reads alone. No
 * S3 object, KV write, event or lock session; a rollback's release is verified.
 */
async function dryRun(
  config: Config,
  deps: PipelineDeps,
  selection: TargetSelection,
  build: CheckedBuild | undefined
): Promise<PipelineResult> {
  const { consul, store, log, setOutput, signal } = deps
  const keys = kvKeys(config.kvPrefix)
  let release: Release | undefined
  let plan: Pick<DryRunPlan, 'release' | 'archive'>
  if (config.rollbackTo) {
    release = await findRelease(consul, store, config, log)
    setOutput('src-url', release.srcUrl)
    setOutput('checksum', release.checksum)
    setOutput('manifest-url', release.manifestUrl)
    const { srcUrl, manifestUrl, checksum, archiveBytes } = release
    plan = { release: { srcUrl, manifestUrl, checksum, archiveBytes } }
  } else {
    // The URLs it would publish to; not outputs, as nothing is there.
    const url = (ext: 'tgz' | 'yml') =>
      s3Url(config.s3.bucket, releaseKey(config, config.deployId, ext))
    plan = {
      release: { srcUrl: url('tgz'), manifestUrl: url('yml') },
      archive: build && {
        ...archiveShape(build.tree, config.deployIdFile, config.deployId),
        fileBytes: build.tree.fileBytes
      }
    }
  }
  setOutput('deploy-id', config.deployId)
  setOutput('nodes-total', String(selection.targets.length))
  const report: DryRunPlan = {
    ...plan,
    app: config.app,
    deployId: config.deployId,
    rollback: config.rollbackTo !== undefined,
    eventName: config.eventName,
    targets: selection.targets,
    filteredOut: selection.filteredOut.length,
    notLive: selection.notLive.length,
    previous: await readPrevious(consul, config.kvPrefix, signal),
    lock: await readLock(consul, keys.lock, signal),
    lockKey: keys.lock
  }
  for (const line of dryRunLines(report)) log.info(inert(line))
  await deps.writeSummary?.(dryRunMarkdown(report))
  return {
    release,
    failed: false,
    cancelled: false,
    message: dryRunMessage(report),
    dryRun: report
  }
}

export async function runPipeline(config: Config, deps: PipelineDeps): Promise<PipelineResult> {
  const { log, store, consul, setOutput } = deps
  const keys = kvKeys(config.kvPrefix)

  // Plan: every input problem, and whether Consul answers at all, is found
  // before anything is uploaded or written to Consul.
  checkPlatform(deps.platform)
  const template = config.rollbackTo ? undefined : await loadTemplate(config, log)
  const commands = reportingCommands(config)
  if (!config.rollbackTo) checkManifestRenders(config, template, commands)
  const build = config.rollbackTo ? undefined : await checkBuild(config)
  const catalog = await readCatalog(consul, config.filters, deps.signal, Date.now() + PLAN_RETRY_MS)
  const selection = selectTargets(catalog, config.filters)
  if (Object.values(config.filters).every((f) => f === undefined))
    log.info(
      'no node-filter or service-filter: every live node is targeted, Consul servers included (most fleets set service-filter)'
    )
  if (selection.targets.length === 0)
    throw new Error(
      `no live node matches the filters (${catalog.length} in the catalog, ${selection.notLive.length} of them matching but not live): nothing would receive the deploy`
    )
  const verb = config.rollbackTo ? 'roll back to' : 'deploy'
  const shown = selection.targets.slice(0, 50).join(', ')
  log.info(
    `${verb} ${config.deployId} of ${config.app} on ${selection.targets.length} nodes: ${shown}${selection.targets.length > 50 ? ', …' : ''}`
  )
  if (config.dryRun) return dryRun(config, deps, selection, build)

  let release: Release | undefined
  let fleet = new FleetState({
    deployId: config.deployId,
    baselineIndex: 0,
    maxFailures: config.maxFailures,
    targets: selection.targets,
    untargeted: selection.filteredOut
  })
  // Every run that gets this far leaves a job summary, however it ends.
  let history: HistoryRecord | undefined
  let journal: AnnounceJournal | undefined
  let firedAt: number | undefined
  const summarize = (extra: Partial<FleetReport>, facts: DeployFacts = {}) =>
    deps.writeSummary?.(
      summaryMarkdown({
        fleet,
        verdict: { done: false },
        ...extra,
        facts: {
          ...runFacts(config, { release, history, journal, firedAt }),
          durationMs: firedAt === undefined ? undefined : Date.now() - firedAt,
          ...facts
        }
      })
    )
  const cancelled = async (): Promise<PipelineResult> => {
    setFleetOutputs(fleet, setOutput)
    await summarize({}, { cancelled: true })?.catch(() => {})
    return {
      release,
      fleet,
      failed: true,
      cancelled: true,
      message: `cancelled: ${progressLine(fleet.counts())}`
    }
  }

  // The lock keeps two runs of this app from interleaving latest (and from
  // publishing at once); waiting for it counts against timeout.
  let lock: HeldLock
  try {
    lock = await acquireLock(consul, {
      key: keys.lock,
      holder: {
        deploy_id: config.deployId,
        run_url: config.run.runUrl,
        repository: config.run.repository,
        sha: config.run.sha,
        started_at: new Date().toISOString()
      },
      deadline: Date.now() + config.timeoutMs,
      log,
      signal: deps.signal,
      onSession: deps.onLockSession
    })
  } catch (error) {
    if (isCancelled(deps)) return cancelled()
    throw error
  }

  try {
    if (config.rollbackTo) {
      // A rollback re-announces a verified earlier release; its history stays as written.
      release = await findRelease(consul, store, config, log)
      setOutput('deploy-id', release.deployId)
      setOutput('src-url', release.srcUrl)
      setOutput('checksum', release.checksum)
      setOutput('manifest-url', release.manifestUrl)
    } else {
      // Every file gets a time no earlier release used, so rsync -a on the nodes
      // (which skips files whose size and mtime match) never keeps an old file.
      const stamp = await nextFileTime(consul, config.kvPrefix)
      release = await publish({
        config,
        template,
        commands,
        store,
        log,
        onFact: setOutput,
        mtime: stamp,
        build
      })
      history = {
        deploy_id: release.deployId,
        manifest_url: release.manifestUrl,
        src_url: release.srcUrl,
        checksum: release.checksum,
        commit: config.run.sha,
        run_url: config.run.runUrl,
        published_at: new Date().toISOString(),
        mtime: Math.floor(stamp.getTime() / 1000)
      }
    }
    const published = release
    await log.group(`Announce and wait for ${selection.targets.length} nodes`, async () => {
      const announced = await announce(
        consul,
        config,
        { manifestUrl: published.manifestUrl, history },
        log,
        {
          signal: deps.signal,
          targets: selection.targets,
          onJournal: (step) => {
            journal = step
            deps.onAnnounceJournal?.(step)
          }
        }
      )
      firedAt = announced.firedAt
      fleet = new FleetState({
        deployId: config.deployId,
        baselineIndex: announced.baselineIndex,
        maxFailures: config.maxFailures,
        targets: selection.targets,
        untargeted: selection.filteredOut
      })
      setFleetOutputs(fleet, setOutput)
      await deps.onAnnounced?.({
        release: published,
        fleet,
        facts: runFacts(config, { release, history, journal, firedAt })
      })
      if (!config.wait) return
      const progress = throttle<string>(5000, (line) => log.info(line))
      // A reporter not targeted at the start counts only if Consul knows it as a matching live node.
      const joinerCheck = catalogJoinerCheck(consul, config.filters, deps.signal)
      const admitJoiner = (node: string) => joinerCheck(node).catch(() => false)
      const watched = fleet
      await awaitFleet({
        consul,
        fleet: watched,
        resultsPrefix: keys.results,
        firedAt: announced.firedAt,
        deadline: announced.firedAt + config.timeoutMs,
        baselineIndex: announced.baselineIndex,
        signal: deps.signal,
        admitJoiner,
        onChange: (changed) => {
          for (const s of changed) {
            if (s.status === 'failure' || s.status === 'lost')
              log.info(inert(`${plainText(s.node, 80)}: ${s.status}`))
            else if (s.note)
              log.info(inert(`${plainText(s.node, 80)}: not counted (${plainText(s.note, 120)})`))
          }
          progress.update(progressLine(watched.counts()))
          deps.onProgress?.(watched)
        }
      })
      progress.flush()
    })
  } catch (error) {
    if (isCancelled(deps)) return cancelled()
    if (release)
      await summarize(
        {},
        { error: plainText(String((error as Error).message ?? error), 300) }
      )?.catch(() => {})
    throw error
  } finally {
    // Released on success, failure and cancel; a killed runner's lock lapses with its
    // session. While an interrupted announcement is unsettled the lock stays held, so
    // no other run moves latest before the post step has put it right.
    if (journal && !isSettled(journal))
      log.warning(`left the deploy lock ${keys.lock} to the post step`)
    else {
      await lock
        .release(isCancelled(deps) ? Date.now() + CANCELLED_LOCK_RELEASE_MS : undefined)
        .catch((error: Error) =>
          log.warning(
            `could not release the deploy lock ${keys.lock} (it frees itself when its session expires): ${error.message}`
          )
        )
      deps.onLockReleased?.()
    }
  }

  setFleetOutputs(fleet, setOutput)
  if (isCancelled(deps)) return cancelled()
  if (!config.wait) {
    const message = `announced ${config.deployId} to ${selection.targets.length} nodes; not waiting (wait: false)`
    log.info(message)
    await summarize({ notWaiting: true }, { durationMs: undefined })
    return { release, fleet, failed: false, cancelled: false, message }
  }
  const verdict = fleet.verdict()
  const durationMs = firedAt === undefined ? undefined : Date.now() - firedAt
  // Logs are read only for nodes that failed this deploy (contract 5).
  const excerpts: Array<{ node: string; text: string }> = []
  const failedNodes = fleet.nodesByStatus('failure').slice(0, MAX_LOGS_READ)
  for (let i = 0; i < failedNodes.length; i += 8) {
    const batch = failedNodes.slice(i, i + 8)
    const texts = await Promise.all(batch.map((node) => readLog(consul, keys.log(node))))
    batch.forEach((node, j) => {
      const text = texts[j]
      if (text !== undefined) excerpts.push({ node, text })
    })
  }
  for (const { node, text } of excerpts.filter((e) => e.text).slice(0, MAX_EXCERPTS))
    log.info(
      inert(
        `--- ${plainText(node, 80)} (last ${EXCERPT_LINES} lines of its log) ---\n${logTail(text)}`
      )
    )
  await summarize({ verdict, excerpts }, { durationMs })
  return {
    release,
    fleet,
    verdict,
    excerpts,
    failed: !(verdict.done && verdict.ok),
    cancelled: false,
    message: verdictMessage({ fleet, verdict, excerpts, facts: {} })
  }
}
