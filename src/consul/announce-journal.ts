// What an announcement is and how far it got: the journal saved before each
// step (the post step reads it to finish a cancelled run's undo), what it tells
// the layers above, the Consul calls the announce step makes, and its options.
import type { AnnouncementProgress } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { ConsulClient } from './client.ts'
import { kvKeys } from './kv-keys.ts'
import type { Clock } from './write-grace.ts'

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
