// The one-wave default goes out as a user event, which no node acks: a node
// that gossip misses gets it only with the next push-pull sync (30 s on a LAN),
// often after the run's timeout, and a lost tag update waits for that sync
// too. So once most targets reported, the still-silent alive ones are sent the
// deploy again as a query (the README's nodes handle `query:<event-name>`
// too), which they ack; a node that runs it reports on the query clock, and
// that result counts for it. When fewer than half reported (a small fleet with
// a broken node and a missed one), the query goes once half the wait is gone:
// a node silent by then would be named silent at the deadline anyway. Pure:
// when to do it.
import type { FleetState } from '../fleet-state/fleet-state.ts'
import type { Clock } from './result-tag.ts'

export interface Nudge {
  /** sends the deploy as a query to these nodes; resolves with the query clock read just before */
  send(nodes: string[]): Promise<Clock>
}

/** Never before this long after the event: a deploy takes seconds. */
export const NUDGE_MIN_MS = 8000
/** Nor before this many times the median time the reported nodes took (a slow fleet). */
export const NUDGE_MEDIAN_FACTOR = 3
/** How many times the silent nodes are sent the query, the second after twice the wait. */
export const MAX_NUDGES = 2

/**
 * Milliseconds after the event at which the nodes still silent are sent the
 * query for the `count`-th time (0-based), or undefined while no node
 * reported, or fewer than half did and the wait (`waitMs`, event to deadline)
 * is not known.
 */
export function nudgeDueMs(fleet: FleetState, count: number, waitMs?: number): number | undefined {
  const nodes = fleet.list()
  const reported = nodes
    .map((s) => s.noticedMs)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b)
  if (reported.length === 0) return undefined
  const median = reported[Math.floor(reported.length / 2)]!
  const due = Math.max(NUDGE_MIN_MS, NUDGE_MEDIAN_FACTOR * median)
  if (reported.length * 2 >= nodes.length) return due * (count + 1)
  return waitMs === undefined ? undefined : Math.max(due, waitMs / 2) * (count + 1)
}
