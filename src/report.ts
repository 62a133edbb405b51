// Words and tables about the fleet: progress lines, the failure message, the
// job summary's markdown. Pure; node names and logs come from the fleet and are
// treated as untrusted text.
import type { FleetCounts, FleetState, NodeState, Verdict } from './fleet-state.ts'

/** Strip terminal control sequences and control characters; bound the length. */
export function plainText(text: string, max = 200): string {
  const clean = text.replace(
    // eslint-disable-next-line no-control-regex
    /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f\x9b]/g,
    ''
  )
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

/**
 * Safe inside a markdown table cell, a paragraph or an HTML element: no HTML,
 * links (GFM autolinks `http://`, `www.` and e-mail addresses too), emphasis or pipes.
 */
export function markdownText(text: string, max = 200): string {
  return plainText(text, max)
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_{}[\]()<>#+!|~&@"'=]/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/:(?=\/)/g, '&#58;')
    .replace(/(www)\./gi, '$1&#46;')
}

export function progressLine(c: FleetCounts): string {
  const done = c.succeeded + c.failed
  return `${done}/${c.total} done, ${c.failed} failed, ${c.pending} waiting`
}

/** At most `max` names, then how many more: a message stays one readable line. */
export function nameList(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((n) => plainText(n, 80))
  return names.length > max
    ? `${shown.join(', ')} and ${names.length - max} more`
    : shown.join(', ')
}

export function verdictLine(fleet: FleetState, verdict: Verdict): string {
  const c = fleet.counts()
  if (!verdict.done) return progressLine(c)
  if (verdict.reason === 'no_targets')
    return 'no live node matches the filters: nothing would receive the deploy'
  const failed = fleet.nodesByStatus('failure')
  const lost = fleet.nodesByStatus('lost')
  const silent = fleet.nodesByStatus('silent')
  // Failing fast leaves nodes that were still deploying: they are not silent.
  const waiting = fleet.nodesByStatus('pending')
  const parts = [
    failed.length ? `failed: ${nameList(failed)}` : '',
    lost.length ? `lost: ${nameList(lost)}` : '',
    silent.length ? `silent: ${nameList(silent)}` : '',
    waiting.length ? `still waiting: ${nameList(waiting)}` : ''
  ].filter(Boolean)
  const head = `${c.succeeded}/${c.total} nodes on ${fleet.deployId}`
  if (verdict.ok)
    return parts.length
      ? `${head} (tolerated, max-failures ${fleet.maxFailures}: ${parts.join('; ')})`
      : head
  const why = verdict.reason === 'timed_out' ? 'timed out' : `more than ${fleet.maxFailures} failed`
  return `${head}, ${why}: ${parts.join('; ')}`
}

export interface ResultRow {
  node: string
  status: NodeState['status']
  deploy_id: string | null
  at: number | null
  /** the wave of a staged rollout (contract 8); absent with one wave */
  wave?: number
  /** the node's datacenter (contract 10); absent when the run names none */
  datacenter?: string
}

/** The `results` output: one row per node, sorted by name. */
export function resultRows(fleet: FleetState): ResultRow[] {
  return fleet.list().map((s) => ({
    node: s.node,
    status: s.status,
    deploy_id: s.deployId ?? null,
    at: s.at ?? null,
    ...(s.wave !== undefined ? { wave: s.wave } : {}),
    ...(s.datacenter !== undefined ? { datacenter: s.datacenter } : {})
  }))
}

/** A failed node's log tail, as read from `<kv-prefix>/logs/<node>` (untrusted). */
export interface LogExcerpt {
  node: string
  text: string
}

/** What the run knows about the release, for the summary and the check run. */
export interface DeployFacts {
  manifestUrl?: string
  srcUrl?: string
  checksum?: string
  /** the commit that was built */
  commit?: string
  /** from the event to the verdict */
  durationMs?: number
  runUrl?: string
  /** the wait was cancelled (SIGINT/SIGTERM) */
  cancelled?: boolean
  /** the wait broke off with an error: the run fails with this message */
  error?: string
}

const STATUS_MARK: Record<NodeState['status'], string> = {
  success: '✅ success',
  failure: '❌ failure',
  lost: '💀 lost',
  silent: '🔇 silent',
  pending: '⏳ pending'
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m}m${s % 60}s` : `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`
}

/** A code span that nothing inside can close or break out of (one line, no backticks). */
export function codeSpan(text: string, max = 300): string {
  return `\`${plainText(text, max)
    .replace(/[\r\n]+/g, ' ')
    .replace(/`/g, "'")}\``
}

/** The one-line headline, plain text: the verdict, or why there is none. */
export function headline(fleet: FleetState, verdict: Verdict, facts: DeployFacts = {}): string {
  if (facts.error) return `stopped waiting: ${plainText(facts.error, 300)}`
  if (facts.cancelled) return `cancelled while waiting: ${progressLine(fleet.counts())}`
  if (!verdict.done) return `${fleet.deployId}: ${progressLine(fleet.counts())}`
  return verdictLine(fleet, verdict)
}

export function headlineMark(verdict: Verdict, facts: DeployFacts = {}): string {
  if (facts.error) return '❌'
  if (facts.cancelled) return '⛔'
  if (!verdict.done) return '⏳'
  return verdict.ok ? '✅' : '❌'
}

/** Deploy facts as a markdown list; a list (not a table) so a `|` in a URL is harmless. */
export function factsMarkdown(deployId: string, facts: DeployFacts): string {
  const lines = [`- **Deploy ID:** ${codeSpan(deployId, 100)}`]
  if (facts.commit) lines.push(`- **Commit:** ${codeSpan(facts.commit, 64)}`)
  if (facts.manifestUrl) lines.push(`- **Manifest:** ${codeSpan(facts.manifestUrl)}`)
  if (facts.srcUrl) lines.push(`- **Archive:** ${codeSpan(facts.srcUrl)}`)
  if (facts.checksum) lines.push(`- **Checksum (sha256):** ${codeSpan(facts.checksum, 80)}`)
  if (facts.durationMs !== undefined)
    lines.push(`- **Duration:** ${formatDuration(facts.durationMs)} from the event to the verdict`)
  return `${lines.join('\n')}\n`
}

/** Failed and silent nodes first: they are what a reader came for. */
function nodesForTable(fleet: FleetState): NodeState[] {
  const order: NodeState['status'][] = ['failure', 'lost', 'silent', 'pending', 'success']
  return fleet.list().sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status))
}

function nodeRow(s: NodeState): string {
  const note = `${s.joined ? 'joined during the deploy ' : ''}${s.note ? markdownText(s.note, 120) : ''}`
  return `| ${markdownText(s.node, 80)} | ${STATUS_MARK[s.status]} | ${seconds(s.noticedMs)} | ${note} |`
}

/** Room kept for a "left out" note when a part is cut to fit. */
const NOTE_ROOM = 200

/**
 * The per-node table within `budget` characters and `maxRows` rows; the nodes
 * that do not fit are counted in a closing note.
 */
export function nodeTableMarkdown(
  fleet: FleetState,
  budget: number,
  maxRows = Infinity
): { markdown: string; shown: number; omitted: number } {
  const rows = nodesForTable(fleet)
  const lines = ['| node | status | after event | note |', '| --- | --- | --- | --- |']
  let size = lines.join('\n').length + 1
  let shown = 0
  for (const s of rows) {
    const row = nodeRow(s)
    const last = shown === rows.length - 1
    if (shown >= maxRows || size + row.length + 1 + (last ? 0 : NOTE_ROOM) > budget) break
    lines.push(row)
    size += row.length + 1
    shown++
  }
  const omitted = rows.length - shown
  if (omitted > 0)
    lines.push(
      '',
      `… and ${omitted} more node${omitted === 1 ? '' : 's'} left out of this table (the \`results\` output lists every node).`
    )
  return { markdown: `${lines.join('\n')}\n`, shown, omitted }
}

/** A fence longer than any backtick run in the text: the text cannot close it. */
function fenceFor(lines: readonly string[]): string {
  let longest = 0
  for (const line of lines)
    for (const run of line.match(/`+/g) ?? []) longest = Math.max(longest, run.length)
  return '`'.repeat(Math.max(3, longest + 1))
}

function excerptBlock(node: string, lines: readonly string[], cut: number): string {
  const fence = fenceFor(lines)
  const note = cut > 0 ? `(${cut} earlier line${cut === 1 ? '' : 's'} left out)\n\n` : ''
  return `<details><summary>${markdownText(node, 80)}: log</summary>\n\n${note}${fence}text\n${lines.join('\n')}\n${fence}\n\n</details>\n`
}

/**
 * Failed nodes' log excerpts as collapsible blocks, within `budget` characters;
 * what does not fit is counted (nodes and lines) in a closing note. Each line is
 * stripped of control sequences and cut to 400 characters.
 */
export function failedLogsMarkdown(
  excerpts: readonly LogExcerpt[],
  budget = 60_000,
  maxLinesPerNode = 200
): string {
  const parts: string[] = []
  let size = 0
  let omittedNodes = 0
  let omittedLines = 0
  for (const [i, excerpt] of excerpts.entries()) {
    const all = excerpt.text
      .replace(/\n+$/, '')
      .split('\n')
      .map((l) => plainText(l, 400))
    if (omittedNodes > 0) {
      omittedNodes++
      omittedLines += all.length
      continue
    }
    const room = budget - size - (i === excerpts.length - 1 ? 0 : NOTE_ROOM)
    let lines = all.slice(-maxLinesPerNode)
    let block = excerptBlock(excerpt.node, lines, all.length - lines.length)
    // Too big: keep the tail (where the error is), dropping lines from the front.
    while (block.length > room && lines.length > 0) {
      const over = block.length - room
      let drop = 0
      for (let freed = 0; freed < over && drop < lines.length; drop++)
        freed += (lines[drop]?.length ?? 0) + 1
      lines = lines.slice(Math.max(1, drop))
      block = excerptBlock(excerpt.node, lines, all.length - lines.length)
    }
    if (lines.length === 0 || block.length > room) {
      omittedNodes++
      omittedLines += all.length
      continue
    }
    parts.push(block)
    size += block.length + 1
  }
  if (omittedNodes > 0)
    parts.push(
      `… ${omittedLines} log line${omittedLines === 1 ? '' : 's'} from ${omittedNodes} more failed node${omittedNodes === 1 ? '' : 's'} left out (size limit).\n`
    )
  return parts.join('\n')
}

/** A node name as a Mermaid label: nothing that Mermaid syntax gives a meaning to. */
export function mermaidLabel(name: string, max = 40): string {
  return plainText(name, max).replace(/[^A-Za-z0-9._-]/g, '_')
}

/** At most this many bars in the timeline: beyond it a chart stops being readable. */
const TIMELINE_MAX_NODES = 60

/**
 * The fleet at a glance, as Mermaid (GitHub renders it): a pie of outcomes and,
 * for fleets small enough to read, a timeline of when each node reported.
 */
export function fleetChartMarkdown(fleet: FleetState): string {
  const c = fleet.counts()
  if (c.total === 0) return ''
  const slices: Array<[string, number]> = [
    ['succeeded', c.succeeded],
    ['failed', fleet.nodesByStatus('failure').length],
    ['lost', fleet.nodesByStatus('lost').length],
    ['silent', fleet.nodesByStatus('silent').length],
    ['waiting', fleet.nodesByStatus('pending').length]
  ]
  const out = [
    '```mermaid',
    `pie showData title ${c.succeeded}/${c.total} nodes on ${mermaidLabel(fleet.deployId, 64)}`,
    ...slices.filter(([, n]) => n > 0).map(([label, n]) => `  "${label}" : ${n}`),
    '```',
    ''
  ]
  const reported = fleet
    .list()
    .filter((s) => s.noticedMs !== undefined && (s.status === 'success' || s.status === 'failure'))
    .sort((a, b) => (a.noticedMs ?? 0) - (b.noticedMs ?? 0))
  if (reported.length > 0 && reported.length <= TIMELINE_MAX_NODES) {
    out.push(
      '```mermaid',
      'gantt',
      '  title When each node reported (mm:ss after the event)',
      '  dateFormat x',
      '  axisFormat %M:%S',
      '  section nodes',
      // The mark first: a label can never start with a Mermaid keyword.
      ...reported.map(
        (s) =>
          `  ${s.status === 'success' ? '✔' : '✘'} ${mermaidLabel(s.node)} :${s.status === 'success' ? 'done' : 'crit'}, 0, ${Math.max(1, Math.round(s.noticedMs ?? 0))}`
      ),
      '```',
      ''
    )
  }
  return out.join('\n')
}

/** Well under GitHub's 1 MiB per step: a UTF-16 unit is at most 3 bytes of UTF-8. */
export const SUMMARY_MAX_CHARS = 200_000

/**
 * Markdown for the job summary: the verdict, the fleet at a glance, the deploy
 * facts, the per-node table and the failed nodes' logs, within `maxChars`.
 */
export function summaryMarkdown(
  fleet: FleetState,
  verdict: Verdict,
  facts: DeployFacts,
  maxRows = 500,
  extras: { excerpts?: readonly LogExcerpt[]; maxChars?: number } = {}
): string {
  const maxChars = extras.maxChars ?? SUMMARY_MAX_CHARS
  const c = fleet.counts()
  const head = [
    `### ${headlineMark(verdict, facts)} ${markdownText(headline(fleet, verdict, facts), 400)}`,
    '',
    `| deploy ID | nodes | succeeded | failed | waiting |`,
    `| --- | --- | --- | --- | --- |`,
    `| ${codeSpan(fleet.deployId, 100)} | ${c.total} | ${c.succeeded} | ${c.failed} | ${c.pending} |`,
    '',
    fleetChartMarkdown(fleet),
    factsMarkdown(fleet.deployId, facts)
  ].join('\n')
  // The logs get what the table leaves, but at least a third of the budget.
  const excerpts = extras.excerpts ?? []
  const logsBudget = excerpts.length ? Math.floor((maxChars - head.length) / 3) : 0
  const table = nodeTableMarkdown(fleet, maxChars - head.length - logsBudget - 2, maxRows)
  let markdown = `${head}\n${table.markdown}`
  if (excerpts.length)
    markdown += `\n#### Failed nodes' logs\n\n${failedLogsMarkdown(excerpts, maxChars - markdown.length - 40)}`
  return markdown
}
