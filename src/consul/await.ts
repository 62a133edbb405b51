// Drive FleetState from Consul until a verdict, the deadline or cancellation:
// blocking queries on results/ (the reports) and on critical health checks
// (lost nodes), following Consul's client rules for blocking queries.
import type { EventFilters } from '../shared/filters.ts'
import type { ConsulClient } from './client.ts'
import type { FleetState, NodeState, ResultEntry } from '../fleet-state/fleet-state.ts'
import type { CatalogNode } from './targets.ts'
import { compileFilter, matchesFilters } from '../shared/filters.ts'
import { sleep } from '../shared/sleep.ts'

/** Consul caps a blocking wait at 10 minutes; 5 minutes is its default. The client
 * asks less, to stay under fetch's header timeout (consul.ts blockingBudget). */
const MAX_WAIT_MS = 5 * 60_000

interface HealthCheck {
  Node: string
  CheckID: string
  Status: 'passing' | 'warning' | 'critical'
}

/** The values of `reads`, all sent at once; a failure is the first in `reads`' order, as if read one by one. */
async function inOrder<T extends readonly unknown[]>(reads: {
  [K in keyof T]: Promise<T[K]>
}): Promise<T> {
  const settled = await Promise.allSettled(reads)
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/** Catalog nodes with their services and serfHealth, as the targets need them. */
export async function readCatalog(
  consul: ConsulClient,
  filters: EventFilters,
  signal?: AbortSignal,
  retryUntil?: number
): Promise<CatalogNode[]> {
  // Independent reads go out together: one round trip instead of three. Each
  // answer is cut down to what the targets need as soon as it is in: at 10,000
  // nodes an answer is megabytes of objects, and three held at once grew the
  // young generation (and the action's peak RSS) by tens of MB.
  const [nodes, services, serfHealth] = await inOrder([
    consul
      .getJson<Array<{ Node: string }>>('catalog/nodes', 'node:read', { signal, retryUntil })
      .then(({ value }) => value.map((n) => n.Node)),
    filters.service === undefined
      ? Promise.resolve(undefined)
      : consul.getJson<Record<string, string[]>>('catalog/services', 'service:read', {
          signal,
          retryUntil
        }),
    consul
      .getJson<HealthCheck[]>('health/state/any', 'node:read', {
        signal,
        retryUntil,
        query: { filter: 'CheckID == "serfHealth"' }
      })
      .then(({ value }) =>
        value.filter((c) => c.CheckID === 'serfHealth').map((c) => [c.Node, c.Status] as const)
      )
  ] as const)
  const byName = new Map<string, CatalogNode>(nodes.map((n) => [n, { node: n, services: [] }]))
  if (filters.service !== undefined && services) {
    // Only services whose name can match are listed node by node.
    const re = compileFilter(filters.service)
    const names = Object.keys(services.value).filter((s) => re.test(s))
    const lists = await inOrder(
      names.map((name) =>
        consul
          .getJson<Array<{ Node: string; ServiceName: string; ServiceTags: string[] | null }>>(
            `catalog/service/${encodeURIComponent(name)}`,
            'service:read',
            { signal, retryUntil }
          )
          .then(({ value }) =>
            value.map((i) => ({ node: i.Node, name: i.ServiceName, tags: i.ServiceTags ?? [] }))
          )
      )
    )
    for (const instances of lists)
      for (const i of instances) byName.get(i.node)?.services.push({ name: i.name, tags: i.tags })
  }
  for (const [name, status] of serfHealth) {
    const node = byName.get(name)
    if (node) node.serfHealth = status
  }
  return [...byName.values()]
}

/**
 * A token bucket, as Consul's docs advise for blocking-query loops: `burst`
 * requests may go at once, then `ratePerSecond`. `initial` tokens at the start
 * (default: a full bucket), so a bucket can bank more than it starts with.
 */
export function tokenBucket(
  ratePerSecond: number,
  burst: number,
  now: () => number = Date.now,
  initial = burst
) {
  let tokens = Math.min(burst, initial)
  let last = now()
  return {
    /** ms to wait before the next request may go */
    take(): number {
      const t = now()
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * ratePerSecond)
      last = t
      if (tokens >= 1) {
        tokens -= 1
        return 0
      }
      const wait = ((1 - tokens) / ratePerSecond) * 1000
      tokens = 0
      last = t + wait
      return wait
    }
  }
}

/**
 * How the results loop spends its read budget. A parked blocking read costs
 * nothing, so reads are spent only while reports arrive faster than the budget.
 * Then the loop reads slowly while the verdict is far off (the fleet's progress
 * is logged every few seconds anyway), banks the saved reads, and spends them
 * when the last reports are due, which is when a late notice delays the verdict.
 * The bucket stays the hard limit: at most INITIAL_READS + rate × seconds.
 */
export const PACING = {
  /** reads at the start, as the old burst of 2 */
  initialReads: 2,
  /** reads the loop may bank, in seconds of budget */
  bankSeconds: 4,
  /** spacing while the verdict is far off, in budget intervals (3 → 1.5 s at 2/s) */
  farSpacing: 3,
  /** spacing near the end, in budget intervals (1/3 → 167 ms at 2/s) */
  nearSpacing: 1 / 3,
  /** "near": the pending nodes are due within this, at the rate reports came so far */
  nearMs: 1500
}

export interface FleetProgress {
  /** nodes still to report */
  pending: number
  /** nodes that have reported (or were lost) */
  reported: number
  /** ms since the first report was seen (0 when none yet) */
  reportingMs: number
}

/** Least ms between the starts of two results reads, given how the fleet is doing. */
export function readSpacingMs(ratePerSecond: number, p: FleetProgress): number {
  const interval = 1000 / ratePerSecond
  const near = interval * PACING.nearSpacing
  // no arrival rate to go by yet: the plain budget
  if (p.reported <= 1 || p.reportingMs < interval) return interval
  const etaMs = (p.pending * p.reportingMs) / p.reported
  if (etaMs <= PACING.nearMs) return near
  // far off: read slowly, but never so late that the near phase starts after its time
  return Math.max(near, Math.min(interval * PACING.farSpacing, etaMs - PACING.nearMs))
}

/**
 * Next index per Consul's rules: reset to 0 if it went backwards, never below 1
 * (features/blocking.mdx). BigInt: an index is a uint64 and is sent back exactly.
 */
export function nextIndex(previous: bigint, answered: bigint): bigint {
  if (answered < previous) return 0n
  return answered < 1n ? 1n : answered
}

export interface AwaitOptions {
  consul: ConsulClient
  fleet: FleetState
  resultsPrefix: string
  /** epoch ms when the event was fired; progress is measured from it */
  firedAt: number
  /** epoch ms after which silent nodes are silent */
  deadline: number
  /** index the results must beat */
  baselineIndex: number
  signal?: AbortSignal
  /** KV reads per second, on average, at most */
  readsPerSecond?: number
  onChange?: (changed: NodeState[]) => void
  /**
   * Whether a reporter that was not targeted at the start is a real node that
   * joined (in the catalog, matching the filters, live). Without it, such a
   * reporter is ignored: a result under a made-up name never counts.
   */
  admitJoiner?: (node: string) => Promise<boolean>
}

/** Catalog check for late joiners: the node exists, matches the filters and its serfHealth passes. */
export function catalogJoinerCheck(
  consul: ConsulClient,
  filters: EventFilters,
  signal?: AbortSignal
) {
  return async (node: string): Promise<boolean> => {
    const { value } = await consul.getJson<{
      Node: { Node: string } | null
      Services: Record<string, { Service: string; Tags: string[] | null }> | null
    } | null>(`catalog/node/${encodeURIComponent(node)}`, 'node:read', { signal })
    if (!value?.Node) return false
    const { value: checks } = await consul.getJson<HealthCheck[]>(
      `health/node/${encodeURIComponent(node)}`,
      'node:read',
      { signal }
    )
    const serf = checks.find((c) => c.CheckID === 'serfHealth')
    const services = Object.values(value.Services ?? {}).map((s) => ({
      name: s.Service,
      tags: s.Tags ?? []
    }))
    return matchesFilters({ node, services }, filters) && serf?.Status === 'passing'
  }
}

/**
 * Wait until the fleet has a verdict. Resolves when it has one, at the deadline
 * (after marking silent nodes) or when `signal` aborts; throws on a permanent
 * Consul error (e.g. a 403).
 */
export async function awaitFleet(options: AwaitOptions): Promise<void> {
  const { fleet } = options
  // `stop` ends both loops: at the deadline, at a verdict, or when one fails.
  const stop = new AbortController()
  const signals = [stop.signal, ...(options.signal ? [options.signal] : [])]
  const signal = AbortSignal.any(signals)
  const deadlineTimer = setTimeout(() => stop.abort(), Math.max(0, options.deadline - Date.now()))
  const finish = () => stop.abort()
  const guard = async (loop: WatchLoop) => {
    try {
      await loop(options, signal, finish)
    } catch (error) {
      if (signal.aborted) return // the deadline or a cancel interrupted a read
      finish()
      throw error
    }
  }
  try {
    await Promise.all([guard(watchResults), guard(watchHealth)])
  } finally {
    clearTimeout(deadlineTimer)
  }
  if (!fleet.verdict().done && Date.now() >= options.deadline && !options.signal?.aborted)
    fleet.expire()
}

/** One of awaitFleet's loops: reads until `signal` aborts, calls `finish` at a verdict. */
type WatchLoop = (options: AwaitOptions, signal: AbortSignal, finish: () => void) => Promise<void>

/** How long a blocking read may wait: until the deadline, within [1 s, MAX_WAIT_MS]. */
function blockingWaitMs(deadline: number): number {
  return Math.max(1000, Math.min(MAX_WAIT_MS, deadline - Date.now()))
}

/** The results reports, read with a blocking query on results/ paced by `resultsPacing`. */
async function watchResults(
  options: AwaitOptions,
  signal: AbortSignal,
  finish: () => void
): Promise<void> {
  const { consul, fleet } = options
  const pacing = resultsPacing(fleet, options.readsPerSecond ?? 2)
  let index = BigInt(options.baselineIndex)
  while (!signal.aborted) {
    await pacing.beforeRead(signal)
    if (signal.aborted) return
    const read = await consul.kvGet(options.resultsPrefix, {
      recurse: true,
      index,
      waitMs: blockingWaitMs(options.deadline),
      signal,
      retryUntil: options.deadline,
      // Entries at or below `index` were applied by an earlier read (or predate
      // the event): only the ones written since are decoded and applied.
      changedAfter: index
    })
    const entries = read.entries.map((e) => ({
      node: e.key.slice(options.resultsPrefix.length),
      value: e.value,
      modifyIndex: e.modifyIndex
    }))
    await screenStrangers(options, entries)
    const changed = fleet.applyResults(entries, Date.now() - options.firedAt)
    if (changed.length) options.onChange?.(changed)
    if (fleet.verdict().done) return finish()
    index = nextIndex(index, read.index)
  }
}

/**
 * The results loop's pacing (PACING): the bucket is the hard limit; the spacing
 * between reads follows how fast the fleet reports.
 */
function resultsPacing(fleet: FleetState, rate: number) {
  const bucket = tokenBucket(rate, PACING.bankSeconds * rate, Date.now, PACING.initialReads)
  let lastReadAt = -Infinity
  /** when a read first brought a report back (a blocking read returns at the first change) */
  let firstReportAt: number | undefined
  return {
    /** Wait until the next read may go (or `signal` aborts); the read is counted as sent. */
    async beforeRead(signal: AbortSignal): Promise<void> {
      const { pending, total } = fleet.counts()
      if (firstReportAt === undefined && pending < total) firstReportAt = Date.now()
      const spacing = readSpacingMs(rate, {
        pending,
        reported: total - pending,
        reportingMs: firstReportAt === undefined ? 0 : Date.now() - firstReportAt
      })
      await sleep(lastReadAt + spacing - Date.now(), signal)
      await sleep(bucket.take(), signal)
      lastReadAt = Date.now()
    }
  }
}

/** A fresh result from a node nobody knows: a late joiner, or a forgery that never counts. */
async function screenStrangers(options: AwaitOptions, entries: ResultEntry[]): Promise<void> {
  const { fleet } = options
  for (const entry of entries) {
    if (fleet.isKnown(entry.node) || !fleet.isFresh(entry)) continue
    const admitted = options.admitJoiner ? await options.admitJoiner(entry.node) : false
    if (!admitted) fleet.markUntargeted(entry.node)
  }
}

/** Lost nodes: a blocking query on critical checks, whose serfHealth ones mark a node lost. */
async function watchHealth(
  options: AwaitOptions,
  signal: AbortSignal,
  finish: () => void
): Promise<void> {
  const { consul, fleet } = options
  let index = 0n
  const bucket = tokenBucket(1, 2)
  while (!signal.aborted) {
    await sleep(bucket.take(), signal)
    if (signal.aborted) return
    const { value: checks, index: answered } = await consul.getJson<HealthCheck[]>(
      'health/state/critical',
      'node:read',
      { signal, index, waitMs: blockingWaitMs(options.deadline) }
    )
    const lost = checks
      .filter((c) => c.CheckID === 'serfHealth')
      .map((c) => fleet.markLost(c.Node))
      .filter((s): s is NodeState => s !== undefined)
    if (lost.length) options.onChange?.(lost)
    if (fleet.verdict().done) return finish()
    index = nextIndex(index, answered)
  }
}
