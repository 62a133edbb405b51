// The plan stage (DESIGN "The pipeline on one screen"): every check of the
// outside world before any write (platform, template, build tree, targets),
// and the rollout's steps planned from what it found. A stage entry: it plans
// those steps (rollout/plan) and names their kinds (rollout/kinds), which
// plan/ ranks below; the reads it makes are plan/'s.
import type { TargetSelection } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { NodeId } from '../fleet-state/fleet-state.ts'
import { labelsOfSteps, nodeId } from '../fleet-state/fleet-state.ts'
import { planDatacenter, readTargets } from '../plan/datacenter-targets.ts'
import type { TargetReadDeps } from '../plan/datacenter-targets.ts'
import { existingRelease } from '../plan/find-release.ts'
import { loadTemplate } from '../plan/manifest-template.ts'
import type { ReleasePlan } from './publish-stage.ts'
import { targetingNote } from '../plan/targeting-note.ts'
import type { ManifestTemplate } from '../publish/manifest/manifest.ts'
import { checkPlatform } from '../publish/pack-tools.ts'
import { checkBuild, checkManifestRenders } from '../publish/publish.ts'
import { reportingCommands } from '../publish/reporting-commands.ts'
import { InputError } from '../shared/errors.ts'
import type { Log } from '../shared/log.ts'
import { KINDS } from '../rollout/kinds.ts'
import type { DatacenterTargets, Step } from '../rollout/plan/plan.ts'
import { isPartial, planRollout } from '../rollout/plan/plan.ts'

/** What the plan stage takes of the run's deps. */
export interface PlanDeps extends TargetReadDeps {
  /** the runner's platform (process.platform); a seam for the tests */
  platform?: NodeJS.Platform
}

/** What the plan stage found: everything a deploy needs, read before anything is written. */
export interface Plan extends ReleasePlan {
  selection: TargetSelection
  /** the selection's filtered-out nodes, each with its datacenter (names repeat across them) */
  filteredOut: NodeId[]
  steps: Step[]
}

/**
 * Plan: every input problem, and whether Consul answers at all, is found before
 * anything is uploaded or written to Consul; the rollout's steps come out of it.
 */
export async function planStage(config: Config, deps: PlanDeps): Promise<Plan> {
  const { log } = deps
  checkPlatform(deps.platform)
  const existing = existingRelease(config)
  const template = existing ? undefined : await loadTemplate(config, log)
  const commands = reportingCommands(config, template)
  if (!existing) checkManifestRenders(config, template, commands)
  // The fleet is read while the tree is walked; an error in the build is still said first.
  const reading = new AbortController()
  const signal = deps.signal ? AbortSignal.any([deps.signal, reading.signal]) : reading.signal
  const targetsRead = readTargets(config, deps, signal)
  targetsRead.catch(() => undefined)
  const build = existing
    ? undefined
    : await checkBuild(config).catch((error: unknown) => {
        reading.abort()
        throw error
      })
  const found = await targetsRead
  const datacenters = found.map((c) => c.datacenter)
  const note = targetingNote(config)
  if (note) log.info(note)
  const selection: TargetSelection = { targets: [], filteredOut: [], notLive: [] }
  const planned: DatacenterTargets[] = []
  const filteredOut: NodeId[] = []
  for (const dc of found) {
    const one = await planDatacenter(config, deps, dc.datacenter, dc.found)
    planned.push(one)
    selection.targets.push(...one.targets)
    selection.filteredOut.push(...dc.found.selection.filteredOut)
    selection.notLive.push(...dc.found.selection.notLive)
    filteredOut.push(...dc.found.selection.filteredOut.map((n) => nodeId(dc.datacenter, n)))
  }
  if (config.promote && selection.targets.length === 0)
    throw new InputError(
      'promote',
      `every target already runs ${config.promote}: nothing to promote it to`
    )
  const steps = planRollout({
    datacenters: planned.filter((dc) => dc.targets.length > 0),
    waves: config.waves,
    bakeMs: config.bakeMs,
    layout: config.layout,
    release: config.promote ? 'promote' : config.rollbackTo ? 'rollback' : 'new'
  })
  logPlan(config, log, steps, datacenters, selection, template)
  return { template, commands, build, selection, filteredOut, steps, datacenters }
}

/** What the run will do, in the log, before anything is written. */
function logPlan(
  config: Config,
  log: Log,
  steps: readonly Step[],
  datacenters: ReadonlyArray<string | undefined>,
  selection: TargetSelection,
  template: ManifestTemplate | undefined
): void {
  const verb = config.rollbackTo ? 'roll back to' : config.promote ? 'promote' : 'deploy'
  const waveSteps = steps.filter((s) => KINDS[s.kind].isWave)
  const shown = labelsOfSteps(waveSteps).slice(0, 50).join(', ')
  const count = waveSteps.reduce((n, s) => n + s.nodes.length, 0)
  const prepareStep = steps.find((s) => !KINDS[s.kind].isWave)
  log.info(
    `${verb} ${config.deployId} of ${config.app} on ${count} nodes${datacenters[0] ? ` in ${datacenters.join(', ')}` : ''}${waveSteps.length > 1 ? ` in ${waveSteps.length} waves (${waveSteps.map((s) => s.nodes.length).join(', ')})` : ''}: ${shown}${count > 50 ? ', …' : ''}`
  )
  if (config.layout === 'releases')
    log.info(
      `layout: releases: ${prepareStep ? `prepare on ${prepareStep.nodes.length} nodes` : 'no prepare (every target keeps the release)'}, then switch ${config.dest ?? templateDest(template)}/current`
    )
  if (isPartial(steps))
    log.info(
      `a partial rollout: ${selection.targets.length - count} targets stay on the current release; latest does not move`
    )
}

function templateDest(template: ManifestTemplate | undefined): string {
  return template?.dest ?? '<dest>'
}
