// The rollout executor (DESIGN "The executor: one context, small steps"): one
// context, the flat driver over the plan's steps, the result read from the
// context, and with `auto-rollback` a second plan run by the same driver. It
// talks to the fleet only through the backend seam.
import { newRolloutContext } from './context.ts'
import type { RolloutContext } from './context.ts'
import { rollBack } from './rollback.ts'
import { rolloutResult } from './result.ts'
import { runSteps } from './run-steps.ts'
import type { Step } from './plan/plan.ts'
import type { RolloutDeps, RolloutRelease, RolloutResult } from './types.ts'

export type {
  PhaseFigures,
  PreviousRelease,
  RollbackRun,
  RolloutDeps,
  RolloutRelease,
  RolloutResult,
  WaveOutcome,
  WaveRun
} from './types.ts'

export async function runRollout(
  steps: readonly Step[],
  release: RolloutRelease,
  deps: RolloutDeps
): Promise<RolloutResult> {
  const ctx = newRolloutContext(steps, release, deps)
  await runSteps(ctx)
  // Without auto-rollback an error stays the run's error, as before the waves;
  // with it, the nodes sent the release go back first (contract 8a).
  if (ctx.error && !deps.config.autoRollback) throw ctx.error
  const result = rolloutResult(ctx)
  if (ctx.notWaiting) result.message = notWaitingMessage(ctx)
  logPhases(ctx, result)
  if (!result.ok && !result.cancelled && !ctx.notWaiting) {
    if (deps.config.autoRollback) {
      result.rollback = await rollBack(ctx)
      markRolledBack(result)
    } else if (ctx.staged)
      deps.log.info(
        `the rollout record keeps naming ${release.deployId}: the nodes sent it run it until a rollback or a new release`
      )
  }
  return result
}

/** Nodes that reported the previous release to auto-rollback are rolled back (contract 8a). */
function markRolledBack(result: RolloutResult): void {
  for (const back of result.rollback?.fleets ?? [])
    for (const s of back.list())
      if (s.status === 'success')
        result.fleet.markRolledBack(s, { deployId: back.deployId, at: s.at })
}

function notWaitingMessage(ctx: RolloutContext): string {
  const sent = ctx.runs.filter((r) => r.firedAt !== undefined)
  const nodes = sent.reduce((n, r) => n + r.step.nodes.length, 0)
  const dcs = sent.map((r) => r.step.datacenter).filter((dc) => dc !== undefined)
  return `announced ${ctx.release.deployId} to ${nodes} nodes${dcs.length > 1 ? ` in ${dcs.join(', ')}` : ''}; not waiting (wait: false)`
}

function logPhases(ctx: RolloutContext, result: RolloutResult): void {
  const figures = result.phases
  if (!figures || figures.switched === 0) return
  ctx.deps.log.info(
    `switch: ${figures.switched} node${figures.switched === 1 ? '' : 's'} switched to ${ctx.release.deployId}; spread ${figures.switchSpreadMs ?? 0} ms (first to last node switched)${figures.prepared === 0 ? '; a switch only: every node still kept the release, nothing was downloaded' : ''}`
  )
}
