// The health gate of a staged rollout (contract 8, `bake-time`): after a wave's
// nodes all reported success, their Consul health checks must stay passing for
// the bake time; a check seen critical fails the wave at once, naming node and
// check. One blocking query on /v1/health/state/critical watches every check of
// the datacenter (it wakes on any change there), and the rollout plan's
// gateFailures() picks the checks that count.
import type { ConsulClient } from './client.ts'
import type { GateFailure } from '../fleet-state/gate-failure.ts'
import type { HealthCheckView } from './health-checks.ts'
import { gateFailures } from './health-checks.ts'
import type { EventFilters } from '../shared/filters.ts'
import { nextIndex } from './await.ts'

export interface BakeOptions {
  consul: Pick<ConsulClient, 'getJson'>
  nodes: readonly string[]
  filters: EventFilters
  bakeMs: number
  signal?: AbortSignal
}

/**
 * Watch the wave's checks for `bakeMs`. Resolves with the critical checks that
 * fail the gate (empty: it passed). Throws on a permanent Consul error and when
 * `signal` aborts.
 */
export async function bake(opts: BakeOptions): Promise<GateFailure[]> {
  const until = Date.now() + opts.bakeMs
  let index = 0n
  for (;;) {
    const remaining = until - Date.now()
    const { value, index: answered } = await opts.consul.getJson<HealthCheckView[]>(
      'health/state/critical',
      'node:read and service:read',
      {
        signal: opts.signal,
        // The first read answers at once (the checks as they are now); then block.
        index: index > 0n ? index : undefined,
        waitMs: Math.max(1, remaining),
        retryUntil: until + 30_000
      }
    )
    opts.signal?.throwIfAborted()
    const failures = gateFailures(opts.nodes, value, opts.filters)
    if (failures.length > 0) return failures
    if (Date.now() >= until) return []
    index = nextIndex(index, answered)
  }
}
