// The fleet as the action sees it while it waits: which nodes it waits for, what
// each has reported for this deploy, and the verdict. Pure: the await loop feeds
// it KV results and health changes; nothing here talks to the network.

/**
 * One state per node (contract 8a). Beside what the node reported: `not_sent` (its
 * wave, phase or datacenter never started), `prepared` (layout: releases, prepared
 * but not switched) and `rolled_back` (sent this release, then back on the previous).
 */
export type NodeStatus =
  'pending' | 'success' | 'failure' | 'lost' | 'silent' | 'not_sent' | 'prepared' | 'rolled_back'

export interface NodeState {
  node: string
  status: NodeStatus
  /** deploy ID of the counted result (this deploy's) */
  deployId?: string
  /** unix seconds the node wrote in its result */
  at?: number
  /** ms since the event when the action noticed the result */
  noticedMs?: number
  /** a result the action saw but did not count, and why */
  note?: string
  /** the node was not targeted at the start: it joined and reported this deploy */
  joined?: boolean
  /** the wave (1-based) of a staged rollout the node was in */
  wave?: number
  /** the Consul datacenter of the node, when the run names datacenters */
  datacenter?: string
  /** layout: releases (contract 9): the phase of the counted result */
  phase?: ResultPhase
  /** layout: releases: the releases the node said it keeps under <dest>/releases */
  releases?: string[]
  /** a rolled-back node: its state on this release before (a failure stays its cause) */
  was?: NodeStatus
}

export type ResultPhase = 'prepare' | 'switch'

export interface ResultEntry {
  /** node name, from the KV key `<prefix>/results/<node>` */
  node: string
  value: string | null
  modifyIndex: number
}

export type Verdict =
  | { done: false }
  | { done: true; ok: true; reason: 'converged' | 'tolerated' }
  | { done: true; ok: false; reason: 'failures' | 'timed_out' | 'no_targets' }

export interface FleetCounts {
  total: number
  succeeded: number
  /** failed or lost */
  failed: number
  /** sent, not reported (yet, or by the deadline) */
  pending: number
  /** never sent anything (their step did not start) */
  notSent: number
  /** layout: releases: prepared, not switched */
  prepared: number
  /** sent this release, then back on the previous one */
  rolledBack: number
}

const COUNTED_AS: Record<NodeStatus, Exclude<keyof FleetCounts, 'total'>> = {
  success: 'succeeded',
  failure: 'failed',
  lost: 'failed',
  pending: 'pending',
  silent: 'pending',
  not_sent: 'notSent',
  prepared: 'prepared',
  rolled_back: 'rolledBack'
}

/** A result as a node wrote it, once parsed. */
export type ParsedResult = Exclude<ReturnType<typeof parseResult>, string>

/** What a node writes (contract 5); anything else is not a result (its reason, as a string). */
export function parseResult(value: string | null):
  | {
      deployId: string
      status: 'success' | 'failure'
      at?: number
      phase?: ResultPhase
      releases?: string[]
    }
  | string {
  if (value === null || value === '') return 'empty result'
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return 'result is not JSON'
  }
  if (typeof parsed !== 'object' || parsed === null) return 'result is not a JSON object'
  const r = parsed as Record<string, unknown>
  if (typeof r.deploy_id !== 'string') return 'result has no deploy_id'
  if (r.status !== 'success' && r.status !== 'failure')
    return 'result status is neither success nor failure'
  const at = typeof r.at === 'number' && Number.isFinite(r.at) ? r.at : undefined
  const phase = r.phase === 'prepare' || r.phase === 'switch' ? r.phase : undefined
  const releases = Array.isArray(r.releases)
    ? r.releases.filter((x): x is string => typeof x === 'string')
    : undefined
  return {
    deployId: r.deploy_id,
    status: r.status,
    at,
    ...(phase ? { phase } : {}),
    ...(releases ? { releases } : {})
  }
}

export class FleetState {
  readonly deployId: string
  /** KV index read before the event was fired: results at or below it are old */
  readonly baselineIndex: number
  readonly maxFailures: number
  /** layout: releases: only results of this phase count (a prepare result does not finish a switch) */
  readonly phase?: ResultPhase
  private readonly nodes = new Map<string, NodeState>()
  /** nodes the catalog listed at the start but the filters left out */
  private readonly untargeted: Set<string>
  private timedOut = false

  constructor(opts: {
    deployId: string
    baselineIndex: number
    maxFailures: number
    targets: Iterable<string>
    untargeted?: Iterable<string>
    phase?: ResultPhase
  }) {
    this.deployId = opts.deployId
    if (opts.phase) this.phase = opts.phase
    this.baselineIndex = opts.baselineIndex
    this.maxFailures = opts.maxFailures
    for (const node of opts.targets) this.nodes.set(node, { node, status: 'pending' })
    this.untargeted = new Set(opts.untargeted ?? [])
  }

  /** Feed the current results/ entries (all, or only changed ones). Returns the nodes whose state changed. */
  applyResults(entries: Iterable<ResultEntry>, elapsedMs = 0): NodeState[] {
    const changed: NodeState[] = []
    for (const entry of entries) {
      let state = this.nodes.get(entry.node)
      if (!state && this.untargeted.has(entry.node)) continue // filtered out: not this run's business
      if (state && state.status !== 'pending' && state.status !== 'lost') continue // first counted answer stands
      // A result written before the event belongs to an earlier deploy or attempt.
      if (entry.modifyIndex <= this.baselineIndex) continue
      const result = parseResult(entry.value)
      const otherPhase =
        typeof result !== 'string' && this.phase !== undefined && result.phase !== this.phase
      if (typeof result === 'string' || result.deployId !== this.deployId || otherPhase) {
        if (state) {
          const note =
            typeof result === 'string'
              ? result
              : result.deployId !== this.deployId
                ? `reported deploy ${result.deployId}`
                : `reported the ${result.phase ?? 'whole'} phase of ${result.deployId}`
          if (state.note !== note) {
            state.note = note
            changed.push(state)
          }
        }
        continue
      }
      if (!state) {
        // Not in the catalog at the start: it joined and caught up to this deploy.
        state = { node: entry.node, status: 'pending', joined: true }
        this.nodes.set(entry.node, state)
      }
      state.status = result.status
      state.deployId = result.deployId
      state.at = result.at
      state.noticedMs = elapsedMs
      state.note = undefined
      if (result.phase) state.phase = result.phase
      if (result.releases) state.releases = result.releases
      changed.push(state)
    }
    return changed
  }

  /**
   * Take over another state's nodes (a wave's, in a staged rollout), as they are,
   * marked with their wave; a node of this fleet that no wave reached keeps its
   * state here (pending, with a note saying why).
   */
  absorb(part: FleetState, wave?: number, datacenter?: string): void {
    for (const state of part.nodes.values())
      this.nodes.set(state.node, { ...state, wave, ...(datacenter ? { datacenter } : {}) })
  }

  /** A node still pending here was never sent the release: say why. */
  noteNotSent(node: string, note: string, wave?: number, datacenter?: string): void {
    const state = this.nodes.get(node)
    if (state?.status === 'pending')
      Object.assign(state, {
        status: 'not_sent',
        note,
        wave,
        ...(datacenter ? { datacenter } : {})
      })
  }

  /** layout: releases: nodes whose last counted result is the prepare are prepared, not switched. */
  markPrepared(): void {
    for (const state of this.nodes.values())
      if (state.status === 'success' && state.phase === 'prepare') state.status = 'prepared'
  }

  /** The node reported the previous release after auto-rollback sent it back. */
  markRolledBack(node: string, previous: { deployId: string; at?: number }): void {
    const state = this.nodes.get(node)
    if (!state || state.status === 'not_sent') return
    Object.assign(state, {
      status: 'rolled_back',
      was: state.status,
      deployId: previous.deployId,
      at: previous.at
    })
  }

  /** A target whose serfHealth went critical before it reported is lost, not waited for. */
  markLost(node: string): NodeState | undefined {
    const state = this.nodes.get(node)
    if (!state || state.status !== 'pending') return undefined
    state.status = 'lost'
    return state
  }

  /** The deadline passed: whoever has not reported is silent. */
  expire(): void {
    this.timedOut = true
    for (const state of this.nodes.values()) if (state.status === 'pending') state.status = 'silent'
  }

  counts(): FleetCounts {
    const c = { succeeded: 0, failed: 0, pending: 0, notSent: 0, prepared: 0, rolledBack: 0 }
    for (const s of this.nodes.values()) c[COUNTED_AS[s.status]]++
    return { total: this.nodes.size, ...c }
  }

  verdict(): Verdict {
    if (this.nodes.size === 0) return { done: true, ok: false, reason: 'no_targets' }
    const { failed, pending } = this.counts()
    if (failed > this.maxFailures) return { done: true, ok: false, reason: 'failures' }
    const reason = failed + pending === 0 ? 'converged' : 'tolerated'
    if (this.timedOut) {
      return failed + pending > this.maxFailures
        ? { done: true, ok: false, reason: 'timed_out' }
        : { done: true, ok: true, reason }
    }
    if (pending === 0) return { done: true, ok: true, reason }
    return { done: false }
  }

  /** The datacenters nodes were recorded in, in the order of the targets (rollout order). */
  datacenters(): string[] {
    const seen = new Set<string>()
    for (const s of this.nodes.values()) if (s.datacenter !== undefined) seen.add(s.datacenter)
    return [...seen]
  }

  /** The datacenter a node was recorded in (undefined: the agent's own, or not named). */
  datacenterOf(node: string): string | undefined {
    return this.nodes.get(node)?.datacenter
  }

  isTarget(node: string): boolean {
    return this.nodes.has(node)
  }

  /** A target, or a node known to be left out: either way no catalog look-up is needed. */
  isKnown(node: string): boolean {
    return this.nodes.has(node) || this.untargeted.has(node)
  }

  /** A reporter that is not a node the filters pick (not in the catalog, or not matching): ignore it. */
  markUntargeted(node: string): void {
    if (!this.nodes.has(node)) this.untargeted.add(node)
  }

  /** Would this entry be counted (or noted) if its node were a target? Cheap pre-check for look-ups. */
  isFresh(entry: ResultEntry): boolean {
    return entry.modifyIndex > this.baselineIndex
  }

  nodesByStatus(status: NodeStatus): string[] {
    return [...this.nodes.values()]
      .filter((s) => s.status === status)
      .map((s) => s.node)
      .sort()
  }

  /** Every node, sorted by name. */
  list(): NodeState[] {
    return [...this.nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
  }
}
