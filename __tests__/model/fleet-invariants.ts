// The soak's rollout invariants (issue #19), judged from the fleet alone:
// node trees, `current`, results/<node> and `latest` per datacenter, never the
// action's outputs. Only the exit code (the verdict) is taken from the run.
//
//  - no node's tree is ever damaged, and with layout releases `current` always
//    names a complete release (sampled while the run goes on, and at the end);
//  - every node holds the new release, the previous one, or what it held before;
//  - results/<node> agrees with the tree: a node reporting success for a
//    release holds it (unless a later report says otherwise);
//  - `latest` is consistent with the verdict: a successful complete rollout
//    moved it (every datacenter) and every node that hears events holds it; a
//    rolled-back run left it on the previous release and the nodes on it.
import type { LocalFleet } from '../../fleet/index.ts'
import { deployIdAt, resultAt } from '../helpers/fleet-truth.ts'
import { heldBy } from './judge.ts'
import { heldBefore, predict } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'
import {
  datacenterName,
  faultyNode,
  nameOf,
  previousInOtherLayout,
  releasesOf
} from './scenario.ts'

export interface TreeWatch {
  /** stops sampling; what was seen damaged, once per node and kind */
  stop(): string[]
}

/** Samples every node's tree each `everyMs` while a run goes on. */
export function watchTrees(s: Scenario, fleet: LocalFleet, everyMs = 100): TreeWatch {
  const seen = new Set<string>()
  const sample = () => {
    for (const node of fleet.nodes.keys()) {
      const held = heldBy(s, fleet, node)
      if (held.damage) seen.add(`${node}: tree damaged during the run: ${held.damage}`)
      if (held.id === '' && heldBefore(s, node) !== '' && node !== joiner(s, fleet, node))
        seen.add(`${node}: held ${heldBefore(s, node)} before the run, then nothing`)
    }
  }
  const timer = setInterval(sample, everyMs)
  return {
    stop() {
      clearInterval(timer)
      sample()
      return [...seen]
    }
  }
}

/** A joiner boots while the run goes on: it may hold nothing for a moment. */
const joiner = (s: Scenario, fleet: LocalFleet, node: string) =>
  s.fault.kind === 'join' && fleet.nodes.get(node)!.runs === 0 ? node : ''

const dcOf = (s: Scenario, fleet: LocalFleet, node: string) =>
  s.datacenters > 1 && fleet.datacenterOf(node) !== 'dc1' ? fleet.datacenterOf(node) : undefined

/** The scenario as the previous release's layout sees the nodes (its own tree). */
const layoutOf = (s: Scenario): Scenario => ({ ...s, layout: s.previousLayout ?? s.layout })

/** The end-of-run invariants; `code` is the run's exit code. */
export function fleetInvariants(s: Scenario, fleet: LocalFleet, code: number): string[] {
  const out: string[] = []
  const { release, previous } = releasesOf(s)
  const deaf = faultyNode(s) !== undefined && s.fault.kind === 'silent' ? faultyNode(s) : undefined
  const known = new Set([release, previous ?? ''])
  for (const node of fleet.nodes.keys()) {
    const held = heldBy(s, fleet, node)
    if (held.damage) out.push(`${node}: tree damaged: ${held.damage}`)
    if (!known.has(held.id) && held.id !== heldBefore(s, node))
      out.push(
        `${node}: holds ${held.id || 'nothing'}: neither ${release} nor ${previous ?? 'none'}`
      )
    const result = resultAt(fleet, nameOf(node), dcOf(s, fleet, node))
    // a prepare's report names a release the node keeps but does not run; a
    // report from before the run may speak of the other layout's tree
    const other = previousInOtherLayout(s) && result?.deploy_id === previous
    const reportedTree = other && held.id !== previous ? heldBy(layoutOf(s), fleet, node) : held
    if (
      result?.status === 'success' &&
      result.phase !== 'prepare' &&
      result.deploy_id !== reportedTree.id
    )
      out.push(
        `${node}: results/ says ${result.deploy_id} succeeded, the tree holds ${held.id || 'nothing'}`
      )
  }
  // `latest` and the verdict: what the model says moved it (a complete rollout, no rollback).
  const expected = predict(s)
  const listening = [...fleet.nodes.keys()].filter((n) => n !== deaf)
  for (let dc = 0; dc < s.datacenters; dc++) {
    const latest = deployIdAt(fleet, dc === 0 ? undefined : datacenterName(dc))
    const moved = expected.latest[datacenterName(dc)] === release && expected.code === 0
    if (code === 0 && moved && latest !== release)
      out.push(`${datacenterName(dc)}: the run succeeded, yet latest names ${latest}`)
    if (code !== 0 && s.autoRollback && previous !== undefined && !s.cancel && latest !== previous)
      out.push(`${datacenterName(dc)}: rolled back, yet latest names ${latest}`)
  }
  const complete = Object.values(expected.latest).every((id) => id === release)
  if (code === 0 && s.wait && expected.code === 0 && complete)
    for (const node of listening.filter((n) => n !== faultyNode(s))) {
      const held = heldBy(s, fleet, node).id
      if (held !== release)
        out.push(`${node}: the run succeeded, yet it holds ${held || 'nothing'}`)
    }
  return out
}
