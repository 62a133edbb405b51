// Drive FleetState from Serf until a verdict, the deadline or cancellation
// (contract 13): poll `members` (a local read of the agent's view) and count a
// node's tag `stretcher-<app>` when it holds this deploy ID with a clock that
// answers the send's mark; a member that turns failed or left is lost. A query
// that a node did not ack is sent to it again, as gossip can miss a node; after
// an event, the nodes still silent once most reported are sent it as a query
// (nudge-silent.ts), and their results on that query's clock count.
import type { FleetState, NodeState, ResultEntry } from '../fleet-state/fleet-state.ts'
import type { Log } from '../shared/log.ts'
import type { SerfClient } from './rpc-client.ts'
import type { Member } from './rpc-types.ts'
import { isGone } from './member-targets.ts'
import type { Nudge } from './nudge-silent.ts'
import { MAX_NUDGES, nudgeDueMs } from './nudge-silent.ts'
import { parseSerfResult, serfResultTagName } from '../shared/serf-result-tag.ts'
import type { Clock } from './result-tag.ts'
import { answersMark } from './result-tag.ts'
import { sleep } from '../shared/sleep.ts'

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
  /** an event send: how to send the deploy as a query to nodes still silent */
  nudge?: Nudge
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
  baselineIndex: number,
  /** nodes sent the deploy again as a query: that query's clock counts for them too */
  nodeMarks?: ReadonlyMap<string, Clock>
): ResultEntry[] {
  const tagName = serfResultTagName(app)
  const entries: ResultEntry[] = []
  for (const member of members) {
    const tag = parseSerfResult(member.tags[tagName])
    if (typeof tag === 'string') continue
    const again = nodeMarks?.get(member.name)
    const answers =
      answersMark(tag.clock, mark) || (again !== undefined && answersMark(tag.clock, again))
    entries.push({
      node: member.name,
      value: JSON.stringify({
        deploy_id: tag.deployId,
        status: tag.status,
        ...(tag.phase ? { phase: tag.phase } : {})
      }),
      modifyIndex: answers ? baselineIndex + 1 : baselineIndex
    })
  }
  return entries
}

/** Feed one `members` read to the fleet; returns the nodes whose state changed. */
export function applyMembers(
  opts: Pick<AwaitTagsOptions, 'app' | 'fleet' | 'mark' | 'firedAt' | 'admitJoiner'>,
  members: readonly Member[],
  nodeMarks?: ReadonlyMap<string, Clock>
): NodeState[] {
  const { fleet } = opts
  const byName = new Map(members.map((m) => [m.name, m]))
  const entries = tagEntries(members, opts.app, opts.mark, fleet.baselineIndex, nodeMarks)
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
  const wait = new TagWait(opts)
  try {
    await Promise.all([
      wait.watchTags().catch((error: unknown) => {
        wait.stop.abort()
        throw error
      }),
      opts.resend ? wait.resendUnacked(opts.resend) : undefined,
      opts.nudge ? wait.nudgeSilent(opts.nudge) : undefined
    ])
  } finally {
    wait.close()
  }
  if (
    !opts.fleet.verdict().done &&
    (wait.deadlinePassed || Date.now() >= opts.deadline) &&
    !opts.signal?.aborted
  )
    opts.fleet.expire()
}

/**
 * One wait's state: `stop` ends it (a verdict, the deadline, a failed read),
 * `signal` is that or the caller's, and the resends go only to nodes alive at
 * the last read, after the first.
 */
class TagWait {
  readonly stop = new AbortController()
  /** a timer may fire a moment before Date.now() reaches the deadline: it says when it passed */
  deadlinePassed = false
  private readonly opts: AwaitTagsOptions
  private readonly signal: AbortSignal
  private readonly deadlineTimer: NodeJS.Timeout
  /** the members alive at the last read */
  private alive = new Set<string>()
  /** nodes nudged with a query, and its clock */
  private readonly nodeMarks = new Map<string, Clock>()
  private firstRead: () => void = () => {}
  /** resolves at the first read of `members` */
  private readonly read: Promise<void>
  /** resolves when the wait ends */
  private readonly ended: Promise<void>

  constructor(opts: AwaitTagsOptions) {
    this.opts = opts
    const signal = AbortSignal.any([this.stop.signal, ...(opts.signal ? [opts.signal] : [])])
    this.signal = signal
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlinePassed = true
        this.stop.abort()
      },
      Math.max(0, opts.deadline - Date.now())
    )
    this.read = new Promise<void>((resolve) => (this.firstRead = resolve))
    this.ended = new Promise<void>((resolve) => {
      if (signal.aborted) resolve()
      else signal.addEventListener('abort', () => resolve(), { once: true })
    })
  }

  close(): void {
    clearTimeout(this.deadlineTimer)
    this.stop.abort()
  }

  /** Reads `members` every poll until a verdict or the end; read errors pass for READ_FAILURE_MS. */
  async watchTags(): Promise<void> {
    let lastRead = Date.now()
    while (!this.signal.aborted) {
      let members: Member[]
      try {
        members = await this.opts.client.members()
        lastRead = Date.now()
      } catch (error) {
        if (this.signal.aborted) return
        if (Date.now() - lastRead > READ_FAILURE_MS) throw error
        this.opts.log.debug(
          `reading Serf members failed, trying again: ${(error as Error).message}`
        )
        await sleep(500, this.signal)
        continue
      }
      if (this.signal.aborted) return
      if (this.apply(members)) return this.stop.abort()
      await sleep(this.opts.pollMs ?? POLL_MS, this.signal)
    }
  }

  /** Feeds one read to the fleet; true when the fleet has its verdict. */
  private apply(members: readonly Member[]): boolean {
    this.alive = new Set(members.filter((m) => m.status === 'alive').map((m) => m.name))
    this.firstRead()
    const changed = applyMembers(this.opts, members, this.nodeMarks)
    if (changed.length) this.opts.onChange?.(changed)
    return this.opts.fleet.verdict().done
  }

  /** From the first read on, sends the query again to unacked nodes alive and pending, every ACK_MS. */
  async resendUnacked(resend: Resend): Promise<void> {
    await Promise.race([this.read, this.ended])
    while (!this.signal.aborted && resend.unacked.size > 0) {
      const due = [...resend.unacked].filter(
        (node) => this.alive.has(node) && this.opts.fleet.nodesByStatus('pending').includes(node)
      )
      if (due.length > 0) await this.resendTo(resend, due)
      else await sleep(ACK_MS, this.signal)
    }
  }

  /**
   * After an event: once most nodes reported, or one did and half the wait is
   * gone (nudgeDueMs), sends the deploy as
   * a query to the nodes alive and still pending, at most MAX_NUDGES times.
   */
  async nudgeSilent(nudge: Nudge): Promise<void> {
    await Promise.race([this.read, this.ended])
    for (let count = 0; count < MAX_NUDGES && !this.signal.aborted;) {
      const due = nudgeDueMs(this.opts.fleet, count, this.opts.deadline - this.opts.firedAt)
      const elapsed = Date.now() - this.opts.firedAt
      if (due === undefined || elapsed < due) {
        await sleep(due === undefined ? 500 : Math.min(500, due - elapsed), this.signal)
        continue
      }
      count++
      const silent = this.opts.fleet.nodesByStatus('pending').filter((n) => this.alive.has(n))
      if (silent.length === 0) continue
      const nodes = this.opts.fleet.list()
      const reported = nodes.filter((n) => n.noticedMs !== undefined).length
      this.opts.log.info(
        `${silent.length} node(s) silent ${Math.round(elapsed / 1000)} s after the event while ${reported} of ${nodes.length} reported (gossip can miss a node): sending them the deploy as a query: ${silent.slice(0, 10).join(', ')}${silent.length > 10 ? ', …' : ''}`
      )
      const clock = await nudge.send(silent).catch((error: unknown) => {
        this.opts.log.debug(`sending the query to silent nodes failed: ${(error as Error).message}`)
        return undefined
      })
      if (clock) for (const node of silent) this.nodeMarks.set(node, clock)
    }
  }

  /** One resend; the nodes that ack it leave `resend.unacked`. */
  private async resendTo(resend: Resend, due: string[]): Promise<void> {
    this.opts.log.info(
      `sending the query again to ${due.length} node(s) that did not ack it within ${ACK_MS / 1000} s: ${due.slice(0, 10).join(', ')}${due.length > 10 ? ', …' : ''}`
    )
    const acked = await Promise.race([
      resend.send(due).catch((error: unknown) => {
        this.opts.log.debug(`sending the query again failed: ${(error as Error).message}`)
        return []
      }),
      this.ended.then(() => [])
    ])
    for (const node of acked) resend.unacked.delete(node)
  }
}
