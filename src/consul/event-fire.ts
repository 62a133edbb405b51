// The event: its payload size advice, the log line of a fire, and a fire alone
// (a wave before the last, contract 8), latest left where it is.
import type { Config } from '../config/config.ts'
import type {
  AnnounceConsul,
  Announcement,
  AnnounceJournal,
  AnnounceOptions
} from './announce-journal.ts'
import { ConsulError, raftIndex } from './client.ts'
import type { Log } from '../shared/log.ts'
import { kvKeys } from './kv-keys.ts'
import type { Clock } from './write-grace.ts'
import { CANCEL_GRACE_MS, graceAfter } from './write-grace.ts'

/** Consul 1.22+ caps the fire request body at about 100 bytes (research §0). */
export const SAFE_PAYLOAD_BYTES = 100

export function payloadAdvice(manifestUrl: string): string {
  return `the event payload (the manifest URL) is ${Buffer.byteLength(manifestUrl)} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`
}

/** A refused event that reads as too large says what to shorten; anything else is as it was. */
export function withPayloadAdvice(
  error: unknown,
  journal: AnnounceJournal,
  eventUrl: string
): unknown {
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

export function logFired(
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
export async function fireOnly(
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
