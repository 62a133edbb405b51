// What a person reads about a run: the verdict and its cause first, failures
// grouped by cause, the lines of a log that matter, the fleet as pictures, and
// what a run that ended early left behind. One analysis (`analyse`,
// fleet-analysis.ts) feeds the job summary (markdown with Mermaid, put
// together here from the parts in this folder) and the check run (text and
// tables, check-report.ts, from `reportParts`). This file is also the room's
// entry for the rest of src/, the tests and the scripts: it re-exports what
// they use. Pure; node names, logs and notes come from the fleet and are
// untrusted text.
import type { FleetReport } from './report-types.ts'
import type { Analysis } from './fleet-analysis.ts'
import { analyse } from './fleet-analysis.ts'
import type { Mark } from './headline.ts'
import { headlineMark, headlineMarkdown, markedHeadline } from './headline.ts'
import {
  endedEarly,
  factsMarkdown,
  releaseLine,
  rollbackMarkdown,
  stateMarkdown,
  timeLine
} from './release-markdown.ts'
import {
  causesHeading,
  causesMarkdown,
  problemTableMarkdown,
  succeededMarkdown
} from './nodes-markdown.ts'
import { causeLogsMarkdown } from './cause-logs.ts'
import { wavesPicture, wavesTableMarkdown } from './waves-markdown.ts'
import { datacentersMarkdown, picturesMarkdown, timingLine } from './fleet-markdown.ts'

export type { DeployFacts, FleetReport, LogExcerpt, WaveReport } from './report-types.ts'
export { analyse } from './fleet-analysis.ts'
export { headline, verdictMessage } from './headline.ts'
export { resultRows } from './result-rows.ts'
export { abandonedMarkdown } from './release-markdown.ts'
export { datacentersMarkdown } from './fleet-markdown.ts'
export { causeLogsMarkdown } from './cause-logs.ts'
export { problemTableMarkdown } from './nodes-markdown.ts'

/**
 * Well under GitHub's 1 MiB per step summary: a UTF-16 unit is at most 3 bytes
 * of UTF-8, so 200,000 characters are at most 600,000 bytes, and in practice
 * (ASCII entities for anything untrusted) about 200 KB.
 */
export const SUMMARY_MAX_CHARS = 200_000

/** The verdict line (marked), then the release and time line. */
function headMarkdown(r: FleetReport, a: Analysis, mark: Mark): string {
  return [
    `${mark} ${headlineMarkdown(markedHeadline(r, a, false))}`,
    '',
    [releaseLine(r), timeLine(r)].filter(Boolean).join(' · '),
    ''
  ].join('\n')
}

/** The parts of a report, each within its own budget, for the summary or the check run. */
export function reportParts(r: FleetReport, maxChars: number, opts: { mermaid: boolean }) {
  const a = analyse(r)
  const mark = headlineMark(r.verdict, r.facts, r.notWaiting)
  const head = headMarkdown(r, a, mark)
  const state = endedEarly(r) ? stateMarkdown(r, a) : ''
  const pictures = picturesMarkdown(r, a, opts.mermaid)
  const waves = r.waves?.length
    ? `${opts.mermaid ? wavesPicture(r) : ''}\n${wavesTableMarkdown(r, 20_000)}`
    : ''
  const facts = factsMarkdown(r)
  const timing = timingLine(a)
  const datacenters = datacentersMarkdown(r.fleet)
  // What has no budget of its own, and a margin for the headings between parts.
  const fixed =
    [head, state, pictures, waves, datacenters, facts, timing].reduce((n, p) => n + p.length, 0) +
    600
  const room = Math.max(2000, maxChars - fixed)
  const causes = causesMarkdown(a, Math.floor(room * 0.45))
  const logs = opts.mermaid ? causeLogsMarkdown(r, a, Math.floor(room * 0.25)) : ''
  const left = room - causes.length - logs.length
  // Only nodes not heard from yet: the causes table names them all already.
  const onlyPending = a.groups.every((g) => g.status === 'pending')
  const table = onlyPending
    ? { markdown: '', shown: 0, omitted: 0 }
    : problemTableMarkdown(a, r.fleet, Math.floor(left * 0.7))
  const succeeded = succeededMarkdown(a, r.fleet, left - table.markdown.length - 100)
  return {
    a,
    mark,
    head,
    state,
    causes,
    logs,
    pictures,
    timing,
    datacenters,
    waves,
    table,
    succeeded,
    facts
  }
}

/**
 * Markdown for the job summary: the verdict with its cause, what an early end
 * left behind, failures by cause with the first one's log open, the pictures,
 * the waves, the nodes that did not succeed, the successes as a count, and the
 * release's facts; within `maxChars`.
 */
export function summaryMarkdown(r: FleetReport, maxChars = SUMMARY_MAX_CHARS): string {
  const p = reportParts(r, maxChars, { mermaid: true })
  const out = [`### ${p.head}`]
  if (r.rollback) out.push(rollbackMarkdown(r))
  if (p.state) out.push(`#### What this run left behind\n\n${p.state}`)
  if (p.causes) out.push(`#### ${causesHeading(p.a, r.fleet.deployId)}\n\n${p.causes}`)
  if (p.logs) out.push(p.logs)
  if (p.pictures || p.timing) out.push(`#### The fleet\n\n${p.pictures}${p.timing}`)
  if (p.datacenters) out.push(`#### Datacenters\n\n${p.datacenters}`)
  if (p.waves) out.push(`#### Waves\n\n${p.waves}`)
  if (p.table.markdown) out.push(`#### Nodes that did not succeed\n\n${p.table.markdown}`)
  if (p.succeeded) out.push(p.succeeded)
  out.push(`#### Release\n\n${p.facts}`)
  return out.join('\n')
}
