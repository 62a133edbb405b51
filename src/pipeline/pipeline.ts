// The stages of one run, wired together: plan → publish (or find) → rollout
// (announce → await → gate, per step) → report, the lock around the middle.
// Each stage's entry is a file beside this one, over the rooms that do its
// work; every client is passed in, so tests run the whole pipeline against
// local servers.
import type { FleetBackend, HeldLock, ReleasePointer } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { FleetState, nodesOfSteps } from '../fleet-state/fleet-state.ts'
import type { Release } from '../publish/publish.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import { plainText } from '../shared/text.ts'
// plan
import type { Plan, PlanDeps } from './plan-stage.ts'
import { planStage } from './plan-stage.ts'
import type { DryRunPlan } from '../plan/dry-run.ts'
import type { DryRunDeps } from './dry-run-stage.ts'
import { dryRun } from './dry-run-stage.ts'
// publish (or find)
import type { PublishDeps } from './publish-stage.ts'
import { publishOrFind } from './publish-stage.ts'
// rollout
import { previousReleases } from '../rollout/previous-releases.ts'
import { runRollout } from '../rollout/rollout.ts'
import { readFailedLogs } from '../rollout/failed-logs.ts'
// report
import { outcome } from '../report/rollout-report.ts'
import type { ReportDeps, RunRecord, RunResult } from './report-stage.ts'
import { announcedTo, cancelledResult, finalResult, summarize } from './report-stage.ts'

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

/**
 * Every client and callback of a run: each stage takes its own part (PlanDeps,
 * DryRunDeps, PublishDeps, ReportDeps), and these are the wiring's own.
 */
export interface PipelineDeps extends PlanDeps, DryRunDeps, PublishDeps, ReportDeps {
  /** the fleet: targets, release pointer, history, lock, logs */
  backend: FleetBackend
  /** every output of the run; each stage sets its own */
  setOutput: (name: OutputName, value: string) => void
  /** aborts the wait (SIGINT/SIGTERM) */
  signal?: AbortSignal
  /** the lock's session and datacenter, so the post step can release it if this process dies */
  onLockSession?: (sessionId: string, datacenter: string | undefined) => void
  onLockReleased?: () => void
  /** each step of the announcement (the backend's record), so the post step can finish an interrupted one */
  onAnnounceJournal?: (record: unknown) => void
  /** on each change while waiting */
  onProgress?: (fleet: FleetState) => void
  /**
   * Once, as soon as the run's outcome is known: right after the wait (or the
   * event, with `wait: false`), before the lock is released, failed nodes' logs
   * are read and the summary is written. Not called when cancelled or on an error.
   */
  onVerdict?: (outcome: { failed: boolean; message: string }) => void
}

export interface PipelineResult extends RunResult {
  /** `dry-run`: what a deploy would have done */
  dryRun?: DryRunPlan
}

/** How long a cancelled run tries to release the lock (its session's TTL frees it anyway). */
const CANCELLED_LOCK_RELEASE_MS = 1_500

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
