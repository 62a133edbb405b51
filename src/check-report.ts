// What the PR shows of a deploy: the check run's conclusion and output, the
// commit status and deployment descriptions. Pure; every field is kept within
// GitHub's limits, and whatever is cut is counted in a note.
import type { FleetState, Verdict } from './fleet-state.ts'
import type { DeployFacts, LogExcerpt } from './report.ts'
import {
  factsMarkdown,
  failedLogsMarkdown,
  fleetChartMarkdown,
  headline,
  headlineMark,
  markdownText,
  nodeTableMarkdown,
  plainText
} from './report.ts'

/** GitHub's "Maximum length: 65535 characters" for output.summary and output.text. */
export const CHECK_FIELD_MAX = 65_535
/** Commit and deployment status descriptions: over 140 is a 422. */
export const STATUS_DESCRIPTION_MAX = 140
/** Check run titles are one line; kept short so the PR's checks list shows them whole. */
const TITLE_MAX = 200

export interface FleetReport {
  fleet: FleetState
  /** `{ done: false }` while waiting, or when the run did not wait */
  verdict: Verdict
  facts: DeployFacts
  /** failed nodes' log tails (untrusted) */
  excerpts?: readonly LogExcerpt[]
  /** the run did not wait for the fleet (`wait: false`) */
  notWaiting?: boolean
}

export type CheckConclusion = 'success' | 'failure' | 'timed_out' | 'cancelled' | 'neutral'

export function checkConclusion(report: FleetReport): CheckConclusion {
  const { verdict, facts } = report
  if (facts.cancelled) return 'cancelled'
  if (facts.error) return 'failure'
  // Not waited for: GitHub learns nothing about the fleet, so it neither passes nor fails.
  if (!verdict.done) return 'neutral'
  if (verdict.ok) return 'success'
  return verdict.reason === 'timed_out' ? 'timed_out' : 'failure'
}

/** The `conclusion` output: how the run ended, in the words of a check run's conclusion. */
export type RunConclusion = 'success' | 'failure' | 'cancelled' | 'timed_out'

/**
 * `cancelled` on SIGINT/SIGTERM; `success` when the run succeeds (`wait: false`
 * included, whose check run is neutral); `timed_out` when silent nodes at the
 * timeout failed it; `failure` otherwise (failed nodes, an error, bad input).
 */
export function runConclusion(run: {
  failed: boolean
  cancelled: boolean
  verdict?: Verdict
}): RunConclusion {
  if (run.cancelled) return 'cancelled'
  if (!run.failed) return 'success'
  return run.verdict?.done === true && run.verdict.reason === 'timed_out' ? 'timed_out' : 'failure'
}

/** `48/50 nodes on <deploy-id>`, and what is still open or went wrong. */
export function checkTitle(report: FleetReport): string {
  const { fleet, verdict, facts } = report
  const c = fleet.counts()
  const base = `${c.succeeded}/${c.total} nodes on ${fleet.deployId}`
  let title: string
  if (facts.cancelled) title = `cancelled: ${base}`
  else if (facts.error) title = `${base}, stopped waiting`
  else if (report.notWaiting)
    title = `announced to ${c.total} nodes: ${fleet.deployId} (not waiting)`
  else if (!verdict.done) title = `${base} so far${c.failed ? `, ${c.failed} failed` : ''}`
  else if (verdict.reason === 'no_targets') title = `no live node for ${fleet.deployId}`
  else if (verdict.reason === 'timed_out') title = `${base}, timed out`
  else title = c.failed ? `${base}, ${c.failed} failed` : base
  return plainText(title, TITLE_MAX)
}

export interface CheckOutput {
  title: string
  summary: string
  text?: string
}

/** The check run's `output`: each field within `limit` characters. */
export function checkOutput(report: FleetReport, limit = CHECK_FIELD_MAX): CheckOutput {
  const { fleet, verdict, facts } = report
  const head = [
    `## ${headlineMark(verdict, facts)} ${markdownText(headline(fleet, verdict, facts), 400)}`,
    '',
    factsMarkdown(fleet.deployId, facts),
    fleetChartMarkdown(fleet)
  ].join('\n')
  // The head is bounded by construction (a 60-bar chart at most); the table takes the rest.
  const table = nodeTableMarkdown(fleet, limit - head.length - 1)
  let summary = `${head}\n${table.markdown}`
  if (summary.length > limit)
    summary = `${summary.slice(0, limit - 40)}\n\n… (cut to GitHub's limit)\n`
  const excerpts = report.excerpts ?? []
  const text = excerpts.length
    ? `## Failed nodes' logs\n\n${failedLogsMarkdown(excerpts, limit - 30)}`
    : undefined
  return { title: checkTitle(report), summary, text }
}

/** The one line a commit status or deployment status carries (at most 140 characters). */
export function statusDescription(report: FleetReport): string {
  const { fleet, verdict, facts } = report
  const line = report.notWaiting
    ? `announced ${fleet.deployId} to ${fleet.counts().total} nodes; not waiting`
    : headline(fleet, verdict, facts)
  return plainText(line.replace(/\s+/g, ' '), STATUS_DESCRIPTION_MAX)
}

export type CommitState = 'success' | 'failure' | 'error' | 'pending'

export function commitState(conclusion: CheckConclusion | 'in_progress'): CommitState {
  switch (conclusion) {
    case 'in_progress':
      return 'pending'
    case 'success':
    case 'neutral':
      return 'success'
    case 'cancelled':
      return 'error'
    default:
      return 'failure'
  }
}
