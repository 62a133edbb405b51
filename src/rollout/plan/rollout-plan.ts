// The staged rollout as data (contract 8, 9, 10; DESIGN "The rollout is a plan
// of steps"): the `waves` and `bake-time` inputs parsed, the targets ordered,
// and planRollout() turning targets per datacenter into the list of events the
// executor fires, in order. Pure: no I/O, no clock, no Consul.
import { RE2JS } from 're2js'
import { parseGoDuration } from '../../shared/duration.ts'
import { InputError, quote } from '../../shared/errors.ts'

// ---------------------------------------------------------------- inputs

/** One entry of `waves`: a cumulative size, as nodes or as a percentage of the targets. */
export type WaveSpec = { kind: 'count'; count: number } | { kind: 'percent'; percent: number }

/**
 * `waves` (contract 8): `N` or `P%` entries, comma- or newline-separated, kinds
 * mixed. Blank entries (a trailing comma, an empty line of a YAML block) are
 * skipped. An empty input is `undefined`: no staged rollout, one wave.
 */
export function parseWaves(text: string): WaveSpec[] | undefined {
  const entries = text
    .split(/[,\r\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  if (entries.length === 0) return undefined
  return entries.map((entry) => {
    const percent = /^(\d+)\s*%$/.exec(entry)
    if (percent) {
      const value = Number(percent[1])
      if (value < 1 || value > 100)
        throw new InputError(
          'waves',
          `entry ${quote(entry)} is out of range: a percentage must be from 1% to 100% (got ${quote(text)})`
        )
      return { kind: 'percent', percent: value }
    }
    if (/^\d+$/.test(entry)) {
      const value = Number(entry)
      if (value < 1 || !Number.isSafeInteger(value))
        throw new InputError(
          'waves',
          `entry ${quote(entry)} is out of range: a node count must be 1 or more (got ${quote(text)})`
        )
      return { kind: 'count', count: value }
    }
    throw new InputError(
      'waves',
      `entry ${quote(entry)} is neither N (nodes) nor P% (percent of the targets), e.g. "1, 25%, 100%" (got ${quote(text)})`
    )
  })
}

/** `bake-time` (contract 8): a Go duration, `0s` by default; milliseconds. */
export function parseBakeTime(text: string): number {
  const trimmed = text.trim()
  if (trimmed === '') return 0
  const ms = parseGoDuration(trimmed)
  if (ms === undefined)
    throw new InputError(
      'bake-time',
      `must be a Go duration such as 30s, 5m or 1h30m (got ${quote(text)})`
    )
  if (ms < 0) throw new InputError('bake-time', `must not be negative (got ${quote(text)})`)
  return ms
}

function describeWaves(waves: readonly WaveSpec[]): string {
  return waves.map((w) => (w.kind === 'count' ? `${w.count}` : `${w.percent}%`)).join(', ')
}

/**
 * Cumulative node counts of each wave against `targets` nodes: `P%` rounded up
 * and at least 1, every count capped at `targets`. Each must be larger than
 * the one before, else an InputError naming `waves` (contract 8). No targets:
 * no waves.
 */
export function waveCounts(waves: readonly WaveSpec[], targets: number): number[] {
  if (targets <= 0) return []
  const counts = waves.map((wave) =>
    Math.min(
      targets,
      wave.kind === 'count' ? wave.count : Math.max(1, Math.ceil((wave.percent * targets) / 100))
    )
  )
  for (let i = 1; i < counts.length; i += 1) {
    if (counts[i]! <= counts[i - 1]!)
      throw new InputError(
        'waves',
        `"${describeWaves(waves)}" gives ${counts.join(', ')} of ${targets} target node${targets === 1 ? '' : 's'}: wave ${i + 1} must be larger than wave ${i}`
      )
  }
  return counts
}

// ---------------------------------------------------------------- order

const CHUNK = /(\d+)|(\D+)/g

/**
 * Natural order of node names: digit runs compare as numbers (`web-2` before
 * `web-10`), the rest by code unit; a full tie (`web-01`, `web-1`) falls back
 * to plain order so the sort is total.
 */
export function compareNatural(a: string, b: string): number {
  const left = a.match(CHUNK) ?? []
  const right = b.match(CHUNK) ?? []
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const x = left[i]!
    const y = right[i]!
    const xDigits = /^\d/.test(x)
    const yDigits = /^\d/.test(y)
    if (xDigits && yDigits) {
      const byValue = compareDigitRuns(x, y)
      if (byValue !== 0) return byValue
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  if (left.length !== right.length) return left.length - right.length
  return a < b ? -1 : a > b ? 1 : 0
}

// Numbers of any length, without BigInt: strip leading zeros, longer is larger.
function compareDigitRuns(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '')
  const b = y.replace(/^0+(?=\d)/, '')
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Contract 8 "Order of nodes": targets whose targeted service carries the tag
 * `canary` first, then the rest, each group in natural order. Duplicates are
 * dropped; canaries that are not targets are ignored.
 */
export function orderTargets(targets: readonly string[], canaryNodes: readonly string[]): string[] {
  const canary = new Set(canaryNodes)
  const unique = [...new Set(targets)]
  return [
    ...unique.filter((node) => canary.has(node)).sort(compareNatural),
    ...unique.filter((node) => !canary.has(node)).sort(compareNatural)
  ]
}

// ---------------------------------------------------------------- node filters

// Go's regexp.QuoteMeta set: the characters RE2 gives a meaning outside a
// class. `-` and `_` are literal there, so they stay as they are.
const RE2_META = /[\\.+*?()|[\]{}^$]/g

/** A node name as an RE2 literal, as Go's regexp.QuoteMeta writes it. */
export function escapeRe2(name: string): string {
  return name.replace(RE2_META, (c) => `\\${c}`)
}

/** The anchored filter matching exactly these node names: `^(a|b|c)$`. */
export function nodeFilterFor(names: readonly string[]): string {
  return `^(${names.map(escapeRe2).join('|')})$`
}

/**
 * Serf caps a user event at 512 bytes (serf UserEventSizeLimit, not raised by
 * Consul; research/consul-api.md §3), and the node filter travels inside that
 * event: Consul msgpack-encodes {ID, Name, Payload, NodeFilter, ServiceFilter,
 * TagFilter, Version} (agent/user_event.go, `nf`/`sf`/`tf`) and serf wraps that
 * again with the serf name `consul:event:<name>` and its Lamport time. The
 * query string is not the binding limit (Go's net/http takes 1 MiB of
 * headers): the event is.
 *
 * This default assumes the event name `deploy`, a payload (manifest URL) of at
 * most 100 bytes (the action warns above that, contract 6), no service or tag
 * filter on wave events, and keeps a margin for the estimate: see
 * nodeFilterBudget() for the arithmetic. About 30 names like `web-12` fit.
 */
export const DEFAULT_NODE_FILTER_BYTES = 256

const SERF_USER_EVENT_LIMIT = 512
// Room left for what the estimate may miss (derived, not measured against Go).
const BUDGET_MARGIN = 16

// msgpack (old spec, as hashicorp/go-msgpack writes strings and []byte): fixraw ≤ 31, raw16, raw32.
function rawHeader(length: number): number {
  return length <= 31 ? 1 : length <= 0xffff ? 3 : 5
}
function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
// One omitempty map entry of the Consul UserEvent: its key (`p`, `nf`, `sf`, `tf`) and raw value.
function optionalField(key: string, length: number): number {
  return length === 0 ? 0 : 1 + key.length + rawHeader(length) + length
}

/**
 * The largest node filter (bytes) that keeps a user event under serf's 512
 * bytes, for this event name, payload size and the other filters the event
 * carries. An estimate from the encodings (see DEFAULT_NODE_FILTER_BYTES) with
 * a margin of 16 bytes; 0 or less means no node filter fits at all.
 */
export function nodeFilterBudget(event: {
  eventName: string
  payloadBytes: number
  serviceFilter?: string
  tagFilter?: string
}): number {
  const name = byteLength(event.eventName)
  const serfName = name + byteLength('consul:event:')
  const other =
    optionalField('sf', byteLength(event.serviceFilter ?? '')) +
    optionalField('tf', byteLength(event.tagFilter ?? ''))
  // Consul's msgpack without the node filter: map header, "ID" + 36-char UUID,
  // "n" + name, "p" + payload, "v" + version.
  const consulBase =
    1 + 3 + 3 + 36 + 2 + rawHeader(name) + name + optionalField('p', event.payloadBytes) + 3 + other
  // serf's messageUserEvent: type byte, map header, "LTime" + uint64 (≤ 9),
  // "Name" + serf name, "Payload" + raw header (≤ 5), "CC" + bool.
  const serfBase = 1 + 1 + 6 + 9 + 5 + rawHeader(serfName) + serfName + 8 + 5 + 3 + 1
  // serf checks len(name)+len(payload) before encoding and the encoded size after;
  // the second is always the larger, so it binds. The node filter adds 3 + header + length.
  const room = SERF_USER_EVENT_LIMIT - serfBase - consulBase - BUDGET_MARGIN
  const withLongHeader = room - 3 - 3
  return withLongHeader > 31 ? withLongHeader : Math.min(31, room - 3 - 1)
}

/**
 * Anchored filters that together match exactly `names`, each at most
 * `maxBytes` bytes (UTF-8), names packed in order. Throws when one name alone
 * does not fit (it could never be sent an event of its own).
 */
export function nodeFilters(
  names: readonly string[],
  maxBytes = DEFAULT_NODE_FILTER_BYTES
): string[] {
  const filters: string[] = []
  let group: string[] = []
  let size = 0
  const frame = byteLength('^()$')
  for (const name of names) {
    const escaped = escapeRe2(name)
    const bytes = byteLength(escaped)
    if (frame + bytes > maxBytes)
      throw new Error(
        `node ${quote(name)} is too long for an event's node filter (${frame + bytes} bytes, at most ${maxBytes})`
      )
    const grown = group.length === 0 ? frame + bytes : size + 1 + bytes
    if (group.length > 0 && grown > maxBytes) {
      filters.push(`^(${group.join('|')})$`)
      group = []
      size = frame + bytes
    } else {
      size = grown
    }
    group.push(escaped)
  }
  if (group.length > 0) filters.push(`^(${group.join('|')})$`)
  return filters
}

// ---------------------------------------------------------------- the plan

/**
 * What an event sends: `deploy` the whole manifest (`<id>.yml`: in place, or
 * with `layout: releases` the combined prepare + switch); `prepare` and
 * `switch` the two halves of `layout: releases` (contract 9).
 */
export type StepKind = 'deploy' | 'prepare' | 'switch'

export interface Step {
  /** undefined: the agent's own datacenter (no `?dc=`) */
  datacenter: string | undefined
  kind: StepKind
  /** the nodes sent this step's event(s), in rollout order */
  nodes: string[]
  /** 1-based wave of a deploy/switch step; 0 for prepare (before the waves) */
  wave: number
  /** number of waves in this datacenter */
  waves: number
  /** write `latest` and `deploy-id` (one transaction) just before this step's first event */
  movesLatest: boolean
  /** after the nodes reported success, how long their health checks must stay passing; 0: no gate */
  bakeMs: number
  /** one event per filter (contract 8: a wave too large for one filter is sent as several events) */
  nodeFilters: string[]
  /** the last wave of a full rollout: nodes that join during the rollout are added here (addJoiners) */
  takesJoiners: boolean
}

export interface DatacenterTargets {
  /** undefined: the agent's own datacenter */
  datacenter?: string
  /** live nodes matching the filters (contract 6) */
  targets: string[]
  /** targets whose targeted service carries the tag `canary` */
  canaries: string[]
  /**
   * `layout: releases` with an already published release: nodes that still
   * keep it under releases/ and need only the switch (contract 9 "Rollback").
   * Ignored for a new release (no node can have it).
   */
  prepared?: string[]
}

export interface PlanInput {
  /** in rollout order (contract 10); one entry for a single datacenter */
  datacenters: DatacenterTargets[]
  /** parseWaves(); undefined: one wave of all targets */
  waves: WaveSpec[] | undefined
  /** parseBakeTime() */
  bakeMs: number
  /** default `in-place` */
  layout?: 'in-place' | 'releases'
  /** `new`: built by this run; `promote` / `rollback`: announces a published release */
  release: 'new' | 'promote' | 'rollback'
  /** default DEFAULT_NODE_FILTER_BYTES; nodeFilterBudget() computes it for the real event */
  maxFilterBytes?: number
}

const ALL: WaveSpec[] = [{ kind: 'percent', percent: 100 }]

/** True when the waves stop below all targets in some datacenter (contract 8 "partial rollout"). */
export function isPartial(steps: readonly Step[]): boolean {
  return steps.some(
    (step) => step.kind !== 'prepare' && step.wave === step.waves && !step.movesLatest
  )
}

/**
 * The rollout as steps, datacenter after datacenter (contract 10), each:
 * with `layout: releases` one `prepare` step to every target that lacks the
 * release, then one `deploy` (in place) or `switch` step per wave. `latest`
 * moves once per datacenter, before its last wave, unless the rollout is
 * partial there (last wave below all targets). Throws InputError (`waves`) when
 * the waves do not grow in some datacenter.
 */
export function planRollout(input: PlanInput): Step[] {
  const maxBytes = input.maxFilterBytes ?? DEFAULT_NODE_FILTER_BYTES
  const releases = input.layout === 'releases'
  const steps: Step[] = []
  for (const dc of input.datacenters) {
    const ordered = orderTargets(dc.targets, dc.canaries)
    const counts = waveCounts(input.waves ?? ALL, ordered.length)
    if (counts.length === 0) continue
    const datacenter = dc.datacenter
    const full = counts[counts.length - 1] === ordered.length
    if (releases) {
      const prepared = new Set(input.release === 'new' ? [] : (dc.prepared ?? []))
      // Contract 9: prepare goes to every target up front, partial rollout or not.
      const toPrepare = ordered.filter((node) => !prepared.has(node))
      if (toPrepare.length > 0)
        steps.push({
          datacenter,
          kind: 'prepare',
          nodes: toPrepare,
          wave: 0,
          waves: counts.length,
          movesLatest: false,
          bakeMs: 0,
          nodeFilters: nodeFilters(toPrepare, maxBytes),
          takesJoiners: false
        })
    }
    let from = 0
    counts.forEach((count, i) => {
      const nodes = ordered.slice(from, count)
      from = count
      const last = i === counts.length - 1
      steps.push({
        datacenter,
        kind: releases ? 'switch' : 'deploy',
        nodes,
        wave: i + 1,
        waves: counts.length,
        movesLatest: last && full,
        bakeMs: input.bakeMs,
        nodeFilters: nodeFilters(nodes, maxBytes),
        takesJoiners: last && full
      })
    })
  }
  return steps
}

/**
 * Nodes that joined a datacenter during the rollout go with its last wave
 * (contract 8): added to the step marked `takesJoiners` (after its nodes, in
 * natural order), its filters recomputed. With `layout: releases` they first
 * need the release: a `prepare` step for them goes right before that switch.
 * Nodes already in a step are left out. Without a `takesJoiners` step (a
 * partial rollout) the steps come back unchanged: joiners boot from `latest`,
 * which that rollout leaves on the previous release.
 */
export function addJoiners(
  steps: readonly Step[],
  datacenter: string | undefined,
  joiners: readonly string[],
  maxFilterBytes = DEFAULT_NODE_FILTER_BYTES
): Step[] {
  const at = steps.findIndex((step) => step.datacenter === datacenter && step.takesJoiners)
  if (at === -1) return [...steps]
  const known = new Set(
    steps
      .filter((step) => step.datacenter === datacenter && step.kind !== 'prepare')
      .flatMap((step) => step.nodes)
  )
  const fresh = [...new Set(joiners)].filter((node) => !known.has(node)).sort(compareNatural)
  if (fresh.length === 0) return [...steps]
  const target = steps[at]!
  const nodes = [...target.nodes, ...fresh]
  const updated: Step = { ...target, nodes, nodeFilters: nodeFilters(nodes, maxFilterBytes) }
  const out = [...steps.slice(0, at)]
  if (target.kind === 'switch')
    out.push({
      datacenter,
      kind: 'prepare',
      nodes: fresh,
      wave: 0,
      waves: target.waves,
      movesLatest: false,
      bakeMs: 0,
      nodeFilters: nodeFilters(fresh, maxFilterBytes),
      takesJoiners: false
    })
  out.push(updated, ...steps.slice(at + 1))
  return out
}

// ---------------------------------------------------------------- canaries and the gate

/** What the plan needs of a catalog node: its name and its services' names and tags. */
export interface NodeServices {
  node: string
  services: ReadonlyArray<{ name: string; tags: readonly string[] }>
}

/** The event filters (config.ts EventFilters), read as Consul reads them: Go RE2, unanchored. */
export interface Filters {
  node?: string
  service?: string
  tag?: string
}

function re2(pattern: string | undefined): (text: string) => boolean {
  if (pattern === undefined) return () => true
  const compiled = RE2JS.compile(pattern)
  return (text) => compiled.test(text)
}

/**
 * Services a deploy targets on a node, as agent/user_event.go matches them: with
 * a service filter, the services it matches (and, with a tag filter, that have
 * a matching tag); without one, every service of the node.
 */
function targetedServices(node: NodeServices, filters: Filters): NodeServices['services'] {
  if (filters.service === undefined) return node.services
  const service = re2(filters.service)
  const tag = re2(filters.tag)
  return node.services.filter(
    (s) => service(s.name) && (filters.tag === undefined || s.tags.some(tag))
  )
}

/** Contract 8: nodes whose targeted service carries the tag `canary` (pass to orderTargets). */
export function canaryNodes(nodes: readonly NodeServices[], filters: Filters): string[] {
  return nodes
    .filter((node) => targetedServices(node, filters).some((s) => s.tags.includes('canary')))
    .map((node) => node.node)
}

/** A check as /v1/health/* return it (api-docs/health.mdx), the fields the gate reads. */
export interface HealthCheckView {
  Node: string
  CheckID: string
  Name?: string
  Status: string
  Output?: string
  ServiceName?: string
  ServiceTags?: readonly string[] | null
}

/**
 * Whether the bake gate watches this check (contract 8): the targeted
 * service's checks with a service filter (by ServiceName, and ServiceTags with
 * a tag filter); without one, every check of the node but `serfHealth` (a node
 * whose serfHealth fails is lost, contract 6, not a gate failure).
 */
export function gateWatches(check: HealthCheckView, filters: Filters): boolean {
  if (check.CheckID === 'serfHealth') return false
  if (filters.service === undefined) return true
  const name = check.ServiceName ?? ''
  if (name === '' || !re2(filters.service)(name)) return false
  return filters.tag === undefined || (check.ServiceTags ?? []).some(re2(filters.tag))
}

export interface GateFailure {
  node: string
  checkId: string
  name: string
  output: string
}

/**
 * The watched checks of `nodes` that are critical (a warning does not fail the
 * gate): contract 8 "a check seen critical fails the wave at once, naming node
 * and check". In the order of `checks`.
 */
export function gateFailures(
  nodes: readonly string[],
  checks: readonly HealthCheckView[],
  filters: Filters
): GateFailure[] {
  const wave = new Set(nodes)
  return checks
    .filter((c) => wave.has(c.Node) && c.Status === 'critical' && gateWatches(c, filters))
    .map((c) => ({
      node: c.Node,
      checkId: c.CheckID,
      name: c.Name ?? c.CheckID,
      output: c.Output ?? ''
    }))
}
