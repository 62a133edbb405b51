// The fleet backend seam (DESIGN "The fleet backend seam"): what the plan,
// the pipeline and the CLI need from the system that carries events and results
// to the nodes. Consul implements it (consul/backend.ts); Serf is the second
// implementation (contract 13). Callers never see KV keys, sessions or catalogs.
// Node names here are of the backend's one datacenter (`at(dc)`): a name may
// repeat in another, so the run keys its nodes by (datacenter, name) (contract 8a).
import type { DatacenterSelection } from '../config/config.ts'
import type { FleetState, NodeState, ParsedResult } from '../fleet-state/fleet-state.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import type { GateFailure } from '../fleet-state/gate-failure.ts'

/** Which nodes a run targets, as the backend matched them against its filters. */
export interface TargetSelection {
  targets: string[]
  /** known to the backend but left out by the filters */
  filteredOut: string[]
  /** matching, but not live: they cannot hear the event */
  notLive: string[]
}

export interface Targets {
  selection: TargetSelection
  /** the backend's canaries among the matching nodes (contract 8: first in the wave order) */
  canaries: string[]
  /** every node the backend knows (catalog, members) */
  known: number
}

/** The release pointer as it stands: what `latest` and `deploy-id` name, and that release's record. */
export interface ReleasePointer {
  /** what `latest` names now */
  manifestUrl?: string
  /** what `deploy-id` names now */
  deployId?: string
  /** the history record of `deployId`, when there is one */
  history?: Partial<HistoryRecord>
}

/** Who holds a run's deploy lock, as the holder wrote it. */
export interface LockHolder {
  deploy_id: string
  run_url?: string
  repository?: string
  sha?: string
  started_at: string
}

export interface HeldLock {
  readonly sessionId: string
  /** the lock is held and being renewed */
  readonly held: boolean
  /** `deadline`: give up at this epoch ms */
  release(deadline?: number): Promise<void>
}

export type LockState =
  | { held: false }
  | {
      held: true
      session: string
      /** from the lock's value, written by the holding run */
      holder?: Partial<LockHolder>
      /** where the lock's session lives, and its name, when readable */
      node?: string
      name?: string
    }

export interface LockRequest {
  holder: LockHolder
  /** give up waiting for another run's lock at this epoch ms */
  deadline: number
  log: Log
  signal?: AbortSignal
  onSession?: (id: string) => void
}

/** A history record as read: absent, unreadable, or the record. */
export type HistoryRead =
  | { found: false; where: string }
  | { found: true; where: string; record: HistoryRecord }
  | { found: true; where: string; unreadable: true }

/**
 * Where one send left off: results written after it are this send's. The mark
 * is the backend's own (Consul: the raft index seen before the event; Serf: the
 * Lamport time of the event or query), so the executor never compares marks of
 * two backends.
 */
export interface Sent {
  /** epoch ms the first event of the send went out */
  firedAt: number
  /** results above this mark count (Consul: a ModifyIndex; Serf: a Lamport time) */
  baseline: number
  /** the nodes this event (or query) was addressed to; undefined: the request's filters */
  nodes?: readonly string[]
}

/**
 * How far a journalled move of the release pointer (with its event) has got, as
 * the layers above the seam need it: whether the lock may go, what the report
 * says, and the backend's own record for the post step, saved as is. Only a
 * backend whose move can be cut short between steps journals it (Consul).
 */
export interface AnnouncementProgress {
  /** nothing is left to finish: the event went out, or the move was undone */
  settled: boolean
  /** the pointer names the release; undefined: the write was sent, its outcome not known yet */
  pointerMoved: boolean | undefined
  /** the event went out; undefined: it was sent, its outcome not known yet */
  eventFired: boolean | undefined
  /** what the pointer's deploy ID named before the move, when it named one */
  previousDeployId?: string
  /** the backend's journal entry, which its post step reads back */
  record: unknown
}

/** One step's send: the event(s) that reach `nodes`, and the pointer when the step moves it. */
export interface SendRequest {
  /** the release the nodes must report (a rollback: the release put back) */
  deployId: string
  /** the manifest the event carries (layout: releases: prepare or switch) */
  eventUrl: string
  /** the release pointer moves to this manifest, with this send, before its event */
  pointer?: { manifestUrl: string; history?: HistoryRecord }
  nodes: readonly string[]
  /** the one-wave default: the configured filters carry the event, not a node list */
  byFilters: boolean
  signal?: AbortSignal
  /** each step of an interrupted-safe announcement, for the post step */
  onJournal?: (progress: AnnouncementProgress) => void
  /** each event as it goes out (a large wave can take several) */
  onFired?: (sent: Sent) => void
}

/**
 * The release pointer moved with no event (contract 8): every node of the last
 * switch wave failed to prepare, within max-failures, so that wave has no node
 * to send to, yet `latest` and `deploy-id` move as they would before its event.
 */
export interface PointerRequest {
  /** what `deploy-id` moves to */
  deployId: string
  /** what `latest` moves to */
  manifestUrl: string
  /** the release's history record, written with the move when it is not there yet */
  history?: HistoryRecord
  signal?: AbortSignal
  /** each step of the move, for the post step (as a send that moves latest) */
  onJournal?: (progress: AnnouncementProgress) => void
}

export interface WatchRequest {
  sent: Sent
  /** fed with the reports and the lost nodes until it has a verdict */
  fleet: FleetState
  /** epoch ms after which silent nodes are silent */
  deadline: number
  signal?: AbortSignal
  /** a matching live node that reports without being targeted joins (contract 8: the last wave) */
  admitJoiners: boolean
  onChange?: (changed: NodeState[]) => void
}

/** `<kv-prefix>/rollout` (contract 5): the release a staged rollout is taking out. */
export interface RolloutRecord {
  deploy_id: string
  waves: number[]
  completed: number
  nodes: string[]
}

export interface FleetBackend {
  /** the same backend in one datacenter (undefined: the agent's own, no `?dc`) */
  at(datacenter: string | undefined): FleetBackend
  /** the datacenters a run goes through, in order; [undefined]: the agent's own */
  datacenters(
    selection: DatacenterSelection,
    signal?: AbortSignal
  ): Promise<Array<string | undefined>>
  /** the targets and canaries, read within `retryUntil` when the backend is briefly away */
  targets(signal?: AbortSignal, retryUntil?: number): Promise<Targets>
  /** every node's last result, parsed as the wait parses it, by node */
  lastResults(signal?: AbortSignal): Promise<Map<string, ParsedResult>>
  /** what the release pointer names now */
  releasePointer(signal?: AbortSignal): Promise<ReleasePointer>
  /** the history record of a release */
  history(deployId: string, signal?: AbortSignal): Promise<HistoryRead>
  /** the newest recorded deploy IDs, newest first */
  recentDeployIds(count?: number): Promise<string[]>
  /** the deploy lock: waits for another run's within the request's deadline */
  lock(request: LockRequest): Promise<HeldLock>
  /** who holds the deploy lock, read without taking it */
  lockState(signal?: AbortSignal): Promise<LockState>
  /** where the lock lives, for messages */
  readonly lockName: string
  /** the log tails of these failed nodes (absent: none could be read) */
  readLogs(nodes: readonly string[]): Promise<Array<{ node: string; text: string }>>
  /** send a step's event(s); resolves with the first event's mark, throws when none went out */
  send(request: SendRequest): Promise<Sent | undefined>
  /** move the release pointer alone (one transaction where the backend has them); throws when it did not move */
  movePointer(request: PointerRequest): Promise<void>
  /** feed the fleet state until its verdict, the deadline or the signal */
  watch(request: WatchRequest): Promise<void>
  /** the bake gate: health problems of these nodes seen within `bakeMs` (none: passed) */
  health(nodes: readonly string[], bakeMs: number, signal?: AbortSignal): Promise<GateFailure[]>
  /** write a release's history record (once, when published) */
  writeHistory(record: HistoryRecord, signal?: AbortSignal): Promise<void>
  /** write the rollout record, or delete it (undefined) */
  recordRollout(record: RolloutRecord | undefined, signal?: AbortSignal): Promise<void>
}

/**
 * Plain objects in the release bucket, for a backend that keeps its pointer,
 * history and lock there (Serf, contract 13).
 */
export interface ObjectStore {
  readonly bucket: string
  /** the object's text, or undefined when it does not exist */
  readText(key: string): Promise<string | undefined>
  /** `ifNoneMatch: '*'`: fails with `exists` when the object is already there */
  writeText(key: string, body: string, opts?: { ifNoneMatch?: '*' }): Promise<'written' | 'exists'>
  remove(key: string): Promise<void>
  /** keys under a prefix */
  list(prefix: string): Promise<string[]>
}
