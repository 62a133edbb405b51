// The rollout executor (DESIGN "The rollout is a plan of steps"): walks the
// steps of planRollout() — announce, await, gate — stopping at the first step
// that fails, and with `auto-rollback` runs a second plan that puts every node
// sent this release back on the previous one. The one-wave default is today's
// single event with the configured filters.
import type { AnnounceJournal, Announcement } from '../consul/announce.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import { announce } from '../consul/announce.ts'
import { kvKeys } from '../consul/kv-keys.ts'
import { awaitFleet, catalogJoinerCheck } from '../consul/await.ts'
import type { Config } from '../config/config.ts'
import type { EventFilters } from '../shared/filters.ts'
import type { ConsulClient } from '../consul/client.ts'
import type { Verdict } from '../fleet-state/fleet-state.ts'
import { FleetState } from '../fleet-state/fleet-state.ts'
import { bake } from '../consul/health-gate.ts'
import { gateFailureLine } from '../backend/gate-failure.ts'
import type { Log } from '../shared/log.ts'
import { inert, throttle } from '../shared/log.ts'
import { plainText } from '../shared/text.ts'
import { progressLine } from '../fleet-state/progress-line.ts'
import type { GateFailure } from '../backend/gate-failure.ts'
import type { Step } from './plan/plan.ts'
import { nodeFilters } from '../consul/node-filter.ts'

export type WaveOutcome = 'passed' | 'failed' | 'timed_out' | 'gate' | 'cancelled' | 'not_started'

export interface WaveRun {
  step: Step
  /** the wave's own fleet (its nodes, counted from its event on) */
  fleet?: FleetState
  firedAt?: number
  /** when its verdict (and gate) was known */
  endedAt?: number
  gateFailures?: GateFailure[]
  outcome: WaveOutcome
}

export interface RollbackRun {
  /** the release put back */
  deployId?: string
  outcome: 'rolled_back' | 'failed' | 'nothing_to_roll_back_to'
  fleet?: FleetState
  message: string
}

export interface RolloutResult {
  waves: WaveRun[]
  /** every wave passed (gate included) */
  ok: boolean
  /** `waves` was given (or the plan has several steps): the run is reported wave by wave */
  staged: boolean
  cancelled: boolean
  /** every target of the plan, as the waves left them (nodes no wave reached: pending) */
  fleet: FleetState
  verdict: Verdict
  /** waves that passed, gate included */
  wavesCompleted: number
  /** one line: why the rollout stopped, or that it converged */
  message: string
  rollback?: RollbackRun
  /** the first event's announcement (for the timeline) */
  firstFiredAt?: number
  /** layout: releases (contract 9): how the two phases went */
  phases?: PhaseFigures
}

export interface PhaseFigures {
  /** nodes sent the prepare manifest (0: every target kept the release: a switch only) */
  prepared: number
  /** from the prepare event to the last node's prepare report (ms) */
  prepareMs?: number
  /** nodes that switched */
  switched: number
  /** first to last node's switch report, as the action noticed them (ms) */
  switchSpreadMs?: number
}

export interface RolloutDeps {
  consul: ConsulClient
  config: Config
  log: Log
  signal?: AbortSignal
  /** nodes in the catalog the filters leave out */
  filteredOut: readonly string[]
  /**
   * per datacenter (undefined: the agent's own), what latest and deploy-id named
   * when the run started: auto-rollback's target; with layout: releases its switch
   * manifest, when it has one
   */
  previous?: ReadonlyMap<
    string | undefined,
    { deployId: string; manifestUrl: string; switchUrl?: string }
  >
  onJournal?: (journal: AnnounceJournal) => void
  /** after the first event (the PR check starts then) */
  onAnnounced?: (fleet: FleetState) => Promise<void>
  onProgress?: (fleet: FleetState) => void
}

export interface RolloutRelease {
  deployId: string
  /** the whole manifest: what `latest` names (with layout: releases the combined one) */
  manifestUrl: string
  /** layout: releases: the manifests a `prepare` and a `switch` step send */
  prepareUrl?: string
  switchUrl?: string
  /** written once, before the first event, when this run published the release */
  history?: HistoryRecord
}

/**
 * A step's events, one per filter set (a wave too large for one node filter is
 * several): latest moves with the first when the step moves it; the later ones
 * read nothing again (their results count from the first event's baseline).
 * Resolves with the first event's announcement; `onFired` hears of each.
 */
async function sendEvents(
  consul: ConsulClient,
  config: Config,
  release: { manifestUrl: string; eventUrl?: string; history?: HistoryRecord },
  filterSets: readonly EventFilters[],
  opts: {
    movesLatest: boolean
    targets: readonly string[]
    datacenter: string | undefined
    deps: RolloutDeps
    onFired?: (announced: Announcement) => void
  }
): Promise<Announcement | undefined> {
  let first: Announcement | undefined
  let last: Announcement | undefined
  for (const [n, filters] of filterSets.entries()) {
    const moves = opts.movesLatest && n === 0
    last = await announce(
      consul,
      config,
      { ...release, history: moves ? release.history : undefined },
      opts.deps.log,
      {
        signal: opts.deps.signal,
        targets: opts.targets,
        filters,
        movesLatest: moves,
        continuing: first &&
          last && { baselineIndex: first.baselineIndex, seenAfter: last.seenAfter },
        datacenter: opts.datacenter,
        onJournal: moves ? opts.deps.onJournal : undefined
      }
    )
    first ??= last
    opts.onFired?.(last)
  }
  return first
}

/** One event per filter set of the step (a wave too large for one node filter is several). */
function eventFilters(config: Config, step: Step): EventFilters[] {
  // The one-wave default keeps today's event: the configured filters.
  if (config.waves === undefined && step.kind === 'deploy') return [config.filters]
  return nodeFilters(step.nodes).map((node) => ({ node }))
}

function staged(config: Config, steps: readonly Step[]): boolean {
  return config.waves !== undefined || steps.length > 1
}

/** The manifest a step's event sends (contract 9: prepare, switch, or the whole one). */
function stepUrl(step: Step, release: RolloutRelease): string {
  if (step.kind === 'deploy') return release.manifestUrl
  const url = step.kind === 'prepare' ? release.prepareUrl : release.switchUrl
  if (!url) throw new Error(`release ${release.deployId} has no ${step.kind} manifest`)
  return url
}

function stepLabel(step: Step): string {
  const where = step.datacenter ? `${step.datacenter} ` : ''
  if (step.kind === 'prepare') return `${where}prepare`
  const wave = `wave ${step.wave}/${step.waves}`
  return `${where}${step.kind === 'switch' ? (step.waves > 1 ? `switch ${wave}` : 'switch') : wave}`
}

/** Prepare time and switch spread (contract 9, issue 13: the summary reports both). */
function phaseFigures(waves: readonly WaveRun[]): PhaseFigures | undefined {
  if (!waves.some((w) => w.step.kind !== 'deploy')) return undefined
  const prepare = waves.filter((w) => w.step.kind === 'prepare')
  const switches = waves.filter((w) => w.step.kind === 'switch' && w.firedAt !== undefined)
  const reportedAt = (runs: readonly WaveRun[]) =>
    runs.flatMap((w) =>
      (w.fleet?.list() ?? [])
        .filter((s) => s.status === 'success' && s.noticedMs !== undefined)
        .map((s) => (w.firedAt ?? 0) + (s.noticedMs ?? 0))
    )
  const prepareStart = prepare[0]?.firedAt
  const preparedAt = reportedAt(prepare)
  const switchedAt = reportedAt(switches)
  return {
    prepared: prepare.reduce((n, w) => n + w.step.nodes.length, 0),
    prepareMs:
      prepareStart !== undefined && preparedAt.length > 0
        ? Math.max(...preparedAt) - prepareStart
        : undefined,
    switched: switchedAt.length,
    switchSpreadMs:
      switchedAt.length > 0 ? Math.max(...switchedAt) - Math.min(...switchedAt) : undefined
  }
}

export async function runRollout(
  steps: readonly Step[],
  release: RolloutRelease,
  deps: RolloutDeps
): Promise<RolloutResult> {
  const { consul, config, log, signal } = deps
  const keys = kvKeys(config.kvPrefix)
  // Every node once (a prepare step names the nodes its switch steps name again).
  const allNodes = [...new Set(steps.flatMap((s) => s.nodes))]
  const waves: WaveRun[] = steps.map((step) => ({ step, outcome: 'not_started' }))
  const fleet = new FleetState({
    deployId: release.deployId,
    baselineIndex: 0,
    maxFailures: config.maxFailures,
    targets: allNodes,
    untargeted: deps.filteredOut
  })
  const isStaged = staged(config, steps)
  let failures = 0
  let firstFiredAt: number | undefined
  let stopReason = ''
  // Consul KV is per datacenter (contract 10): history, latest and the rollout record too.
  const perDc = new Map<string | undefined, { historyWritten: boolean; latestMoved: boolean }>()
  const dcState = (dc: string | undefined) => {
    let state = perDc.get(dc)
    if (!state)
      perDc.set(dc, (state = { historyWritten: release.history === undefined, latestMoved: false }))
    return state
  }
  const at = (dc: string | undefined) => consul.inDatacenter(dc)

  // While a staged rollout runs (and after a partial one) <kv-prefix>/rollout names
  // the release, so a node's start-up check accepts it beside deploy-id (contract 5).
  const rolloutRecord = (dc: string | undefined, completed: number) => {
    const own = steps.filter((s) => s.datacenter === dc && s.kind !== 'prepare')
    return JSON.stringify({
      deploy_id: release.deployId,
      waves: own.map((s) => s.nodes.length),
      completed,
      nodes: own.flatMap((s) => s.nodes)
    })
  }

  for (const [i, run] of waves.entries()) {
    const { step } = run
    if (signal?.aborted) break
    if (step.nodes.length === 0) {
      // Every node of this switch wave failed to prepare (within max-failures).
      run.outcome = 'passed'
      if (step.movesLatest)
        log.warning(
          `${stepLabel(step)}: no node of it prepared ${release.deployId}; ${keys.latest} stays where it is`
        )
      continue
    }
    const client = at(step.datacenter)
    const dc = dcState(step.datacenter)
    const label = isStaged ? stepLabel(step) : (step.datacenter ?? '')
    if (isStaged)
      log.info(
        `${label}: ${step.nodes.length} node${step.nodes.length === 1 ? '' : 's'}: ${step.nodes.slice(0, 20).join(', ')}${step.nodes.length > 20 ? ', …' : ''}`
      )
    const firstOfDc = steps.findIndex((s) => s.datacenter === step.datacenter) === i
    if (isStaged && firstOfDc) {
      // history/<id> before any event: a partial rollout never moves latest, and
      // promote finds the release by it.
      if (!dc.historyWritten && !step.movesLatest) {
        await client.kvPut(keys.history(release.deployId), JSON.stringify(release.history), {
          signal
        })
        dc.historyWritten = true
      }
      if (config.waves !== undefined)
        await client.kvPut(keys.rollout, rolloutRecord(step.datacenter, 0), { signal })
    }

    let first: Announcement | undefined
    try {
      await sendEvents(
        client,
        config,
        {
          manifestUrl: release.manifestUrl,
          eventUrl: stepUrl(step, release),
          history: step.movesLatest && !dc.historyWritten ? release.history : undefined
        },
        eventFilters(config, step),
        {
          movesLatest: step.movesLatest,
          targets: step.nodes,
          datacenter: step.datacenter,
          deps,
          onFired: (announced) => {
            first ??= announced
            if (step.movesLatest) dc.latestMoved = dc.historyWritten = true
          }
        }
      )
    } catch (error) {
      // Nothing sent yet: the error is the run's, as without waves. Once a wave went
      // out, a wave that cannot be sent fails the rollout (and auto-rollback runs).
      if (signal?.aborted || firstFiredAt === undefined) throw error
      run.firedAt = first?.firedAt
      run.outcome = 'failed'
      run.endedAt = Date.now()
      stopReason = `${label} could not be sent: ${(error as Error).message}`
      log.warning(stopReason)
      if (first)
        run.fleet = new FleetState({
          deployId: release.deployId,
          baselineIndex: first.baselineIndex,
          maxFailures: 0,
          targets: step.nodes
        })
      break
    }
    if (!first) continue
    run.firedAt = first.firedAt
    firstFiredAt ??= first.firedAt
    const inStep = new Set(step.nodes)
    const waveFleet = new FleetState({
      deployId: release.deployId,
      baselineIndex: first.baselineIndex,
      maxFailures: config.maxFailures - failures,
      targets: step.nodes,
      ...(step.kind === 'deploy' ? {} : { phase: step.kind }),
      // Nodes of the other waves are not this wave's business (a replayed event must
      // not make one a "joiner" here).
      untargeted: [...deps.filteredOut, ...allNodes.filter((n) => !inStep.has(n))]
    })
    run.fleet = waveFleet
    if (i === 0) await deps.onAnnounced?.(fleet)
    if (!config.wait) {
      fleet.absorb(
        waveFleet,
        isStaged && step.kind !== 'prepare' ? step.wave : undefined,
        step.datacenter
      )
      return {
        waves,
        ok: true,
        cancelled: false,
        staged: isStaged,
        fleet: isStaged || step.datacenter ? fleet : waveFleet,
        verdict: { done: false },
        wavesCompleted: 0,
        message: `announced ${release.deployId} to ${step.nodes.length} nodes; not waiting (wait: false)`,
        firstFiredAt
      }
    }

    const progress = throttle<string>(5000, (line) => log.info(line))
    const joinerCheck = catalogJoinerCheck(client, config.filters, signal)
    await awaitFleet({
      consul: client,
      fleet: waveFleet,
      resultsPrefix: keys.results,
      firedAt: first.firedAt,
      deadline: first.firedAt + config.timeoutMs,
      baselineIndex: first.baselineIndex,
      signal,
      // Joiners go with the last wave (contract 8); they boot from latest, moved just before it.
      admitJoiner: step.takesJoiners ? (node) => joinerCheck(node).catch(() => false) : undefined,
      onChange: (changed) => {
        for (const s of changed) {
          if (s.status === 'failure' || s.status === 'lost')
            log.info(inert(`${plainText(s.node, 80)}: ${s.status}`))
          else if (s.note)
            log.info(inert(`${plainText(s.node, 80)}: not counted (${plainText(s.note, 120)})`))
        }
        fleet.absorb(
          waveFleet,
          isStaged && step.kind !== 'prepare' ? step.wave : undefined,
          step.datacenter
        )
        progress.update(`${label ? `${label}: ` : ''}${progressLine(waveFleet.counts())}`)
        deps.onProgress?.(fleet)
      }
    })
    progress.flush()
    fleet.absorb(
      waveFleet,
      isStaged && step.kind !== 'prepare' ? step.wave : undefined,
      step.datacenter
    )
    if (signal?.aborted) {
      run.outcome = 'cancelled'
      break
    }
    const verdict = waveFleet.verdict()
    // A node that failed to prepare is not switched: its failure counts once.
    failures += waveFleet.counts().failed
    if (step.kind === 'prepare' && verdict.done && verdict.ok) {
      const unprepared = new Set(
        waveFleet
          .list()
          .filter((s) => s.status !== 'success')
          .map((s) => s.node)
      )
      if (unprepared.size > 0)
        for (const later of waves.slice(i + 1)) {
          if (later.step.datacenter !== step.datacenter) continue
          const nodes = later.step.nodes.filter((n) => !unprepared.has(n))
          later.step = { ...later.step, nodes }
        }
    }
    if (!(verdict.done && verdict.ok)) {
      run.outcome = verdict.done && verdict.reason === 'timed_out' ? 'timed_out' : 'failed'
      run.endedAt = Date.now()
      stopReason = `${label ? `${label} ` : ''}${run.outcome === 'timed_out' ? 'timed out' : 'failed'}`
      break
    }
    if (step.bakeMs > 0) {
      log.info(
        `${label ? `${label}: ` : ''}baking ${Math.round(step.bakeMs / 1000)}s: health checks must stay passing`
      )
      const found = await bake({
        consul: client,
        nodes: waveFleet.list().map((s) => s.node),
        filters: config.filters,
        bakeMs: step.bakeMs,
        signal
      }).catch((error: unknown) => {
        if (signal?.aborted) return undefined
        throw error
      })
      if (found === undefined) {
        run.outcome = 'cancelled'
        break
      }
      if (found.length > 0) {
        run.gateFailures = found
        run.outcome = 'gate'
        run.endedAt = Date.now()
        stopReason = `${label ? `${label} ` : ''}failed its health gate: ${gateFailureLine(found)}`
        log.info(inert(stopReason))
        break
      }
    }
    run.outcome = 'passed'
    run.endedAt = Date.now()
    if (step.kind === 'prepare') {
      const c = waveFleet.counts()
      log.info(
        `${label}: ${c.succeeded}/${c.total} nodes prepared ${release.deployId} in ${((run.endedAt - (run.firedAt ?? run.endedAt)) / 1000).toFixed(1)}s; switching`
      )
    }
    if (config.waves !== undefined && step.kind !== 'prepare') {
      const own = waves.filter(
        (w) => w.step.datacenter === step.datacenter && w.step.kind !== 'prepare'
      )
      const completed = own.filter((w) => w.outcome === 'passed').length
      if (completed === own.length && step.movesLatest) await client.kvDelete(keys.rollout)
      else await client.kvPut(keys.rollout, rolloutRecord(step.datacenter, completed), { signal })
    }
  }

  const cancelled = signal?.aborted === true
  const wavesCompleted = waves.filter(
    (w) => w.outcome === 'passed' && w.step.kind !== 'prepare'
  ).length
  const ok = !cancelled && waves.every((w) => w.outcome === 'passed')
  for (const run of waves)
    if (run.outcome === 'not_started')
      for (const node of run.step.nodes)
        fleet.noteNotSent(
          node,
          run.step.kind === 'switch'
            ? `not switched: ${stepLabel(run.step)} did not start`
            : `not sent: wave ${run.step.wave} did not start`,
          run.step.wave
        )
  // One wave is today's run exactly: its fleet and verdict are the run's.
  const only = !isStaged && waves[0]?.step.datacenter === undefined ? waves[0]?.fleet : undefined
  const result: RolloutResult = {
    waves,
    ok,
    cancelled,
    staged: isStaged,
    fleet: only ?? fleet,
    verdict: only ? only.verdict() : overallVerdict(waves, fleet, ok),
    wavesCompleted,
    message: stopReason,
    firstFiredAt
  }
  const figures = phaseFigures(waves)
  if (figures) {
    result.phases = figures
    if (figures.switched > 0)
      log.info(
        `switch: ${figures.switched} node${figures.switched === 1 ? '' : 's'} switched to ${release.deployId}; spread ${figures.switchSpreadMs ?? 0} ms (first to last node switched)${figures.prepared === 0 ? '; a switch only: every node still kept the release, nothing was downloaded' : ''}`
      )
  }
  if (!ok && !cancelled && config.autoRollback)
    result.rollback = await rollBack(waves, (d) => perDc.get(d)?.latestMoved === true, deps)
  if (!ok && !cancelled && isStaged && !config.autoRollback)
    log.info(
      `${keys.rollout} keeps naming ${release.deployId}: the nodes sent it run it until a rollback or a new release`
    )
  return result
}

/** The run's verdict over all waves: converged only when every wave passed. */
function overallVerdict(waves: readonly WaveRun[], fleet: FleetState, ok: boolean): Verdict {
  if (ok) {
    const c = fleet.counts()
    return { done: true, ok: true, reason: c.failed + c.pending === 0 ? 'converged' : 'tolerated' }
  }
  if (waves.some((w) => w.outcome === 'timed_out'))
    return { done: true, ok: false, reason: 'timed_out' }
  return { done: true, ok: false, reason: 'failures' }
}

/**
 * Auto-rollback (contract 8): the previous release to every node that was sent
 * this one, latest and deploy-id put back on it when this run moved them; waits
 * (within `timeout`, afresh) for those nodes to report the previous deploy ID.
 */
async function rollBack(
  waves: readonly WaveRun[],
  latestMoved: (datacenter: string | undefined) => boolean,
  deps: RolloutDeps
): Promise<RollbackRun> {
  const { log } = deps
  // Every datacenter sent the release goes back (contract 10), in the order it was sent.
  // A node only prepared still runs the previous release (current was not touched).
  const sent = waves.filter((w) => w.firedAt !== undefined && w.step.kind !== 'prepare')
  if (sent.length === 0) {
    // layout: releases, the prepare failed: current was never touched anywhere.
    const message = 'auto-rollback: no node was switched to this release: nothing to roll back'
    log.info(message)
    return { outcome: 'nothing_to_roll_back_to', message }
  }
  const datacenters = [...new Set(sent.map((w) => w.step.datacenter))]
  const runs: RollbackRun[] = []
  for (const dc of datacenters) {
    const nodes = sent
      .filter((w) => w.step.datacenter === dc)
      .flatMap((w) => w.fleet?.list() ?? [])
      .map((s) => s.node)
    const previous = deps.previous?.get(dc)
    if (!previous) {
      const message = `auto-rollback: there is no previous release to roll back to${dc ? ` in ${dc}` : ''}`
      log.warning(message)
      runs.push({ outcome: 'nothing_to_roll_back_to', message })
      continue
    }
    runs.push(await rollBackDatacenter(dc, nodes, previous, latestMoved(dc), deps))
  }
  if (runs.length === 1) return runs[0] as RollbackRun
  const failed = runs.find((r) => r.outcome !== 'rolled_back')
  return {
    deployId: runs.find((r) => r.deployId)?.deployId,
    outcome: failed ? failed.outcome : 'rolled_back',
    message: runs.map((r) => r.message).join('; ')
  }
}

async function rollBackDatacenter(
  datacenter: string | undefined,
  nodes: string[],
  previous: { deployId: string; manifestUrl: string; switchUrl?: string },
  latestMoved: boolean,
  deps: RolloutDeps
): Promise<RollbackRun> {
  const { config, log, signal } = deps
  const consul = deps.consul.inDatacenter(datacenter)
  const where = datacenter ? ` in ${datacenter}` : ''
  log.info(
    `auto-rollback: sending ${previous.deployId} back to the ${nodes.length} node${nodes.length === 1 ? '' : 's'} sent this release${where}`
  )
  const rollbackConfig: Config = { ...config, deployId: previous.deployId }
  // layout: releases: the nodes keep the release they switched from (the switch
  // never deletes it): switching back downloads nothing.
  const switchBack = config.layout === 'releases' && previous.switchUrl !== undefined
  try {
    const first = await sendEvents(
      consul,
      rollbackConfig,
      {
        manifestUrl: previous.manifestUrl,
        ...(switchBack ? { eventUrl: previous.switchUrl } : {})
      },
      nodeFilters(nodes).map((node) => ({ node })),
      { movesLatest: latestMoved, targets: nodes, datacenter, deps }
    )
    if (!first) throw new Error('no node to send it to')
    const fleet = new FleetState({
      deployId: previous.deployId,
      baselineIndex: first.baselineIndex,
      maxFailures: 0,
      targets: nodes,
      untargeted: deps.filteredOut,
      ...(switchBack ? { phase: 'switch' as const } : {})
    })
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: kvKeys(config.kvPrefix).results,
      firedAt: first.firedAt,
      deadline: first.firedAt + config.timeoutMs,
      baselineIndex: first.baselineIndex,
      signal
    })
    await consul.kvDelete(kvKeys(config.kvPrefix).rollout).catch(() => undefined)
    const verdict = fleet.verdict()
    const c = fleet.counts()
    const done = verdict.done && verdict.ok
    const message = done
      ? `rolled back to ${previous.deployId}${where}: ${c.succeeded}/${c.total} nodes back on it`
      : `auto-rollback to ${previous.deployId}${where} incomplete: ${progressLine(c)}`
    log.info(message)
    return { deployId: previous.deployId, outcome: done ? 'rolled_back' : 'failed', fleet, message }
  } catch (error) {
    const message = `auto-rollback to ${previous.deployId}${where} failed: ${(error as Error).message}`
    log.warning(message)
    return { deployId: previous.deployId, outcome: 'failed', message }
  }
}
