// Reads of `members` for the backend: the targets, each member's last result
// (its tag `stretcher-<app>`), and the bake gate's watch of member status.
import type { Targets } from '../backend/fleet-backend.ts'
import type { GateFailure } from '../fleet-state/gate-failure.ts'
import type { ParsedResult } from '../fleet-state/fleet-state.ts'
import { parseSerfResult, serfResultTagName } from '../shared/serf-result-tag.ts'
import type { MemberFilters } from './member-targets.ts'
import { isGone, selectMembers } from './member-targets.ts'
import type { SerfClient } from './rpc-client.ts'
import type { Member } from './rpc-types.ts'
import { sleep } from '../shared/sleep.ts'

/** How often the bake gate reads member status. */
const HEALTH_POLL_MS = 250

/** `members`, read again every 500 ms until `retryUntil` while the agent is briefly away. */
export async function readMembers(
  client: Pick<SerfClient, 'members'>,
  signal?: AbortSignal,
  retryUntil?: number
): Promise<Member[]> {
  for (;;) {
    try {
      return await client.members()
    } catch (error) {
      if (signal?.aborted || retryUntil === undefined || Date.now() >= retryUntil) throw error
      await sleep(Math.min(500, retryUntil - Date.now()), signal)
    }
  }
}

export async function readTargets(
  client: Pick<SerfClient, 'members'>,
  filters: MemberFilters,
  signal?: AbortSignal,
  retryUntil?: number
): Promise<Targets> {
  return selectMembers(await readMembers(client, signal, retryUntil), filters)
}

/** Each member's last readable result, by member name. */
export async function readLastResults(
  client: Pick<SerfClient, 'members'>,
  app: string,
  signal?: AbortSignal
): Promise<Map<string, ParsedResult>> {
  const byNode = new Map<string, ParsedResult>()
  for (const member of await readMembers(client, signal)) {
    const tag = parseSerfResult(member.tags[serfResultTagName(app)])
    if (typeof tag === 'string') continue
    byNode.set(member.name, {
      deployId: tag.deployId,
      status: tag.status,
      ...(tag.phase ? { phase: tag.phase } : {})
    })
  }
  return byNode
}

/**
 * The bake gate: reads member status every HEALTH_POLL_MS for `bakeMs`;
 * resolves with the watched nodes gone (failed, left or no longer a member) at
 * the first read that finds any, or none when the time passed without.
 */
export async function watchMemberStatus(
  client: Pick<SerfClient, 'members'>,
  nodes: readonly string[],
  bakeMs: number,
  signal?: AbortSignal
): Promise<GateFailure[]> {
  const until = Date.now() + bakeMs
  const watched = new Set(nodes)
  for (;;) {
    signal?.throwIfAborted()
    const failures = goneNodes(watched, await readMembers(client, signal))
    if (failures.length > 0) return failures
    if (Date.now() >= until) return []
    await sleep(Math.min(HEALTH_POLL_MS, until - Date.now()), signal)
  }
}

function goneNodes(watched: ReadonlySet<string>, members: readonly Member[]): GateFailure[] {
  const byName = new Map(members.map((m) => [m.name, m]))
  const failures: GateFailure[] = []
  for (const node of watched) {
    const status = byName.get(node)?.status ?? 'gone from the members'
    if (status === 'gone from the members' || isGone(status as Member['status']))
      failures.push({ node, checkId: 'serf:member', name: 'member status', output: status })
  }
  return failures
}
