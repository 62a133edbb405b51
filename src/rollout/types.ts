// What the rollout executor takes and gives: its dependencies, the release it
// rolls out, and how each step and the whole run went.
import type { AnnouncementProgress, FleetBackend } from '../backend/fleet-backend.ts'
import type { GateFailure } from '../fleet-state/gate-failure.ts'
import type { Config } from '../config/config.ts'
import type { FleetState, NodeRef, Verdict } from '../fleet-state/fleet-state.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import type { Step } from './plan/plan.ts'

export type WaveOutcome = 'passed' | 'failed' | 'timed_out' | 'gate' | 'cancelled' | 'not_started'

/** One step of the plan as it ran. */
export interface WaveRun {
  step: Step
  /** the step's own fleet (its nodes, counted from its event on) */
  fleet?: FleetState
  firedAt?: number
  /**
   * the nodes its events went out to, as the backend said (undefined: to all
   * its nodes, e.g. by the configured filters); fewer when a send failed midway
   */
  sentTo?: string[]
  /** when its verdict (and gate) was known */
  endedAt?: number
  /** the checks that failed its gate, each node by its label (FleetState.labelOf) */
  gateFailures?: GateFailure[]
  outcome: WaveOutcome
}

export interface RollbackRun {
  /** the release put back */
  deployId?: string
  outcome: 'rolled_back' | 'failed' | 'nothing_to_roll_back_to'
  /** a rollback event went out (whether or not every node answered it) */
  sent: boolean
  fleet?: FleetState
  /** every datacenter's rollback fleet (one per datacenter sent back) */
  fleets?: FleetState[]
  message: string
}

export interface PhaseFigures {
  /** nodes sent the prepare manifest (0: every target kept the release: a switch only) */
  prepared: number
  /** from the prepare event to the last node's prepare report (ms) */
  prepareMs?: number
  /** nodes that switched */
  switched: number
  /** first to last node's switch report, as the action noticed them (ms) */
  switchSpreadMs?: number
}

export interface RolloutResult {
  waves: WaveRun[]
  /** every wave passed (gate included) */
  ok: boolean
  /** `waves` was given (or the plan has several steps): the run is reported wave by wave */
  staged: boolean
  cancelled: boolean
  /** every target of the plan, as the waves left them (nodes no wave reached: pending) */
  fleet: FleetState
  verdict: Verdict
  /** waves that passed, gate included */
  wavesCompleted: number
  /**
   * the `waves-completed` output (contract 8a): without `waves`, 1 when the run
   * succeeded in every datacenter and 0 otherwise; with `waves`, wavesCompleted
   */
  wavesCompletedOutput: number
  /** the waves the `waves` input planned, over every datacenter (undefined: no `waves`) */
  wavesPlanned?: number
  /** one line: why the rollout stopped, or that it converged */
  message: string
  rollback?: RollbackRun
  /** the first event's announcement (for the timeline) */
  firstFiredAt?: number
  /** layout: releases (contract 9): how the two phases went */
  phases?: PhaseFigures
}

/**
 * Where auto-rollback goes back to in one datacenter: what latest named when the
 * run started, its manifests in the run's layout (rendered again when it was
 * published in the other one).
 */
export interface PreviousRelease {
  deployId: string
  manifestUrl: string
  /** layout: releases: its switch manifest, when it has one */
  switchUrl?: string
  /** it cannot be sent in the run's layout (contract 8a): why; nothing is sent */
  refused?: string
}

export interface RolloutDeps {
  backend: FleetBackend
  config: Config
  log: Log
  signal?: AbortSignal
  /** nodes in the catalog the filters leave out (a bare name: of each step's datacenter) */
  filteredOut: readonly NodeRef[]
  /** per datacenter (undefined: the agent's own): auto-rollback's target */
  previous?: ReadonlyMap<string | undefined, PreviousRelease>
  /** each step of this run's own announcement (`rollback`: of its auto-rollback) */
  onJournal?: (progress: AnnouncementProgress, source: 'rollout' | 'rollback') => void
  /** after the first event (the PR check starts then) */
  onAnnounced?: (fleet: FleetState) => Promise<void>
  onProgress?: (fleet: FleetState) => void
}

export interface RolloutRelease {
  deployId: string
  /** the whole manifest: what `latest` names (with layout: releases the combined one) */
  manifestUrl: string
  /** layout: releases: the manifests a `prepare` and a `switch` step send */
  prepareUrl?: string
  switchUrl?: string
  /** written once, before the first event, when this run published the release */
  history?: HistoryRecord
}
