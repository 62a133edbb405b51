// The fleet backend seam (DESIGN "The fleet backend seam"): what the plan,
// the pipeline and the CLI need from the system that carries events and results
// to the nodes. Consul implements it (consul/backend.ts); Serf is the second
// implementation (contract 13). Callers never see KV keys, sessions or catalogs.
import type { DatacenterSelection } from '../config/config.ts'
import type { ParsedResult } from '../fleet-state/fleet-state.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'

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
}
