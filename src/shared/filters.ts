// The event filters (contract 6) and how Consul reads them: Go RE2, unanchored.
// One compiled cache for the input checks, the targets, canaries and the gate.
import { RE2JS } from 're2js'

export interface EventFilters {
  node?: string
  service?: string
  tag?: string
}

/** A node's services as the filters see them: name and tags. */
export interface NodeServices {
  node: string
  services: ReadonlyArray<{ name: string; tags: readonly string[] }>
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

/** Go's regexp.MatchString: an unanchored search; no pattern matches everything. */
export function filterMatcher(pattern: string | undefined): (text: string) => boolean {
  if (pattern === undefined) return () => true
  const re = compileFilter(pattern)
  return (text) => re.test(text)
}

/**
 * Services a deploy targets on a node, as agent/user_event.go matches them: with
 * a service filter, the services it matches (and, with a tag filter, that have
 * a matching tag); without one, every service of the node.
 */
export function targetedServices(
  node: NodeServices,
  filters: EventFilters
): NodeServices['services'] {
  if (filters.service === undefined) return node.services
  const service = filterMatcher(filters.service)
  const tag = filterMatcher(filters.tag)
  return node.services.filter(
    (s) => service(s.name) && (filters.tag === undefined || s.tags.some(tag))
  )
}

/**
 * A node matches when its name matches the node filter and, with a service
 * filter, one of its services matches it and (with a tag filter) one of that
 * service's tags matches too: agent/user_event.go `shouldProcessUserEvent`.
 */
export function matchesFilters(node: NodeServices, filters: EventFilters): boolean {
  if (!filterMatcher(filters.node)(node.node)) return false
  return filters.service === undefined || targetedServices(node, filters).length > 0
}
