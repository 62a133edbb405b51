// Judging a step once its fleet has a verdict: failures counted over the run,
// unprepared nodes left out of the switch, then the health gate, then the
// step closed (the rollout record counts it).
import { gateFailureLine } from '../fleet-state/gate-failure.ts'
import { nodeId } from '../fleet-state/fleet-state.ts'
import { inert } from '../shared/log.ts'
import type { RolloutContext } from './context.ts'
import { markUnprepared, stepLabel } from './context.ts'
import { KINDS } from './kinds.ts'
import { recordWavePassed } from './rollout-record.ts'
import type { WaveRun } from './types.ts'

export type StepEnd = 'next' | 'stop'

export function judgeStep(ctx: RolloutContext, run: WaveRun): StepEnd {
  const fleet = run.fleet!
  const verdict = fleet.verdict()
  const counts = fleet.counts()
  // Failed, lost and silent count against max-failures over the whole run (contract 8a);
  // a node that failed to prepare is not switched, so its failure counts once.
  ctx.failures += counts.failed + fleet.nodesByStatus('silent').length
  if (KINDS[run.step.kind].gatesLaterSteps && verdict.done && verdict.ok)
    for (const s of fleet.list())
      if (s.status !== 'success') markUnprepared(ctx, run.step.datacenter, s.node)
  if (verdict.done && verdict.ok) return 'next'
  run.outcome = verdict.done && verdict.reason === 'timed_out' ? 'timed_out' : 'failed'
  run.endedAt = Date.now()
  const label = stepLabel(ctx, run.step)
  ctx.stopReason = `${label ? `${label} ` : ''}${run.outcome === 'timed_out' ? 'timed out' : 'failed'}`
  return 'stop'
}

/** The bake (contract 8): the step's nodes must stay healthy for bake-time. */
export async function gateStep(ctx: RolloutContext, run: WaveRun): Promise<StepEnd> {
  const { step } = run
  if (step.bakeMs <= 0) return 'next'
  const { log, backend, signal } = ctx.deps
  const label = stepLabel(ctx, step)
  log.info(
    `${label ? `${label}: ` : ''}baking ${Math.round(step.bakeMs / 1000)}s: health checks must stay passing`
  )
  const nodes = run.fleet!.list().map((s) => s.node)
  const found = await backend.at(step.datacenter).health(nodes, step.bakeMs, signal)
  if (signal?.aborted) {
    run.outcome = 'cancelled'
    return 'stop'
  }
  if (found.length === 0) return 'next'
  // Named by their labels, as the other verdicts name nodes: `web-1 (dc2)` where
  // another datacenter has a web-1 (contract 8a: a node is a (datacenter, name) pair).
  run.gateFailures = found.map((f) => ({
    ...f,
    node: ctx.fleet.labelOf(nodeId(step.datacenter, f.node))
  }))
  run.outcome = 'gate'
  run.endedAt = Date.now()
  ctx.stopReason = `${label ? `${label} ` : ''}failed its health gate: ${gateFailureLine(run.gateFailures)}`
  log.info(inert(ctx.stopReason))
  return 'stop'
}

export async function closeStep(ctx: RolloutContext, index: number): Promise<void> {
  const run = ctx.runs[index]!
  run.outcome = 'passed'
  run.endedAt = Date.now()
  if (!KINDS[run.step.kind].isWave) {
    const c = run.fleet!.counts()
    ctx.deps.log.info(
      `${stepLabel(ctx, run.step)}: ${c.succeeded}/${c.total} nodes prepared ${ctx.release.deployId} in ${((run.endedAt - (run.firedAt ?? run.endedAt)) / 1000).toFixed(1)}s; switching`
    )
  }
  await recordWavePassed(ctx, index)
}
