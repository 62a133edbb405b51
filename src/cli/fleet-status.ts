// `stretcher-action status` (contract 12): which release each of the app's
// matching nodes runs, from its last result, against the release `deploy-id`
// names. Pure: the catalog and the KV entries come in, rows and text go out.
// A Serf cluster's rows (members and their tags, contract 13) come in through
// assembleStatus with a StatusSource of their own.
import type { EventFilters } from '../shared/filters.ts'
import { formatGoDuration } from '../shared/duration.ts'
import { parseResult } from '../fleet-state/fleet-state.ts'
import { plainText } from '../shared/text.ts'
import { compareNatural } from '../shared/natural-order.ts'
import type { CatalogNode } from '../consul/targets.ts'
import { matchesFilters } from '../shared/filters.ts'

/**
 * Where a node stands, worst first:
 * - `failed`: its last result is a failure (of whichever release);
 * - `silent`: no result (or one that is not a result);
 * - `behind`: succeeded on a release older than the current one;
 * - `ahead`: succeeded on a newer one (a rollback that did not reach it);
 * - `current`: succeeded on the release `deploy-id` names.
 * Older and newer compare deploy IDs, which sort by time (contract 2a), in
 * natural order (attempt `.10` after `.9`).
 */
export type NodeStanding = 'failed' | 'silent' | 'behind' | 'ahead' | 'current'
export const STANDINGS: readonly NodeStanding[] = ['failed', 'silent', 'behind', 'ahead', 'current']

export interface StatusRow {
  node: string
  standing: NodeStanding
  /** the release of its last result */
  deployId?: string
  status?: 'success' | 'failure'
  /** unix seconds the node wrote in its result */
  at?: number
  /** serfHealth passing: it would hear the next event */
  live: boolean
  /** why a result was not read as one */
  note?: string
}

export interface StatusInput {
  app: string
  kvPrefix: string
  filters: EventFilters
  /** what `<kv-prefix>/deploy-id` holds; undefined when unset */
  current?: string
  catalog: readonly CatalogNode[]
  /** the entries under `<kv-prefix>/results/`, by node name */
  results: ReadonlyArray<{ node: string; value: string | null }>
}

/** Where the release and the results were read, as the text and --json name it. */
export interface StatusSource {
  /** the heading's place: the KV prefix, or s3://bucket/prefix/app */
  where: string
  /** what names the current release (said when it is unset) */
  currentKey: string
  /** which nodes: `matching node-filter …`, `in the catalog (no filter)` */
  selection: string
  /** what makes a listed node down */
  down: string
  /** why no node may match, said when none does */
  noneHint: string
  /** the place in --json: kv_prefix (Consul) or s3_url (Serf) */
  json: { kv_prefix?: string; s3_url?: string }
}

export interface FleetStatus {
  app: string
  source: StatusSource
  current?: string
  /** matching nodes, worst standing first, then in natural order */
  rows: StatusRow[]
  counts: Record<NodeStanding, number> & { total: number; live: number; down: number }
  /** results of nodes the catalog no longer has */
  gone: string[]
  /** a current release, at least one live matching node, and every live one on it */
  ok: boolean
  /** one line: the verdict */
  message: string
}

function standingOf(
  result: ReturnType<typeof parseResult> | undefined,
  current: string | undefined
): NodeStanding {
  if (result === undefined || typeof result === 'string') return 'silent'
  if (result.status === 'failure') return 'failed'
  if (current !== undefined && result.deployId === current) return 'current'
  if (current === undefined) return 'behind'
  return compareNatural(result.deployId, current) > 0 ? 'ahead' : 'behind'
}

function describeFilters(filters: EventFilters): string {
  const parts = [
    filters.node !== undefined && `node-filter ${filters.node}`,
    filters.service !== undefined && `service-filter ${filters.service}`,
    filters.tag !== undefined && `tag-filter ${filters.tag}`
  ].filter((p): p is string => typeof p === 'string')
  return parts.length ? `matching ${parts.join(', ')}` : 'in the catalog (no filter)'
}

/** A node's row: its last result as read (undefined: none; a string: why it is not one). */
export function statusRow(
  node: string,
  live: boolean,
  result: ReturnType<typeof parseResult> | undefined,
  current: string | undefined
): StatusRow {
  const row: StatusRow = { node, standing: standingOf(result, current), live }
  if (typeof result === 'string') row.note = result
  else if (result) {
    row.deployId = result.deployId
    row.status = result.status
    if (result.at !== undefined) row.at = result.at
  }
  return row
}

function countRows(rows: readonly StatusRow[]): FleetStatus['counts'] {
  const counts = {
    total: rows.length,
    live: 0,
    down: 0,
    failed: 0,
    silent: 0,
    behind: 0,
    ahead: 0,
    current: 0
  }
  for (const row of rows) {
    counts[row.standing]++
    if (row.live) counts.live++
    else counts.down++
  }
  return counts
}

/** The verdict line: why the fleet is not all on the current release, or that it is. */
function statusMessage(
  source: StatusSource,
  current: string | undefined,
  rows: readonly StatusRow[],
  ok: boolean
): string {
  const live = rows.filter((r) => r.live)
  if (current === undefined)
    return `no current release: ${source.currentKey} is not set (nothing published yet?)`
  if (rows.length === 0) return `no node ${source.selection} (${source.noneHint})`
  if (live.length === 0)
    return `none of the ${rows.length} matching node${rows.length === 1 ? '' : 's'} is live`
  if (ok)
    return `${live.length === 1 ? 'the 1 live node' : `all ${live.length} live nodes`} on ${plainText(current, 80)}`
  const off = live.filter((r) => r.standing !== 'current')
  const parts = (['failed', 'silent', 'behind', 'ahead'] as const)
    .map((s) => [s, live.filter((r) => r.standing === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
  return `${off.length} of ${live.length} live nodes not on ${plainText(current, 80)}: ${parts.join(', ')}`
}

/** Consul: the catalog's matching nodes, their results under `<kv-prefix>/results/`. */
export function fleetStatus(input: StatusInput): FleetStatus {
  const byNode = new Map(input.results.map((r) => [r.node, r.value]))
  const inCatalog = new Set(input.catalog.map((n) => n.node))
  const rows = input.catalog
    .filter((node) => matchesFilters(node, input.filters))
    .map((node) =>
      statusRow(
        node.node,
        node.serfHealth === 'passing',
        byNode.has(node.node) ? parseResult(byNode.get(node.node) ?? null) : undefined,
        input.current
      )
    )
  const gone = input.results.map((r) => r.node).filter((n) => !inCatalog.has(n))
  const source: StatusSource = {
    where: input.kvPrefix,
    currentKey: `${input.kvPrefix}/deploy-id`,
    selection: describeFilters(input.filters),
    down: 'serfHealth not passing',
    noneHint: 'a token without node:read sees none',
    json: { kv_prefix: input.kvPrefix }
  }
  return assembleStatus(input.app, source, input.current, rows, gone)
}

/** The rows in order (worst standing first, then natural order), counted and judged. */
export function assembleStatus(
  app: string,
  source: StatusSource,
  current: string | undefined,
  unordered: readonly StatusRow[],
  gone: readonly string[] = []
): FleetStatus {
  const rows = [...unordered].sort(
    (a, b) =>
      STANDINGS.indexOf(a.standing) - STANDINGS.indexOf(b.standing) ||
      compareNatural(a.node, b.node)
  )
  const live = rows.filter((r) => r.live)
  const ok = current !== undefined && live.length > 0 && live.every((r) => r.standing === 'current')
  return {
    app,
    source,
    current,
    rows,
    counts: countRows(rows),
    gone: [...gone].sort(compareNatural),
    ok,
    message: statusMessage(source, current, rows, ok)
  }
}

/** `2026-11-30 12:01:02 UTC` */
export function formatUtc(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000)
  if (Number.isNaN(d.getTime())) return String(unixSeconds)
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** How long ago, in the one duration format (Go's): `2m5s ago`; `in the future` when clocks disagree. */
export function formatAge(unixSeconds: number, nowMs: number): string {
  const ms = nowMs - unixSeconds * 1000
  if (ms < -2000) return 'in the future'
  const rounded = Math.round(ms / 1000) * 1000
  return `${rounded < 1000 ? '0s' : formatGoDuration(rounded)} ago`
}

/** Columns padded to their widest cell; the last one is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)
      )
      .join('  ')
      .trimEnd()
  )
}

/** A heading line, then (when there are rows) a blank line and the rows under their column names. */
export function headedTable(
  heading: string,
  columns: readonly string[],
  rows: readonly (readonly string[])[]
): string[] {
  return rows.length > 0 ? [heading, '', ...table([columns, ...rows])] : [heading]
}

/** How `status --json` and `history --json` begin: the app, its KV prefix, the current release. */
export function jsonHeading(x: { app: string; kvPrefix: string; current?: string }) {
  return { app: x.app, kv_prefix: x.kvPrefix, current: x.current ?? null }
}

/**
 * A row in the `--json` form: the named fields under their snake_case names, an
 * absent value as null (so every row has every key), and `note` only when set.
 */
export function jsonRow<R extends { note?: string }>(
  row: R,
  fields: Partial<Record<keyof R, string>>
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(fields) as Array<[keyof R, string]>)
    out[name] = row[key] ?? null
  if (row.note !== undefined) out.note = row.note
  return out
}

/** The text `status` prints: a heading, the table (worst first), the nodes gone from the catalog. */
export function statusText(status: FleetStatus, nowMs: number): string {
  const lines = headedTable(
    `${status.app} (${status.source.where}): ${status.counts.total} node${status.counts.total === 1 ? '' : 's'} ${status.source.selection}; current release ${status.current === undefined ? '(none)' : plainText(status.current, 80)}`,
    ['NODE', 'STANDING', 'RELEASE', 'STATUS', 'REPORTED'],
    status.rows.map((r) => [
      plainText(r.node, 80),
      r.live ? r.standing : `${r.standing} (down)`,
      r.deployId === undefined ? '-' : plainText(r.deployId, 80),
      r.status ?? '-',
      r.at !== undefined
        ? `${formatUtc(r.at)} (${formatAge(r.at, nowMs)})`
        : r.note !== undefined
          ? plainText(r.note, 80)
          : r.deployId === undefined
            ? 'never'
            : '-'
    ])
  )
  if (status.counts.down > 0)
    lines.push(
      '',
      `${status.counts.down} matching node${status.counts.down === 1 ? ' is' : 's are'} down (${status.source.down}): listed, not counted`
    )
  if (status.gone.length > 0) {
    const shown = status.gone.slice(0, 20).map((n) => plainText(n, 80))
    lines.push(
      '',
      `results of nodes no longer in the catalog: ${shown.join(', ')}${status.gone.length > 20 ? ` and ${status.gone.length - 20} more` : ''}`
    )
  }
  return `${lines.join('\n')}\n`
}

/** The `--json` form: snake_case like the action's `results` output. */
export function statusJson(status: FleetStatus) {
  return {
    app: status.app,
    ...status.source.json,
    current: status.current ?? null,
    counts: status.counts,
    nodes: status.rows.map((r) =>
      jsonRow(r, {
        node: 'node',
        standing: 'standing',
        deployId: 'deploy_id',
        status: 'status',
        at: 'at',
        live: 'live'
      })
    ),
    gone: status.gone
  }
}
