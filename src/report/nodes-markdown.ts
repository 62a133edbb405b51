// The nodes that did not succeed, as markdown: grouped by cause (a count, the
// cause, the nodes named), then one row per node with its state and cause, and
// the succeeded nodes as a count with their names collapsed. Apart from the
// logs (cause-logs.ts) and the pictures: these are the tables, each within the
// budget the summary gives it. Pure; node names and causes are escaped.
import type { FleetState, NodeState } from '../fleet-state/fleet-state.ts'
import type { Analysis } from './fleet-analysis.ts'
import { NOT_A_CAUSE, statesByLabel } from './fleet-analysis.ts'
import { namesWithin } from './names-within.ts'
import { cellCode, formatDuration, markdownText, middleCut, plural } from '../shared/text.ts'

const STATUS_MARK: Record<NodeState['status'], string> = {
  success: '✅ succeeded',
  failure: '❌ failed',
  lost: '💀 lost',
  silent: '🔇 silent',
  pending: '⏳ not reported',
  not_sent: '⚪ not sent',
  prepared: '📦 prepared',
  rolled_back: '↩️ rolled back'
}

/** Failures grouped by cause: a count, the cause, the nodes (all named within `budget`). */
export function causesMarkdown(a: Analysis, budget: number): string {
  if (a.groups.length === 0) return ''
  const lines = ['| nodes | cause | which |', '| --- | --- | --- |']
  let size = 40
  const total = a.groups.reduce((n, g) => n + g.nodes.length, 0)
  for (const [i, g] of a.groups.entries()) {
    const rest = a.groups.length - i - 1
    const room = budget - size - rest * 300
    // Each group's names get a share of what is left, by size, at least 200 characters.
    const share = Math.max(200, Math.floor((room * g.nodes.length) / Math.max(1, total)))
    const mark = STATUS_MARK[g.status].split(' ')[0]
    // Where nodes ended (not sent, rolled back) is no cause to read node by node: a few names.
    const cap = NOT_A_CAUSE.has(g.status) ? 300 : Infinity
    const names = namesWithin(g.nodes, Math.min(share, room - 400, cap))
    const row = `| ${mark} ${g.nodes.length} | ${g.status === 'failure' ? cellCode(g.cause, 200) : markdownText(g.cause, 200)} | ${names.text} |`
    if (size + row.length + 1 > budget) {
      const left = a.groups.slice(i).reduce((n, x) => n + x.nodes.length, 0)
      lines.push(
        '',
        `… ${plural(a.groups.length - i, 'more cause')} (${plural(left, 'node')}) left out (size limit).`
      )
      break
    }
    lines.push(row)
    size += row.length + 1
  }
  return `${lines.join('\n')}\n`
}

/** One row per node that did not succeed, natural order within its status, with its cause. */
export function problemTableMarkdown(
  a: Analysis,
  fleet: FleetState,
  budget: number,
  maxRows = 500
): { markdown: string; shown: number; omitted: number } {
  const states = statesByLabel(fleet)
  const nodes = [...a.failed, ...a.lost, ...a.silent, ...a.pending]
  if (nodes.length === 0) return { markdown: '', shown: 0, omitted: 0 }
  const lines = ['| node | status | after the event | cause |', '| --- | --- | --- | --- |']
  let size = 100
  let shown = 0
  for (const node of nodes) {
    const s = states.get(node)
    const cause = a.causeOf.get(node) ?? ''
    const row = `| ${markdownText(node, 80)} | ${STATUS_MARK[s?.status ?? 'pending']} | ${s?.noticedMs !== undefined ? formatDuration(s.noticedMs) : ''} | ${s?.status === 'failure' ? cellCode(middleCut(cause, 64), 64) : markdownText(cause, 160)} |`
    if (shown >= maxRows || size + row.length + 1 > budget - 200) break
    lines.push(row)
    size += row.length + 1
    shown++
  }
  const omitted = nodes.length - shown
  if (omitted > 0)
    lines.push(
      '',
      `… and ${plural(omitted, 'more node')} left out of this table (the \`results\` output lists every node).`
    )
  return { markdown: `${lines.join('\n')}\n`, shown, omitted }
}

/** The succeeded nodes: a count, and their names (with times, for small fleets) collapsed. */
export function succeededMarkdown(
  a: Analysis,
  fleet: FleetState,
  budget: number,
  tableMax = 50
): string {
  const n = a.succeeded.length
  if (n === 0) return ''
  const states = statesByLabel(fleet)
  const joined = a.succeeded.filter((node) => states.get(node)?.joined)
  const joinedNote = joined.length
    ? `, ${plural(joined.length, 'node')} of them joined during the deploy (${namesWithin(joined, 400).text})`
    : ''
  const summary = `<details><summary>✅ ${plural(n, 'node')} succeeded${joinedNote}</summary>\n\n`
  if (n <= tableMax) {
    const rows = a.succeeded.map((node) => {
      const s = states.get(node)
      const ms = s?.noticedMs
      return `| ${markdownText(node, 80)} | ${ms !== undefined ? formatDuration(ms) : ''} | ${s?.joined ? 'joined during the deploy' : ''} |`
    })
    const md = `${summary}| node | after the event | note |\n| --- | --- | --- |\n${rows.join('\n')}\n\n</details>\n`
    if (md.length <= budget) return md
  }
  if (budget < 400 + summary.length) return `✅ ${plural(n, 'node')} succeeded${joinedNote}.\n`
  const names = namesWithin(a.succeeded, budget - summary.length - 40)
  return `${summary}${names.text}\n\n</details>\n`
}

/**
 * `3 of 5 nodes did not succeed, by cause` when some failed; `2 of 5 nodes had
 * not reported` when the rest only had not; else `4 of 5 nodes not on <id>`
 * (never sent, prepared only, rolled back: they did report, or were not asked).
 */
export function causesHeading(a: Analysis, deployId: string): string {
  const notOk = a.counts.total - a.counts.succeeded
  const of = `${notOk} of ${a.counts.total} nodes`
  if (a.failed.length + a.lost.length + a.silent.length > 0)
    return `${of} did not succeed, by cause`
  if (notOk === a.pending.length) return `${of} had not reported`
  return `${of} not on ${markdownText(deployId, 100)}`
}
