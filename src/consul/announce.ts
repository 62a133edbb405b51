// Tell the fleet: move `latest` and `deploy-id` together (one transaction),
// record the release's history once, then fire the event whose payload is the
// manifest URL. All or nothing: whatever stops it part way (a refusal, Consul
// going away, a cancel), `latest` ends naming the release of the last event
// fired, or what it named before. What happened is found out, never guessed,
// and a journal of each step lets the post step finish what a killed or
// cancelled run could not.
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

export async function announce(
  consul: AnnounceConsul,
  config: Config,
  release: { manifestUrl: string; eventUrl?: string; history?: HistoryRecord },
  log: Log,
  opts: AnnounceOptions = {}
): Promise<Announcement> {
  const { signal } = opts
  const clock = opts.clock ?? systemClock
  const keys = kvKeys(config.kvPrefix)
  const filters = opts.filters ?? config.filters
  // latest names the manifest a booting node runs; the event may send another
  // (layout: releases: latest the combined manifest, the event the switch).
  const eventUrl = release.eventUrl ?? release.manifestUrl
  if (opts.movesLatest === false)
    return fireOnly(consul, config, eventUrl, filters, log, opts, clock)
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

  // Every read first, while nothing is written: a cancel here leaves nothing to undo.
  // What latest and deploy-id hold, to put back (not a txn get-or-empty: Consul
  // blanks the value of every txn verb but get). X-Consul-Index of the recurse read
  // is the highest ModifyIndex under results/: every result already there is at or
  // below it. The agent's event list, to tell later whether a lost fire went out.
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
  signal?.throwIfAborted()
  const journal: AnnounceJournal = {
    kvPrefix: config.kvPrefix,
    ...(opts.datacenter ? { datacenter: opts.datacenter } : {}),
    deployId: config.deployId,
    manifestUrl: release.manifestUrl,
    ...(eventUrl === release.manifestUrl ? {} : { eventUrl }),
    eventName: config.eventName,
    filters,
    phase: 'writing',
    before: [...latestNow.entries, ...deployIdNow.entries].map((e) => ({
      key: e.key,
      value: e.value
    })),
    seenBefore,
    agentReceives: agentNode !== '' && (opts.targets ?? []).includes(agentNode)
  }
  const step = (phase: AnnounceJournal['phase'], sent = false) => {
    journal.phase = phase
    journal.sentAt = sent ? clock.now() : undefined
    opts.onJournal?.({ ...journal })
  }
  // Writes are not cut short by a cancel (their outcome would be unknown), only
  // when they are still unanswered CANCEL_GRACE_MS after it; nor retried after it.
  const inFlight = graceAfter(signal, CANCEL_GRACE_MS)
  const bytes = Buffer.byteLength(eventUrl)
  try {
    step('writing', true)
    const written = await consul.txn(ops, `key:write on "${config.kvPrefix}/"`, {
      signal: inFlight,
      stopRetrying: signal
    })
    journal.written = writtenIndexes(written, keys)
    step('written')
    log.info(`${keys.latest} → ${release.manifestUrl}; ${keys.deployId} → ${config.deployId}`)
    signal?.throwIfAborted()

    if (bytes > SAFE_PAYLOAD_BYTES) log.warning(payloadAdvice(eventUrl))
    step('firing', true)
    const { id } = await consul.fireEvent(config.eventName, eventUrl, filters, {
      signal: inFlight,
      stopRetrying: signal,
      seenBefore
    })
    journal.eventId = id
    step('fired')
  } catch (error) {
    const refused = refusedByConsul(error)
    // A write retried or cut short may have been sent again until now.
    if (!refused && (journal.phase === 'writing' || journal.phase === 'firing'))
      journal.sentAt = clock.now()
    const outcome = await settle(consul, journal, log, {
      refused,
      clock,
      deadline: clock.now() + (signal?.aborted ? (opts.settleAfterCancelMs ?? 2_500) : 20_000),
      onJournal: opts.onJournal
    })
    if (!outcome.fired) {
      if (
        error instanceof ConsulError &&
        journal.written &&
        (error.status === 413 || /exceeds|too large|limit/i.test(error.message))
      )
        throw new ConsulError(
          `Consul refused the ${config.eventName} event: ${payloadAdvice(eventUrl)} (${error.message})`,
          error.status,
          false
        )
      throw error
    }
  }
  const firedAt = clock.now()
  logFired(log, config.eventName, journal.eventId ?? '', filters, bytes)
  return {
    baselineIndex: Math.max(1, raftIndex(baseline.index)),
    eventId: journal.eventId ?? '',
    firedAt,
    seenAfter: seenBefore && journal.eventId ? [...seenBefore, journal.eventId] : undefined
  }
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
  opts: {
    /** Consul answered no to the write in flight: it did not take effect */
    refused?: boolean
    deadline: number
    clock?: Clock
    onJournal?: (journal: AnnounceJournal) => void
  }
): Promise<SettleOutcome> {
  const clock = opts.clock ?? systemClock
  const keys = kvKeys(journal.kvPrefix)
  const save = (phase: AnnounceJournal['phase']) => {
    journal.phase = phase
    journal.sentAt = undefined
    opts.onJournal?.({ ...journal })
  }
  const leave = (why: string): SettleOutcome => {
    log.warning(
      `${why}: left to the post step, which puts ${keys.latest} back unless the event went out`
    )
    return { fired: false, settled: false }
  }
  const remaining = () => opts.deadline - clock.now()
  // A write whose answer was lost may still take effect: wait that out before reading.
  const waitForLostWrite = async (): Promise<boolean> => {
    if (opts.refused || journal.sentAt === undefined) return true
    const settlesAt = journal.sentAt + WRITE_SETTLES_MS
    if (settlesAt > opts.deadline) return false
    if (settlesAt > clock.now()) await clock.sleep(settlesAt - clock.now())
    return true
  }
  const request = () => ({
    signal: AbortSignal.timeout(Math.max(1, remaining())),
    retryUntil: opts.deadline
  })
  try {
    if (isSettled(journal)) return { fired: journal.phase === 'fired', settled: true }
    if (journal.phase === 'writing') {
      if (opts.refused) {
        save('settled')
        return { fired: false, settled: true }
      }
      if (!(await waitForLostWrite()))
        return leave(`the ${keys.latest} transaction's outcome is not known yet`)
      // deploy-id is unique to this run: holding it means the transaction took effect.
      const [latest, deployId] = await Promise.all(
        [keys.latest, keys.deployId].map((key) => consul.kvGet(key, request()))
      )
      const mine = deployId?.entries[0]
      if (mine?.value !== journal.deployId || latest?.entries[0]?.value !== journal.manifestUrl) {
        save('settled')
        return { fired: false, settled: true }
      }
      journal.written = [latest.entries[0], mine].map((e) => ({
        key: (e as KvEntry).key,
        modifyIndex: (e as KvEntry).modifyIndex
      }))
      save('written')
    }
    if (journal.phase === 'firing' && !opts.refused) {
      if (!(await waitForLostWrite()))
        return leave(`whether the ${journal.eventName} event went out is not known yet`)
      if (journal.seenBefore && journal.agentReceives) {
        const id = await consul.newEventId(
          journal.eventName,
          journal.eventUrl ?? journal.manifestUrl,
          journal.seenBefore,
          request().signal
        )
        if (id !== undefined) {
          log.info(`the ${journal.eventName} event went out after all (${id})`)
          journal.eventId = id
          save('fired')
          return { fired: true, settled: true }
        }
      } else {
        // The agent is not sent the event (or its list cannot be read), so nothing
        // can tell whether it went out. Sending it again makes it certain; a node
        // given the same manifest twice deploys the same tree.
        const { id } = await consul.fireEvent(
          journal.eventName,
          journal.eventUrl ?? journal.manifestUrl,
          journal.filters,
          {
            ...request(),
            seenBefore: journal.seenBefore
          }
        )
        log.info(
          `whether the ${journal.eventName} event went out could not be told (the agent is not one of its targets): sent it again (${id}) so ${keys.latest} and the fleet agree`
        )
        journal.eventId = id
        save('fired')
        return { fired: true, settled: true }
      }
    }
    await restore(consul, journal, log, request())
    save('settled')
    return { fired: false, settled: true }
  } catch (error) {
    return leave(`could not settle ${keys.latest}: ${(error as Error).message}`)
  }
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
