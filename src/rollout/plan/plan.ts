// The staged rollout as data (contract 8, 9, 10; DESIGN "The rollout is a plan
// of steps"): the targets ordered, canaries first, and planRollout() turning
// targets per datacenter into the list of events the executor fires, in order.
// Pure: no I/O, no clock, no Consul.
import { waveCounts } from '../../config/waves.ts'
import type { WaveSpec } from '../../config/waves.ts'
import { compareNatural } from '../../shared/natural-order.ts'

/**
 * Contract 8 "Order of nodes": targets whose targeted service carries the tag
 * `canary` first, then the rest, each group in natural order. Duplicates are
 * dropped; canaries that are not targets are ignored.
 */
export function orderTargets(targets: readonly string[], canaryNodes: readonly string[]): string[] {
  const canary = new Set(canaryNodes)
  const unique = [...new Set(targets)]
  return [
    ...unique.filter((node) => canary.has(node)).sort(compareNatural),
    ...unique.filter((node) => !canary.has(node)).sort(compareNatural)
  ]
}

// ---------------------------------------------------------------- the plan

/**
 * What an event sends: `deploy` the whole manifest (`<id>.yml`: in place, or
 * with `layout: releases` the combined prepare + switch); `prepare` and
 * `switch` the two halves of `layout: releases` (contract 9).
 */
export type StepKind = 'deploy' | 'prepare' | 'switch'

export interface Step {
  /** undefined: the agent's own datacenter (no `?dc=`) */
  datacenter: string | undefined
  kind: StepKind
  /** the nodes sent this step's event(s), in rollout order */
  nodes: string[]
  /** 1-based wave of a deploy/switch step; 0 for prepare (before the waves) */
  wave: number
  /** number of waves in this datacenter */
  waves: number
  /** write `latest` and `deploy-id` (one transaction) just before this step's first event */
  movesLatest: boolean
  /** after the nodes reported success, how long their health checks must stay passing; 0: no gate */
  bakeMs: number
  /** the last wave of a full rollout: nodes that join during the rollout are sent the release with it (step-send.ts) */
  takesJoiners: boolean
  /**
   * a switch: nodes of it known not to keep the release (a rollback's switch
   * back, contract 8a); they are sent the whole (combined) manifest instead
   */
  whole?: string[]
}

export interface DatacenterTargets {
  /** undefined: the agent's own datacenter */
  datacenter?: string
  /** live nodes matching the filters (contract 6) */
  targets: string[]
  /** targets whose targeted service carries the tag `canary` */
  canaries: string[]
  /**
   * `layout: releases` with an already published release: nodes that still
   * keep it under releases/ and need only the switch (contract 9 "Rollback").
   * Ignored for a new release (no node can have it).
   */
  prepared?: string[]
}

export interface PlanInput {
  /** in rollout order (contract 10); one entry for a single datacenter */
  datacenters: DatacenterTargets[]
  /** parseWaves(); undefined: one wave of all targets */
  waves: WaveSpec[] | undefined
  /** parseBakeTime() */
  bakeMs: number
  /** default `in-place` */
  layout?: 'in-place' | 'releases'
  /** `new`: built by this run; `promote` / `rollback`: announces a published release */
  release: 'new' | 'promote' | 'rollback'
}

const ALL: WaveSpec[] = [{ kind: 'percent', percent: 100 }]

/** True when the waves stop below all targets in some datacenter (contract 8 "partial rollout"). */
export function isPartial(steps: readonly Step[]): boolean {
  return steps.some(
    (step) => step.kind !== 'prepare' && step.wave === step.waves && !step.movesLatest
  )
}

/**
 * The rollout as steps, datacenter after datacenter (contract 10), each:
 * with `layout: releases` one `prepare` step to every target that lacks the
 * release, then one `deploy` (in place) or `switch` step per wave. `latest`
 * moves once per datacenter, before its last wave, unless the rollout is
 * partial there (last wave below all targets). Throws InputError (`waves`) when
 * the waves do not grow in some datacenter.
 */
export function planRollout(input: PlanInput): Step[] {
  const releases = input.layout === 'releases'
  const steps: Step[] = []
  for (const dc of input.datacenters) {
    const ordered = orderTargets(dc.targets, dc.canaries)
    const counts = waveCounts(input.waves ?? ALL, ordered.length)
    if (counts.length === 0) continue
    const datacenter = dc.datacenter
    const full = counts[counts.length - 1] === ordered.length
    if (releases) {
      const prepared = new Set(input.release === 'new' ? [] : (dc.prepared ?? []))
      // Contract 9: prepare goes to every target up front, partial rollout or not.
      const toPrepare = ordered.filter((node) => !prepared.has(node))
      if (toPrepare.length > 0)
        steps.push({
          datacenter,
          kind: 'prepare',
          nodes: toPrepare,
          wave: 0,
          waves: counts.length,
          movesLatest: false,
          bakeMs: 0,
          takesJoiners: false
        })
    }
    let from = 0
    counts.forEach((count, i) => {
      const nodes = ordered.slice(from, count)
      from = count
      const last = i === counts.length - 1
      steps.push({
        datacenter,
        kind: releases ? 'switch' : 'deploy',
        nodes,
        wave: i + 1,
        waves: counts.length,
        movesLatest: last && full,
        bakeMs: input.bakeMs,
        takesJoiners: last && full
      })
    })
  }
  return steps
}

// ---------------------------------------------------------------- canaries and the gate
