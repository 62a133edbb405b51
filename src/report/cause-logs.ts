// Each cause's log in the summary: its first node's lines that matter, then the
// whole log's tail collapsed, fenced so that no log line can close the fence,
// within a character budget. Apart because fitting untrusted logs into a
// budget is its own work, and only the summary shows them. Pure.
import type { LogDigest } from './log-digest.ts'
import { logLines } from './log-digest.ts'
import type { FleetReport } from './report-types.ts'
import type { Analysis, Group } from './fleet-analysis.ts'
import { logsByLabel } from './fleet-analysis.ts'
import { markdownText, plural } from '../shared/text.ts'

/** A fence longer than any backtick run in the text: the text cannot close it. */
function fenceFor(lines: readonly string[]): string {
  let longest = 0
  for (const line of lines)
    for (const run of line.match(/`+/g) ?? []) longest = Math.max(longest, run.length)
  return '`'.repeat(Math.max(3, longest + 1))
}

function fenced(lines: readonly string[]): string {
  const fence = fenceFor(lines)
  return `${fence}text\n${lines.join('\n')}\n${fence}\n`
}

/** Lines (from the end) that fit `budget` characters once fenced. */
function tailWithin(lines: readonly string[], budget: number): string[] {
  const out: string[] = []
  let size = 20
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i] as string
    if (size + l.length + 1 > budget) break
    out.unshift(l)
    size += l.length + 1
  }
  return out
}

/**
 * One cause's log block within `room` characters, or undefined when it does not
 * fit: the lines that matter, then the whole log's tail collapsed.
 */
function causeLogBlock(
  g: Group,
  node: string,
  d: LogDigest,
  text: string,
  room: number,
  open: boolean
): string | undefined {
  const name = markdownText(node, 80)
  const others =
    g.nodes.length > 1 ? ` (and ${plural(g.nodes.length - 1, 'other node')} with this cause)` : ''
  const useful = tailWithin(d.useful, Math.floor(room * 0.45))
  const all = logLines(text)
  const listing = d.listing ? `; ${plural(d.listing, 'line')} of file listings left out` : ''
  const build = (tail: readonly string[]) =>
    [
      `<details${open ? ' open' : ''}><summary><b>${name}</b>${others}: the lines that matter (${useful.length} of ${plural(d.total, 'line')}${listing})</summary>`,
      '',
      fenced(useful.length ? useful : ['(nothing)']),
      `<details><summary>${name}: the whole log${tail.length < all.length ? ` (last ${tail.length} of ${all.length} lines)` : ` (${plural(all.length, 'line')})`}</summary>`,
      '',
      fenced(tail),
      '</details>',
      '</details>',
      ''
    ].join('\n')
  // The whole log gets what the rest leaves; a long fence can take more: cut again.
  let tailBudget = room - build([]).length
  let tail = tailWithin(all, tailBudget)
  let block = build(tail)
  for (let tries = 0; block.length > room && tries < 3; tries++) {
    tailBudget -= block.length - room + 100
    tail = tailWithin(all, tailBudget)
    block = build(tail)
  }
  return block.length > room ? undefined : block
}

/**
 * Each cause's log, its first node's: the lines that matter first (errors, the
 * failing command and its output), then the whole tail collapsed. The first
 * group's is open. At most `maxGroups` groups, within `budget` characters.
 */
export function causeLogsMarkdown(
  r: FleetReport,
  a: Analysis,
  budget: number,
  maxGroups = 5
): string {
  const logs = logsByLabel(r)
  const parts: string[] = []
  let size = 0
  const groups = a.groups.filter((g) => g.status === 'failure')
  let left = 0
  for (const [i, g] of groups.entries()) {
    const node = g.nodes.find((n) => logs.has(n))
    const d = node === undefined ? undefined : a.digests.get(node)
    if (node === undefined || d === undefined || i >= maxGroups) {
      if (node !== undefined) left++
      continue
    }
    const room = budget - size - 200
    const block =
      room < 600 ? undefined : causeLogBlock(g, node, d, logs.get(node) ?? '', room, i === 0)
    if (block === undefined) {
      left++
      continue
    }
    parts.push(block)
    size += block.length + 1
  }
  if (left > 0)
    parts.push(
      `… the logs of ${plural(left, 'more cause')} are left out (size limit); Consul keeps each under \`<kv-prefix>/logs/<node>\`.\n`
    )
  return parts.join('\n')
}
