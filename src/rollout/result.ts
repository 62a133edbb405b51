// The rollout's result from its context (pure): outcomes, nodes no step
// reached, waves completed, the verdict, and the two phases' figures.
import type { FleetState, Verdict } from '../fleet-state/fleet-state.ts'
import { nodeKey } from '../fleet-state/fleet-state.ts'
import type { RolloutContext } from './context.ts'
import { stepLabel } from './context.ts'
import { KINDS } from './kinds.ts'
import type { PhaseFigures, RolloutResult, WaveRun } from './types.ts'

export function rolloutResult(ctx: RolloutContext): RolloutResult {
  const { runs, fleet } = ctx
  const cancelled = ctx.deps.signal?.aborted === true
  const passed = runs.filter((r) => r.outcome === 'passed' && KINDS[r.step.kind].isWave).length
  const ok = !cancelled && (ctx.notWaiting || runs.every((r) => r.outcome === 'passed'))
  // A node a fired step reached (a prepare whose switch never came) was sent
  // something: it is never `not sent` (contract 8a), whatever it reported. A
  // node is a (datacenter, name) pair: dc1's node-2 prepared is not dc2's.
  const sent = new Set(
    runs
      .filter((r) => r.firedAt !== undefined)
      .flatMap((r) => r.step.nodes.map((n) => nodeKey(r.step.datacenter, n)))
  )
  for (const run of runs)
    if (run.outcome === 'not_started' && run.firedAt === undefined)
      for (const node of run.step.nodes.filter((n) => !sent.has(nodeKey(run.step.datacenter, n))))
        fleet.noteNotSent(
          node,
          KINDS[run.step.kind].notStarted(run.step),
          run.step.wave,
          run.step.datacenter
        )
    else noteUnreached(ctx, run)
  // layout: releases: a node whose last counted result is its prepare was not switched.
  fleet.markPrepared()
  // One wave in the agent's datacenter is the plain run: its fleet is the run's;
  // its verdict too, unless its health gate failed after every node reported.
  const first = runs[0]
  const only = !ctx.staged && first?.step.datacenter === undefined ? first?.fleet : undefined
  const onlyVerdict = only?.verdict()
  const phases = phaseFigures(runs)
  return {
    waves: runs,
    ok,
    cancelled,
    staged: ctx.staged,
    fleet: only ?? fleet,
    verdict: ctx.notWaiting
      ? { done: false }
      : onlyVerdict?.done && first?.outcome !== 'gate'
        ? onlyVerdict
        : overallVerdict(runs, fleet, ok),
    wavesCompleted: passed,
    // Without `waves` the run is one wave, however many datacenters it spans.
    wavesCompletedOutput: ctx.deps.config.waves !== undefined ? passed : ok && passed > 0 ? 1 : 0,
    ...(ctx.deps.config.waves !== undefined
      ? { wavesPlanned: runs.filter((r) => KINDS[r.step.kind].isWave).length }
      : {}),
    message: ctx.stopReason,
    firstFiredAt: ctx.firstFiredAt,
    ...(phases ? { phases } : {})
  }
}

/**
 * A step whose send stopped midway (a wave sent as several events): its nodes
 * no event went out to were not sent the release (contract 8a), not pending.
 */
function noteUnreached(ctx: RolloutContext, run: WaveRun): void {
  if (!run.sentTo) return
  const sentTo = new Set(run.sentTo)
  for (const node of run.step.nodes)
    if (!sentTo.has(node))
      ctx.fleet.noteNotSent(
        node,
        `not sent: ${stepLabel(ctx, run.step) || 'the send'} stopped before its event for this node went out`,
        run.step.wave,
        run.step.datacenter
      )
}

/** The run's verdict over all steps: converged only when every step passed. */
function overallVerdict(runs: readonly WaveRun[], fleet: FleetState, ok: boolean): Verdict {
  if (ok) {
    const c = fleet.counts()
    return { done: true, ok: true, reason: c.failed + c.pending === 0 ? 'converged' : 'tolerated' }
  }
  if (runs.some((r) => r.outcome === 'timed_out'))
    return { done: true, ok: false, reason: 'timed_out' }
  return { done: true, ok: false, reason: 'failures' }
}

/** Prepare time and switch spread (contract 9: the summary reports both). */
export function phaseFigures(runs: readonly WaveRun[]): PhaseFigures | undefined {
  if (!runs.some((r) => KINDS[r.step.kind].phase !== undefined)) return undefined
  const prepare = runs.filter((r) => KINDS[r.step.kind].phase === 'prepare')
  const switches = runs.filter(
    (r) => KINDS[r.step.kind].phase === 'switch' && r.firedAt !== undefined
  )
  const reportedAt = (list: readonly WaveRun[]) =>
    list.flatMap((r) =>
      (r.fleet?.list() ?? [])
        .filter((s) => s.status === 'success' && s.noticedMs !== undefined)
        .map((s) => (r.firedAt ?? 0) + (s.noticedMs ?? 0))
    )
  const prepareStart = prepare[0]?.firedAt
  const preparedAt = reportedAt(prepare)
  const switchedAt = reportedAt(switches)
  return {
    prepared: prepare.reduce((n, r) => n + r.step.nodes.length, 0),
    prepareMs:
      prepareStart !== undefined && preparedAt.length > 0
        ? Math.max(...preparedAt) - prepareStart
        : undefined,
    switched: switchedAt.length,
    switchSpreadMs:
      switchedAt.length > 0 ? Math.max(...switchedAt) - Math.min(...switchedAt) : undefined
  }
}
