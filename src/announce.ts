// Tell the fleet: move `latest` and `deploy-id` together (one transaction),
// record the release's history once, read the index the results must beat,
// then fire the event whose payload is the manifest URL.
import type { Config } from './config.ts'
import type { ConsulClient, KvEntry, TxnKvOp } from './consul.ts'
import { ConsulError, raftIndex } from './consul.ts'
import type { Log } from './log.ts'

/** Consul 1.22+ caps the fire request body at about 100 bytes (research §0). */
export const SAFE_PAYLOAD_BYTES = 100

export interface HistoryRecord {
  deploy_id: string
  manifest_url: string
  src_url: string
  checksum: string
  commit?: string
  run_url?: string
  /** ISO time the release was published */
  published_at: string
  /** unix seconds stamped on every file of the archive (see publish.ts nextFileTime) */
  mtime?: number
}

export interface Announcement {
  /** results with a ModifyIndex above this were written after the event */
  baselineIndex: number
  eventId: string
  /** epoch ms the event was fired */
  firedAt: number
}

export const kvKeys = (prefix: string) => ({
  latest: `${prefix}/latest`,
  deployId: `${prefix}/deploy-id`,
  history: (id: string) => `${prefix}/history/${id}`,
  results: `${prefix}/results/`,
  result: (node: string) => `${prefix}/results/${node}`,
  log: (node: string) => `${prefix}/logs/${node}`,
  lock: `${prefix}/lock`
})

export function payloadAdvice(manifestUrl: string): string {
  return `the event payload (the manifest URL) is ${Buffer.byteLength(manifestUrl)} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`
}

/**
 * Put latest and deploy-id back as they were, unless someone changed them since
 * (check-index on what this run wrote). Best effort: the failure being reported
 * matters more than a failed restore, which is only logged.
 */
async function restoreLatest(
  consul: ConsulClient,
  config: Config,
  before: KvEntry[],
  written: KvEntry[],
  log: Log
): Promise<void> {
  const keys = kvKeys(config.kvPrefix)
  const ops: TxnKvOp[] = []
  for (const key of [keys.latest, keys.deployId]) {
    const mine = written.find((e) => e.key === key)
    const old = before.find((e) => e.key === key)
    if (!mine) continue
    ops.push({ Verb: 'check-index', Key: key, Index: mine.modifyIndex })
    ops.push(
      old && old.value !== null
        ? { Verb: 'set', Key: key, Value: old.value }
        : { Verb: 'delete', Key: key }
    )
  }
  try {
    await consul.txn(ops, `key:write on "${config.kvPrefix}/"`)
    log.info(
      `restored ${keys.latest} to ${before.find((e) => e.key === keys.latest)?.value ?? '(none)'}`
    )
  } catch (error) {
    log.warning(
      `could not restore ${keys.latest} after the refused event: ${(error as Error).message}`
    )
  }
}

export async function announce(
  consul: ConsulClient,
  config: Config,
  release: { manifestUrl: string; history?: HistoryRecord },
  log: Log,
  signal?: AbortSignal
): Promise<Announcement> {
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
  // What latest and deploy-id held before, to put back if the event is refused.
  // (Not a txn get-or-empty: Consul blanks the value of every txn verb but get.)
  const before: KvEntry[] = []
  for (const key of [keys.latest, keys.deployId]) {
    const read = await consul.kvGet(key, { signal, permission: `key:read on "${key}"` })
    if (read.entries[0]) before.push(read.entries[0])
  }
  const written = await consul.txn(ops, `key:write on "${config.kvPrefix}/"`, signal)
  log.info(`${keys.latest} → ${release.manifestUrl}; ${keys.deployId} → ${config.deployId}`)

  // X-Consul-Index of a recurse read is the highest ModifyIndex under the prefix
  // (tombstones included): every result already there is at or below it.
  const baseline = await consul.kvGet(keys.results, {
    recurse: true,
    signal,
    permission: `key:read on "${keys.results}"`
  })

  const bytes = Buffer.byteLength(release.manifestUrl)
  if (bytes > SAFE_PAYLOAD_BYTES) log.warning(payloadAdvice(release.manifestUrl))
  let eventId: string
  try {
    eventId = (
      await consul.fireEvent(config.eventName, release.manifestUrl, config.filters, signal)
    ).id
  } catch (error) {
    // The fleet was not told: new nodes must not boot into this release either.
    await restoreLatest(consul, config, before, written, log)
    if (
      error instanceof ConsulError &&
      (error.status === 413 || /exceeds|too large|limit/i.test(error.message))
    )
      throw new ConsulError(
        `Consul refused the ${config.eventName} event: ${payloadAdvice(release.manifestUrl)} (${error.message})`,
        error.status,
        false
      )
    throw error
  }
  const firedAt = Date.now()
  const filters = Object.entries(config.filters)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
  log.info(
    `fired event "${config.eventName}" (${eventId})${filters.length ? ` with ${filters.join(', ')}` : ''}, payload ${bytes} bytes`
  )
  return { baselineIndex: Math.max(1, raftIndex(baseline.index)), eventId, firedAt }
}
