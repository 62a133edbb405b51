// The fleet as the action sees it while it waits: which nodes it waits for, what
// each has reported for this deploy, and the verdict. Pure: the await loop feeds
// it KV results and health changes; nothing here talks to the network. A node is
// a (datacenter, name) pair (contract 8a): a bare name means one of the fleet's
// own datacenter (a step's, whose backend reads results by name).
import type { NodeId, NodeRef } from './node-id.ts'
import { idKey, nodeId, nodeKey, nodeLabel } from './node-id.ts'

export type { NodeId, NodeRef } from './node-id.ts'
export { idKey, labelsOfSteps, nodeId, nodeKey, nodesOfSteps } from './node-id.ts'

/**
 * One state per node (contract 8a). Beside what the node reported: `not_sent` (its
 * wave, phase or datacenter never started), `prepared` (layout: releases, prepared
 * but not switched) and `rolled_back` (sent this release, then back on the previous).
 */
export type NodeStatus =
  'pending' | 'success' | 'failure' | 'lost' | 'silent' | 'not_sent' | 'prepared' | 'rolled_back'

export interface NodeState {
  /** the node's name, unique only within its datacenter */
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
  /** the Consul datacenter of the node, when the run names datacenters (with `node`: its identity) */
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
  /** node name, from the KV key `<prefix>/results/<node>` of the fleet's datacenter (KV is per datacenter) */
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
  /** the datacenter of nodes named by name alone (a step's; undefined: the agent's own, or Serf) */
  readonly datacenter?: string
  /** by nodeKey(datacenter, name) */
  private readonly nodes = new Map<string, NodeState>()
  /** nodes the catalog listed at the start but the filters left out (by nodeKey) */
  private readonly untargeted = new Set<string>()
  /** how many nodes carry each name: a repeated name is labelled with its datacenter */
  private readonly named = new Map<string, number>()
  private timedOut = false

  constructor(opts: {
    deployId: string
    baselineIndex: number
    maxFailures: number
    targets: Iterable<NodeRef>
    untargeted?: Iterable<NodeRef>
    phase?: ResultPhase
    datacenter?: string
  }) {
    this.deployId = opts.deployId
    if (opts.phase) this.phase = opts.phase
    if (opts.datacenter !== undefined) this.datacenter = opts.datacenter
    this.baselineIndex = opts.baselineIndex
    this.maxFailures = opts.maxFailures
    for (const ref of opts.targets) {
      const id = this.idOf(ref)
      if (!this.nodes.has(idKey(id))) this.put({ ...id, status: 'pending' })
    }
    for (const ref of opts.untargeted ?? []) this.untargeted.add(idKey(this.idOf(ref)))
  }

  /** A bare name is a node of this fleet's datacenter. */
  private idOf(ref: NodeRef): NodeId {
    return typeof ref === 'string' ? nodeId(this.datacenter, ref) : nodeId(ref.datacenter, ref.node)
  }

  private get(ref: NodeRef): NodeState | undefined {
    return this.nodes.get(idKey(this.idOf(ref)))
  }

  /** Record a node's state under its identity (a new node counts towards its name). */
  private put(state: NodeState): void {
    const key = idKey(state)
    if (!this.nodes.has(key)) this.named.set(state.node, (this.named.get(state.node) ?? 0) + 1)
    this.nodes.set(key, state)
  }

  /** Feed the current results/ entries (all, or only changed ones). Returns the nodes whose state changed. */
  applyResults(entries: Iterable<ResultEntry>, elapsedMs = 0): NodeState[] {
    const changed: NodeState[] = []
    for (const entry of entries) {
      let state = this.get(entry.node)
      if (!state && this.untargeted.has(nodeKey(this.datacenter, entry.node))) continue // filtered out: not this run's business
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
        state = { ...nodeId(this.datacenter, entry.node), status: 'pending', joined: true }
        this.put(state)
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
    for (const state of part.nodes.values()) {
      const dc = datacenter ?? state.datacenter
      this.put({ ...state, wave, ...(dc !== undefined ? { datacenter: dc } : {}) })
    }
  }

  /** A node still pending here was never sent the release: say why. A bare name is of `datacenter`. */
  noteNotSent(node: NodeRef, note: string, wave?: number, datacenter?: string): void {
    const state = this.get(
      typeof node === 'string' ? nodeId(datacenter ?? this.datacenter, node) : node
    )
    if (state?.status === 'pending')
      Object.assign(state, {
        status: 'not_sent',
        note,
        wave,
        ...(datacenter !== undefined ? { datacenter } : {})
      })
  }

  /** layout: releases: nodes whose last counted result is the prepare are prepared, not switched. */
  markPrepared(): void {
    for (const state of this.nodes.values())
      if (state.status === 'success' && state.phase === 'prepare') state.status = 'prepared'
  }

  /** The node reported the previous release after auto-rollback sent it back. */
  markRolledBack(node: NodeRef, previous: { deployId: string; at?: number }): void {
    const state = this.get(node)
    if (!state || state.status === 'not_sent') return
    Object.assign(state, {
      status: 'rolled_back',
      was: state.status,
      deployId: previous.deployId,
      at: previous.at
    })
  }

  /** A target whose serfHealth went critical before it reported is lost, not waited for. */
  markLost(node: NodeRef): NodeState | undefined {
    const state = this.get(node)
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
  datacenterOf(node: NodeRef): string | undefined {
    return this.get(node)?.datacenter
  }

  isTarget(node: NodeRef): boolean {
    return this.get(node) !== undefined
  }

  /** A target, or a node known to be left out: either way no catalog look-up is needed. */
  isKnown(node: NodeRef): boolean {
    return this.isTarget(node) || this.untargeted.has(idKey(this.idOf(node)))
  }

  /** A reporter that is not a node the filters pick (not in the catalog, or not matching): ignore it. */
  markUntargeted(node: NodeRef): void {
    if (!this.isTarget(node)) this.untargeted.add(idKey(this.idOf(node)))
  }

  /** Would this entry be counted (or noted) if its node were a target? Cheap pre-check for look-ups. */
  isFresh(entry: ResultEntry): boolean {
    return entry.modifyIndex > this.baselineIndex
  }

  /** The nodes in this state by their labels (labelOf: a name, with its datacenter where it repeats). */
  nodesByStatus(status: NodeStatus): string[] {
    return [...this.nodes.values()]
      .filter((s) => s.status === status)
      .map((s) => this.labelOf(s))
      .sort()
  }

  /** A node's name as a person reads it: `web-1`, or `web-1 (dc2)` when another datacenter has a `web-1`. */
  labelOf(id: NodeId): string {
    return nodeLabel(id, (this.named.get(id.node) ?? 0) > 1)
  }

  /** Every node, sorted by name, then datacenter. */
  list(): NodeState[] {
    return [...this.nodes.values()].sort(
      (a, b) => byText(a.node, b.node) || byText(a.datacenter ?? '', b.datacenter ?? '')
    )
  }
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
