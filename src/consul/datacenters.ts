// Plan stage: which datacenters a run rolls out to, in which order (contract 10).
// Pure: the `datacenters` input as config.ts parsed it, and the list Consul gave.
import type { DatacenterSelection } from '../config/config.ts'
import { InputError, quote } from '../shared/errors.ts'

/**
 * The datacenters to roll out to, in order, from the `datacenters` selection and
 * what `GET /v1/catalog/datacenters` listed (ConsulClient.datacentersList: the
 * agent's own first, the others by round-trip time). Call it in the plan stage,
 * before anything is written: a named datacenter Consul does not know fails the
 * run there, in one line naming every such datacenter (the `datacenters` input),
 * rather than later as Consul's "No path to datacenter".
 *
 * - `agent` (input unset): the agent's own, `listed[0]` (the caller may skip
 *   listing altogether and send no `?dc`, as a one-datacenter run always did);
 * - `all`: every listed datacenter, in Consul's order;
 * - `named`: the names in the order given.
 */
export function resolveDatacenters(
  selection: DatacenterSelection,
  listed: readonly string[]
): string[] {
  if (selection.kind === 'agent') return listed.slice(0, 1)
  if (listed.length === 0)
    throw new InputError(
      'datacenters',
      'cannot be resolved: Consul lists no datacenters (GET /v1/catalog/datacenters answered [])'
    )
  if (selection.kind === 'all') return [...listed]
  const unknown = selection.names.filter((name) => !listed.includes(name))
  if (unknown.length > 0)
    throw new InputError(
      'datacenters',
      `names ${unknown.length === 1 ? 'a datacenter' : 'datacenters'} Consul does not know: ${unknown.map((name) => quote(name)).join(', ')} (it knows ${listed.join(', ')})`
    )
  return [...selection.names]
}
