// Tell the fleet: move `latest` and `deploy-id` together (one transaction),
// record the release's history once, then fire the event whose payload is the
// manifest URL. All or nothing: whatever stops it part way (a refusal, Consul
// going away, a cancel), `latest` ends naming the release of the last event
// fired, or what it named before. What happened is found out, never guessed,
// and a journal of each step lets the post step finish what a killed or
// cancelled run could not.
// The journal and its types are in announce-journal.ts, the write in
// announce-write.ts, the event in event-fire.ts, the undo in settle.ts.
// Callers import from this file.
import type { Config } from '../config/config.ts'
import type {
  AnnounceConsul,
  Announcement,
  AnnounceJournal,
  AnnounceOptions
} from './announce-journal.ts'
import type { AnnouncedRelease, Announcing } from './announce-write.ts'
import { announcementOps, openJournal, readBefore, step, writeLatest } from './announce-write.ts'
import type { TxnKvOp } from './client.ts'
import { ConsulError, raftIndex } from './client.ts'
import {
  fireOnly,
  logFired,
  payloadAdvice,
  SAFE_PAYLOAD_BYTES,
  withPayloadAdvice
} from './event-fire.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import { settle } from './settle.ts'
import { CANCEL_GRACE_MS, graceAfter, systemClock } from './write-grace.ts'

export type {
  AnnounceConsul,
  Announcement,
  AnnounceJournal,
  AnnounceOptions
} from './announce-journal.ts'
export { announcementProgress, isSettled, previousDeployId } from './announce-journal.ts'
export { payloadAdvice, SAFE_PAYLOAD_BYTES } from './event-fire.ts'
export type { SettleOutcome } from './settle.ts'
export { settle } from './settle.ts'
export type { Clock } from './write-grace.ts'
export { CANCEL_GRACE_MS, WRITE_SETTLES_MS } from './write-grace.ts'

/** Consul answered no: the write did not take effect. Anything else leaves it unknown. */
function refusedByConsul(error: unknown): boolean {
  return error instanceof ConsulError && error.status !== undefined && !error.transient
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
