// Judges a run of the matrix against the model: from the fleet (trees,
// `current`, results/<node>, `latest` and `deploy-id` per datacenter, the
// events fired) and from the run's outputs, exit code, conclusion and failure
// line. Returns every disagreement, one line each (empty when they agree).
// A node is a (datacenter, name) pair: where a name is in both datacenters its
// tree, its results/<name> in its datacenter's KV and its `results` entry (by
// `datacenter`) are judged as its own, and the failure line names it `name (dc)`.
import { existsSync, lstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LocalFleet } from '../../fleet/index.ts'
import {
  currentOf,
  deployIdAt,
  firesSince,
  kvAt,
  resultAt,
  versionOn
} from '../helpers/fleet-truth.ts'
import type { InProcessRun } from '../helpers/inprocess-run.ts'
import type { NodePrediction, Prediction } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'
import {
  datacenterName,
  joinerOf,
  nameOf,
  previousInOtherLayout,
  RELEASE,
  VERSION
} from './scenario.ts'

interface Row {
  node: string
  status: string
  deploy_id: string | null
  datacenter?: string
}

/** results[].status in the words of contract 8a (2 and 5 spell two of them success / failure). */
const STATE_OF: Record<string, string> = { success: 'succeeded', failure: 'failed' }
const stateOf = (status: string) => STATE_OF[status] ?? status

const ID_OF_VERSION = Object.fromEntries(Object.entries(VERSION).map(([id, v]) => [v, id]))

/** The deploy ID a node's tree holds ('' for none), and whether the tree is whole. */
export function heldBy(
  s: Scenario,
  fleet: LocalFleet,
  node: string
): { id: string; damage?: string } {
  if (s.layout === 'in-place') {
    const version = versionOn(fleet, node, '/srv/web')
    const id = version === '' ? '' : ID_OF_VERSION[version]
    return id === undefined ? { id: version, damage: `unknown version ${version}` } : { id }
  }
  const base = join(fleet.nodes.get(node)!.root, 'srv/app')
  const current = currentOf(fleet, node)
  if (current === '')
    return existsSync(join(base, 'current'))
      ? { id: '', damage: 'current is not a symlink' }
      : { id: '' }
  const id = /^releases\/([^/]+)$/.exec(current)?.[1]
  if (id === undefined) return { id: current, damage: `current -> ${current}` }
  const version = join(base, current, 'public/version.txt')
  if (!existsSync(version) || !lstatSync(join(base, 'releases')).isDirectory())
    return { id, damage: `current -> ${current}, which is not a complete release` }
  const holds = readFileSync(version, 'utf8').trim()
  return holds === VERSION[id] ? { id } : { id, damage: `releases/${id} holds ${holds}` }
}

const dcArg = (s: Scenario, p: { datacenter?: string }) =>
  s.datacenters > 1 && p.datacenter !== 'dc1' ? p.datacenter : undefined

function judgeNode(s: Scenario, fleet: LocalFleet, p: NodePrediction, rows: Row[]): string[] {
  const out: string[] = []
  const name = nameOf(p.node)
  const matching = rows.filter(
    (r) => r.node === name && (p.datacenter === undefined || r.datacenter === p.datacenter)
  )
  if (matching.length > 1) out.push(`${p.node}: ${matching.length} rows`)
  const row = matching[0]
  const state = row ? stateOf(row.status) : 'absent'
  if (!(p.states as string[]).includes(state))
    out.push(`${p.node}: row says ${state}, the model ${p.states.join(' or ')}`)
  const held = heldBy(s, fleet, p.node)
  if (held.damage) out.push(`${p.node}: tree damaged: ${held.damage}`)
  if (!p.holds.includes(held.id))
    out.push(
      `${p.node}: holds ${held.id || 'nothing'}, the model ${p.holds.map((h) => h || 'nothing').join(' or ')}`
    )
  if (p.reported !== undefined) {
    const result = resultAt(fleet, name, dcArg(s, p))
    if (result?.deploy_id !== p.reported || result.status !== 'success')
      out.push(
        `${p.node}: results/ holds ${JSON.stringify(result)}, the model ${p.reported} success`
      )
  }
  return out
}

function judgeCounts(run: InProcessRun, rows: Row[]): string[] {
  const out: string[] = []
  const n = (state: string) => rows.filter((r) => stateOf(r.status) === state).length
  const said = (name: string) => run.outputs[name]
  if (said('nodes-succeeded') !== String(n('succeeded')))
    out.push(`nodes-succeeded ${said('nodes-succeeded')}, rows ${n('succeeded')}`)
  const failed = [n('failed'), n('failed') + n('silent')].map(String)
  if (!failed.includes(said('nodes-failed') ?? ''))
    out.push(`nodes-failed ${said('nodes-failed')}, rows ${failed.join(' or ')}`)
  if (said('nodes-pending') !== String(n('silent') + n('pending')))
    out.push(
      `nodes-pending ${said('nodes-pending')}, rows silent+pending ${n('silent') + n('pending')}`
    )
  if (said('nodes-total') !== String(rows.length))
    out.push(`nodes-total ${said('nodes-total')}, rows ${rows.length}`)
  return out
}

/** `latest` and `deploy-id` of each datacenter name the model's release, and agree. */
function judgeLatest(s: Scenario, fleet: LocalFleet, p: Prediction): string[] {
  const out: string[] = []
  for (let dc = 0; dc < s.datacenters; dc++) {
    const name = datacenterName(dc)
    const at = dc === 0 ? undefined : name
    const id = deployIdAt(fleet, at)
    const latest = kvAt(fleet, 'latest', at)?.value
    if (id !== p.latest[name]) out.push(`${name}: deploy-id ${id}, the model ${p.latest[name]}`)
    // after a rollback across layouts, `latest` names the previous release rendered in the run's
    const named = latest?.match(/\/([^/]+?)(\.releases|\.in-place)?\.yml$/)?.[1]
    if ((latest === undefined) !== (id === undefined) || (id && named !== id))
      out.push(`${name}: latest ${latest} and deploy-id ${id} disagree`)
  }
  return out
}

const CAUSE: Record<string, RegExp> = {
  failed: /fail/i,
  // "the health check that went critical (node, check, output)"
  critical: /critical|health/i,
  timeout: /time|silent/i,
  cancel: /cancel/i,
  refusal: /./
}

/** The verdict names its cause first: the node(s) and the kind, before what it did about it. */
function judgeCause(p: Prediction, run: InProcessRun): string[] {
  if (!p.cause) return []
  const line = run.message.split('\n')[0] ?? ''
  const then = line.search(/roll(ed)? back|stopped at/i)
  const before = then < 0 ? line : line.slice(0, then)
  // a name in both datacenters is named with its own: `node-2 (dc2)`
  const labelOf = (n: string) => (n.includes('/') ? `${nameOf(n)} (${n.split('/')[0]})` : n)
  const names = p.refusal ? [p.refusal] : p.cause.nodes.map(labelOf)
  const escape = (n: string) => n.replace(/[()]/g, '\\$&')
  const missing = names.filter(
    (n) => !new RegExp(`(^|[^\\w-])${escape(n)}([^\\w-]|$)`).test(before)
  )
  const out: string[] = []
  if (missing.length > 0)
    out.push(`the failure line does not name ${missing.join(', ')} first: ${line}`)
  if (!CAUSE[p.cause.kind]!.test(before))
    out.push(`the failure line does not say ${p.cause.kind} first: ${line}`)
  return out
}

function judgeRun(s: Scenario, p: Prediction, run: InProcessRun): string[] {
  const out: string[] = []
  if (run.code !== p.code) out.push(`exit ${run.code}, the model ${p.code}: ${run.message}`)
  if (run.conclusion !== p.conclusion)
    out.push(`conclusion ${run.conclusion}, the model ${p.conclusion}`)
  if (p.refusal) return out
  const rolledBack = run.outputs['rolled-back']
  if (p.rolledBack !== 'either' && s.wait && rolledBack !== String(p.rolledBack))
    out.push(`rolled-back ${rolledBack}, the model ${p.rolledBack}`)
  const waves = run.outputs['waves-completed']
  if (s.wait && !p.wavesCompleted.map(String).includes(waves ?? ''))
    out.push(`waves-completed ${waves}, the model ${p.wavesCompleted.join(' or ')}`)
  return out
}

/**
 * A previous release published in the other layout stays whole in that
 * layout's tree: auto-rollback never sends a manifest of another layout (8a).
 */
function judgeOtherTree(s: Scenario, fleet: LocalFleet, p: Prediction): string[] {
  if (!previousInOtherLayout(s) || s.previousLayout === undefined) return []
  const other: Scenario = { ...s, layout: s.previousLayout }
  const out: string[] = []
  for (const { node } of p.nodes) {
    if (s.fault.kind === 'join' && node === joinerOf(s)) continue
    const held = heldBy(other, fleet, node)
    if (held.damage || held.id !== RELEASE.a)
      out.push(
        `${node}: its ${s.previousLayout} tree holds ${held.id || 'nothing'}${held.damage ? ` (${held.damage})` : ''}, not ${RELEASE.a} as before`
      )
  }
  return out
}

/** Every disagreement between the model's prediction and what the run and the fleet say. */
export function judge(
  s: Scenario,
  p: Prediction,
  run: InProcessRun,
  fleet: LocalFleet,
  firesFrom: number
): string[] {
  const rows = JSON.parse(run.outputs.results ?? '[]') as Row[]
  const out = [...judgeRun(s, p, run), ...judgeCause(p, run), ...judgeLatest(s, fleet, p)]
  for (const node of p.nodes) out.push(...judgeNode(s, fleet, node, rows))
  out.push(...judgeOtherTree(s, fleet, p))
  const fires = firesSince(fleet, firesFrom)
  if (p.refusal && fires.length > 0)
    out.push(`refused ${p.refusal}, yet ${fires.length} events fired`)
  if (p.refusal) return out
  out.push(...judgeCounts(run, rows))
  const known = new Set(p.nodes.map((n) => `${n.datacenter ?? ''}/${nameOf(n.node)}`))
  for (const row of rows)
    if (!known.has(`${s.datacenters > 1 ? (row.datacenter ?? '') : ''}/${row.node}`))
      out.push(`a row for ${row.node} (${row.datacenter ?? '-'}) the model does not know`)
  if (!s.wait && s.datacenters > 1) {
    const order = [...new Set(fires.map((f) => f.dc || 'dc1'))]
    if (order.join() !== 'dc1,dc2')
      out.push(`wait: false fired in ${order.join(', ')}, not dc1, dc2`)
  }
  return out
}
