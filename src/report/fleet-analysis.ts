// The analysis every part of a report is read from (`analyse`): the nodes by
// state, failed nodes' logs digested and grouped by cause (then lost, silent,
// still waiting, rolled back, prepared, not sent), and how long the nodes took
// to report. Apart from the rendering so that the summary and the check run
// tell one story from one reading of the fleet. Pure; node names, logs and
// notes come from the fleet and are untrusted text. Nodes are named by their
// labels (FleetState.labelOf): the name, with the datacenter where another
// datacenter has a node of that name.
import type { FleetCounts, FleetState, NodeState } from '../fleet-state/fleet-state.ts'
import type { CauseGroup, LogDigest } from './log-digest.ts'
import { digestLog, groupByCause } from './log-digest.ts'
import type { Reported } from './charts.ts'
import type { FleetReport } from './report-types.ts'
import { formatDuration } from '../shared/text.ts'
import { compareNatural } from '../shared/natural-order.ts'

export function byStatus(fleet: FleetState, status: NodeState['status']): string[] {
  return fleet.nodesByStatus(status).sort(compareNatural)
}

/** Nodes whose deploy of this release failed: the failed, and those rolled back after failing. */
export function failedNodes(fleet: FleetState): string[] {
  return fleet
    .list()
    .filter((s) => s.status === 'failure' || (s.status === 'rolled_back' && s.was === 'failure'))
    .map((s) => fleet.labelOf(s))
    .sort(compareNatural)
}

/** Each node's state by its label (the names the analysis lists). */
export function statesByLabel(fleet: FleetState): Map<string, NodeState> {
  return new Map(fleet.list().map((s) => [fleet.labelOf(s), s]))
}

/** Failed nodes' logs by the label of their node (an excerpt names its node's datacenter). */
export function logsByLabel(r: FleetReport): Map<string, string> {
  return new Map((r.excerpts ?? []).map((e) => [r.fleet.labelOf(e), e.text]))
}

/** One line of the causes table: nodes that did not succeed for the same reason. */
export interface Group extends CauseGroup {
  status: NodeState['status']
}

export interface Analysis {
  counts: FleetCounts
  failed: string[]
  lost: string[]
  silent: string[]
  pending: string[]
  succeeded: string[]
  /** never sent anything, prepared only, sent back to the previous release (contract 8a) */
  notSent: string[]
  prepared: string[]
  rolledBack: string[]
  /** each rolled-back node (failed first or not): the release it went back to, where known */
  rolledBackTo: Map<string, string>
  /** failed nodes' digests (nodes without a log read have none) */
  digests: Map<string, LogDigest>
  /** failures by cause, then lost, silent, still waiting; largest first within each */
  groups: Group[]
  /** each node that did not succeed: the cause of its group */
  causeOf: Map<string, string>
  reported: Reported[]
  percentiles?: { p50: number; p90: number; max: number }
  slowest: Reported[]
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

function silentCause(state: NodeState | undefined, r: FleetReport): string {
  const note = state?.note ? ` (not counted: ${state.note})` : ''
  const within =
    r.facts.timeoutMs !== undefined ? ` within ${formatDuration(r.facts.timeoutMs)}` : ''
  return `no report${within}${note}`
}

function pendingCause(r: FleetReport): string {
  if (r.notWaiting) return 'not waited for (wait: false)'
  if (r.facts.cancelled || r.facts.error)
    return r.facts.eventFired === false
      ? 'the event was not fired: nothing was sent'
      : 'not reported when the run stopped: may still be applying it'
  if (r.verdict.done) return 'still deploying when the verdict came'
  return 'not reported yet'
}

const noLog = (cause: string): LogDigest => ({
  cause,
  key: cause,
  useful: [],
  total: 0,
  listing: 0
})
/** The run reads the logs of this many failed nodes at most (the Consul backend's MAX_LOGS_READ). */
export const LOGS_READ_MAX = 200
/** The run read no log for this node: not yet (logs are read at the verdict), beyond the first 200, or none was there. */
const NOT_YET = noLog('failed (its log is read when the wait ends)')
const BEYOND = noLog(
  `failed (its log was not read: the run reads the first ${LOGS_READ_MAX} failed nodes’ logs)`
)
const NO_LOG = noLog('failed (no log of it was found)')

/** Each failed node's log, digested; a stand-in where the run read none. */
function digestsOf(r: FleetReport, failed: readonly string[]): Map<string, LogDigest> {
  const logs = logsByLabel(r)
  const states = statesByLabel(r.fleet)
  const digests = new Map<string, LogDigest>()
  // "Beyond the first 200" only where there were more failed nodes than that.
  const unread = !r.verdict.done ? NOT_YET : failed.length > LOGS_READ_MAX ? BEYOND : NO_LOG
  for (const label of failed) {
    const text = logs.get(label)
    // The log names the node by its own name: the digest blanks that, not the label.
    const name = states.get(label)?.node ?? label
    digests.set(label, text !== undefined ? digestLog(name, text) : unread)
  }
  return digests
}

/** Failures by cause, then lost, silent (by what was seen of them), still waiting. */
function causeGroups(
  r: FleetReport,
  digests: Map<string, LogDigest>,
  nodes: Pick<Analysis, 'lost' | 'silent' | 'pending' | 'notSent' | 'prepared' | 'rolledBack'>
): Group[] {
  const states = statesByLabel(r.fleet)
  const groups: Group[] = groupByCause(digests, compareNatural).map((g) => ({
    ...g,
    status: 'failure' as const
  }))
  if (nodes.lost.length)
    groups.push({
      cause: 'serfHealth went critical before it reported',
      key: 'lost',
      nodes: nodes.lost,
      status: 'lost'
    })
  // Silent nodes: by what was seen of them (nothing, or a result not counted).
  const silentGroups = new Map<string, Group>()
  for (const node of nodes.silent) {
    const cause = silentCause(states.get(node), r)
    const g = silentGroups.get(cause)
    if (g) g.nodes.push(node)
    else silentGroups.set(cause, { cause, key: cause, nodes: [node], status: 'silent' })
  }
  groups.push(...[...silentGroups.values()].sort((a, b) => b.nodes.length - a.nodes.length))
  if (nodes.pending.length)
    groups.push({ cause: pendingCause(r), key: 'pending', nodes: nodes.pending, status: 'pending' })
  groups.push(
    ...groupedBy(
      nodes.rolledBack,
      'rolled_back',
      (s) => `rolled back to ${s?.deployId ?? 'the previous release'}`,
      states
    )
  )
  if (nodes.prepared.length)
    groups.push({
      cause: 'prepared, not switched: current still on the previous release',
      key: 'prepared',
      nodes: nodes.prepared,
      status: 'prepared'
    })
  groups.push(...groupedBy(nodes.notSent, 'not_sent', (s) => s?.note ?? 'not sent', states))
  return groups
}

/** Nodes of one state, grouped by a cause read from each, largest group first. */
function groupedBy(
  nodes: readonly string[],
  status: NodeState['status'],
  causeOf: (state: NodeState | undefined) => string,
  states: ReadonlyMap<string, NodeState>
): Group[] {
  const groups = new Map<string, Group>()
  for (const node of nodes) {
    const cause = causeOf(states.get(node))
    const g = groups.get(cause)
    if (g) g.nodes.push(node)
    else groups.set(cause, { cause, key: `${status}:${cause}`, nodes: [node], status })
  }
  return [...groups.values()].sort((a, b) => b.nodes.length - a.nodes.length)
}

/** How long the nodes that reported took: percentiles and the slowest five. */
function reportTimes(fleet: FleetState): Pick<Analysis, 'reported' | 'percentiles' | 'slowest'> {
  const reported = fleet
    .list()
    .filter((s) => s.noticedMs !== undefined && (s.status === 'success' || s.status === 'failure'))
    .map((s) => ({ node: fleet.labelOf(s), ok: s.status === 'success', ms: s.noticedMs as number }))
  const times = reported.map((x) => x.ms).sort((a, b) => a - b)
  const percentiles = times.length
    ? { p50: percentile(times, 50), p90: percentile(times, 90), max: times.at(-1) as number }
    : undefined
  const slowest = [...reported]
    .sort((a, b) => b.ms - a.ms || compareNatural(a.node, b.node))
    .slice(0, 5)
  return { reported, percentiles, slowest }
}

export function analyse(r: FleetReport): Analysis {
  const { fleet } = r
  const failed = failedNodes(fleet)
  const lost = byStatus(fleet, 'lost')
  const silent = byStatus(fleet, 'silent')
  const pending = byStatus(fleet, 'pending')
  const succeeded = byStatus(fleet, 'success')
  const notSent = byStatus(fleet, 'not_sent')
  const prepared = byStatus(fleet, 'prepared')
  // A node that failed and was rolled back is told under its failure's cause.
  const rolledBack = byStatus(fleet, 'rolled_back').filter((n) => !failed.includes(n))
  const digests = digestsOf(r, failed)
  const groups = causeGroups(r, digests, { lost, silent, pending, notSent, prepared, rolledBack })
  const causeOf = new Map<string, string>()
  for (const g of groups)
    for (const node of g.nodes)
      causeOf.set(node, g.status === 'failure' ? (digests.get(node)?.cause ?? g.cause) : g.cause)
  const rolledBackTo = new Map<string, string>()
  for (const s of fleet.list())
    if (s.status === 'rolled_back' && s.deployId) rolledBackTo.set(s.node, s.deployId)
  return {
    counts: fleet.counts(),
    rolledBackTo,
    failed,
    lost,
    silent,
    pending,
    succeeded,
    notSent,
    prepared,
    rolledBack,
    digests,
    groups,
    causeOf,
    ...reportTimes(fleet)
  }
}

/** States that are no cause of a failure: where a node ended, not why a deploy failed. */
export const NOT_A_CAUSE: ReadonlySet<NodeState['status']> = new Set([
  'not_sent',
  'prepared',
  'rolled_back'
])

/** What a node did on this release: a rolled-back node by what it reported before it went back. */
export function outcomeOf(state: NodeState | undefined): NodeState['status'] | undefined {
  return state?.status === 'rolled_back' ? state.was : state?.status
}
