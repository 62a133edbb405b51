// Drive FleetState from Serf until a verdict, the deadline or cancellation
// (contract 13): poll `members` (a local read of the agent's view) and count a
// node's tag `stretcher-<app>` when it holds this deploy ID with a clock that
// answers the send's mark; a member that turns failed or left is lost. A query
// that a node did not ack is sent to it again, as gossip can miss a node.
import type { FleetState, NodeState, ResultEntry } from '../fleet-state/fleet-state.ts'
import type { Log } from '../shared/log.ts'
import type { SerfClient } from './rpc-client.ts'
import type { Member } from './rpc-types.ts'
import { isGone } from './member-targets.ts'
import type { Clock } from './result-tag.ts'
import { answersMark, parseResultTag, resultTagName } from './result-tag.ts'
import { sleep } from './sleep.ts'

export { sleep }

/** How often `members` is read while nodes are pending (research/serf.md: tags spread in ~1 s). */
export const POLL_MS = 150
/** A query not acked within this is sent again to the nodes that did not ack. */
export const ACK_MS = 3000
/** Errors of `members` tolerated for this long in a row before the wait fails. */
const READ_FAILURE_MS = 10_000

export interface Resend {
  /** nodes the send's queries reached without an ack */
  unacked: Set<string>
  /** sends the query again to these nodes; resolves with those that acked */
  send(nodes: string[]): Promise<string[]>
}

export interface AwaitTagsOptions {
  client: Pick<SerfClient, 'members'>
  app: string
  fleet: FleetState
  /** the send's mark: results on this clock, at or after it, count */
  mark: Clock
  firedAt: number
  deadline: number
  signal?: AbortSignal
  /** whether a member not targeted that reports this deploy joined (matching, alive) */
  admitJoiner?: (member: Member) => boolean
  onChange?: (changed: NodeState[]) => void
  resend?: Resend
  log: Log
  pollMs?: number
}

/**
 * The members' tags as results/ entries for FleetState: a tag that answers the
 * mark gets an index above the fleet's baseline (it counts, or is noted when it
 * names another deploy), any other one the baseline itself (an older result).
 */
export function tagEntries(
  members: readonly Member[],
  app: string,
  mark: Clock,
  baselineIndex: number
): ResultEntry[] {
  const tagName = resultTagName(app)
  const entries: ResultEntry[] = []
  for (const member of members) {
    const tag = parseResultTag(member.tags[tagName])
    if (typeof tag === 'string') continue
    entries.push({
      node: member.name,
      value: JSON.stringify({
        deploy_id: tag.deployId,
        status: tag.status,
        ...(tag.phase ? { phase: tag.phase } : {})
      }),
      modifyIndex: answersMark(tag.clock, mark) ? baselineIndex + 1 : baselineIndex
    })
  }
  return entries
}

/** Feed one `members` read to the fleet; returns the nodes whose state changed. */
export function applyMembers(
  opts: Pick<AwaitTagsOptions, 'app' | 'fleet' | 'mark' | 'firedAt' | 'admitJoiner'>,
  members: readonly Member[]
): NodeState[] {
  const { fleet } = opts
  const byName = new Map(members.map((m) => [m.name, m]))
  const entries = tagEntries(members, opts.app, opts.mark, fleet.baselineIndex)
  // A fresh result from a member nobody targeted: a joiner, or not this run's business.
  for (const entry of entries) {
    if (fleet.isKnown(entry.node) || !fleet.isFresh(entry)) continue
    const member = byName.get(entry.node)
    const admitted = member !== undefined && (opts.admitJoiner?.(member) ?? false)
    if (!admitted) fleet.markUntargeted(entry.node)
  }
  const changed = fleet.applyResults(entries, Date.now() - opts.firedAt)
  // Results first: a node that reported and then died keeps its result.
  for (const node of fleet.nodesByStatus('pending')) {
    const member = byName.get(node)
    if (member === undefined || isGone(member.status)) {
      const lost = fleet.markLost(node)
      if (lost) changed.push(lost)
    }
  }
  return changed
}

/**
 * Wait until the fleet has a verdict. Resolves when it has one, at the deadline
 * (after marking silent nodes) or when `signal` aborts; throws when the agent
 * cannot be read for a while.
 */
export async function awaitTags(opts: AwaitTagsOptions): Promise<void> {
  const { fleet } = opts
  const stop = new AbortController()
  const signal = AbortSignal.any([stop.signal, ...(opts.signal ? [opts.signal] : [])])
  // A timer may fire a moment before Date.now() reaches the deadline: it says when it passed.
  let deadlinePassed = false
  const deadlineTimer = setTimeout(
    () => {
      deadlinePassed = true
      stop.abort()
    },
    Math.max(0, opts.deadline - Date.now())
  )
  let alive = new Set<string>()
  let firstRead: () => void = () => {}
  const read = new Promise<void>((resolve) => (firstRead = resolve))
  const ended = new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })

  const watchTags = async () => {
    let lastRead = Date.now()
    while (!signal.aborted) {
      let members: Member[]
      try {
        members = await opts.client.members()
        lastRead = Date.now()
      } catch (error) {
        if (signal.aborted) return
        if (Date.now() - lastRead > READ_FAILURE_MS) throw error
        opts.log.debug(`reading Serf members failed, trying again: ${(error as Error).message}`)
        await sleep(500, signal)
        continue
      }
      if (signal.aborted) return
      alive = new Set(members.filter((m) => m.status === 'alive').map((m) => m.name))
      firstRead()
      const changed = applyMembers(opts, members)
      if (changed.length) opts.onChange?.(changed)
      if (fleet.verdict().done) return stop.abort()
      await sleep(opts.pollMs ?? POLL_MS, signal)
    }
  }

  const resendUnacked = async (resend: Resend) => {
    await Promise.race([read, ended])
    while (!signal.aborted && resend.unacked.size > 0) {
      const due = [...resend.unacked].filter(
        (node) => alive.has(node) && fleet.nodesByStatus('pending').includes(node)
      )
      if (due.length > 0) {
        opts.log.info(
          `sending the query again to ${due.length} node(s) that did not ack it within ${ACK_MS / 1000} s: ${due.slice(0, 10).join(', ')}${due.length > 10 ? ', …' : ''}`
        )
        const acked = await Promise.race([
          resend.send(due).catch((error: unknown) => {
            opts.log.debug(`sending the query again failed: ${(error as Error).message}`)
            return []
          }),
          ended.then(() => [])
        ])
        for (const node of acked) resend.unacked.delete(node)
      } else await sleep(ACK_MS, signal)
    }
  }

  try {
    await Promise.all([
      watchTags().catch((error: unknown) => {
        stop.abort()
        throw error
      }),
      opts.resend ? resendUnacked(opts.resend) : undefined
    ])
  } finally {
    clearTimeout(deadlineTimer)
    stop.abort()
  }
  if (
    !fleet.verdict().done &&
    (deadlinePassed || Date.now() >= opts.deadline) &&
    !opts.signal?.aborted
  )
    fleet.expire()
}
