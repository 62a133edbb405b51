// Which nodes a deploy waits for (contract 6): catalog nodes matching the event
// filters the way Consul's receivers match them, with serfHealth passing.
import type { EventFilters } from '../shared/filters.ts'
import { matchesFilters } from '../shared/filters.ts'

export interface CatalogNode {
  node: string
  services: Array<{ name: string; tags: string[] }>
  /** status of the node's serfHealth check; undefined when it has none (an external node) */
  serfHealth?: 'passing' | 'warning' | 'critical'
}

export interface TargetSelection {
  targets: string[]
  /** in the catalog but left out by the filters */
  filteredOut: string[]
  /** matching, but serfHealth not passing (or absent): they cannot hear the event */
  notLive: string[]
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
