// Tell the fleet: move `latest` and `deploy-id` together (one transaction),
// record the release's history once, then fire the event whose payload is the
// manifest URL. All or nothing: whatever stops it part way (a refusal, Consul
// going away, a cancel), `latest` ends naming the release of the last event
// fired, or what it named before. What happened is found out, never guessed,
// and a journal of each step lets the post step finish what a killed or
// cancelled run could not.
import type { AnnouncementProgress } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { ConsulClient, KvEntry, TxnKvOp } from './client.ts'
import { ConsulError, raftIndex } from './client.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import { kvKeys } from './kv-keys.ts'

/** Consul 1.22+ caps the fire request body at about 100 bytes (research §0). */
export const SAFE_PAYLOAD_BYTES = 100

/**
 * How long after a cancel a write already sent (the txn, the fire) may still
 * take to answer before it is cut short: letting it answer is what makes its
 * outcome known. The runner allows 7.5 s from SIGINT in all.
 */
export const CANCEL_GRACE_MS = 1_500

/**
 * How long a write cut short may still take effect inside Consul: a server holds
 * an RPC through a leader election for up to rpc_hold_timeout (7 s, Consul's
 * agent configuration docs), plus a margin. Only after it is a read conclusive.
 */
export const WRITE_SETTLES_MS = 8_000

export interface Announcement {
  /** results with a ModifyIndex above this were written after the event */
  baselineIndex: number
  eventId: string
  /** epoch ms the event was fired */
  firedAt: number
  /**
   * IDs of the events with this payload in the agent's list once this one went
   * out (what was there before, and this one); absent when the list was unreadable
   */
  seenAfter?: string[]
}

/** The Consul calls the announce step makes (a stand-in implements them in tests). */
export type AnnounceConsul = Pick<
  ConsulClient,
  'kvGet' | 'txn' | 'fireEvent' | 'eventIds' | 'newEventId' | 'agentNodeName'
>

/**
 * How far an announcement got, saved before each step (core.saveState) so the
 * post step can finish its undo when the main step was cancelled or killed.
 */
export interface AnnounceJournal {
  kvPrefix: string
  /** the Consul datacenter it was written to (contract 10); absent: the agent's own */
  datacenter?: string
  deployId: string
  /** what latest is set to */
  manifestUrl: string
  /** the event's payload when it is not manifestUrl (layout: releases: the switch manifest) */
  eventUrl?: string
  eventName: string
  filters: Config['filters']
  /**
   * writing: the txn was sent; firing: the txn took effect and the event was
   * sent; fired: the event went out; settled: nothing of this run is left in KV.
   * `written` without `firing`: the txn took effect, the event was not sent.
   */
  phase: 'writing' | 'written' | 'firing' | 'fired' | 'settled'
  /** epoch ms the write of the current phase was sent */
  sentAt?: number
  /** what latest and deploy-id held before (a key absent then is left out) */
  before: Array<{ key: string; value: string | null }>
  /** ModifyIndex of latest and deploy-id as this run wrote them */
  written?: Array<{ key: string; modifyIndex: number }>
  /** IDs of events with this payload in the agent's list before the fire; absent when unreadable */
  seenBefore?: string[]
  /**
   * latest moved with no event (moveLatestOnly): the write is the end, and
   * `fired` says it took effect; nothing is ever fired for it
   */
  pointerOnly?: true
  /** the agent is one of the event's targets, so its list shows whether the event went out */
  agentReceives: boolean
  eventId?: string
}

export function isSettled(journal: AnnounceJournal): boolean {
  return journal.phase === 'fired' || journal.phase === 'settled'
}

/** What `deploy-id` held before the announcement wrote it, as the journal recorded it. */
export function previousDeployId(journal: AnnounceJournal | undefined): string | undefined {
  if (!journal) return undefined
  return journal.before.find((b) => b.key === kvKeys(journal.kvPrefix).deployId)?.value ?? undefined
}

/** The journal as the seam tells it to the layers above (the record is the journal itself). */
export function announcementProgress(journal: AnnounceJournal): AnnouncementProgress {
  const { phase } = journal
  return {
    settled: isSettled(journal),
    // `writing` and `firing`: sent, outcome not known until the post step settles it.
    pointerMoved: phase === 'settled' ? false : phase === 'writing' ? undefined : true,
    eventFired:
      phase === 'fired' ? true : phase === 'firing' || phase === 'writing' ? undefined : false,
    previousDeployId: previousDeployId(journal),
    record: journal
  }
}

export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
}

export interface AnnounceOptions {
  /** cancel (SIGINT/SIGTERM) */
  signal?: AbortSignal
  /** the event's targets: whether the agent is one decides if its event list can tell */
  targets?: readonly string[]
  /** told each step before it is taken */
  onJournal?: (journal: AnnounceJournal) => void
  clock?: Clock
  /** after a cancel, how long settling may take before it is left to the post step */
  settleAfterCancelMs?: number
  /** the datacenter `consul` is bound to, recorded in the journal for the post step */
  datacenter?: string
  /** the event's filters, when not the configured ones (a wave's exact node filter) */
  filters?: Config['filters']
  /**
   * false: only the event (a wave before the last, contract 8); latest and
   * deploy-id stay, so there is nothing to undo and no journal
   */
  movesLatest?: boolean
  /**
   * With movesLatest false: the next event of the same step (a wave too large for
   * one node filter). Its results count from the first event's baseline, and the
   * agent's list is known from the events just fired: nothing is read again.
   */
  continuing?: Pick<Announcement, 'baselineIndex' | 'seenAfter'>
}

export function payloadAdvice(manifestUrl: string): string {
  return `the event payload (the manifest URL) is ${Buffer.byteLength(manifestUrl)} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`
}

/** Consul answered no: the write did not take effect. Anything else leaves it unknown. */
function refusedByConsul(error: unknown): boolean {
  return error instanceof ConsulError && error.status !== undefined && !error.transient
}

/** A signal that aborts `ms` after `signal` does: writes in flight get that long to answer. */
function graceAfter(signal: AbortSignal | undefined, ms: number): AbortSignal | undefined {
  if (!signal) return undefined
  const grace = new AbortController()
  const start = () => setTimeout(() => grace.abort(signal.reason), ms).unref()
  if (signal.aborted) start()
  else signal.addEventListener('abort', start, { once: true })
  return grace.signal
}

/** Move latest with the event, all or nothing (see above); `movesLatest: false` fires only. */
export async function announce(
  consul: AnnounceConsul,
  config: Config,
  release: AnnouncedRelease,
  log: Log,
  opts: AnnounceOptions = {}
): Promise<Announcement> {
  const { signal } = opts
  const clock = opts.clock ?? systemClock
  const filters = opts.filters ?? config.filters
  // latest names the manifest a booting node runs; the event may send another
  // (layout: releases: latest the combined manifest, the event the switch).
  const eventUrl = release.eventUrl ?? release.manifestUrl
  if (opts.movesLatest === false)
    return fireOnly(consul, config, eventUrl, filters, log, opts, clock)
  const ops = announcementOps(config, release)
  const read = await readBefore(consul, config, eventUrl, opts)
  signal?.throwIfAborted()
  const journal = openJournal(config, release, eventUrl, filters, read, opts)
  const announcing: Announcing = { consul, config, log, opts, clock, journal, eventUrl }
  try {
    await writeAndFire(announcing, ops)
  } catch (error) {
    await settleFailed(announcing, error)
  }
  const firedAt = clock.now()
  logFired(log, config.eventName, journal.eventId ?? '', filters, Buffer.byteLength(eventUrl))
  return {
    baselineIndex: Math.max(1, raftIndex(read.baseline)),
    eventId: journal.eventId ?? '',
    firedAt,
    seenAfter:
      read.seenBefore && journal.eventId ? [...read.seenBefore, journal.eventId] : undefined
  }
}

/**
 * latest and deploy-id (and the history record) in the announcement's
 * transaction, with no event: the last switch wave has no node left to send
 * to (contract 8). Journalled as an announcement whose end is the write, so a
 * cancel's post step knows latest moved, or puts it back when it cannot tell.
 */
export async function moveLatestOnly(
  consul: AnnounceConsul,
  config: Config,
  release: { manifestUrl: string; history?: HistoryRecord },
  log: Log,
  opts: Pick<
    AnnounceOptions,
    'signal' | 'onJournal' | 'clock' | 'settleAfterCancelMs' | 'datacenter'
  > = {}
): Promise<void> {
  const clock = opts.clock ?? systemClock
  const read = await readBefore(consul, config, release.manifestUrl, opts)
  opts.signal?.throwIfAborted()
  const journal: AnnounceJournal = {
    ...openJournal(config, release, release.manifestUrl, config.filters, read, opts),
    pointerOnly: true
  }
  const moving: Announcing = {
    consul,
    config,
    log,
    opts,
    clock,
    journal,
    eventUrl: release.manifestUrl
  }
  try {
    await writeLatest(moving, announcementOps(config, release))
    step(moving, 'fired')
  } catch (error) {
    await settleFailed(moving, error)
  }
}

/** What an announcement sends: latest names manifestUrl; the event may send eventUrl. */
type AnnouncedRelease = { manifestUrl: string; eventUrl?: string; history?: HistoryRecord }

/** An announcement that moves latest, under way: its journal is what the post step reads. */
interface Announcing {
  consul: AnnounceConsul
  config: Config
  log: Log
  opts: AnnounceOptions
  clock: Clock
  journal: AnnounceJournal
  /** the event's payload */
  eventUrl: string
}

/** latest and deploy-id together, and the release's history record when it has one. */
function announcementOps(config: Config, release: AnnouncedRelease): TxnKvOp[] {
  const keys = kvKeys(config.kvPrefix)
  const ops: TxnKvOp[] = [
    { Verb: 'set', Key: keys.latest, Value: release.manifestUrl },
    { Verb: 'set', Key: keys.deployId, Value: config.deployId }
  ]
  // history/<id> is written when the release is published, never by a rollback.
  if (release.history)
    ops.push({
      Verb: 'set',
      Key: keys.history(config.deployId),
      Value: JSON.stringify(release.history)
    })
  return ops
}

/** What the reads before any write found. */
interface ReadBefore {
  /** what latest and deploy-id held (a key absent is left out) */
  before: AnnounceJournal['before']
  /** X-Consul-Index of the results/ read */
  baseline: bigint
  seenBefore?: string[]
  agentReceives: boolean
}

/**
 * Every read first, while nothing is written: a cancel here leaves nothing to undo.
 * What latest and deploy-id hold, to put back (not a txn get-or-empty: Consul
 * blanks the value of every txn verb but get). X-Consul-Index of the recurse read
 * is the highest ModifyIndex under results/: every result already there is at or
 * below it. The agent's event list, to tell later whether a lost fire went out.
 */
async function readBefore(
  consul: AnnounceConsul,
  config: Config,
  eventUrl: string,
  opts: AnnounceOptions
): Promise<ReadBefore> {
  const { signal } = opts
  const keys = kvKeys(config.kvPrefix)
  const [latestNow, deployIdNow, baseline, seenBefore, agentNode] = await Promise.all([
    consul.kvGet(keys.latest, { signal, permission: `key:read on "${keys.latest}"` }),
    consul.kvGet(keys.deployId, { signal, permission: `key:read on "${keys.deployId}"` }),
    consul.kvGet(keys.results, {
      recurse: true,
      signal,
      permission: `key:read on "${keys.results}"`
    }),
    consul.eventIds(config.eventName, eventUrl, signal).catch(() => undefined),
    opts.targets?.length ? consul.agentNodeName(signal).catch(() => '') : ''
  ])
  return {
    before: [...latestNow.entries, ...deployIdNow.entries].map((e) => ({
      key: e.key,
      value: e.value
    })),
    baseline: baseline.index,
    seenBefore,
    agentReceives: agentNode !== '' && (opts.targets ?? []).includes(agentNode)
  }
}

/** The journal as the first write goes out: what to put back, and how to tell the fire. */
function openJournal(
  config: Config,
  release: AnnouncedRelease,
  eventUrl: string,
  filters: Config['filters'],
  read: ReadBefore,
  opts: AnnounceOptions
): AnnounceJournal {
  return {
    kvPrefix: config.kvPrefix,
    ...(opts.datacenter ? { datacenter: opts.datacenter } : {}),
    deployId: config.deployId,
    manifestUrl: release.manifestUrl,
    ...(eventUrl === release.manifestUrl ? {} : { eventUrl }),
    eventName: config.eventName,
    filters,
    phase: 'writing',
    before: read.before,
    seenBefore: read.seenBefore,
    agentReceives: read.agentReceives
  }
}

/** Move the journal to `phase` and tell it; `sent`: that phase's write goes out now. */
function step(a: Announcing, phase: AnnounceJournal['phase'], sent = false): void {
  a.journal.phase = phase
  a.journal.sentAt = sent ? a.clock.now() : undefined
  a.opts.onJournal?.({ ...a.journal })
}

/** The txn that moves latest and deploy-id, journalled before it is sent. */
async function writeLatest(a: Announcing, ops: TxnKvOp[]): Promise<void> {
  const { consul, config, journal, log } = a
  const { signal } = a.opts
  const keys = kvKeys(config.kvPrefix)
  // Writes are not cut short by a cancel (their outcome would be unknown), only
  // when they are still unanswered CANCEL_GRACE_MS after it; nor retried after it.
  step(a, 'writing', true)
  const written = await consul.txn(ops, `key:write on "${config.kvPrefix}/"`, {
    signal: graceAfter(signal, CANCEL_GRACE_MS),
    stopRetrying: signal
  })
  journal.written = writtenIndexes(written, keys)
  step(a, 'written')
  log.info(`${keys.latest} → ${journal.manifestUrl}; ${keys.deployId} → ${config.deployId}`)
}

/** The txn, then the event, each journalled before it is sent. */
async function writeAndFire(a: Announcing, ops: TxnKvOp[]): Promise<void> {
  const { consul, config, journal, log, eventUrl } = a
  const { signal } = a.opts
  const inFlight = graceAfter(signal, CANCEL_GRACE_MS)
  await writeLatest(a, ops)
  signal?.throwIfAborted()

  if (Buffer.byteLength(eventUrl) > SAFE_PAYLOAD_BYTES) log.warning(payloadAdvice(eventUrl))
  step(a, 'firing', true)
  const { id } = await consul.fireEvent(config.eventName, eventUrl, journal.filters, {
    signal: inFlight,
    stopRetrying: signal,
    seenBefore: journal.seenBefore
  })
  journal.eventId = id
  step(a, 'fired')
}

/**
 * The write or the fire failed or was cut short: settle to one of the two allowed
 * ends. Returns when the event went out after all; otherwise throws `error`.
 */
async function settleFailed(a: Announcing, error: unknown): Promise<void> {
  const { journal, clock, opts } = a
  const refused = refusedByConsul(error)
  // A write retried or cut short may have been sent again until now.
  if (!refused && (journal.phase === 'writing' || journal.phase === 'firing'))
    journal.sentAt = clock.now()
  const outcome = await settle(a.consul, journal, a.log, {
    refused,
    clock,
    deadline: clock.now() + (opts.signal?.aborted ? (opts.settleAfterCancelMs ?? 2_500) : 20_000),
    onJournal: opts.onJournal
  })
  if (!outcome.fired) throw withPayloadAdvice(error, journal, a.eventUrl)
}

/** A refused event that reads as too large says what to shorten; anything else is as it was. */
function withPayloadAdvice(error: unknown, journal: AnnounceJournal, eventUrl: string): unknown {
  if (
    error instanceof ConsulError &&
    journal.written &&
    (error.status === 413 || /exceeds|too large|limit/i.test(error.message))
  )
    return new ConsulError(
      `Consul refused the ${journal.eventName} event: ${payloadAdvice(eventUrl)} (${error.message})`,
      error.status,
      false
    )
  return error
}

function logFired(
  log: Log,
  eventName: string,
  eventId: string,
  filters: Config['filters'],
  bytes: number
): void {
  const shown = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
  log.info(
    `fired event "${eventName}" (${eventId})${shown.length ? ` with ${shown.join(', ')}` : ''}, payload ${bytes} bytes`
  )
}

/** The event alone, latest left where it is: a refusal or a lost answer fails the step. */
async function fireOnly(
  consul: AnnounceConsul,
  config: Config,
  manifestUrl: string,
  filters: Config['filters'],
  log: Log,
  opts: AnnounceOptions,
  clock: Clock
): Promise<Announcement> {
  const { signal, continuing } = opts
  const keys = kvKeys(config.kvPrefix)
  const [baselineIndex, seenBefore] = continuing
    ? [continuing.baselineIndex, continuing.seenAfter]
    : await Promise.all([
        consul
          .kvGet(keys.results, {
            recurse: true,
            signal,
            permission: `key:read on "${keys.results}"`
          })
          .then((read) => Math.max(1, raftIndex(read.index))),
        consul.eventIds(config.eventName, manifestUrl, signal).catch(() => undefined)
      ])
  signal?.throwIfAborted()
  const bytes = Buffer.byteLength(manifestUrl)
  if (bytes > SAFE_PAYLOAD_BYTES) log.warning(payloadAdvice(manifestUrl))
  const { id } = await consul.fireEvent(config.eventName, manifestUrl, filters, {
    signal: graceAfter(signal, CANCEL_GRACE_MS),
    stopRetrying: signal,
    seenBefore
  })
  logFired(log, config.eventName, id, filters, bytes)
  return {
    baselineIndex,
    eventId: id,
    firedAt: clock.now(),
    seenAfter: seenBefore ? [...seenBefore, id] : undefined
  }
}

function writtenIndexes(
  entries: KvEntry[],
  keys: ReturnType<typeof kvKeys>
): AnnounceJournal['written'] {
  return entries
    .filter((e) => e.key === keys.latest || e.key === keys.deployId)
    .map((e) => ({ key: e.key, modifyIndex: e.modifyIndex }))
}

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
