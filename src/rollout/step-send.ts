// Sending a step: its event(s) through the backend, latest moved with the
// first when the step moves it; nodes that joined meanwhile get theirs (a
// switch's joiners the combined manifest). A send that fails before anything
// of the run went out is the run's error; after that it stops the rollout (and
// auto-rollback runs), even when only some of this step's events went out.
import type { Sent } from '../backend/fleet-backend.ts'
import { FleetState } from '../fleet-state/fleet-state.ts'
import type { RolloutContext } from './context.ts'
import { datacenterRecord, stepLabel } from './context.ts'
import { KINDS, stepUrl } from './kinds.ts'
import { sendsByFilters } from '../config/rollout-inputs.ts'
import type { Step } from './plan/plan.ts'

export async function sendStep(
  ctx: RolloutContext,
  index: number,
  nodes: readonly string[],
  joined: readonly string[] = []
): Promise<Sent | undefined> {
  const run = ctx.runs[index]!
  const { step } = run
  const { config, backend, signal } = ctx.deps
  const record = datacenterRecord(ctx, step.datacenter)
  let first: Sent | undefined
  try {
    for (const [n, send] of eventsOf(ctx, step, nodes, joined).entries()) {
      const movesLatest = step.movesLatest && n === 0
      const got = await backend.at(step.datacenter).send({
        deployId: ctx.release.deployId,
        eventUrl: send.eventUrl,
        pointer: movesLatest
          ? {
              manifestUrl: ctx.release.manifestUrl,
              history: record.historyWritten ? undefined : ctx.release.history
            }
          : undefined,
        nodes: send.nodes,
        // The one-wave default keeps today's event: the configured filters. A promote
        // goes only to the nodes not on the release yet (contract 8).
        byFilters: !ctx.rollback && KINDS[step.kind].byFiltersAsOneWave && sendsByFilters(config),
        signal,
        onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollout'),
        onFired: (sent) => {
          first ??= sent
          if (sent.nodes) (run.sentTo ??= []).push(...sent.nodes)
          if (movesLatest) record.latestMoved = record.historyWritten = true
        }
      })
      first ??= got
    }
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
        targets: [...nodes, ...joined],
        datacenter: step.datacenter
      })
    return undefined
  }
  if (first) {
    run.firedAt = first.firedAt
    ctx.firstFiredAt ??= first.firedAt
  }
  return first
}

/**
 * A step's sends: its nodes get the step's manifest; `joined` (nodes that joined,
 * and a rollback's nodes that no longer keep the release) get the kind's whole
 * manifest (contract 8a: a switch cannot take a node that never prepared), in
 * the same send when it is the same manifest.
 */
function eventsOf(
  ctx: RolloutContext,
  step: Step,
  nodes: readonly string[],
  joined: readonly string[]
): Array<{ eventUrl: string; nodes: readonly string[] }> {
  const eventUrl = stepUrl(step, ctx.release)
  const joinerUrl = joined.length > 0 ? KINDS[step.kind].joinerUrl(ctx.release) : undefined
  if (joinerUrl === undefined || joinerUrl === eventUrl)
    return [{ eventUrl, nodes: [...nodes, ...joined] }]
  return [
    { eventUrl, nodes },
    { eventUrl: joinerUrl, nodes: joined }
  ].filter((send) => send.nodes.length > 0)
}
