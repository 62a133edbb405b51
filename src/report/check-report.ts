// What the PR shows of a deploy: the check run's conclusion and output, the
// commit status and deployment descriptions. Pure; every field is kept within
// GitHub's limits, and whatever is cut is counted in a note.
import type { Verdict } from '../fleet-state/fleet-state.ts'
import type { FleetReport } from './report-types.ts'
import { analyse } from './fleet-analysis.ts'
import { headline } from './headline.ts'
import { rollbackMarkdown } from './release-markdown.ts'
import { causesHeading } from './nodes-markdown.ts'
import { causeLogsMarkdown } from './cause-logs.ts'
import { reportParts } from './report.ts'
import { plainText } from '../shared/text.ts'

export type { FleetReport } from './report-types.ts'

/** GitHub's "Maximum length: 65535 characters" for output.summary and output.text. */
export const CHECK_FIELD_MAX = 65_535
/** Commit and deployment status descriptions: over 140 is a 422. */
export const STATUS_DESCRIPTION_MAX = 140
/** Check run titles are one line; kept short so the PR's checks list shows them whole. */
const TITLE_MAX = 160

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

/**
 * The check's title: the headline in fewer words (the check's name carries the
 * app): `production: 1 of 5 nodes failed (node-3: exit status 1)`.
 */
export function checkTitle(report: FleetReport): string {
  return plainText(headline(report, analyse(report), true), TITLE_MAX)
}

export interface CheckOutput {
  title: string
  summary: string
  text?: string
}

/**
 * The check run's `output`, each field within `limit` characters: text and
 * tables only (the Checks tab may show Mermaid as code). The summary has the
 * verdict, what an early end left, the causes, timing, waves and nodes; the
 * text has each cause's log, the lines that matter first.
 */
export function checkOutput(report: FleetReport, limit = CHECK_FIELD_MAX): CheckOutput {
  const p = reportParts(report, limit - 2000, { mermaid: false })
  const parts = [`## ${p.head}`]
  if (report.rollback) parts.push(rollbackMarkdown(report))
  if (p.state) parts.push(`### What this run left behind\n\n${p.state}`)
  if (p.causes) parts.push(`### ${causesHeading(p.a, report.fleet.deployId)}\n\n${p.causes}`)
  if (p.timing) parts.push(p.timing)
  if (p.datacenters) parts.push(`### Datacenters\n\n${p.datacenters}`)
  if (p.waves) parts.push(`### Waves\n\n${p.waves}`)
  if (p.table.markdown) parts.push(`### Nodes that did not succeed\n\n${p.table.markdown}`)
  if (p.succeeded) parts.push(p.succeeded)
  parts.push(`### Release\n\n${p.facts}`)
  let summary = parts.join('\n')
  if (summary.length > limit)
    summary = `${summary.slice(0, limit - 40)}\n\n… (cut to GitHub's limit)\n`
  const logs = report.excerpts?.length ? causeLogsMarkdown(report, p.a, limit - 40, 10) : ''
  const text = logs ? `## Failed nodes' logs, by cause\n\n${logs}` : undefined
  return { title: checkTitle(report), summary, text }
}

/** The one line a commit status or deployment status carries (at most 140 characters). */
export function statusDescription(report: FleetReport): string {
  return plainText(checkTitle(report).replace(/\s+/g, ' '), STATUS_DESCRIPTION_MAX)
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
