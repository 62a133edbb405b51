// One record of a rollout's state (DESIGN "The executor: one context, small
// steps"): the plan, each step's run, the fleet as the steps leave it, the
// failures counted over the whole run, and what this run wrote per datacenter.
// The phases read and write it; nothing else holds rollout state.
import type { Sent } from '../backend/fleet-backend.ts'
import type { NodeId } from '../fleet-state/fleet-state.ts'
import { FleetState, nodeKey, nodesOfSteps } from '../fleet-state/fleet-state.ts'
import { KINDS } from './kinds.ts'
import type { Step } from './plan/plan.ts'
import type { RolloutDeps, RolloutRelease, WaveRun } from './types.ts'

export interface DatacenterRecord {
  /** history/<id> is there (written by this run, or before it) */
  historyWritten: boolean
  /** this run moved latest and deploy-id */
  latestMoved: boolean
}

export interface RolloutContext {
  readonly steps: readonly Step[]
  readonly release: RolloutRelease
  readonly deps: RolloutDeps
  readonly runs: WaveRun[]
  /** every node of the plan, as the steps leave them */
  readonly fleet: FleetState
  /** every node of the plan, once: (datacenter, name) pairs, as names repeat across datacenters */
  readonly allNodes: readonly NodeId[]
  /** reported wave by wave (`waves` given, or several steps) */
  readonly staged: boolean
  /** failed, lost and silent nodes over the whole run (contract 8a: max-failures) */
  failures: number
  /** nodes that failed to prepare: not switched (datacenter + name) */
  readonly unprepared: Set<string>
  readonly perDatacenter: Map<string | undefined, DatacenterRecord>
  firstFiredAt?: number
  /** why the rollout stopped; '' while it goes on */
  stopReason: string
  /** the error that stopped a step once something was sent (the run's own when nothing was) */
  error?: Error
  /** wait: false: the steps were sent and not waited for */
  notWaiting: boolean
  /** an auto-rollback's plan: its steps name their nodes, never the configured filters */
  readonly rollback: boolean
}

export function newRolloutContext(
  steps: readonly Step[],
  release: RolloutRelease,
  deps: RolloutDeps,
  opts: { rollback?: boolean } = {}
): RolloutContext {
  // Every node once (a prepare step names the nodes its switch steps name again).
  const allNodes = nodesOfSteps(steps)
  return {
    steps,
    release,
    deps,
    runs: steps.map((step) => ({ step, outcome: 'not_started' })),
    fleet: new FleetState({
      deployId: release.deployId,
      baselineIndex: 0,
      maxFailures: deps.config.maxFailures,
      targets: allNodes,
      untargeted: deps.filteredOut
    }),
    allNodes,
    staged: deps.config.waves !== undefined || steps.length > 1,
    failures: 0,
    unprepared: new Set(),
    perDatacenter: new Map(),
    stopReason: '',
    notWaiting: false,
    rollback: opts.rollback === true
  }
}

/** What this run wrote in a datacenter (Consul KV is per datacenter, contract 10). */
export function datacenterRecord(ctx: RolloutContext, dc: string | undefined): DatacenterRecord {
  let record = ctx.perDatacenter.get(dc)
  if (!record) {
    record = { historyWritten: ctx.release.history === undefined, latestMoved: false }
    ctx.perDatacenter.set(dc, record)
  }
  return record
}

/** The nodes a step is sent to: its plan's, less those that failed to prepare in its datacenter. */
export function stepNodes(ctx: RolloutContext, step: Step): string[] {
  if (ctx.unprepared.size === 0 || KINDS[step.kind].gatesLaterSteps) return [...step.nodes]
  return step.nodes.filter((n) => !ctx.unprepared.has(nodeKey(step.datacenter, n)))
}

export function markUnprepared(ctx: RolloutContext, dc: string | undefined, node: string): void {
  ctx.unprepared.add(nodeKey(dc, node))
}

/** The step's own fleet, counted from its first event on. */
export function stepFleet(
  ctx: RolloutContext,
  step: Step,
  nodes: readonly string[],
  sent: Sent
): FleetState {
  const inStep = new Set(nodes)
  const phase = KINDS[step.kind].phase
  return new FleetState({
    deployId: ctx.release.deployId,
    baselineIndex: sent.baseline,
    maxFailures: ctx.deps.config.maxFailures - ctx.failures,
    targets: nodes,
    // The backend reads the step's datacenter: the names it reports are of it.
    datacenter: step.datacenter,
    ...(phase ? { phase } : {}),
    // Nodes of the step's datacenter in other steps are not this step's business (a
    // replayed event must not make one a "joiner" here).
    untargeted: [
      ...ctx.deps.filteredOut,
      ...ctx.allNodes.filter((n) => n.datacenter === step.datacenter && !inStep.has(n.node))
    ]
  })
}

/** The step's nodes, marked with their wave and datacenter, into the run's fleet. */
export function absorbStep(ctx: RolloutContext, run: WaveRun): void {
  if (!run.fleet) return
  const { step } = run
  ctx.fleet.absorb(
    run.fleet,
    ctx.staged && KINDS[step.kind].isWave ? step.wave : undefined,
    step.datacenter
  )
}

export function stepLabel(ctx: RolloutContext, step: Step): string {
  return ctx.staged ? KINDS[step.kind].label(step) : (step.datacenter ?? '')
}
