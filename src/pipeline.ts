// The stages of one run, wired together: plan → publish (or find) → rollout
// (announce → await → gate, per step) → report. Every client is passed in, so tests run the whole pipeline
// against local servers.
import type { HistoryRecord } from './shared/history-record.ts'
import type { Config } from './config/config.ts'
import type { DryRunPlan } from './plan/dry-run.ts'
import type { Verdict } from './fleet-state/fleet-state.ts'
import { FleetState, nodesOfSteps } from './fleet-state/fleet-state.ts'
import type { Log } from './shared/log.ts'
import { inert } from './shared/log.ts'
import type { Release } from './publish/publish.ts'
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
  ReleasePointer
} from './backend/fleet-backend.ts'
import type { Plan } from './rollout/plan-stage.ts'
import { planStage } from './rollout/plan-stage.ts'
import { dryRun } from './rollout/dry-run-stage.ts'
import { publishOrFind } from './plan/publish-or-find.ts'
import { previousReleases } from './rollout/previous-releases.ts'
import { readFailedLogs } from './rollout/failed-logs.ts'
import type { RolloutResult } from './rollout/rollout.ts'
import { runRollout } from './rollout/rollout.ts'
import type { ReleaseStore } from './publish/s3-store.ts'

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

/** How many of a failed node's last log lines are printed, and for how many nodes. */
const EXCERPT_LINES = 40
const MAX_EXCERPTS = 10

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

function setRolloutOutputs(rollout: RolloutResult, setOutput: PipelineDeps['setOutput']): void {
  setOutput('waves-completed', String(rollout.wavesCompletedOutput))
  setOutput('rolled-back', rollout.rollback?.sent ? 'true' : 'false')
}
