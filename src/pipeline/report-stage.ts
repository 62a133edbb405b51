// The report stage (DESIGN "What happens in one run"): a run that got past the
// plan ends here, however it ends, as outputs, the failed nodes' log tails in
// the job log and the job summary. It imports only pure report code; what it
// writes goes through the callbacks it is given (outputs, summary, log).
import type { AnnouncementProgress } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { FleetState, Verdict } from '../fleet-state/fleet-state.ts'
import { progressLine } from '../fleet-state/progress-line.ts'
import type { Release } from '../publish/publish.ts'
import type { RolloutResult } from '../rollout/rollout.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import { inert } from '../shared/log.ts'
import { plainText } from '../shared/text.ts'
import type { DeployFacts, FleetReport, LogExcerpt } from '../report/report.ts'
import { resultRows, summaryMarkdown } from '../report/report.ts'
import { outcome, phasesMarkdown, rolloutReport } from '../report/rollout-report.ts'
import { runFacts } from '../report/run-facts.ts'

/** What the report stage takes of the run's deps. */
export interface ReportDeps {
  log: Log
  setOutput: (
    name:
      | 'nodes-total'
      | 'nodes-succeeded'
      | 'nodes-failed'
      | 'nodes-pending'
      | 'results'
      | 'waves-completed'
      | 'rolled-back',
    value: string
  ) => void
  /** the job summary (markdown); absent outside GitHub Actions */
  writeSummary?: (markdown: string) => Promise<void>
  /** after the event is fired (for the PR check) */
  onAnnounced?: (state: {
    release: Release
    fleet: FleetState
    facts: DeployFacts
  }) => Promise<void>
}

/** How a run that got past the plan ended. */
export interface RunResult {
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
}

/** How many of a failed node's last log lines are printed, and for how many nodes. */
const EXCERPT_LINES = 40
const MAX_EXCERPTS = 10

function setFleetOutputs(fleet: FleetState, setOutput: ReportDeps['setOutput']): void {
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

/** What one run has got so far: the report and the outputs are made of it, however it ends. */
export interface RunRecord {
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

/** After the first event: outputs so far, and the PR check starts. */
export async function announcedTo(
  config: Config,
  deps: ReportDeps,
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
export function summarize(
  config: Config,
  deps: ReportDeps,
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

export async function cancelledResult(
  config: Config,
  deps: ReportDeps,
  run: RunRecord
): Promise<RunResult> {
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
export async function finalResult(
  config: Config,
  deps: ReportDeps,
  run: RunRecord,
  done: RolloutResult
): Promise<RunResult> {
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

function setRolloutOutputs(rollout: RolloutResult, setOutput: ReportDeps['setOutput']): void {
  setOutput('waves-completed', String(rollout.wavesCompletedOutput))
  setOutput('rolled-back', rollout.rollback?.sent ? 'true' : 'false')
}
