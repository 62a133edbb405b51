// The stages of one run, wired together: plan → pack/publish → announce →
// await → report. Every client is passed in, so tests run the whole pipeline
// against local servers.
import { readFile } from 'node:fs/promises'
import { announce, kvKeys } from './announce.ts'
import type { HistoryRecord } from './announce.ts'
import { awaitFleet, catalogJoinerCheck, readCatalog } from './await.ts'
import type { Config } from './config.ts'
import type { ConsulClient } from './consul.ts'
import { InputError, quote } from './errors.ts'
import type { Verdict } from './fleet-state.ts'
import { FleetState } from './fleet-state.ts'
import type { Log } from './log.ts'
import { throttle } from './log.ts'
import type { ManifestTemplate } from './manifest.ts'
import { parseManifestTemplate } from './manifest.ts'
import { failureCommands, successCommands } from './node-report.ts'
import type { Release, ReportingCommands } from './publish.ts'
import { checkBuild, checkManifestRenders, nextFileTime, publish } from './publish.ts'
import { plainText, progressLine, resultRows, summaryMarkdown, verdictLine } from './report.ts'
import type { HeldLock } from './lock.ts'
import { acquireLock } from './lock.ts'
import { findRelease } from './rollback.ts'
import type { ReleaseStore } from './store.ts'
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
  /** after the event is fired (for the PR check) */
  onAnnounced?: (state: { release: Release; fleet: FleetState }) => Promise<void>
  /** on each change while waiting */
  onProgress?: (fleet: FleetState) => void
  /**
   * Once, as soon as the run's outcome is known: right after the wait (or the
   * event, with `wait: false`), before the lock is released, failed nodes' logs
   * are read and the summary is written. Not called when cancelled or on an error.
   */
  onVerdict?: (outcome: { failed: boolean; message: string }) => void
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
}

/** How long the plan stage retries an unreachable Consul before saying so. */
const PLAN_RETRY_MS = 15_000

/** How many of a failed node's last log lines are shown, and for how many nodes. */
const EXCERPT_LINES = 40
const MAX_EXCERPTS = 10

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

/** The tail of a failed node's stretcher log, as plain text. */
async function logExcerpt(consul: ConsulClient, key: string): Promise<string | undefined> {
  const read = await consul.kvGet(key).catch(() => undefined)
  const value = read?.entries[0]?.value
  if (!value) return undefined
  return value
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

export async function runPipeline(config: Config, deps: PipelineDeps): Promise<PipelineResult> {
  const { log, store, consul, setOutput } = deps
  const keys = kvKeys(config.kvPrefix)

  // Plan: every input problem, and whether Consul answers at all, is found
  // before anything is uploaded or written to Consul.
  const template = config.rollbackTo ? undefined : await loadTemplate(config, log)
  const commands = reportingCommands(config)
  if (!config.rollbackTo) checkManifestRenders(config, template, commands)
  // The catalog is read while the tree is walked; an error in the build is still said first.
  const reading = new AbortController()
  const catalogRead = readCatalog(
    consul,
    config.filters,
    deps.signal ? AbortSignal.any([deps.signal, reading.signal]) : reading.signal,
    Date.now() + PLAN_RETRY_MS
  )
  catalogRead.catch(() => undefined)
  const build = config.rollbackTo
    ? undefined
    : await checkBuild(config).catch((error: unknown) => {
        reading.abort()
        throw error
      })
  const catalog = await catalogRead
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

  let release: Release | undefined
  let history: HistoryRecord | undefined
  let fleet = new FleetState({
    deployId: config.deployId,
    baselineIndex: 0,
    maxFailures: config.maxFailures,
    targets: selection.targets,
    untargeted: selection.filteredOut
  })
  // The run's verdict in one line (and whether it fails), once the wait is over.
  const outcome = (): { failed: boolean; message: string } => {
    if (!config.wait)
      return {
        failed: false,
        message: `announced ${config.deployId} to ${selection.targets.length} nodes; not waiting (wait: false)`
      }
    const verdict = fleet.verdict()
    return { failed: !(verdict.done && verdict.ok), message: verdictLine(fleet, verdict) }
  }
  const cancelled = (): PipelineResult => {
    setFleetOutputs(fleet, setOutput)
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
        deps.signal
      )
      fleet = new FleetState({
        deployId: config.deployId,
        baselineIndex: announced.baselineIndex,
        maxFailures: config.maxFailures,
        targets: selection.targets,
        untargeted: selection.filteredOut
      })
      setFleetOutputs(fleet, setOutput)
      await deps.onAnnounced?.({ release: published, fleet })
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
    // What the user waits for: said before the lock release and the reporting.
    if (!isCancelled(deps)) deps.onVerdict?.(outcome())
  } catch (error) {
    if (isCancelled(deps)) return cancelled()
    throw error
  } finally {
    // Released on success, failure and cancel; a killed runner's lock lapses with its session.
    await lock
      .release()
      .catch((error: Error) =>
        log.warning(`could not release the deploy lock ${keys.lock}: ${error.message}`)
      )
    deps.onLockReleased?.()
  }

  setFleetOutputs(fleet, setOutput)
  if (isCancelled(deps)) return cancelled()
  if (!config.wait) return { release, fleet, cancelled: false, ...outcome() }
  const verdict = fleet.verdict()
  // Logs are read only for nodes that failed this deploy (contract 5).
  const excerpts: Array<{ node: string; text: string }> = []
  for (const node of fleet.nodesByStatus('failure').slice(0, MAX_EXCERPTS)) {
    const text = await logExcerpt(consul, keys.log(node))
    if (!text) continue
    excerpts.push({ node, text })
    log.info(
      inert(`--- ${plainText(node, 80)} (last ${EXCERPT_LINES} lines of its log) ---\n${text}`)
    )
  }
  await deps.writeSummary?.(
    summaryMarkdown(
      fleet,
      verdict,
      {
        manifestUrl: release.manifestUrl,
        srcUrl: release.srcUrl,
        checksum: release.checksum,
        commit: config.run.sha,
        runUrl: config.run.runUrl
      },
      500,
      { excerpts }
    )
  )
  return { release, fleet, verdict, excerpts, cancelled: false, ...outcome() }
}
