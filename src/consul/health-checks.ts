// Which health checks the bake gate watches, and which of them fail it
// (contract 8, `bake-time`). Pure: checks as /v1/health returns them come in.
import type { GateFailure } from '../fleet-state/gate-failure.ts'
import type { EventFilters } from '../shared/filters.ts'
import { filterMatcher } from '../shared/filters.ts'

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
export function gateWatches(check: HealthCheckView, filters: EventFilters): boolean {
  if (check.CheckID === 'serfHealth') return false
  if (filters.service === undefined) return true
  const name = check.ServiceName ?? ''
  if (name === '' || !filterMatcher(filters.service)(name)) return false
  return filters.tag === undefined || (check.ServiceTags ?? []).some(filterMatcher(filters.tag))
}

/**
 * The watched checks of `nodes` that are critical (a warning does not fail the
 * gate): contract 8 "a check seen critical fails the wave at once, naming node
 * and check". In the order of `checks`.
 */
export function gateFailures(
  nodes: readonly string[],
  checks: readonly HealthCheckView[],
  filters: EventFilters
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
