// Settle an announcement cut short: find out whether its write or its event
// took effect, and end with the event out and latest naming the release, or
// latest and deploy-id back as they were. Used by the announce step itself and
// by the post step (a cancelled or killed run's journal).
import type { AnnounceConsul, AnnounceJournal } from './announce-journal.ts'
import { isSettled } from './announce-journal.ts'
import type { KvEntry, TxnKvOp } from './client.ts'
import { ConsulError } from './client.ts'
import type { Log } from '../shared/log.ts'
import { kvKeys } from './kv-keys.ts'
import type { Clock } from './write-grace.ts'
import { systemClock, WRITE_SETTLES_MS } from './write-grace.ts'

export interface SettleOutcome {
  /** the event went out: latest rightly names this release */
  fired: boolean
  /** nothing is left to do (false: left to the post step) */
  settled: boolean
}

/**
 * Bring an interrupted announcement to one of its two allowed ends: the event
 * went out and latest names this release, or latest and deploy-id hold what they
 * held before. Used by the announce step itself and by the post step.
 */
export async function settle(
  consul: AnnounceConsul,
  journal: AnnounceJournal,
  log: Log,
  opts: SettleOptions
): Promise<SettleOutcome> {
  const settling = new Settling(consul, journal, log, opts)
  try {
    if (isSettled(journal)) return { fired: journal.phase === 'fired', settled: true }
    if (journal.phase === 'writing') {
      const ended = await settleWrite(settling)
      if (ended) return ended
    }
    // A pointer-only move that took effect is done: there is no event to wait for.
    if (journal.pointerOnly && journal.phase === 'written') return settling.moved()
    if (journal.phase === 'firing' && !opts.refused) {
      const ended = await settleFire(settling)
      if (ended) return ended
    }
    await restore(consul, journal, log, settling.request())
    return settling.undone()
  } catch (error) {
    return settling.leave(`could not settle ${settling.keys.latest}: ${(error as Error).message}`)
  }
}

interface SettleOptions {
  /** Consul answered no to the write in flight: it did not take effect */
  refused?: boolean
  deadline: number
  clock?: Clock
  onJournal?: (journal: AnnounceJournal) => void
}

/** One settle call: the journal it moves on, and the deadline its requests keep. */
class Settling {
  readonly consul: AnnounceConsul
  readonly journal: AnnounceJournal
  readonly log: Log
  readonly opts: SettleOptions
  readonly clock: Clock
  readonly keys: ReturnType<typeof kvKeys>

  constructor(consul: AnnounceConsul, journal: AnnounceJournal, log: Log, opts: SettleOptions) {
    this.consul = consul
    this.journal = journal
    this.log = log
    this.opts = opts
    this.clock = opts.clock ?? systemClock
    this.keys = kvKeys(journal.kvPrefix)
  }

  save(phase: AnnounceJournal['phase']): void {
    this.journal.phase = phase
    this.journal.sentAt = undefined
    this.opts.onJournal?.({ ...this.journal })
  }

  /** Nothing of this run is left in KV. */
  undone(): SettleOutcome {
    this.save('settled')
    return { fired: false, settled: true }
  }

  /** The event went out after all (`id`): latest rightly names this release. */
  fired(id: string): SettleOutcome {
    this.journal.eventId = id
    this.save('fired')
    return { fired: true, settled: true }
  }

  /** A pointer-only move took effect: latest rightly names this release. */
  moved(): SettleOutcome {
    this.save('fired')
    return { fired: true, settled: true }
  }

  leave(why: string): SettleOutcome {
    this.log.warning(
      `${why}: left to the post step, which puts ${this.keys.latest} back unless the event went out`
    )
    return { fired: false, settled: false }
  }

  /** A write whose answer was lost may still take effect: wait that out before reading. */
  async waitForLostWrite(): Promise<boolean> {
    const { journal, opts, clock } = this
    if (opts.refused || journal.sentAt === undefined) return true
    const settlesAt = journal.sentAt + WRITE_SETTLES_MS
    if (settlesAt > opts.deadline) return false
    if (settlesAt > clock.now()) await clock.sleep(settlesAt - clock.now())
    return true
  }

  /** A request's options: it gives up at the deadline. */
  request(): { signal: AbortSignal; retryUntil: number } {
    const remaining = this.opts.deadline - this.clock.now()
    return { signal: AbortSignal.timeout(Math.max(1, remaining)), retryUntil: this.opts.deadline }
  }
}

/**
 * The txn was sent and its answer lost (or refused): find out whether it took
 * effect. Resolves with the end when that is one; undefined when the txn took
 * effect (the journal is then at `written`).
 */
async function settleWrite(s: Settling): Promise<SettleOutcome | undefined> {
  const { journal, keys } = s
  if (s.opts.refused) return s.undone()
  if (!(await s.waitForLostWrite()))
    return s.leave(`the ${keys.latest} transaction's outcome is not known yet`)
  // deploy-id is unique to this run: holding it means the transaction took effect.
  const [latest, deployId] = await Promise.all(
    [keys.latest, keys.deployId].map((key) => s.consul.kvGet(key, s.request()))
  )
  const mine = deployId?.entries[0]
  if (mine?.value !== journal.deployId || latest?.entries[0]?.value !== journal.manifestUrl)
    return s.undone()
  journal.written = [latest.entries[0], mine].map((e) => ({
    key: (e as KvEntry).key,
    modifyIndex: (e as KvEntry).modifyIndex
  }))
  s.save('written')
  return undefined
}

/**
 * The event was sent and its answer lost: find out whether it went out, or make
 * it certain. Resolves with the end when it went out; undefined when it did not.
 */
async function settleFire(s: Settling): Promise<SettleOutcome | undefined> {
  const { journal } = s
  if (!(await s.waitForLostWrite()))
    return s.leave(`whether the ${journal.eventName} event went out is not known yet`)
  if (journal.seenBefore && journal.agentReceives) {
    const id = await s.consul.newEventId(
      journal.eventName,
      journal.eventUrl ?? journal.manifestUrl,
      journal.seenBefore,
      s.request().signal
    )
    if (id === undefined) return undefined
    s.log.info(`the ${journal.eventName} event went out after all (${id})`)
    return s.fired(id)
  }
  // The agent is not sent the event (or its list cannot be read), so nothing
  // can tell whether it went out. Sending it again makes it certain; a node
  // given the same manifest twice deploys the same tree.
  const { id } = await s.consul.fireEvent(
    journal.eventName,
    journal.eventUrl ?? journal.manifestUrl,
    journal.filters,
    { ...s.request(), seenBefore: journal.seenBefore }
  )
  s.log.info(
    `whether the ${journal.eventName} event went out could not be told (the agent is not one of its targets): sent it again (${id}) so ${s.keys.latest} and the fleet agree`
  )
  return s.fired(id)
}

/**
 * Put latest and deploy-id back as they were, unless someone changed them since
 * (check-index on what this run wrote: a later run's release is left alone).
 */
async function restore(
  consul: AnnounceConsul,
  journal: AnnounceJournal,
  log: Log,
  request: { signal: AbortSignal; retryUntil: number }
): Promise<void> {
  const keys = kvKeys(journal.kvPrefix)
  const ops: TxnKvOp[] = []
  for (const mine of journal.written ?? []) {
    const old = journal.before.find((e) => e.key === mine.key)
    ops.push({ Verb: 'check-index', Key: mine.key, Index: mine.modifyIndex })
    ops.push(
      old && old.value !== null
        ? { Verb: 'set', Key: mine.key, Value: old.value }
        : { Verb: 'delete', Key: mine.key }
    )
  }
  if (ops.length === 0) return
  try {
    await consul.txn(ops, `key:write on "${journal.kvPrefix}/"`, request)
  } catch (error) {
    if (error instanceof ConsulError && error.status === 409) {
      log.info(`${keys.latest} was changed by another run since: left as it is`)
      return
    }
    throw error
  }
  const old = journal.before.find((e) => e.key === keys.latest)?.value
  log.info(`restored ${keys.latest} to ${old ?? '(none)'}`)
}
