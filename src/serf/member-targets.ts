// Which Serf members a run targets (contract 13): status `alive`, the name
// matching `node-filter` (RE2, unanchored, as with Consul) and every
// `serf-tags` regex (RE2, anchored, like `serf members -tag`). Unlike Serf's own
// members-filtered, a member without the tag does not match (Serf matches it
// as ""). Canaries: matching members with the tag `canary`, whatever its value.
// Runners (agents the action started for `serf-join`) are never targets.
import type { Targets } from '../backend/fleet-backend.ts'
import { compileFilter, filterMatcher } from '../shared/filters.ts'
import { compareNatural } from '../shared/natural-order.ts'
import type { Member } from './rpc-types.ts'

export interface MemberFilters {
  /** RE2 on the member name, unanchored */
  nodeFilter?: string
  /** tag name -> RE2, anchored */
  tags: Readonly<Record<string, string>>
}

/** Whether a member matches the filters, whatever its status. */
export function memberMatcher(filters: MemberFilters): (member: Member) => boolean {
  const name = filterMatcher(filters.nodeFilter)
  const tags = Object.entries(filters.tags).map(
    ([key, re]) => [key, compileFilter(`^(?:${re})$`)] as const
  )
  return (member) =>
    name(member.name) &&
    tags.every(([key, re]) => {
      const value = member.tags[key]
      return value !== undefined && re.test(value)
    })
}

/**
 * The tag of the agents the action starts (`serf-join`): such a member is a
 * runner (this run's or another's), never a target.
 */
export const RUNNER_TAG = 'stretcher-action'

export const isGone = (status: Member['status']): boolean =>
  status === 'failed' || status === 'left'

export function selectMembers(members: readonly Member[], filters: MemberFilters): Targets {
  const matches = memberMatcher(filters)
  const targets: string[] = []
  const notLive: string[] = []
  const filteredOut: string[] = []
  const canaries: string[] = []
  // `members` comes in the agent's map order; the run lists nodes in natural order of name
  const nodes = members
    .filter((member) => member.tags[RUNNER_TAG] === undefined)
    .sort((a, b) => compareNatural(a.name, b.name))
  for (const member of nodes) {
    if (!matches(member)) {
      filteredOut.push(member.name)
      continue
    }
    if (member.status === 'alive') targets.push(member.name)
    else notLive.push(member.name)
    if (member.tags.canary !== undefined) canaries.push(member.name)
  }
  return { selection: { targets, notLive, filteredOut }, canaries, known: nodes.length }
}
