// A staged-rollout scenario of the matrix (issue #19): the run's inputs and how
// the fleet behaves. Pure data, shared by the model, the generator, the
// matrix and the soak.

export type Mode = 'deploy' | 'promote' | 'rollback-to'
/** what the one faulty node (or the joiner) does with this run's release */
export type FaultKind = 'none' | 'fail' | 'silent' | 'critical' | 'join'
export type Layout = 'in-place' | 'releases'

export interface Scenario {
  /** 1: node-1..N; 2: dc1-node-1..N then dc2-node-1..N, or node-1..N in each (`repeatNames`) */
  datacenters: 1 | 2
  /** two datacenters: the same names in each (contract 8a: a node is a (datacenter, name) pair) */
  repeatNames?: boolean
  nodesPerDc: number
  /** the `waves` input, or none (one wave) */
  waves?: string
  /** bake-time 1s (else 0s: no health gate) */
  bake: boolean
  layout: Layout
  autoRollback: boolean
  maxFailures: number
  wait: boolean
  mode: Mode
  /** deploy mode: a release was published and rolled out before this run */
  previous: boolean
  /** the layout the previous release was published in (default: the run's) */
  previousLayout?: Layout
  /** the faulty node: its datacenter (0-based) and position in that datacenter's order */
  fault: { kind: FaultKind; dc: number; position: number }
  /** SIGINT right after this run's first event */
  cancel: boolean
}

/** The states of contract 8a (`results[].status` spells two of them success / failure). */
export type NodeState =
  'succeeded' | 'failed' | 'silent' | 'prepared' | 'not sent' | 'rolled back' | 'pending'

export type CauseKind = 'failed' | 'critical' | 'timeout' | 'cancel' | 'refusal'

/** The two releases of a scenario: published before the run (`a`) and by it (`b`). */
export const RELEASE = { a: 'rel-a', b: 'rel-b' } as const
export const VERSION = { [RELEASE.a]: 'one', [RELEASE.b]: 'two' } as Record<string, string>

/**
 * The nodes of datacenter `dc` (0-based) in natural order, as the local fleet
 * keys them: a name in both datacenters is `<dc>/<name>` (see nameOf).
 */
export function nodesOf(s: Scenario, dc: number): string[] {
  const prefix =
    s.datacenters === 1 ? 'node' : s.repeatNames ? `${datacenterName(dc)}/node` : `dc${dc + 1}-node`
  return Array.from({ length: s.nodesPerDc }, (_, i) => `${prefix}-${i + 1}`)
}

/** A node's name (what its row, results/<name> and the report say) from its fleet key. */
export const nameOf = (node: string) => node.slice(node.lastIndexOf('/') + 1)

/** The node that joins during the run (fault kind `join`): last in natural order, a name no other datacenter has. */
export function joinerOf(s: Scenario): string {
  return `${s.datacenters === 1 || s.repeatNames ? 'node' : `dc${s.fault.dc + 1}-node`}-9`
}

export const datacenterName = (dc: number) => `dc${dc + 1}`

/** The previous release was published in the other layout than the run's (contract 8a, 9). */
export const previousInOtherLayout = (s: Scenario) =>
  s.previousLayout !== undefined &&
  s.previousLayout !== s.layout &&
  releasesOf(s).previous !== undefined

/** The faulty node's name, when there is one (not the joiner). */
export function faultyNode(s: Scenario): string | undefined {
  if (s.fault.kind === 'none' || s.fault.kind === 'join') return undefined
  return nodesOf(s, s.fault.dc)[s.fault.position]
}

/**
 * What the scenario's run deploys and what `latest` named when it started:
 * a deploy publishes `b` over `a` (or over nothing); `promote` rolls out `b`
 * after a partial rollout of it to each datacenter's first node; `rollback-to`
 * re-announces `a` while `b` is current.
 */
export function releasesOf(s: Scenario): { release: string; previous?: string } {
  if (s.mode === 'rollback-to') return { release: RELEASE.a, previous: RELEASE.b }
  if (s.mode === 'deploy' && !s.previous) return { release: RELEASE.b }
  return { release: RELEASE.b, previous: RELEASE.a }
}

/** One line describing the scenario, for failure messages and the soak's log. */
export function describeScenario(s: Scenario): string {
  const parts = [
    s.mode,
    `${s.datacenters}dc×${s.nodesPerDc}`,
    `waves=${s.waves ?? '-'}`,
    s.layout,
    s.bake ? 'bake=1s' : 'bake=0s',
    `auto-rollback=${s.autoRollback}`,
    `max-failures=${s.maxFailures}`,
    `wait=${s.wait}`,
    s.datacenters > 1 && s.repeatNames ? 'same names' : '',
    s.mode === 'deploy' ? `previous=${s.previous}` : '',
    previousInOtherLayout(s) ? `previous in ${s.previousLayout}` : '',
    s.fault.kind === 'none'
      ? 'no fault'
      : `${s.fault.kind}@dc${s.fault.dc + 1}#${s.fault.position}`,
    s.cancel ? 'cancel after first event' : ''
  ]
  return parts.filter((p) => p !== '').join(' ')
}
