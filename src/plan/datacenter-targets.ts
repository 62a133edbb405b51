// The targets of a run, read in the plan stage from each datacenter's backend
// (contract 6, 10): the live nodes the filters match, narrowed for promote
// (nodes not on the release yet) and layout: releases (nodes that still keep
// it). What planDatacenter returns is rollout/plan's DatacenterTargets in shape;
// plan/ sits below rollout/, so the type is not named here.
import type { FleetBackend, Targets } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { ParsedResult } from '../fleet-state/fleet-state.ts'
import type { Log } from '../shared/log.ts'
import { existingRelease } from './find-release.ts'

/** What reading the targets takes of the run's deps. */
export interface TargetReadDeps {
  /** the fleet, in the agent's own datacenter; `at(dc)` for the others */
  backend: FleetBackend
  log: Log
  signal?: AbortSignal
}

/** How long the plan stage retries an unreachable Consul before saying so. */
const PLAN_RETRY_MS = 15_000

/**
 * Several datacenters (contract 10): each one's targets, in order; an unknown one
 * fails here. Unset: the agent's own, with no `?dc` at all, as always.
 */
export async function readTargets(config: Config, deps: TargetReadDeps, signal: AbortSignal) {
  const { backend } = deps
  const datacenters = await backend.datacenters(config.datacenters, signal)
  const found = await Promise.all(
    datacenters.map((dc) => backend.at(dc).targets(signal, Date.now() + PLAN_RETRY_MS))
  )
  return datacenters.map((datacenter, i) => ({ datacenter, found: found[i]! }))
}

/** One datacenter's targets: those not on a promoted release yet, canaries, nodes keeping it. */
export async function planDatacenter(
  config: Config,
  deps: TargetReadDeps,
  datacenter: string | undefined,
  found: Targets
) {
  const { log } = deps
  const where = datacenter ? ` in datacenter ${datacenter}` : ''
  const { selection } = found
  if (selection.targets.length === 0)
    throw new Error(
      `no live node${where} matches the filters (${found.known} in the catalog, ${selection.notLive.length} of them matching but not live): nothing would receive the deploy`
    )
  let targets = selection.targets
  const existingId = existingRelease(config)
  // Read once for promote and for layout: releases (which nodes run or keep it).
  const results =
    config.promote || (config.layout === 'releases' && existingId)
      ? await deps.backend.at(datacenter).lastResults(deps.signal)
      : undefined
  if (config.promote && results) {
    // Promote goes on over the targets not on the release yet (contract 8).
    const on = nodesOnRelease(results, config.promote)
    targets = targets.filter((node) => !on.has(node))
    log.info(
      `promote ${config.promote}${where}: ${on.size} of the ${selection.targets.length} targets already run it`
    )
  }
  const targetSet = new Set(targets)
  const canaries = found.canaries.filter((node) => targetSet.has(node))
  // layout: releases: a published release the nodes still keep needs only the switch.
  const prepared =
    config.layout === 'releases' && existingId && results
      ? nodesKeeping(results, existingId)
      : undefined
  if (prepared)
    log.info(
      `${existingId}${where}: ${targets.filter((n) => prepared.has(n)).length} of ${targets.length} targets still keep it (switch only, no download); the rest prepare it first`
    )
  return { datacenter, targets, canaries, prepared: prepared ? [...prepared] : undefined }
}

/**
 * Nodes that run `deployId`: their last result holds it with success (a node that
 * only prepared it, layout: releases, does not run it yet).
 */
function nodesOnRelease(results: Map<string, ParsedResult>, deployId: string): Set<string> {
  const on = new Set<string>()
  for (const [node, r] of results)
    if (r.deployId === deployId && r.status === 'success' && r.phase !== 'prepare') on.add(node)
  return on
}

/**
 * layout: releases (contract 9): the nodes that still keep `deployId` under
 * <dest>/releases. Each node's last result lists the releases it keeps
 * (`"releases"`, written by the reporting commands after every prepare and
 * switch), and a node whose last result is this release's prepare or switch
 * success has it too. A node with no such record is sent prepare and switch.
 */
function nodesKeeping(results: Map<string, ParsedResult>, deployId: string): Set<string> {
  const keeping = new Set<string>()
  for (const [node, r] of results) {
    const has =
      r.releases !== undefined
        ? r.releases.includes(deployId)
        : r.deployId === deployId && r.status === 'success' && r.phase !== undefined
    if (has) keeping.add(node)
  }
  return keeping
}

/** The backend in each datacenter of the run, in rollout order. */
export function backendsOf(
  deps: Pick<TargetReadDeps, 'backend'>,
  plan: { datacenters: ReadonlyArray<string | undefined> }
): FleetBackend[] {
  return plan.datacenters.map((dc) => deps.backend.at(dc))
}
