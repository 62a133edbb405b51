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

/** Safe inside a markdown table cell or paragraph: no HTML, links, emphasis or pipes. */
export function markdownText(text: string, max = 200): string {
  return plainText(text, max)
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_{}[\]()<>#+!|~&]/g, (c) => `&#${c.charCodeAt(0)};`)
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
}

/** The `results` output: one row per node, sorted by name. */
export function resultRows(fleet: FleetState): ResultRow[] {
  return fleet.list().map((s) => ({
    node: s.node,
    status: s.status,
    deploy_id: s.deployId ?? null,
    at: s.at ?? null
  }))
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

/** Markdown for the job summary: facts, then the per-node table (bounded). */
export function summaryMarkdown(
  fleet: FleetState,
  verdict: Verdict,
  facts: { manifestUrl?: string; checksum?: string; commit?: string },
  maxRows = 500
): string {
  const c = fleet.counts()
  const lines = [
    `### ${verdict.done && verdict.ok ? '✅' : '❌'} ${markdownText(verdictLine(fleet, verdict), 400)}`,
    '',
    `| deploy ID | nodes | succeeded | failed | waiting |`,
    `| --- | --- | --- | --- | --- |`,
    `| \`${fleet.deployId}\` | ${c.total} | ${c.succeeded} | ${c.failed} | ${c.pending} |`,
    ''
  ]
  if (facts.manifestUrl)
    lines.push(
      `Manifest: \`${facts.manifestUrl}\`${facts.checksum ? ` (sha256 \`${facts.checksum}\`)` : ''}`,
      ''
    )
  const rows = fleet.list()
  // Failed and silent nodes first: they are what a reader came for.
  const order: NodeState['status'][] = ['failure', 'lost', 'silent', 'pending', 'success']
  rows.sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status))
  lines.push('| node | status | after event | note |', '| --- | --- | --- | --- |')
  for (const s of rows.slice(0, maxRows)) {
    lines.push(
      `| ${markdownText(s.node, 80)} | ${STATUS_MARK[s.status]} | ${seconds(s.noticedMs)} | ${s.joined ? 'joined during the deploy ' : ''}${s.note ? markdownText(s.note, 120) : ''} |`
    )
  }
  if (rows.length > maxRows)
    lines.push('', `… and ${rows.length - maxRows} more nodes (see the \`results\` output).`)
  return `${lines.join('\n')}\n`
}
