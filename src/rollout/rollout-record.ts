// `<kv-prefix>/rollout` (contract 5): while a staged rollout runs, and after a
// partial one, it names the release, so a node's start-up check accepts it
// beside deploy-id.
import type { RolloutRecord } from '../backend/fleet-backend.ts'
import type { RolloutContext } from './context.ts'
import { KINDS } from './kinds.ts'

export function rolloutRecord(
  ctx: RolloutContext,
  dc: string | undefined,
  completed: number
): RolloutRecord {
  const own = ctx.steps.filter((s) => s.datacenter === dc && KINDS[s.kind].isWave)
  return {
    deploy_id: ctx.release.deployId,
    waves: own.map((s) => s.nodes.length),
    completed,
    nodes: own.flatMap((s) => s.nodes)
  }
}

/** After a wave passed: the record counts it, or goes once the last wave moved latest. */
export async function recordWavePassed(ctx: RolloutContext, index: number): Promise<void> {
  const { step } = ctx.runs[index]!
  if (ctx.deps.config.waves === undefined || !KINDS[step.kind].isWave) return
  const own = ctx.runs.filter(
    (r) => r.step.datacenter === step.datacenter && KINDS[r.step.kind].isWave
  )
  const completed = own.filter((r) => r.outcome === 'passed').length
  const dc = ctx.deps.backend.at(step.datacenter)
  await dc.recordRollout(
    completed === own.length && step.movesLatest
      ? undefined
      : rolloutRecord(ctx, step.datacenter, completed),
    ctx.deps.signal
  )
}
