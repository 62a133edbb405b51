// The stages of one run, wired together: plan → publish (or find) → rollout
// (announce → await → gate, per step) → report. Every client is passed in, so tests run the whole pipeline
// against local servers.
import { readFile } from 'node:fs/promises'
import type { HistoryRecord } from './shared/history-record.ts'
import type { Config } from './config/config.ts'
import { releaseKey, s3Url } from './config/config.ts'
import type { DryRunPlan } from './plan/dry-run.ts'
import { dryRunLines, dryRunMarkdown, dryRunMessage } from './plan/dry-run.ts'
import { InputError, quote } from './shared/errors.ts'
import type { Verdict } from './fleet-state/fleet-state.ts'
import type { NodeId, ParsedResult } from './fleet-state/fleet-state.ts'
import { FleetState, labelsOfSteps, nodeId, nodesOfSteps } from './fleet-state/fleet-state.ts'
import type { Log } from './shared/log.ts'
import { inert } from './shared/log.ts'
import type { ManifestTemplate } from './publish/manifest/manifest.ts'
import { parseManifestTemplate } from './publish/manifest/manifest.ts'
import type { CheckedBuild } from './publish/pack.ts'
import { archiveShape } from './publish/pack.ts'
import { reportingCommands } from './publish/reporting-commands.ts'
import { checkPlatform } from './publish/pack-tools.ts'
import type { Release, ReportingCommands } from './publish/publish.ts'
import { checkBuild, checkManifestRenders, nextFileTime, publish } from './publish/publish.ts'
import { rollbackManifests } from './publish/rendition.ts'
import type { DeployFacts, FleetReport, LogExcerpt } from './report/report.ts'
import { plainText } from './shared/text.ts'
import { progressLine } from './fleet-state/progress-line.ts'
import { resultRows, summaryMarkdown } from './report/report.ts'
import { runFacts } from './report/run-facts.ts'
import { outcome, phasesMarkdown, rolloutReport } from './report/rollout-report.ts'
import type {
  AnnouncementProgress,
  FleetBackend,
  HeldLock,
  ReleasePointer,
  Targets
} from './backend/fleet-backend.ts'
import { findRelease } from './plan/find-release.ts'
import type { PreviousRelease, RolloutResult } from './rollout/rollout.ts'
import { runRollout } from './rollout/rollout.ts'
import type { Step } from './rollout/plan/plan.ts'
import { isPartial, planRollout } from './rollout/plan/plan.ts'
import type { DatacenterTargets } from './rollout/plan/plan.ts'
import { KINDS, labelledSteps } from './rollout/kinds.ts'
import { targetingNote } from './plan/targeting-note.ts'
import type { ReleaseStore } from './publish/s3-store.ts'
import type { TargetSelection } from './backend/fleet-backend.ts'

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
  | 'waves-completed'
  | 'rolled-back'

export interface PipelineDeps {
  store: ReleaseStore
  /** the fleet: targets, release pointer, history, lock, logs */
  backend: FleetBackend
  log: Log
  setOutput: (name: OutputName, value: string) => void
  /** the job summary (markdown); absent outside GitHub Actions */
  writeSummary?: (markdown: string) => Promise<void>
  /** aborts the wait (SIGINT/SIGTERM) */
  signal?: AbortSignal
  /** the lock's session and datacenter, so the post step can release it if this process dies */
  onLockSession?: (sessionId: string, datacenter: string | undefined) => void
  onLockReleased?: () => void
  /** each step of the announcement (the backend's record), so the post step can finish an interrupted one */
  onAnnounceJournal?: (record: unknown) => void
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
  /** the staged rollout's waves and rollback, once it ran */
  rollout?: RolloutResult
  /** failed nodes' log tails */
  excerpts?: LogExcerpt[]
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

function setFleetOutputs(fleet: FleetState, setOutput: PipelineDeps['setOutput']): void {
  const c = fleet.counts()
  setOutput('nodes-total', String(c.total))
  setOutput('nodes-succeeded', String(c.succeeded))
  setOutput('nodes-failed', String(c.failed))
  setOutput('nodes-pending', String(c.pending))
  setOutput('results', JSON.stringify(resultRows(fleet)))
}

/** The last lines of a log, as plain text, for the job log. */
function logTail(text: string): string {
  return text
    .split('\n')
    .slice(-EXCERPT_LINES)
    .map((l) => plainText(l, 400))
    .join('\n')
}

function isCancelled(deps: PipelineDeps): boolean {
  return deps.signal?.aborted === true
}

/**
 * `dry-run`: after the plan stage, what a deploy would do, from reads alone. No
 * S3 object, KV write, event or lock session; a rollback's release is verified.
 */
async function dryRun(config: Config, deps: PipelineDeps, found: Plan): Promise<PipelineResult> {
  const { backend, store, log, setOutput, signal } = deps
  const { selection, build } = found
  let release: Release | undefined
  let plan: Pick<DryRunPlan, 'release' | 'archive'>
  // rollback-to and promote: the release is found and verified, as the run would.
  if (existingRelease(config)) {
    release = await findRelease(backendsOf(deps, found), store, config, log)
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
    // By label: a name that repeats across datacenters is two nodes (contract 8a).
    targets: labelsOfSteps(found.steps.filter((s) => KINDS[s.kind].isWave)),
    ...(found.steps.length > 1 ? { steps: labelledSteps(found.steps) } : {}),
    filteredOut: selection.filteredOut.length,
    notLive: selection.notLive.length,
    previous: await backend.releasePointer(signal),
    lock: await backend.lockState(signal),
    lockKey: backend.lockName,
    backend: config.backend.kind
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

/** What the plan stage found: everything a deploy needs, read before anything is written. */
interface Plan {
  template?: ManifestTemplate
  commands: ReportingCommands
  build?: CheckedBuild
  selection: TargetSelection
  /** the selection's filtered-out nodes, each with its datacenter (names repeat across them) */
  filteredOut: NodeId[]
  steps: Step[]
  /** in rollout order; [undefined]: the agent's own, no `?dc` */
  datacenters: Array<string | undefined>
}

/** The backend in each datacenter of the run, in rollout order. */
function backendsOf(deps: PipelineDeps, plan: Plan): FleetBackend[] {
  return plan.datacenters.map((dc) => deps.backend.at(dc))
}

/** The release this run rolls out already exists (rollback-to, promote): nothing is built. */
function existingRelease(config: Config): string | undefined {
  return config.rollbackTo ?? config.promote
}

/**
 * Plan: every input problem, and whether Consul answers at all, is found before
 * anything is uploaded or written to Consul; the rollout's steps come out of it.
 */
async function planStage(config: Config, deps: PipelineDeps): Promise<Plan> {
  const { log } = deps
  checkPlatform(deps.platform)
  const existing = existingRelease(config)
  const template = existing ? undefined : await loadTemplate(config, log)
  const commands = reportingCommands(config, template)
  if (!existing) checkManifestRenders(config, template, commands)
  // The fleet is read while the tree is walked; an error in the build is still said first.
  const reading = new AbortController()
  const signal = deps.signal ? AbortSignal.any([deps.signal, reading.signal]) : reading.signal
  const targetsRead = readTargets(config, deps, signal)
  targetsRead.catch(() => undefined)
  const build = existing
    ? undefined
    : await checkBuild(config).catch((error: unknown) => {
        reading.abort()
        throw error
      })
  const found = await targetsRead
  const datacenters = found.map((c) => c.datacenter)
  const note = targetingNote(config)
  if (note) log.info(note)
  const selection: TargetSelection = { targets: [], filteredOut: [], notLive: [] }
  const planned: DatacenterTargets[] = []
  const filteredOut: NodeId[] = []
  for (const dc of found) {
    const one = await planDatacenter(config, deps, dc.datacenter, dc.found)
    planned.push(one)
    selection.targets.push(...one.targets)
    selection.filteredOut.push(...dc.found.selection.filteredOut)
    selection.notLive.push(...dc.found.selection.notLive)
    filteredOut.push(...dc.found.selection.filteredOut.map((n) => nodeId(dc.datacenter, n)))
  }
  if (config.promote && selection.targets.length === 0)
    throw new InputError(
      'promote',
      `every target already runs ${config.promote}: nothing to promote it to`
    )
  const steps = planRollout({
    datacenters: planned.filter((dc) => dc.targets.length > 0),
    waves: config.waves,
    bakeMs: config.bakeMs,
    layout: config.layout,
    release: config.promote ? 'promote' : config.rollbackTo ? 'rollback' : 'new'
  })
  logPlan(config, log, steps, datacenters, selection, template)
  return { template, commands, build, selection, filteredOut, steps, datacenters }
}

/**
 * Several datacenters (contract 10): each one's targets, in order; an unknown one
 * fails here. Unset: the agent's own, with no `?dc` at all, as always.
 */
async function readTargets(config: Config, deps: PipelineDeps, signal: AbortSignal) {
  const { backend } = deps
  const datacenters = await backend.datacenters(config.datacenters, signal)
  const found = await Promise.all(
    datacenters.map((dc) => backend.at(dc).targets(signal, Date.now() + PLAN_RETRY_MS))
  )
  return datacenters.map((datacenter, i) => ({ datacenter, found: found[i]! }))
}

/** One datacenter's targets: those not on a promoted release yet, canaries, nodes keeping it. */
async function planDatacenter(
  config: Config,
  deps: PipelineDeps,
  datacenter: string | undefined,
  found: Targets
): Promise<DatacenterTargets> {
  const { log } = deps
  const where = datacenter ? ` in datacenter ${datacenter}` : ''
  const { selection } = found
  if (selection.targets.length === 0)
    throw new Error(
      `no live node${where} matches the filters (${found.known} in the catalog, ${selection.notLive.length} of them matching but not live): nothing would receive the deploy`
    )
  let targets = selection.targets
  const existingId = existingRelease(config)
  // Read once for promote and for layout: releases (which nodes run or keep it).
  const results =
    config.promote || (config.layout === 'releases' && existingId)
      ? await deps.backend.at(datacenter).lastResults(deps.signal)
      : undefined
  if (config.promote && results) {
    // Promote goes on over the targets not on the release yet (contract 8).
    const on = nodesOnRelease(results, config.promote)
    targets = targets.filter((node) => !on.has(node))
    log.info(
      `promote ${config.promote}${where}: ${on.size} of the ${selection.targets.length} targets already run it`
    )
  }
  const targetSet = new Set(targets)
  const canaries = found.canaries.filter((node) => targetSet.has(node))
  // layout: releases: a published release the nodes still keep needs only the switch.
  const prepared =
    config.layout === 'releases' && existingId && results
      ? nodesKeeping(results, existingId)
      : undefined
  if (prepared)
    log.info(
      `${existingId}${where}: ${targets.filter((n) => prepared.has(n)).length} of ${targets.length} targets still keep it (switch only, no download); the rest prepare it first`
    )
  return { datacenter, targets, canaries, prepared: prepared ? [...prepared] : undefined }
}

/** What the run will do, in the log, before anything is written. */
function logPlan(
  config: Config,
  log: Log,
  steps: readonly Step[],
  datacenters: ReadonlyArray<string | undefined>,
  selection: TargetSelection,
  template: ManifestTemplate | undefined
): void {
  const verb = config.rollbackTo ? 'roll back to' : config.promote ? 'promote' : 'deploy'
  const waveSteps = steps.filter((s) => KINDS[s.kind].isWave)
  const shown = labelsOfSteps(waveSteps).slice(0, 50).join(', ')
  const count = waveSteps.reduce((n, s) => n + s.nodes.length, 0)
  const prepareStep = steps.find((s) => !KINDS[s.kind].isWave)
  log.info(
    `${verb} ${config.deployId} of ${config.app} on ${count} nodes${datacenters[0] ? ` in ${datacenters.join(', ')}` : ''}${waveSteps.length > 1 ? ` in ${waveSteps.length} waves (${waveSteps.map((s) => s.nodes.length).join(', ')})` : ''}: ${shown}${count > 50 ? ', …' : ''}`
  )
  if (config.layout === 'releases')
    log.info(
      `layout: releases: ${prepareStep ? `prepare on ${prepareStep.nodes.length} nodes` : 'no prepare (every target keeps the release)'}, then switch ${config.dest ?? templateDest(template)}/current`
    )
  if (isPartial(steps))
    log.info(
      `a partial rollout: ${selection.targets.length - count} targets stay on the current release; latest does not move`
    )
}

function templateDest(template: ManifestTemplate | undefined): string {
  return template?.dest ?? '<dest>'
}

/**
 * Nodes that run `deployId`: their last result holds it with success (a node that
 * only prepared it, layout: releases, does not run it yet).
 */
function nodesOnRelease(results: Map<string, ParsedResult>, deployId: string): Set<string> {
  const on = new Set<string>()
  for (const [node, r] of results)
    if (r.deployId === deployId && r.status === 'success' && r.phase !== 'prepare') on.add(node)
  return on
}

/**
 * layout: releases (contract 9): the nodes that still keep `deployId` under
 * <dest>/releases. Each node's last result lists the releases it keeps
 * (`"releases"`, written by the reporting commands after every prepare and
 * switch), and a node whose last result is this release's prepare or switch
 * success has it too. A node with no such record is sent prepare and switch.
 */
function nodesKeeping(results: Map<string, ParsedResult>, deployId: string): Set<string> {
  const keeping = new Set<string>()
  for (const [node, r] of results) {
    const has =
      r.releases !== undefined
        ? r.releases.includes(deployId)
        : r.deployId === deployId && r.status === 'success' && r.phase !== undefined
    if (has) keeping.add(node)
  }
  return keeping
}

/**
 * Publish: the build packed and uploaded, with the history record it will get;
 * or, with rollback-to and promote, the verified release already published (its
 * history stays as written).
 */
async function publishOrFind(
  config: Config,
  plan: Plan,
  deps: PipelineDeps,
  pointers: () => Promise<ReleasePointer[]>
): Promise<{ release: Release; history?: HistoryRecord }> {
  const { store, log, setOutput } = deps
  if (existingRelease(config)) {
    const release = await findRelease(backendsOf(deps, plan), store, config, log)
    setOutput('deploy-id', release.deployId)
    setOutput('src-url', release.srcUrl)
    setOutput('checksum', release.checksum)
    setOutput('manifest-url', release.manifestUrl)
    return { release }
  }
  // Every file gets a time no earlier release used (in any datacenter), so rsync -a
  // on the nodes (which skips files whose size and mtime match) never keeps an old file.
  const stamps = (await pointers()).map((pointer) => nextFileTime(pointer))
  const stamp = new Date(Math.max(...stamps.map((d) => d.getTime())))
  const release = await publish({
    config,
    template: plan.template,
    commands: plan.commands,
    store,
    log,
    onFact: setOutput,
    mtime: stamp,
    build: plan.build
  })
  const history: HistoryRecord = {
    deploy_id: release.deployId,
    manifest_url: release.manifestUrl,
    src_url: release.srcUrl,
    checksum: release.checksum,
    commit: config.run.sha,
    run_url: config.run.runUrl,
    published_at: new Date().toISOString(),
    mtime: Math.floor(stamp.getTime() / 1000),
    ...(release.prepareUrl && release.switchUrl
      ? { prepare_manifest_url: release.prepareUrl, switch_manifest_url: release.switchUrl }
      : {})
  }
  return { release, history }
}

/**
 * What latest names now, per datacenter: auto-rollback's target, with the
 * manifests it sends in this run's layout (contract 8a). With layout: releases
 * it is switched back to: every node sent this one still keeps it (the switch
 * spares the release it replaced).
 */
async function previousReleases(
  config: Config,
  plan: Plan,
  deps: PipelineDeps,
  pointers: readonly ReleasePointer[]
): Promise<Map<string | undefined, PreviousRelease>> {
  const input = {
    config,
    template: plan.template,
    reportsFor: (deployId: string) => reportingCommands({ ...config, deployId }, plan.template),
    store: deps.store,
    log: deps.log
  }
  const previous = new Map<string | undefined, PreviousRelease>()
  // The same release in several datacenters is rendered (and uploaded) once.
  const found = new Map<string, Promise<PreviousRelease>>()
  for (const [i, dc] of plan.datacenters.entries()) {
    const { deployId, manifestUrl, history } = pointers[i]!
    if (!deployId || !manifestUrl || deployId === config.deployId) continue
    const key = `${deployId}\u0000${manifestUrl}`
    if (!found.has(key))
      found.set(key, rollbackManifests(input, { deployId, manifestUrl, history }))
    previous.set(dc, await found.get(key)!)
  }
  return previous
}

/**
 * The deploy lock, in the first datacenter listed (contract 10). Waiting for it
 * counts against `timeout`.
 */
function takeLock(
  config: Config,
  first: string | undefined,
  deps: PipelineDeps
): Promise<HeldLock> {
  return deps.backend.at(first).lock({
    holder: {
      deploy_id: config.deployId,
      run_url: config.run.runUrl,
      repository: config.run.repository,
      sha: config.run.sha,
      started_at: new Date().toISOString()
    },
    deadline: Date.now() + config.timeoutMs,
    log: deps.log,
    signal: deps.signal,
    onSession: (id) => deps.onLockSession?.(id, first)
  })
}

/** What one run has got so far: the report and the outputs are made of it, however it ends. */
interface RunRecord {
  release?: Release
  history?: HistoryRecord
  rollout?: RolloutResult
  /** this run's own announcement, for the report */
  journal?: AnnouncementProgress
  /** the last announcement's journal, auto-rollback's included: the lock waits for it */
  lastJournal?: AnnouncementProgress
  firedAt?: number
  excerpts: LogExcerpt[]
  /** the fleet as far as the run got: the rollout's once it ran, else every planned node waiting */
  fleet: FleetState
}

export async function runPipeline(config: Config, deps: PipelineDeps): Promise<PipelineResult> {
  const plan = await planStage(config, deps)
  if (config.dryRun) return dryRun(config, deps, plan)
  const run: RunRecord = {
    excerpts: [],
    fleet: new FleetState({
      deployId: config.deployId,
      baselineIndex: 0,
      maxFailures: config.maxFailures,
      targets: nodesOfSteps(plan.steps),
      untargeted: plan.filteredOut
    })
  }
  const failed = async (error: unknown): Promise<PipelineResult> => {
    if (isCancelled(deps)) return cancelledResult(config, deps, run)
    if (run.release)
      await summarize(
        config,
        deps,
        run,
        {},
        {
          error: plainText(String((error as Error).message ?? error), 300)
        }
      )?.catch(() => {})
    throw error
  }
  const early = await underLock(
    config,
    deps,
    plan,
    run,
    () => rollOut(config, deps, plan, run),
    failed
  )
  if (early) return early
  if (!run.rollout || isCancelled(deps)) return cancelledResult(config, deps, run)
  return finalResult(config, deps, run, run.rollout)
}

/**
 * The lock keeps two runs of this app from interleaving latest (and from
 * publishing at once); waiting for it counts against timeout. It is released on
 * success, failure and cancel (a killed runner's lapses with its session), except
 * while an interrupted announcement is unsettled: then no other run may move
 * latest before the post step has put it right.
 */
async function underLock(
  config: Config,
  deps: PipelineDeps,
  plan: Plan,
  run: RunRecord,
  body: () => Promise<void>,
  failed: (error: unknown) => Promise<PipelineResult>
): Promise<PipelineResult | undefined> {
  let lock: HeldLock
  try {
    lock = await takeLock(config, plan.datacenters[0], deps)
  } catch (error) {
    return failed(error)
  }
  try {
    await body()
    return undefined
  } catch (error) {
    return await failed(error)
  } finally {
    const name = deps.backend.lockName
    if (run.lastJournal && !run.lastJournal.settled)
      deps.log.warning(`left the deploy lock ${name} to the post step`)
    else {
      await lock
        .release(isCancelled(deps) ? Date.now() + CANCELLED_LOCK_RELEASE_MS : undefined)
        .catch((error: Error) =>
          deps.log.warning(
            `could not release the deploy lock ${name} (it frees itself when its session expires): ${error.message}`
          )
        )
      deps.onLockReleased?.()
    }
  }
}

/** Publish (or find) the release, then the rollout; the verdict is said as soon as it is known. */
async function rollOut(config: Config, deps: PipelineDeps, plan: Plan, run: RunRecord) {
  // What latest names in each datacenter, read once under the lock: the new
  // release's file time and auto-rollback's target both come from it.
  let read: Promise<ReleasePointer[]> | undefined
  const pointers = () =>
    (read ??= Promise.all(
      plan.datacenters.map((dc) => deps.backend.at(dc).releasePointer(deps.signal))
    ))
  const found = await publishOrFind(config, plan, deps, pointers)
  run.release = found.release
  run.history = found.history
  const previous = config.autoRollback
    ? await previousReleases(config, plan, deps, await pointers())
    : undefined
  const nodeCount = nodesOfSteps(plan.steps).length
  await deps.log.group(`Announce and wait for ${nodeCount} nodes`, async () => {
    const rollout = await runRollout(plan.steps, rolloutRelease(config, found), {
      backend: deps.backend,
      config,
      log: deps.log,
      signal: deps.signal,
      filteredOut: plan.filteredOut,
      previous,
      // The report tells this run's own announcement; the post step settles whichever
      // announcement was last (auto-rollback's included).
      onJournal: (progress, source) => {
        run.lastJournal = progress
        if (source === 'rollout') run.journal = progress
        deps.onAnnounceJournal?.(progress.record)
      },
      onAnnounced: (announced) => announcedTo(config, deps, run, announced),
      onProgress: deps.onProgress
    })
    run.rollout = rollout
    run.fleet = rollout.fleet
    run.firedAt = rollout.firstFiredAt ?? run.firedAt
  })
  // What the user waits for: said before the lock release and the reporting (after
  // failed nodes' logs, only when some failed: the cause ends the line).
  if (isCancelled(deps) || !run.rollout) return
  if (config.wait) run.excerpts = await readFailedLogs(run.fleet, deps.backend)
  deps.onVerdict?.(outcome(run.rollout, run.excerpts))
}

function rolloutRelease(config: Config, found: { release: Release; history?: HistoryRecord }) {
  return {
    deployId: config.deployId,
    manifestUrl: found.release.manifestUrl,
    prepareUrl: found.release.prepareUrl,
    switchUrl: found.release.switchUrl,
    history: found.history
  }
}

/** After the first event: outputs so far, and the PR check starts. */
async function announcedTo(
  config: Config,
  deps: PipelineDeps,
  run: RunRecord,
  fleet: FleetState
): Promise<void> {
  run.fleet = fleet
  run.firedAt ??= Date.now()
  setFleetOutputs(fleet, deps.setOutput)
  await deps.onAnnounced?.({ release: run.release!, fleet, facts: factsOf(config, run) })
}

function factsOf(config: Config, run: RunRecord): DeployFacts {
  const { release, history, journal, firedAt } = run
  return runFacts(config, { release, history, journal, firedAt })
}

/** Every run that gets past the plan leaves a job summary, however it ends. */
function summarize(
  config: Config,
  deps: PipelineDeps,
  run: RunRecord,
  extra: Partial<FleetReport>,
  facts: DeployFacts = {}
): Promise<void> | undefined {
  const { rollout, firedAt } = run
  return deps.writeSummary?.(
    summaryMarkdown({
      fleet: run.fleet,
      verdict: { done: false },
      ...rolloutReport(rollout),
      ...extra,
      facts: {
        ...factsOf(config, run),
        durationMs: firedAt === undefined ? undefined : Date.now() - firedAt,
        ...facts
      }
    }) + (rollout ? phasesMarkdown(rollout) : '')
  )
}

async function cancelledResult(
  config: Config,
  deps: PipelineDeps,
  run: RunRecord
): Promise<PipelineResult> {
  setFleetOutputs(run.fleet, deps.setOutput)
  if (run.rollout) setRolloutOutputs(run.rollout, deps.setOutput)
  await summarize(config, deps, run, {}, { cancelled: true })?.catch(() => {})
  const { release, fleet, rollout } = run
  return {
    release,
    fleet,
    rollout,
    failed: true,
    cancelled: true,
    message: `cancelled: ${progressLine(fleet.counts())}`
  }
}

/** The outputs, the failed nodes' log tails and the summary of a run that ran its course. */
async function finalResult(
  config: Config,
  deps: PipelineDeps,
  run: RunRecord,
  done: RolloutResult
): Promise<PipelineResult> {
  const { release, fleet, excerpts, firedAt } = run
  setFleetOutputs(fleet, deps.setOutput)
  setRolloutOutputs(done, deps.setOutput)
  if (!config.wait) {
    await summarize(config, deps, run, { notWaiting: true }, { durationMs: undefined })
    return { release, fleet, rollout: done, cancelled: false, ...outcome(done) }
  }
  const durationMs = firedAt === undefined ? undefined : Date.now() - firedAt
  for (const excerpt of excerpts.filter((e) => e.text).slice(0, MAX_EXCERPTS))
    deps.log.info(
      inert(
        `--- ${plainText(fleet.labelOf(excerpt), 80)} (last ${EXCERPT_LINES} lines of its log) ---\n${logTail(excerpt.text)}`
      )
    )
  await summarize(config, deps, run, { verdict: done.verdict, excerpts }, { durationMs })
  return {
    release,
    fleet,
    verdict: done.verdict,
    rollout: done,
    excerpts,
    cancelled: false,
    ...outcome(done, excerpts)
  }
}

/**
 * Logs are read only for nodes that failed this deploy (contract 5), each from
 * its datacenter; each excerpt keeps the datacenter (names repeat across them).
 */
async function readFailedLogs(fleet: FleetState, backend: FleetBackend): Promise<LogExcerpt[]> {
  const byDatacenter = new Map<string | undefined, string[]>()
  // A node that failed and was then rolled back keeps its log: its failure is the cause.
  const failed = fleet
    .list()
    .filter((s) => s.status === 'failure' || (s.status === 'rolled_back' && s.was === 'failure'))
  for (const { node, datacenter } of failed)
    byDatacenter.set(datacenter, [...(byDatacenter.get(datacenter) ?? []), node])
  const excerpts: LogExcerpt[] = []
  for (const [dc, nodes] of byDatacenter)
    for (const { node, text } of await backend.at(dc).readLogs(nodes))
      excerpts.push({ ...nodeId(dc, node), text })
  return excerpts
}

function setRolloutOutputs(rollout: RolloutResult, setOutput: PipelineDeps['setOutput']): void {
  setOutput('waves-completed', String(rollout.wavesCompletedOutput))
  setOutput('rolled-back', rollout.rollback?.sent ? 'true' : 'false')
}
