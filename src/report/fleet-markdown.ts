// The fleet as a whole in the summary: the outcome pie and the time-to-report
// chart, the time-to-report line (p50, p90, max, the slowest), and one row per
// datacenter. Apart from the node tables: counts and figures over the fleet,
// not nodes one by one. Pure; datacenter names are escaped.
import type { FleetState } from '../fleet-state/fleet-state.ts'
import type { Slice } from './charts.ts'
import { outcomePie, reportTimeChart } from './charts.ts'
import type { FleetReport } from './report-types.ts'
import type { Analysis } from './fleet-analysis.ts'
import { outcomeOf } from './fleet-analysis.ts'
import { formatDuration, markdownText, plural } from '../shared/text.ts'

/** p50/p90/max time to report and the slowest nodes, as one line. */
export function timingLine(a: Analysis): string {
  if (!a.percentiles) return ''
  const p = a.percentiles
  const slow = a.slowest
    .map((s) => `${markdownText(s.node, 60)} ${formatDuration(s.ms)}`)
    .join(', ')
  return `**Time to report** (${plural(a.reported.length, 'node')}): p50 ${formatDuration(p.p50)} · p90 ${formatDuration(p.p90)} · max ${formatDuration(p.max)}. Slowest: ${slow}.\n`
}

/** The outcome pie's slices, every node in one: green, red, grey; where the others ended. */
function slices(a: Analysis): Slice[] {
  return [
    { label: 'succeeded', count: a.succeeded.length },
    { label: 'failed', count: a.failed.length + a.lost.length },
    { label: 'not reported', count: a.silent.length + a.pending.length },
    { label: 'rolled back', count: a.rolledBack.length },
    { label: 'prepared', count: a.prepared.length },
    { label: 'not sent', count: a.notSent.length }
  ]
}

/**
 * One row per datacenter (contract 10: summary and check break the fleet down by
 * datacenter), in the order they were rolled out; empty when no node names one.
 */
export function datacentersMarkdown(fleet: FleetState): string {
  const empty = () => ({ total: 0, ok: 0, bad: 0, quiet: 0, unsent: 0 })
  const rows = new Map(fleet.datacenters().map((dc) => [dc, empty()]))
  for (const s of fleet.list()) {
    if (s.datacenter === undefined) continue
    const row = rows.get(s.datacenter) ?? empty()
    row.total++
    const outcome = outcomeOf(s)
    if (outcome === 'success') row.ok++
    else if (outcome === 'failure' || outcome === 'lost') row.bad++
    // Never sent, or prepared and never switched: not "not reported".
    else if (outcome === 'not_sent' || outcome === 'prepared') row.unsent++
    else row.quiet++
    rows.set(s.datacenter, row)
  }
  if (rows.size === 0) return ''
  return [
    '| datacenter | nodes | succeeded | failed | not reported | not sent or not switched |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows].map(
      ([dc, c]) =>
        `| ${markdownText(dc, 64)} | ${c.total} | ${c.ok} | ${c.bad} | ${c.quiet} | ${c.unsent} |`
    )
  ].join('\n')
}

export function picturesMarkdown(r: FleetReport, a: Analysis, mermaid: boolean): string {
  // Nothing reported yet (wait: false, an early cancel): a one-colour pie says nothing.
  if (!mermaid || a.counts.succeeded + a.counts.failed === 0) return ''
  return [
    outcomePie(
      slices(a),
      `${a.counts.succeeded} of ${a.counts.total} nodes on ${r.fleet.deployId}`
    ),
    reportTimeChart(a.reported)
  ].join('\n')
}
