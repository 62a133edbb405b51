// Sending a step: its event(s) through the backend, latest moved with the
// first when the step moves it. A send that fails before anything of the run
// went out is the run's error; after that it stops the rollout (and
// auto-rollback runs), even when only some of this step's events went out.
import type { Sent } from '../backend/fleet-backend.ts'
import { FleetState } from '../fleet-state/fleet-state.ts'
import type { RolloutContext } from './context.ts'
import { datacenterRecord, stepLabel } from './context.ts'
import { stepUrl } from './kinds.ts'

export async function sendStep(
  ctx: RolloutContext,
  index: number,
  nodes: readonly string[]
): Promise<Sent | undefined> {
  const run = ctx.runs[index]!
  const { step } = run
  const { config, backend, signal } = ctx.deps
  const record = datacenterRecord(ctx, step.datacenter)
  let first: Sent | undefined
  try {
    first = await backend.at(step.datacenter).send({
      deployId: ctx.release.deployId,
      eventUrl: stepUrl(step, ctx.release),
      pointer: step.movesLatest
        ? {
            manifestUrl: ctx.release.manifestUrl,
            history: record.historyWritten ? undefined : ctx.release.history
          }
        : undefined,
      nodes,
      // The one-wave default keeps today's event: the configured filters. A promote
      // goes only to the nodes not on the release yet (contract 8).
      byFilters:
        !ctx.rollback && config.waves === undefined && step.kind === 'deploy' && !config.promote,
      signal,
      onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollout'),
      onFired: (sent) => {
        first ??= sent
        if (sent.nodes) (run.sentTo ??= []).push(...sent.nodes)
        if (step.movesLatest) record.latestMoved = record.historyWritten = true
      }
    })
  } catch (error) {
    if (signal?.aborted || (ctx.firstFiredAt === undefined && first === undefined)) throw error
    run.firedAt = first?.firedAt
    run.outcome = 'failed'
    run.endedAt = Date.now()
    ctx.stopReason = `${stepLabel(ctx, step)} could not be sent: ${(error as Error).message}`
    ctx.deps.log.warning(ctx.stopReason)
    if (first)
      run.fleet = new FleetState({
        deployId: ctx.release.deployId,
        baselineIndex: first.baseline,
        maxFailures: 0,
        targets: nodes
      })
    return undefined
  }
  if (first) {
    run.firedAt = first.firedAt
    ctx.firstFiredAt ??= first.firedAt
  }
  return first
}
