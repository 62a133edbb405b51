// The write that moves latest and deploy-id: every read first (what to put
// back, the results baseline, the agent's event list), the journal as the
// write goes out, then the one transaction, journalled before it is sent.
import type { Config } from '../config/config.ts'
import type { AnnounceConsul, AnnounceJournal, AnnounceOptions } from './announce-journal.ts'
import type { KvEntry, TxnKvOp } from './client.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import { kvKeys } from './kv-keys.ts'
import type { Clock } from './write-grace.ts'
import { CANCEL_GRACE_MS, graceAfter } from './write-grace.ts'

/** What an announcement sends: latest names manifestUrl; the event may send eventUrl. */
export type AnnouncedRelease = { manifestUrl: string; eventUrl?: string; history?: HistoryRecord }

/** An announcement that moves latest, under way: its journal is what the post step reads. */
export interface Announcing {
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
export function announcementOps(config: Config, release: AnnouncedRelease): TxnKvOp[] {
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
export async function readBefore(
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
export function openJournal(
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
export function step(a: Announcing, phase: AnnounceJournal['phase'], sent = false): void {
  a.journal.phase = phase
  a.journal.sentAt = sent ? a.clock.now() : undefined
  a.opts.onJournal?.({ ...a.journal })
}

/** The txn that moves latest and deploy-id, journalled before it is sent. */
export async function writeLatest(a: Announcing, ops: TxnKvOp[]): Promise<void> {
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

function writtenIndexes(
  entries: KvEntry[],
  keys: ReturnType<typeof kvKeys>
): AnnounceJournal['written'] {
  return entries
    .filter((e) => e.key === keys.latest || e.key === keys.deployId)
    .map((e) => ({ key: e.key, modifyIndex: e.modifyIndex }))
}
