// Which nodes a deploy waits for (contract 6): catalog nodes matching the event
// filters the way Consul's receivers match them, with serfHealth passing.
import { RE2JS } from 're2js'
import type { EventFilters } from '../config/config.ts'

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

const compiled = new Map<string, RE2JS>()

/**
 * Compile a filter as Consul does: Go's regexp.Compile, which is RE2 with Perl
 * flags (agent/user_event.go validateUserEventParams, shouldProcessUserEvent).
 * JavaScript's RegExp is another dialect: it refuses `(?i)`, and reads
 * `[[:alpha:]]`, `\pL` or `\z` as something else, so its matches are not the
 * nodes Consul delivers the event to. Throws Go's own message
 * ("error parsing regexp: invalid or unsupported Perl syntax: `(?=`").
 */
export function compileFilter(pattern: string): RE2JS {
  let re = compiled.get(pattern)
  if (re === undefined) {
    re = RE2JS.compile(pattern)
    compiled.set(pattern, re)
  }
  return re
}

/** Go's regexp.MatchString: an unanchored search. */
function matcher(pattern: string | undefined): (text: string) => boolean {
  if (pattern === undefined) return () => true
  const re = compileFilter(pattern)
  return (text) => re.test(text)
}

/**
 * A node matches when its name matches the node filter and, with a service
 * filter, one of its services matches it and (with a tag filter) one of that
 * service's tags matches too: agent/user_event.go `shouldProcessUserEvent`.
 */
export function matchesFilters(node: CatalogNode, filters: EventFilters): boolean {
  if (!matcher(filters.node)(node.node)) return false
  if (filters.service === undefined) return true
  const service = matcher(filters.service)
  const tag = matcher(filters.tag)
  return node.services.some(
    (s) => service(s.name) && (filters.tag === undefined || s.tags.some(tag))
  )
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
