// Opening a step: say which nodes it takes, and before a datacenter's first
// event write what nodes and later runs need there (history, the rollout record).
import type { RolloutContext } from './context.ts'
import { datacenterRecord, stepLabel } from './context.ts'
import { rolloutRecord } from './rollout-record.ts'
import type { Step } from './plan/plan.ts'

export async function openStep(
  ctx: RolloutContext,
  index: number,
  nodes: readonly string[]
): Promise<void> {
  const { step } = ctx.runs[index]!
  const { config, log, backend, signal } = ctx.deps
  if (ctx.staged)
    log.info(
      `${stepLabel(ctx, step)}: ${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${nodes.slice(0, 20).join(', ')}${nodes.length > 20 ? ', …' : ''}`
    )
  if (!ctx.staged || !firstOfDatacenter(ctx.steps, index)) return
  const record = datacenterRecord(ctx, step.datacenter)
  const dc = backend.at(step.datacenter)
  // history/<id> before any event: a partial rollout never moves latest, and
  // promote finds the release by it.
  if (!record.historyWritten && !step.movesLatest && ctx.release.history) {
    await dc.writeHistory(ctx.release.history, signal)
    record.historyWritten = true
  }
  if (config.waves !== undefined)
    await dc.recordRollout(rolloutRecord(ctx, step.datacenter, 0), signal)
}

function firstOfDatacenter(steps: readonly Step[], index: number): boolean {
  return steps.findIndex((s) => s.datacenter === steps[index]!.datacenter) === index
}
