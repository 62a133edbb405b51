// Which nodes a deploy waits for (contract 6): catalog nodes matching the event
// filters the way Consul's receivers match them, with serfHealth passing.
import type { TargetSelection } from '../backend/fleet-backend.ts'
import type { EventFilters } from '../shared/filters.ts'
import type { NodeServices } from '../shared/filters.ts'
import { matchesFilters, targetedServices } from '../shared/filters.ts'

export interface CatalogNode {
  node: string
  services: Array<{ name: string; tags: string[] }>
  /** status of the node's serfHealth check; undefined when it has none (an external node) */
  serfHealth?: 'passing' | 'warning' | 'critical'
}

export function selectTargets(
  catalog: readonly CatalogNode[],
  filters: EventFilters
): TargetSelection {
  const targets: string[] = []
  const filteredOut: string[] = []
  const notLive: string[] = []
  for (const node of catalog) {
    if (!matchesFilters(node, filters)) filteredOut.push(node.node)
    else if (node.serfHealth !== 'passing') notLive.push(node.node)
    else targets.push(node.node)
  }
  return { targets: targets.sort(), filteredOut: filteredOut.sort(), notLive: notLive.sort() }
}

/** Contract 8: nodes whose targeted service carries the tag `canary` (passed to orderTargets). */
export function canaryNodes(nodes: readonly NodeServices[], filters: EventFilters): string[] {
  return nodes
    .filter((node) => targetedServices(node, filters).some((s) => s.tags.includes('canary')))
    .map((node) => node.node)
}
