// Drive FleetState from Consul until a verdict, the deadline or cancellation:
// blocking queries on results/ (the reports) and on critical health checks
// (lost nodes), following Consul's client rules for blocking queries.
import type { EventFilters } from './config.ts'
import type { ConsulClient } from './consul.ts'
import type { FleetState, NodeState } from './fleet-state.ts'
import type { CatalogNode } from './targets.ts'

/** Consul caps a blocking wait at 10 minutes; 5 minutes is its default. */
const MAX_WAIT_MS = 5 * 60_000

interface HealthCheck {
  Node: string
  CheckID: string
  Status: 'passing' | 'warning' | 'critical'
}

/** Catalog nodes with their services and serfHealth, as the targets need them. */
export async function readCatalog(
  consul: ConsulClient,
  filters: EventFilters,
  signal?: AbortSignal,
  retryUntil?: number
): Promise<CatalogNode[]> {
  const { value: nodes } = await consul.getJson<Array<{ Node: string }>>(
    'catalog/nodes',
    'node:read',
    { signal, retryUntil }
  )
  const byName = new Map<string, CatalogNode>(
    nodes.map((n) => [n.Node, { node: n.Node, services: [] }])
  )
  if (filters.service !== undefined) {
    // Only services whose name can match are listed node by node.
    const { value: services } = await consul.getJson<Record<string, string[]>>(
      'catalog/services',
      'service:read',
      { signal, retryUntil }
    )
    const re = new RegExp(filters.service)
    for (const name of Object.keys(services).filter((s) => re.test(s))) {
      const { value: instances } = await consul.getJson<
        Array<{ Node: string; ServiceName: string; ServiceTags: string[] | null }>
      >(`catalog/service/${encodeURIComponent(name)}`, 'service:read', { signal, retryUntil })
      for (const i of instances)
        byName.get(i.Node)?.services.push({ name: i.ServiceName, tags: i.ServiceTags ?? [] })
    }
  }
  const { value: checks } = await consul.getJson<HealthCheck[]>('health/state/any', 'node:read', {
    signal,
    retryUntil,
    query: { filter: 'CheckID == "serfHealth"' }
  })
  for (const check of checks) {
    const node = byName.get(check.Node)
    if (node && check.CheckID === 'serfHealth') node.serfHealth = check.Status
  }
  return [...byName.values()]
}

/** A token bucket (burst 2), as Consul's docs advise for blocking-query loops. */
export function tokenBucket(ratePerSecond: number, burst: number, now: () => number = Date.now) {
  let tokens = burst
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

/** Next index per Consul's rules: reset to 0 if it went backwards, never below 1 (features/blocking.mdx). */
export function nextIndex(previous: number, answered: number): number {
  if (answered < previous) return 0
  return Math.max(1, answered)
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
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * Wait until the fleet has a verdict. Resolves when it has one, at the deadline
 * (after marking silent nodes) or when `signal` aborts; throws on a permanent
 * Consul error (e.g. a 403).
 */
export async function awaitFleet(options: AwaitOptions): Promise<void> {
  const { consul, fleet } = options
  const stop = new AbortController()
  const signals = [stop.signal, ...(options.signal ? [options.signal] : [])]
  const signal = AbortSignal.any(signals)
  const deadlineTimer = setTimeout(() => stop.abort(), Math.max(0, options.deadline - Date.now()))
  const finish = () => stop.abort()

  const watchResults = async () => {
    const bucket = tokenBucket(options.readsPerSecond ?? 2, 2)
    let index = options.baselineIndex
    while (!signal.aborted) {
      await delay(bucket.take(), signal)
      if (signal.aborted) return
      const remaining = options.deadline - Date.now()
      const read = await consul.kvGet(options.resultsPrefix, {
        recurse: true,
        index,
        waitMs: Math.max(1000, Math.min(MAX_WAIT_MS, remaining)),
        signal,
        retryUntil: options.deadline
      })
      const changed = fleet.applyResults(
        read.entries.map((e) => ({
          node: e.key.slice(options.resultsPrefix.length),
          value: e.value,
          modifyIndex: e.modifyIndex
        })),
        Date.now() - options.firedAt
      )
      if (changed.length) options.onChange?.(changed)
      if (fleet.verdict().done) return finish()
      index = nextIndex(index, read.index)
    }
  }

  const watchHealth = async () => {
    let index = 0
    const bucket = tokenBucket(1, 2)
    while (!signal.aborted) {
      await delay(bucket.take(), signal)
      if (signal.aborted) return
      const remaining = options.deadline - Date.now()
      const { value: checks, index: answered } = await consul.getJson<HealthCheck[]>(
        'health/state/critical',
        'node:read',
        {
          signal,
          index,
          waitMs: Math.max(1000, Math.min(MAX_WAIT_MS, remaining))
        }
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

  const guard = async (loop: () => Promise<void>) => {
    try {
      await loop()
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
