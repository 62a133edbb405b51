// The flat driver (DESIGN "The executor: one context, small steps"): each step
// of the plan runs open -> send -> watch -> judge -> gate -> close, and the
// first that does not pass stops the run. An error once something was sent
// stops it too (so auto-rollback still runs); before that it is the run's error.
import type { RolloutContext } from './context.ts'
import { absorbStep, datacenterRecord, stepFleet, stepLabel, stepNodes } from './context.ts'
import { openStep } from './step-open.ts'
import { sendStep } from './step-send.ts'
import { watchStep } from './step-watch.ts'
import type { StepEnd } from './step-judge.ts'
import { closeStep, gateStep, judgeStep } from './step-judge.ts'
import { KINDS } from './kinds.ts'
import { recordWavePassed } from './rollout-record.ts'

export async function runSteps(ctx: RolloutContext): Promise<void> {
  for (const index of ctx.runs.keys()) {
    if (ctx.deps.signal?.aborted) return
    if ((await runStep(ctx, index)) === 'stop') return
  }
}

async function runStep(ctx: RolloutContext, index: number): Promise<StepEnd> {
  const run = ctx.runs[index]!
  // Nodes that get the whole manifest rather than the step's: joiners, and those
  // known not to keep the release a switch points at.
  const whole = new Set(run.step.whole)
  const planned = stepNodes(ctx, run.step).filter((n) => !whole.has(n))
  const joined = [
    ...stepNodes(ctx, run.step).filter((n) => whole.has(n)),
    ...(await joiners(ctx, index))
  ]
  const nodes = [...planned, ...joined]
  if (nodes.length === 0) return emptyStep(ctx, index)
  if (ctx.notWaiting && !startsDatacenter(ctx, index)) return 'next'
  await openStep(ctx, index, nodes)
  const sent = await sendStep(ctx, index, planned, joined)
  if (run.outcome === 'failed') return 'stop'
  if (!sent) return 'next'
  run.fleet = stepFleet(ctx, run.step, nodes, sent)
  if (index === 0) await ctx.deps.onAnnounced?.(ctx.fleet)
  if (!ctx.deps.config.wait) {
    // wait: false fires in every datacenter listed, in order (contract 8a).
    absorbStep(ctx, run)
    ctx.notWaiting = true
    return 'next'
  }
  try {
    return await settleStep(ctx, index)
  } catch (error) {
    if (ctx.deps.signal?.aborted) {
      run.outcome = 'cancelled'
      return 'stop'
    }
    run.outcome = 'failed'
    run.endedAt = Date.now()
    ctx.error = error as Error
    ctx.stopReason = `${stepLabel(ctx, run.step) || 'the rollout'} failed: ${(error as Error).message}`
    ctx.deps.log.warning(ctx.stopReason)
    return 'stop'
  }
}

/** From the step's event to its end: watch, judge, gate, close. */
async function settleStep(ctx: RolloutContext, index: number): Promise<StepEnd> {
  const run = ctx.runs[index]!
  await watchStep(ctx, run, { firedAt: run.firedAt!, baseline: run.fleet!.baselineIndex })
  if (ctx.deps.signal?.aborted) {
    run.outcome = 'cancelled'
    return 'stop'
  }
  if (judgeStep(ctx, run) === 'stop') return 'stop'
  if ((await gateStep(ctx, run)) === 'stop') return 'stop'
  await closeStep(ctx, index)
  return 'next'
}

/**
 * Every node of this switch wave failed to prepare (within max-failures: more
 * stopped the run at the prepare's judge). The wave that moves latest still
 * moves it, with no event (contract 8): the failures are tolerated, so the
 * release is the fleet's.
 */
async function emptyStep(ctx: RolloutContext, index: number): Promise<StepEnd> {
  const run = ctx.runs[index]!
  const { step } = run
  const record = datacenterRecord(ctx, step.datacenter)
  const { deployId, manifestUrl, history } = ctx.release
  let moved = false
  try {
    if (step.movesLatest) {
      await ctx.deps.backend.at(step.datacenter).movePointer({
        deployId,
        manifestUrl,
        history: record.historyWritten ? undefined : history,
        signal: ctx.deps.signal,
        onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollout')
      })
      moved = record.latestMoved = record.historyWritten = true
      ctx.deps.log.info(
        `${stepLabel(ctx, step)}: no node of it prepared ${deployId}, nothing to send; latest moved to it with no event`
      )
    }
    run.outcome = 'passed'
    run.endedAt = Date.now()
    await recordWavePassed(ctx, index)
    return 'next'
  } catch (error) {
    run.endedAt = Date.now()
    if (ctx.deps.signal?.aborted) {
      run.outcome = 'cancelled'
      return 'stop'
    }
    run.outcome = 'failed'
    ctx.stopReason = `${stepLabel(ctx, step)}: ${moved ? 'the rollout record could not be written' : `latest could not be moved to ${deployId}`}: ${(error as Error).message}`
    ctx.deps.log.warning(ctx.stopReason)
    return 'stop'
  }
}

/**
 * Nodes that joined the targets during the rollout go with the last wave
 * (contract 8): the live matching nodes of its datacenter that no step names.
 */
async function joiners(ctx: RolloutContext, index: number): Promise<string[]> {
  const { step } = ctx.runs[index]!
  // A datacenter's first step goes out right after the plan read its targets.
  if (
    !step.takesJoiners ||
    KINDS[step.kind].joinerUrl(ctx.release) === undefined ||
    startsDatacenter(ctx, index)
  )
    return []
  const planned = new Set(
    ctx.steps.filter((s) => s.datacenter === step.datacenter).flatMap((s) => s.nodes)
  )
  const dc = ctx.deps.backend.at(step.datacenter)
  const found = await Promise.all([dc.targets(ctx.deps.signal), dc.lastResults(ctx.deps.signal)])
    .then(([targets, results]) => ({ targets, results }))
    .catch((error: Error) => {
      ctx.deps.log.warning(
        `${stepLabel(ctx, step)}: could not read which nodes joined (${error.message}); they boot from latest`
      )
      return undefined
    })
  if (!found) return []
  // Not a joiner: a node already on the release (a promote left it out of the plan).
  const onRelease = (node: string) => {
    const r = found.results.get(node)
    return r?.deployId === ctx.release.deployId && r.status === 'success' && r.phase !== 'prepare'
  }
  const fresh = found.targets.selection.targets.filter(
    (node) => !planned.has(node) && !onRelease(node)
  )
  if (fresh.length > 0)
    ctx.deps.log.info(
      `${stepLabel(ctx, step)}: ${fresh.length} node${fresh.length === 1 ? '' : 's'} joined during the rollout, sent the release with it: ${fresh.slice(0, 20).join(', ')}`
    )
  return fresh
}

function startsDatacenter(ctx: RolloutContext, index: number): boolean {
  const dc = ctx.runs[index]!.step.datacenter
  return ctx.runs.findIndex((r) => r.step.datacenter === dc) === index
}
