// Auto-rollback (contract 8, 8a) as another plan run by the same executor: per
// datacenter sent this release, one step that sends the previous release back
// to every node that got this one, in the run's layout (with layout: releases a
// switch back, and the combined manifest to nodes that no longer keep it; a
// previous release published in the other layout comes rendered again in this
// one, publish/rendition.ts), moving latest back where this run moved it,
// counted against the previous deploy ID within `timeout`, afresh.
import type { FleetState, ParsedResult } from '../fleet-state/fleet-state.ts'
import { progressLine } from '../fleet-state/progress-line.ts'
import { nameList } from '../shared/text.ts'
import type { RolloutContext } from './context.ts'
import { datacenterRecord, newRolloutContext } from './context.ts'
import { KINDS } from './kinds.ts'
import type { Step } from './plan/plan.ts'
import { runSteps } from './run-steps.ts'
import type { PreviousRelease, RollbackRun, WaveRun } from './types.ts'

export interface RollbackPlan {
  datacenter: string | undefined
  previous?: PreviousRelease
  step?: Step
}

/**
 * Pure: what auto-rollback sends where, from what the rollout did and which nodes
 * run the failed release (`onRelease`, per datacenter: an earlier partial
 * rollout's too, when this run promoted it).
 */
export function planRollback(
  ctx: RolloutContext,
  onRelease: ReadonlyMap<string | undefined, readonly string[]> = new Map(),
  /** per datacenter, nodes whose last result says they no longer keep the previous release */
  lacking: ReadonlyMap<string | undefined, ReadonlySet<string>> = new Map()
): RollbackPlan[] {
  // A node only prepared still runs the previous release (current was not touched).
  const sent = ctx.runs.filter((r) => r.firedAt !== undefined && KINDS[r.step.kind].isWave)
  const datacenters = [...new Set(ctx.steps.map((s) => s.datacenter))].filter(
    (dc) => sent.some((r) => r.step.datacenter === dc) || (onRelease.get(dc)?.length ?? 0) > 0
  )
  return datacenters.map((datacenter) => {
    const previous = ctx.deps.previous?.get(datacenter)
    if (!previous) return { datacenter }
    const sentNodes = sent.filter((r) => r.step.datacenter === datacenter).flatMap(sentRelease)
    const nodes = [...new Set([...sentNodes, ...(onRelease.get(datacenter) ?? [])])]
    const switchBack = ctx.deps.config.layout === 'releases' && previous.switchUrl !== undefined
    const step: Step = {
      datacenter,
      kind: switchBack ? 'switch' : 'deploy',
      nodes,
      wave: 1,
      waves: 1,
      movesLatest: datacenterRecord(ctx, datacenter).latestMoved,
      bakeMs: 0,
      takesJoiners: false
    }
    // layout: releases: a node that no longer keeps it prepares it again (the combined manifest).
    const gone = lacking.get(datacenter)
    if (switchBack && gone) step.whole = nodes.filter((n) => gone.has(n))
    return { datacenter, previous, step }
  })
}

/**
 * The nodes of a step that got the release: those its events went out to (a
 * wave sent as several events may have stopped midway), and any that reported
 * it anyway (a joiner that booted from latest). Never a node the send never reached.
 */
function sentRelease(run: WaveRun): string[] {
  const states = run.fleet?.list() ?? []
  if (!run.sentTo) return states.map((s) => s.node)
  const sentTo = new Set(run.sentTo)
  return states
    .filter((s) => sentTo.has(s.node) || s.status === 'success' || s.status === 'failure')
    .map((s) => s.node)
}

export async function rollBack(ctx: RolloutContext): Promise<RollbackRun> {
  const { log } = ctx.deps
  const read = await readResults(ctx)
  const plans = planRollback(ctx, read.onRelease, read.lacking)
  if (plans.length === 0) {
    // layout: releases, the prepare failed: current was never touched anywhere.
    const message = 'auto-rollback: no node was switched to this release: nothing to roll back'
    log.info(message)
    return { outcome: 'nothing_to_roll_back_to', sent: false, message }
  }
  const runs: RollbackRun[] = []
  for (const plan of plans) runs.push(await rollBackDatacenter(ctx, plan))
  const fleets = runs.flatMap((r) => (r.fleet ? [r.fleet] : []))
  if (runs.length === 1) return { ...runs[0]!, fleets }
  const failed = runs.find((r) => r.outcome !== 'rolled_back')
  return {
    deployId: runs.find((r) => r.deployId)?.deployId,
    outcome: failed ? failed.outcome : 'rolled_back',
    sent: runs.some((r) => r.sent),
    fleets,
    message: runs.map((r) => r.message).join('; ')
  }
}

/**
 * Per datacenter of the plan, from each node's last result: the nodes on this
 * release (a switch, not a prepare), those an earlier partial rollout left on it
 * too; and with layout: releases those that say they no longer keep the
 * previous release. A datacenter that cannot be read is rolled back from what
 * this run sent.
 */
async function readResults(ctx: RolloutContext): Promise<{
  onRelease: Map<string | undefined, string[]>
  lacking: Map<string | undefined, Set<string>>
}> {
  const onRelease = new Map<string | undefined, string[]>()
  const lacking = new Map<string | undefined, Set<string>>()
  for (const dc of new Set(ctx.steps.map((s) => s.datacenter))) {
    const results = await ctx.deps.backend
      .at(dc)
      .lastResults(ctx.deps.signal)
      .catch((error: Error) => {
        ctx.deps.log.warning(
          `auto-rollback: could not read which nodes run ${ctx.release.deployId}${dc ? ` in ${dc}` : ''}: ${error.message}`
        )
        return new Map<string, ParsedResult>()
      })
    const previous = ctx.deps.previous?.get(dc)?.deployId
    const on: string[] = []
    const gone = new Set<string>()
    for (const [node, r] of results) {
      if (r.deployId === ctx.release.deployId && r.status === 'success' && r.phase !== 'prepare')
        on.push(node)
      if (previous && r.releases && !r.releases.includes(previous)) gone.add(node)
    }
    onRelease.set(dc, on)
    lacking.set(dc, gone)
  }
  return { onRelease, lacking }
}

async function rollBackDatacenter(ctx: RolloutContext, plan: RollbackPlan): Promise<RollbackRun> {
  const { log, config } = ctx.deps
  const where = plan.datacenter ? ` in ${plan.datacenter}` : ''
  if (!plan.previous || !plan.step) {
    const message = `auto-rollback: there is no previous release to roll back to${where}`
    log.warning(message)
    return { outcome: 'nothing_to_roll_back_to', sent: false, message }
  }
  if (plan.previous.refused) {
    // Never a manifest of another layout (contract 8a): nothing is sent.
    const message = `auto-rollback to ${plan.previous.deployId}${where} not sent: ${plan.previous.refused}`
    log.warning(message)
    return { deployId: plan.previous.deployId, outcome: 'failed', sent: false, message }
  }
  const { previous, step } = plan
  log.info(
    `auto-rollback: sending ${previous.deployId} back to the ${step.nodes.length} node${step.nodes.length === 1 ? '' : 's'} sent this release${where}`
  )
  const back = newRolloutContext(
    [step],
    {
      deployId: previous.deployId,
      manifestUrl: previous.manifestUrl,
      switchUrl: previous.switchUrl
    },
    {
      ...ctx.deps,
      config: { ...config, deployId: previous.deployId, maxFailures: 0, waves: undefined },
      onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollback'),
      onAnnounced: undefined,
      onProgress: undefined
    },
    { rollback: true }
  )
  try {
    await runSteps(back)
    const run = back.runs[0]!
    const sent = run.firedAt !== undefined
    if (!sent) throw new Error(back.stopReason || 'no node to send it to')
    const fleet = run.fleet!
    const c = fleet.counts()
    const done = run.outcome === 'passed'
    // The rollout record goes only when every node on the release is back (contract 8a).
    if (done)
      await ctx.deps.backend
        .at(plan.datacenter)
        .recordRollout(undefined)
        .catch(() => undefined)
    const message = done
      ? `rolled back to ${previous.deployId}${where}: ${c.succeeded}/${c.total} nodes back on it`
      : `auto-rollback to ${previous.deployId}${where} incomplete: ${progressLine(c)}${notBackLine(fleet, previous.deployId)}`
    log.info(message)
    return {
      deployId: previous.deployId,
      outcome: done ? 'rolled_back' : 'failed',
      sent,
      fleet,
      message
    }
  } catch (error) {
    const message = `auto-rollback to ${previous.deployId}${where} failed: ${(error as Error).message}`
    log.warning(message)
    const sent = back.runs[0]?.firedAt !== undefined
    return { deployId: previous.deployId, outcome: 'failed', sent, message }
  }
}

/**
 * The nodes an incomplete rollback did not see back, each with its state: a
 * lost node failed or left, and whether it took the rollback before it went
 * nobody can tell.
 */
function notBackLine(fleet: FleetState, deployId: string): string {
  const states = [
    ['failure', 'failed'],
    ['lost', 'lost'],
    ['silent', 'silent'],
    ['pending', 'waiting']
  ] as const
  const parts = states
    .map(([status, label]) => [label, fleet.nodesByStatus(status)] as const)
    .filter(([, nodes]) => nodes.length > 0)
    .map(([label, nodes]) => `${label}: ${nameList(nodes, 10)}`)
  return parts.length ? `; not seen back on ${deployId}: ${parts.join('; ')}` : ''
}
