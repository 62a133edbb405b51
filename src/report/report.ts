// What a person reads about a run: the verdict and its cause first, failures
// grouped by cause, the lines of a log that matter, the fleet as pictures, and
// what a run that ended early left behind. One analysis (`analyse`) feeds the job
// summary (markdown with Mermaid, here) and the check run (text and tables,
// check-report.ts). Pure; node names, logs and notes come from the fleet and
// are untrusted text. Nodes are named by their labels (FleetState.labelOf): the
// name, with the datacenter where another datacenter has a node of that name.
import type { FleetCounts, FleetState, NodeState, Verdict } from '../fleet-state/fleet-state.ts'
import type { CauseGroup, LogDigest } from './log-digest.ts'
import { digestLog, groupByCause, logLines } from './log-digest.ts'
import type { Reported, Slice, WaveBox } from './charts.ts'
import { outcomePie, reportTimeChart, wavesChart } from './charts.ts'
import {
  cellCode,
  codeSpan,
  formatDuration,
  markdownText,
  middleCut,
  nameList,
  plainText,
  plural,
  utcTime
} from '../shared/text.ts'
import { progressLine } from '../fleet-state/progress-line.ts'
import { compareNatural } from '../shared/natural-order.ts'

function byStatus(fleet: FleetState, status: NodeState['status']): string[] {
  return fleet.nodesByStatus(status).sort(compareNatural)
}

/** Nodes whose deploy of this release failed: the failed, and those rolled back after failing. */
function failedNodes(fleet: FleetState): string[] {
  return fleet
    .list()
    .filter((s) => s.status === 'failure' || (s.status === 'rolled_back' && s.was === 'failure'))
    .map((s) => fleet.labelOf(s))
    .sort(compareNatural)
}

/** Each node's state by its label (the names the analysis lists). */
function statesByLabel(fleet: FleetState): Map<string, NodeState> {
  return new Map(fleet.list().map((s) => [fleet.labelOf(s), s]))
}

/** Failed nodes' logs by the label of their node (an excerpt names its node's datacenter). */
function logsByLabel(r: FleetReport): Map<string, string> {
  return new Map((r.excerpts ?? []).map((e) => [r.fleet.labelOf(e), e.text]))
}

/** The run's one-line message (its failure annotation): counts and the nodes named. */
export function verdictLine(fleet: FleetState, verdict: Verdict): string {
  const c = fleet.counts()
  if (!verdict.done) return progressLine(c)
  if (verdict.reason === 'no_targets')
    return 'no live node matches the filters: nothing would receive the deploy'
  const failed = failedNodes(fleet)
  const lost = byStatus(fleet, 'lost')
  const silent = byStatus(fleet, 'silent')
  // Failing fast leaves nodes that were still deploying: they are not silent.
  const waiting = byStatus(fleet, 'pending')
  const parts = [
    failed.length ? `failed: ${nameList(failed)}` : '',
    lost.length ? `lost: ${nameList(lost)}` : '',
    silent.length ? `silent: ${nameList(silent)}` : '',
    waiting.length ? `still waiting: ${nameList(waiting)}` : ''
  ].filter(Boolean)
  const head = `${c.succeeded}/${c.total} nodes on ${fleet.deployId}`
  if (verdict.ok)
    return parts.length
      ? `${head} (tolerated, max-failures ${fleet.maxFailures}: ${parts.join('; ')})`
      : head
  const why = verdict.reason === 'timed_out' ? 'timed out' : `more than ${fleet.maxFailures} failed`
  return `${head}, ${why}: ${parts.join('; ')}`
}

export interface ResultRow {
  node: string
  /** as the node reported (success, failure), or lost, silent, pending, not sent, prepared, rolled back */
  status: string
  deploy_id: string | null
  at: number | null
  /** the wave of a staged rollout (contract 8); absent with one wave */
  wave?: number
  /** the node's datacenter (contract 10); absent when the run names none */
  datacenter?: string
  /** layout: releases (contract 9): the phase of the counted result, prepare or switch */
  phase?: string
}

/** The `results` output: one row per node, sorted by name. */
/** The `results` output's status words: the node states of contract 8a. */
const RESULT_STATUS: Record<NodeState['status'], ResultRow['status']> = {
  success: 'success',
  failure: 'failure',
  lost: 'lost',
  silent: 'silent',
  pending: 'pending',
  not_sent: 'not sent',
  prepared: 'prepared',
  rolled_back: 'rolled back'
}

export function resultRows(fleet: FleetState): ResultRow[] {
  return fleet.list().map((s) => ({
    node: s.node,
    status: RESULT_STATUS[s.status],
    deploy_id: s.deployId ?? null,
    at: s.at ?? null,
    ...(s.wave !== undefined ? { wave: s.wave } : {}),
    ...(s.datacenter !== undefined ? { datacenter: s.datacenter } : {}),
    ...(s.phase !== undefined ? { phase: s.phase } : {})
  }))
}

/** A failed node's log, as read from `<kv-prefix>/logs/<node>` of its datacenter (untrusted). */
export interface LogExcerpt {
  node: string
  /** the node's datacenter, when the run names datacenters */
  datacenter?: string
  text: string
}

/** What the run knows about the release and how far it got, for the summary and the check run. */
export interface DeployFacts {
  /** the `app` input */
  app?: string
  /** the `environment` input */
  environment?: string
  manifestUrl?: string
  srcUrl?: string
  checksum?: string
  /** the commit of the release (a rollback's: the release's, not the run's) */
  commit?: string
  /** from the event to the verdict */
  durationMs?: number
  runUrl?: string
  /** the wait was cancelled (SIGINT/SIGTERM) */
  cancelled?: boolean
  /** the wait broke off with an error: the run fails with this message */
  error?: string
  /** epoch ms the event was fired */
  firedAt?: number
  /** when the release was published (ISO text or epoch ms) */
  publishedAt?: string | number
  /** the `timeout` input, in ms */
  timeoutMs?: number
  /** latest and deploy-id now name this release; undefined: not known */
  latestMoved?: boolean
  /** the event went out; undefined: not known */
  eventFired?: boolean
  /** what deploy-id named before this run: the release this one replaces */
  previousDeployId?: string
  /** this run re-announced an earlier release (`rollback-to`) */
  rollback?: boolean
}

/** A wave of a staged rollout, as the pipeline ran it (times in epoch ms). */
export interface WaveReport {
  /** 1-based; 0 is layout: releases' prepare, sent to every target before wave 1 */
  wave: number
  /** the datacenter it went to, when the run names datacenters (each has its own waves) */
  datacenter?: string
  /** the wave's nodes by their labels (FleetState.labelOf) */
  nodes: string[]
  startedAt?: number
  endedAt?: number
  /** the gate after it, in words (`bake 30s`, `check web critical on node-3`) */
  gate?: string
  /** undefined: not finished (or not started) */
  passed?: boolean
}

/** Everything a report is made from. */
export interface FleetReport {
  fleet: FleetState
  /** `{ done: false }` while waiting, or when the run did not wait */
  verdict: Verdict
  facts: DeployFacts
  /** failed nodes' logs (untrusted) */
  excerpts?: readonly LogExcerpt[]
  /** the run did not wait for the fleet (`wait: false`) */
  notWaiting?: boolean
  /** the staged rollout's waves, when there were any */
  waves?: readonly WaveReport[]
  /** auto-rollback's outcome in one line, when it ran (contract 8: say that it rolled back, and how) */
  rollback?: string
  /** the health checks that failed a wave's gate (node, check, output), when one did: the cause */
  gateFailure?: string
}

/** The auto-rollback line under the headline, when one ran. */
export function rollbackMarkdown(r: FleetReport): string {
  return r.rollback ? `**Auto-rollback:** ${markdownText(r.rollback, 400)}\n` : ''
}

/**
 * The run's failure message (its annotation, one line): the verdict line, and
 * when nodes failed, the first cause: `1/5 nodes on <id>, more than 0 failed:
 * failed: node-3 (cause: node-3: test -z "$SIM_FAIL": exit status 1)`.
 */
export function verdictMessage(r: FleetReport): string {
  const line = verdictLine(r.fleet, r.verdict)
  if (!r.verdict.done) return line
  const first = analyse(r).groups.find((g) => g.status === 'failure')
  if (!first || first.nodes.length === 0) return line
  const who =
    first.nodes.length > 1 ? `${first.nodes[0]} and ${first.nodes.length - 1} more` : first.nodes[0]
  return `${line} (cause: ${plainText(who ?? '', 80)}: ${middleCut(plainText(first.cause, 400), 120)})`
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

const STATUS_MARK: Record<NodeState['status'], string> = {
  success: '✅ succeeded',
  failure: '❌ failed',
  lost: '💀 lost',
  silent: '🔇 silent',
  pending: '⏳ not reported',
  not_sent: '⚪ not sent',
  prepared: '📦 prepared',
  rolled_back: '↩️ rolled back'
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

/** `web → production`, or `web`, or nothing. */
function subject(facts: DeployFacts): string {
  const app = facts.app ? plainText(facts.app, 60) : ''
  const env = facts.environment ? plainText(facts.environment, 60) : ''
  return app && env ? `${app} → ${env}` : app || env
}

/** `to v1` when every rolled-back node went back to the same release. */
function backTo(a: Analysis): string {
  const ids = new Set(a.rolledBackTo.values())
  const [only] = ids
  return ids.size === 1 && only ? ` to ${plainText(only, 100)}` : ''
}

/**
 * Where the nodes that are not on the release ended (contract 8a), for the
 * headline: `; 3 rolled back to v1, 2 not sent`.
 */
function fleetNow(c: FleetCounts, a: Analysis): string {
  const parts = [
    c.rolledBack ? `${c.rolledBack} rolled back${backTo(a)}` : '',
    c.prepared ? `${c.prepared} prepared, not switched` : '',
    c.notSent ? `${c.notSent} not sent` : ''
  ].filter(Boolean)
  return parts.length ? `; ${parts.join(', ')}` : ''
}

/** What `latest` names after a run that ended early (a node booting now gets it). */
function latestNow(r: FleetReport): string {
  const { latestMoved, previousDeployId } = r.facts
  if (latestMoved === true) return `; latest names ${plainText(r.fleet.deployId, 100)}`
  if (latestMoved === false)
    return previousDeployId
      ? `; latest still names ${plainText(previousDeployId, 100)}`
      : '; latest not moved'
  return ''
}

/** Marks around the cause inside a headline (control characters: no fleet text carries them). */
const CODE = ['\u0001', '\u0002'] as const

/** The headline as markdown: escaped text, the cause as code. */
export function headlineMarkdown(text: string): string {
  return text
    .split(CODE[0])
    .map((part, i) => {
      if (i === 0) return markdownText(part, 600)
      const [code = '', rest = ''] = part.split(CODE[1])
      return `${codeSpan(code, 200)}${markdownText(rest, 200)}`
    })
    .join('')
}

/** `node-3: <cause>`, `node-3 and 22 more: <cause>`; `; 2 more causes` when there are. */
/** States that are no cause of a failure: where a node ended, not why a deploy failed. */
const NOT_A_CAUSE: ReadonlySet<NodeState['status']> = new Set([
  'not_sent',
  'prepared',
  'rolled_back'
])

function causeBrief(a: Analysis, max = 160): string {
  const causes = a.groups.filter((g) => !NOT_A_CAUSE.has(g.status))
  const first = causes[0]
  if (!first) return ''
  const more = causes.length - 1
  const also = more > 0 ? `; ${plural(more, 'more cause')}` : ''
  if (first.status !== 'failure') {
    // No failure, only lost, silent or waiting nodes: their names say more than "no report".
    const nodes = causes.flatMap((g) => g.nodes)
    const named = nodes.slice(0, 3).map((n) => plainText(n, 60))
    const rest = nodes.length - named.length
    return `${named.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`
  }
  const who =
    first.nodes.length > 1 ? `${first.nodes[0]} and ${first.nodes.length - 1} more` : first.nodes[0]
  // The cause between CODE marks: markdown shows it as code, plain text drops the marks.
  return `${plainText(who ?? '', 100)}: ${CODE[0]}${middleCut(plainText(first.cause, 400), max)}${CODE[1]}${also}`
}

export type Mark = '✅' | '❌' | '⌛' | '⛔' | '📣' | '⏳'

export function headlineMark(verdict: Verdict, facts: DeployFacts = {}, notWaiting = false): Mark {
  if (facts.error) return '❌'
  if (facts.cancelled) return '⛔'
  if (notWaiting) return '📣'
  if (!verdict.done) return '⏳'
  if (verdict.ok) return '✅'
  return verdict.reason === 'timed_out' ? '⌛' : '❌'
}

/**
 * The verdict with its cause, plain text: `web → production: 1 of 5 nodes
 * failed (node-3: test -z "$SIM_FAIL": exit status 1)`. `short` leaves out the
 * app (the check's name carries it) and cuts the cause shorter: the check title.
 */
function markedHeadline(r: FleetReport, a: Analysis, short: boolean): string {
  const { fleet, verdict, facts } = r
  const c = a.counts
  const id = fleet.deployId
  const on = facts.rollback ? 'back on' : 'on'
  const bad = a.failed.length + a.lost.length
  const cause = causeBrief(a, short ? 60 : 120)
  const reported = c.succeeded + c.failed
  let text: string
  if (facts.error) {
    const still =
      facts.eventFired === false
        ? 'the event was not fired'
        : `${c.succeeded} of ${c.total} ${on} ${id}${c.pending ? `, ${c.pending} may still be applying it` : ''}`
    text = `stopped: ${plainText(facts.error, short ? 100 : 300)} (${still})${fleetNow(c, a)}${latestNow(r)}`
  } else if (facts.cancelled) {
    text =
      facts.eventFired === false
        ? `cancelled before the event: no node was sent ${id}`
        : facts.eventFired === undefined && reported === 0
          ? `cancelled while announcing ${id}: whether the event went out is not known`
          : `cancelled after the event: ${c.succeeded} of ${c.total} nodes ${on} ${id}${c.pending ? `, ${c.pending} may still be applying it` : ''}${fleetNow(c, a)}${latestNow(r)}`
  } else if (r.notWaiting) {
    text = `${id} announced to ${plural(c.total, 'node')}; not waiting (wait: false)`
  } else if (!verdict.done) {
    text = `${c.succeeded} of ${c.total} nodes ${on} ${id} so far${bad ? `, ${bad} failed` : ''}`
  } else if (verdict.reason === 'no_targets') {
    text = 'no live node matches the filters: nothing would receive the deploy'
  } else if (verdict.ok) {
    text =
      c.succeeded === c.total
        ? `${c.total === 1 ? 'the 1 node' : `all ${c.total} nodes`} ${on} ${id}`
        : `${c.succeeded} of ${c.total} nodes ${on} ${id}; ${c.total - c.succeeded} did not, within max-failures ${fleet.maxFailures} (${cause})`
  } else if (r.gateFailure) {
    text = `health gate failed: ${CODE[0]}${plainText(r.gateFailure, short ? 100 : 240)}${CODE[1]} (${c.succeeded} of ${c.total} nodes ${on} ${id})${fleetNow(c, a)}`
  } else if (verdict.reason === 'timed_out') {
    const quiet = a.silent.length + a.pending.length
    const after = facts.timeoutMs !== undefined ? ` after ${formatDuration(facts.timeoutMs)}` : ''
    text = `timed out${after}: ${quiet} of ${c.total} nodes silent${bad ? `, ${bad} failed` : ''} (${cause})${fleetNow(c, a)}`
  } else {
    const also = [
      a.silent.length ? `${a.silent.length} silent` : '',
      a.pending.length ? `${a.pending.length} still deploying` : ''
    ].filter(Boolean)
    text = `${bad} of ${c.total} nodes failed${also.length ? `, ${also.join(', ')}` : ''} (${cause})${fleetNow(c, a)}`
  }
  if (facts.rollback) text = `↩ ${text}`
  const who = short ? (facts.environment ? plainText(facts.environment, 40) : '') : subject(facts)
  return who ? `${who}: ${text}` : text
}

/** The headline as plain text (a title, a status description, a log line). */
export function headline(r: FleetReport, a: Analysis = analyse(r), short = false): string {
  return markedHeadline(r, a, short).split(CODE[0]).join('').split(CODE[1]).join('')
}

// ---------------------------------------------------------------- markdown parts

/** Names, escaped, joined, within `budget` characters; the rest counted. */
export function namesWithin(
  names: readonly string[],
  budget: number
): { text: string; shown: number } {
  const parts: string[] = []
  let size = 0
  for (const [i, name] of names.entries()) {
    const item = markdownText(name, 80)
    const rest = names.length - i - 1
    const reserve = rest > 0 ? 24 : 0
    if (size + item.length + 2 + reserve > budget && i > 0) {
      return { text: `${parts.join(', ')} and ${names.length - i} more`, shown: i }
    }
    parts.push(item)
    size += item.length + 2
  }
  return { text: parts.join(', '), shown: names.length }
}

/** The release line: which release, from which commit, when; or the rollback's own line. */
export function releaseLine(r: FleetReport): string {
  const f = r.facts
  const id = codeSpan(r.fleet.deployId, 100)
  const commit = f.commit ? `commit ${codeSpan(f.commit.slice(0, 7), 10)}` : ''
  const published = f.publishedAt !== undefined ? `published ${utcTime(f.publishedAt)}` : ''
  const replacing = f.previousDeployId ? `replacing ${codeSpan(f.previousDeployId, 100)}` : ''
  if (f.rollback) {
    const what = [commit, published].filter(Boolean).join(', ')
    return `↩ rollback to ${id}${what ? ` (${what})` : ''}${replacing ? `, ${replacing}` : ''}`
  }
  return `**Release** ${id}${commit ? ` from ${commit}` : ''}${replacing ? `, ${replacing}` : ''}`
}

function timeLine(r: FleetReport): string {
  const f = r.facts
  const parts = [
    f.firedAt !== undefined ? `event fired ${utcTime(f.firedAt)}` : '',
    f.durationMs !== undefined && !r.notWaiting
      ? `${r.verdict.done ? 'verdict' : 'stopped'} ${formatDuration(f.durationMs)} after it`
      : ''
  ].filter(Boolean)
  return parts.join(' · ')
}

/**
 * The line to paste to undo this run: back to what deploy-id named before; after
 * an auto-rollback, only for nodes it left behind. Without a recorded earlier
 * release, and `latest` not moved, only the nodes sent this release have it.
 */
export function rollbackHint(r: FleetReport): string {
  const prev = r.facts.previousDeployId
  const id = plainText(r.fleet.deployId, 100).replace(/`/g, "'")
  if (!prev)
    return r.facts.latestMoved === false
      ? `\`latest\` did not move: only nodes sent ${id} have it; \`rollback-to\` the release they had sends them back`
      : 'no earlier release is recorded: there is nothing to roll back to'
  const to = plainText(prev, 100).replace(/`/g, "'")
  const line = `re-run with \`rollback-to: ${to}\` (CLI: \`--rollback-to ${to}\`)`
  return r.rollback ? `auto-rollback ran (above); for any node it left on ${id}, ${line}` : line
}

/** Whether the run left its job unfinished: cancelled, an error, or not waiting. */
export function endedEarly(r: FleetReport): boolean {
  return Boolean(r.facts.cancelled || r.facts.error || r.notWaiting)
}

/** A run that ended early: what it left behind, point by point. */
export function stateMarkdown(r: FleetReport, a: Analysis): string {
  const f = r.facts
  const id = codeSpan(r.fleet.deployId, 100)
  const yesNo = (v: boolean | undefined, yes: string, no: string, unknown: string) =>
    v === true ? yes : v === false ? no : unknown
  const c = a.counts
  const mayApply =
    f.eventFired === false
      ? 'no: the event was not fired'
      : c.pending > 0
        ? `yes: ${plural(c.pending, 'node')} had not reported and may still be applying ${id}`
        : 'no: every node had reported'
  const lines = [
    `- **Published:** ${f.manifestUrl ? `${f.rollback ? 'already (a rollback)' : 'yes'}: ${codeSpan(f.manifestUrl)}` : 'nothing'}`,
    `- **\`latest\` moved:** ${yesNo(
      f.latestMoved,
      `yes: it names ${id}${f.previousDeployId ? ` (it named ${codeSpan(f.previousDeployId, 100)})` : ''}`,
      `no${f.previousDeployId ? `: it still names ${codeSpan(f.previousDeployId, 100)}` : ''}`,
      'not known (the post step settles it)'
    )}`,
    `- **Event fired:** ${yesNo(
      f.eventFired,
      `yes${f.firedAt !== undefined ? `, ${utcTime(f.firedAt)}` : ''}`,
      'no',
      'not known (the post step settles it)'
    )}`,
    `- **Nodes then:** ${c.succeeded} succeeded, ${a.failed.length + a.lost.length} failed, ${c.pending} not reported (of ${c.total})`,
    `- **Still applying:** ${mayApply}`,
    `- **To roll back:** ${rollbackHint(r)}`
  ]
  return `${lines.join('\n')}\n`
}

/** Failures grouped by cause: a count, the cause, the nodes (all named within `budget`). */
export function causesMarkdown(a: Analysis, budget: number): string {
  if (a.groups.length === 0) return ''
  const lines = ['| nodes | cause | which |', '| --- | --- | --- |']
  let size = 40
  const total = a.groups.reduce((n, g) => n + g.nodes.length, 0)
  for (const [i, g] of a.groups.entries()) {
    const rest = a.groups.length - i - 1
    const room = budget - size - rest * 300
    // Each group's names get a share of what is left, by size, at least 200 characters.
    const share = Math.max(200, Math.floor((room * g.nodes.length) / Math.max(1, total)))
    const mark = STATUS_MARK[g.status].split(' ')[0]
    // Where nodes ended (not sent, rolled back) is no cause to read node by node: a few names.
    const cap = NOT_A_CAUSE.has(g.status) ? 300 : Infinity
    const names = namesWithin(g.nodes, Math.min(share, room - 400, cap))
    const row = `| ${mark} ${g.nodes.length} | ${g.status === 'failure' ? cellCode(g.cause, 200) : markdownText(g.cause, 200)} | ${names.text} |`
    if (size + row.length + 1 > budget) {
      const left = a.groups.slice(i).reduce((n, x) => n + x.nodes.length, 0)
      lines.push(
        '',
        `… ${plural(a.groups.length - i, 'more cause')} (${plural(left, 'node')}) left out (size limit).`
      )
      break
    }
    lines.push(row)
    size += row.length + 1
  }
  return `${lines.join('\n')}\n`
}

/** A fence longer than any backtick run in the text: the text cannot close it. */
function fenceFor(lines: readonly string[]): string {
  let longest = 0
  for (const line of lines)
    for (const run of line.match(/`+/g) ?? []) longest = Math.max(longest, run.length)
  return '`'.repeat(Math.max(3, longest + 1))
}

function fenced(lines: readonly string[]): string {
  const fence = fenceFor(lines)
  return `${fence}text\n${lines.join('\n')}\n${fence}\n`
}

/** Lines (from the end) that fit `budget` characters once fenced. */
function tailWithin(lines: readonly string[], budget: number): string[] {
  const out: string[] = []
  let size = 20
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i] as string
    if (size + l.length + 1 > budget) break
    out.unshift(l)
    size += l.length + 1
  }
  return out
}

/**
 * One cause's log block within `room` characters, or undefined when it does not
 * fit: the lines that matter, then the whole log's tail collapsed.
 */
function causeLogBlock(
  g: Group,
  node: string,
  d: LogDigest,
  text: string,
  room: number,
  open: boolean
): string | undefined {
  const name = markdownText(node, 80)
  const others =
    g.nodes.length > 1 ? ` (and ${plural(g.nodes.length - 1, 'other node')} with this cause)` : ''
  const useful = tailWithin(d.useful, Math.floor(room * 0.45))
  const all = logLines(text)
  const listing = d.listing ? `; ${plural(d.listing, 'line')} of file listings left out` : ''
  const build = (tail: readonly string[]) =>
    [
      `<details${open ? ' open' : ''}><summary><b>${name}</b>${others}: the lines that matter (${useful.length} of ${plural(d.total, 'line')}${listing})</summary>`,
      '',
      fenced(useful.length ? useful : ['(nothing)']),
      `<details><summary>${name}: the whole log${tail.length < all.length ? ` (last ${tail.length} of ${all.length} lines)` : ` (${plural(all.length, 'line')})`}</summary>`,
      '',
      fenced(tail),
      '</details>',
      '</details>',
      ''
    ].join('\n')
  // The whole log gets what the rest leaves; a long fence can take more: cut again.
  let tailBudget = room - build([]).length
  let tail = tailWithin(all, tailBudget)
  let block = build(tail)
  for (let tries = 0; block.length > room && tries < 3; tries++) {
    tailBudget -= block.length - room + 100
    tail = tailWithin(all, tailBudget)
    block = build(tail)
  }
  return block.length > room ? undefined : block
}

/**
 * Each cause's log, its first node's: the lines that matter first (errors, the
 * failing command and its output), then the whole tail collapsed. The first
 * group's is open. At most `maxGroups` groups, within `budget` characters.
 */
export function causeLogsMarkdown(
  r: FleetReport,
  a: Analysis,
  budget: number,
  maxGroups = 5
): string {
  const logs = logsByLabel(r)
  const parts: string[] = []
  let size = 0
  const groups = a.groups.filter((g) => g.status === 'failure')
  let left = 0
  for (const [i, g] of groups.entries()) {
    const node = g.nodes.find((n) => logs.has(n))
    const d = node === undefined ? undefined : a.digests.get(node)
    if (node === undefined || d === undefined || i >= maxGroups) {
      if (node !== undefined) left++
      continue
    }
    const room = budget - size - 200
    const block =
      room < 600 ? undefined : causeLogBlock(g, node, d, logs.get(node) ?? '', room, i === 0)
    if (block === undefined) {
      left++
      continue
    }
    parts.push(block)
    size += block.length + 1
  }
  if (left > 0)
    parts.push(
      `… the logs of ${plural(left, 'more cause')} are left out (size limit); Consul keeps each under \`<kv-prefix>/logs/<node>\`.\n`
    )
  return parts.join('\n')
}

/** One row per node that did not succeed, natural order within its status, with its cause. */
export function problemTableMarkdown(
  a: Analysis,
  fleet: FleetState,
  budget: number,
  maxRows = 500
): { markdown: string; shown: number; omitted: number } {
  const states = statesByLabel(fleet)
  const nodes = [...a.failed, ...a.lost, ...a.silent, ...a.pending]
  if (nodes.length === 0) return { markdown: '', shown: 0, omitted: 0 }
  const lines = ['| node | status | after the event | cause |', '| --- | --- | --- | --- |']
  let size = 100
  let shown = 0
  for (const node of nodes) {
    const s = states.get(node)
    const cause = a.causeOf.get(node) ?? ''
    const row = `| ${markdownText(node, 80)} | ${STATUS_MARK[s?.status ?? 'pending']} | ${s?.noticedMs !== undefined ? formatDuration(s.noticedMs) : ''} | ${s?.status === 'failure' ? cellCode(middleCut(cause, 64), 64) : markdownText(cause, 160)} |`
    if (shown >= maxRows || size + row.length + 1 > budget - 200) break
    lines.push(row)
    size += row.length + 1
    shown++
  }
  const omitted = nodes.length - shown
  if (omitted > 0)
    lines.push(
      '',
      `… and ${plural(omitted, 'more node')} left out of this table (the \`results\` output lists every node).`
    )
  return { markdown: `${lines.join('\n')}\n`, shown, omitted }
}

/** The succeeded nodes: a count, and their names (with times, for small fleets) collapsed. */
export function succeededMarkdown(
  a: Analysis,
  fleet: FleetState,
  budget: number,
  tableMax = 50
): string {
  const n = a.succeeded.length
  if (n === 0) return ''
  const states = statesByLabel(fleet)
  const joined = a.succeeded.filter((node) => states.get(node)?.joined)
  const joinedNote = joined.length
    ? `, ${plural(joined.length, 'node')} of them joined during the deploy (${namesWithin(joined, 400).text})`
    : ''
  const summary = `<details><summary>✅ ${plural(n, 'node')} succeeded${joinedNote}</summary>\n\n`
  if (n <= tableMax) {
    const rows = a.succeeded.map((node) => {
      const s = states.get(node)
      const ms = s?.noticedMs
      return `| ${markdownText(node, 80)} | ${ms !== undefined ? formatDuration(ms) : ''} | ${s?.joined ? 'joined during the deploy' : ''} |`
    })
    const md = `${summary}| node | after the event | note |\n| --- | --- | --- |\n${rows.join('\n')}\n\n</details>\n`
    if (md.length <= budget) return md
  }
  if (budget < 400 + summary.length) return `✅ ${plural(n, 'node')} succeeded${joinedNote}.\n`
  const names = namesWithin(a.succeeded, budget - summary.length - 40)
  return `${summary}${names.text}\n\n</details>\n`
}

/** p50/p90/max time to report and the slowest nodes, as one line. */
export function timingLine(a: Analysis): string {
  if (!a.percentiles) return ''
  const p = a.percentiles
  const slow = a.slowest
    .map((s) => `${markdownText(s.node, 60)} ${formatDuration(s.ms)}`)
    .join(', ')
  return `**Time to report** (${plural(a.reported.length, 'node')}): p50 ${formatDuration(p.p50)} · p90 ${formatDuration(p.p90)} · max ${formatDuration(p.max)}. Slowest: ${slow}.\n`
}

/** A wave that went out and has no outcome is running, or stopped when the run was cancelled or broke off. */
function waveState(w: WaveReport, r: FleetReport): WaveBox['state'] {
  if (w.passed === true) return 'passed'
  if (w.passed === false) return 'failed'
  if (w.startedAt === undefined) return 'not started'
  return r.facts.cancelled || r.facts.error ? 'stopped' : 'running'
}

const WAVE_MARK: Record<WaveBox['state'], string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  running: '⏳ running',
  stopped: '⛔ stopped',
  'not started': '⚪ not started'
}

/** `wave 2`, `prepare`, `dc2 wave 1`: the wave 0 of layout: releases is its prepare. */
function waveName(w: WaveReport): string {
  const name = w.wave === 0 ? 'prepare' : `wave ${w.wave}`
  return w.datacenter ? `${plainText(w.datacenter, 40)} ${name}` : name
}

/** What a node did on this release: a rolled-back node by what it reported before it went back. */
function outcomeOf(state: NodeState | undefined): NodeState['status'] | undefined {
  return state?.status === 'rolled_back' ? state.was : state?.status
}

function waveCounts(w: WaveReport, states: Map<string, NodeState>) {
  let ok = 0
  let bad = 0
  let unsent = 0
  for (const node of w.nodes) {
    const s = outcomeOf(states.get(node))
    // A prepare's node that is left prepared did what the prepare asked.
    if (s === 'success' || (w.wave === 0 && s === 'prepared')) ok++
    else if (s === 'failure' || s === 'lost') bad++
    // Never sent this wave's event (or only prepared for it): nothing to report.
    else if (s === 'not_sent' || s === 'prepared') unsent++
  }
  return { ok, bad, quiet: w.nodes.length - ok - bad - unsent }
}

function sinceEvent(at: number | undefined, r: FleetReport): string {
  if (at === undefined) return ''
  const base = r.facts.firedAt ?? r.waves?.[0]?.startedAt
  return base === undefined ? utcTime(at) : `+${formatDuration(at - base)}`
}

/** The waves as a table: nodes, how they did, when, the gate. */
export function wavesTableMarkdown(r: FleetReport, budget: number): string {
  const waves = r.waves ?? []
  if (waves.length === 0) return ''
  const states = statesByLabel(r.fleet)
  const lines = [
    '| wave | result | nodes | succeeded | failed | not reported | started | took | gate |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  let size = 200
  for (const [i, w] of waves.entries()) {
    const c = waveCounts(w, states)
    const names = namesWithin([...w.nodes].sort(compareNatural), 160)
    const took =
      w.startedAt !== undefined && w.endedAt !== undefined
        ? formatDuration(w.endedAt - w.startedAt)
        : ''
    const wave = w.wave === 0 || w.datacenter ? markdownText(waveName(w), 60) : String(w.wave)
    const row = `| ${wave} | ${WAVE_MARK[waveState(w, r)]} | ${w.nodes.length}: ${names.text} | ${c.ok} | ${c.bad} | ${c.quiet} | ${sinceEvent(w.startedAt, r)} | ${took} | ${w.gate ? markdownText(w.gate, 120) : ''} |`
    if (size + row.length > budget) {
      lines.push('', `… ${plural(waves.length - i, 'more wave')} left out (size limit).`)
      break
    }
    lines.push(row)
    size += row.length + 1
  }
  return `${lines.join('\n')}\n`
}

/** The waves as boxes in a row, coloured by result (Mermaid). */
export function wavesPicture(r: FleetReport): string {
  const states = statesByLabel(r.fleet)
  return wavesChart(
    (r.waves ?? []).map((w) => {
      const c = waveCounts(w, states)
      const state = waveState(w, r)
      const took =
        w.startedAt !== undefined && w.endedAt !== undefined
          ? `${sinceEvent(w.startedAt, r)} → ${sinceEvent(w.endedAt, r)}`
          : w.startedAt !== undefined
            ? `from ${sinceEvent(w.startedAt, r)}`
            : ''
      return {
        wave: w.wave,
        state,
        lines: [
          `${waveName(w)}: ${plural(w.nodes.length, 'node')}`,
          `${state === 'passed' ? '✔ ' : state === 'failed' ? '✘ ' : ''}${state} · ${c.ok} ok${c.bad ? `, ${c.bad} failed` : ''}`,
          ...(took ? [took] : []),
          ...(w.gate ? [`gate: ${w.gate}`] : [])
        ]
      }
    })
  )
}

/** The outcome pie's slices, every node in one: green, red, grey; where the others ended. */
function slices(a: Analysis): Slice[] {
  return [
    { label: 'succeeded', count: a.succeeded.length },
    { label: 'failed', count: a.failed.length + a.lost.length },
    { label: 'not reported', count: a.silent.length + a.pending.length },
    { label: 'rolled back', count: a.rolledBack.length },
    { label: 'prepared', count: a.prepared.length },
    { label: 'not sent', count: a.notSent.length }
  ]
}

/** Deploy facts as a markdown list; a list (not a table) so a `|` in a URL is harmless. */
export function factsMarkdown(r: FleetReport): string {
  const f = r.facts
  const lines = [
    `- **Deploy ID:** ${codeSpan(r.fleet.deployId, 100)}${f.rollback ? ' (an earlier release, rolled back to)' : ''}`
  ]
  if (f.commit) lines.push(`- **Commit:** ${codeSpan(f.commit, 64)}`)
  if (f.publishedAt !== undefined) lines.push(`- **Published:** ${utcTime(f.publishedAt)}`)
  if (f.manifestUrl) lines.push(`- **Manifest:** ${codeSpan(f.manifestUrl)}`)
  if (f.srcUrl) lines.push(`- **Archive:** ${codeSpan(f.srcUrl)}`)
  if (f.checksum) lines.push(`- **Checksum (sha256):** ${codeSpan(f.checksum, 80)}`)
  if (f.firedAt !== undefined) lines.push(`- **Event fired:** ${utcTime(f.firedAt)}`)
  if (f.durationMs !== undefined)
    lines.push(
      `- **Duration:** ${formatDuration(f.durationMs)} from the event to the ${r.verdict.done ? 'verdict' : 'end of the run'}`
    )
  if (!endedEarly(r) && f.previousDeployId !== undefined)
    lines.push(`- **To roll back:** ${rollbackHint(r)}`)
  return `${lines.join('\n')}\n`
}

/**
 * The post step's summary when the main step stopped before its verdict
 * (killed, or cancelled past its grace): what the announcement left, as the
 * post step settled it. Node states are not known here.
 */
export function abandonedMarkdown(f: DeployFacts & { deployId: string }): string {
  const who = subject(f)
  const id = codeSpan(f.deployId, 100)
  const head = `the deploy step stopped before its verdict (cancelled or killed)`
  const r: FleetReport = {
    fleet: { deployId: f.deployId } as FleetState,
    verdict: { done: false },
    facts: f
  }
  const lines = [
    `### ⛔ ${markdownText(who ? `${who}: ${head}` : head, 300)}`,
    '',
    `- **Release:** ${id}${f.manifestUrl ? ` (${codeSpan(f.manifestUrl)})` : ''}`,
    `- **\`latest\` moved:** ${f.latestMoved === true ? `yes: it names ${id}` : f.latestMoved === false ? `no${f.previousDeployId ? `: it still names ${codeSpan(f.previousDeployId, 100)}` : ''}` : 'not known'}`,
    `- **Event fired:** ${f.eventFired === true ? 'yes' : f.eventFired === false ? 'no' : 'not known'}`,
    `- **Nodes:** not known: the step stopped before it read them; each node's result is under \`<kv-prefix>/results/<node>\``,
    `- **Still applying:** ${f.eventFired === false ? 'no: the event was not fired' : `the nodes that got the event may still be applying ${id}`}`,
    `- **To roll back:** ${rollbackHint(r)}`,
    ''
  ]
  return lines.join('\n')
}

/**
 * Well under GitHub's 1 MiB per step summary: a UTF-16 unit is at most 3 bytes
 * of UTF-8, so 200,000 characters are at most 600,000 bytes, and in practice
 * (ASCII entities for anything untrusted) about 200 KB.
 */
export const SUMMARY_MAX_CHARS = 200_000

/**
 * One row per datacenter (contract 10: summary and check break the fleet down by
 * datacenter), in the order they were rolled out; empty when no node names one.
 */
export function datacentersMarkdown(fleet: FleetState): string {
  const empty = () => ({ total: 0, ok: 0, bad: 0, quiet: 0, unsent: 0 })
  const rows = new Map(fleet.datacenters().map((dc) => [dc, empty()]))
  for (const s of fleet.list()) {
    if (s.datacenter === undefined) continue
    const row = rows.get(s.datacenter) ?? empty()
    row.total++
    const outcome = outcomeOf(s)
    if (outcome === 'success') row.ok++
    else if (outcome === 'failure' || outcome === 'lost') row.bad++
    // Never sent, or prepared and never switched: not "not reported".
    else if (outcome === 'not_sent' || outcome === 'prepared') row.unsent++
    else row.quiet++
    rows.set(s.datacenter, row)
  }
  if (rows.size === 0) return ''
  return [
    '| datacenter | nodes | succeeded | failed | not reported | not sent or not switched |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...[...rows].map(
      ([dc, c]) =>
        `| ${markdownText(dc, 64)} | ${c.total} | ${c.ok} | ${c.bad} | ${c.quiet} | ${c.unsent} |`
    )
  ].join('\n')
}

/** The verdict line (marked), then the release and time line. */
function headMarkdown(r: FleetReport, a: Analysis, mark: Mark): string {
  return [
    `${mark} ${headlineMarkdown(markedHeadline(r, a, false))}`,
    '',
    [releaseLine(r), timeLine(r)].filter(Boolean).join(' · '),
    ''
  ].join('\n')
}

function picturesMarkdown(r: FleetReport, a: Analysis, mermaid: boolean): string {
  // Nothing reported yet (wait: false, an early cancel): a one-colour pie says nothing.
  if (!mermaid || a.counts.succeeded + a.counts.failed === 0) return ''
  return [
    outcomePie(
      slices(a),
      `${a.counts.succeeded} of ${a.counts.total} nodes on ${r.fleet.deployId}`
    ),
    reportTimeChart(a.reported)
  ].join('\n')
}

/** The parts of a report, each within its own budget, for the summary or the check run. */
export function reportParts(r: FleetReport, maxChars: number, opts: { mermaid: boolean }) {
  const a = analyse(r)
  const mark = headlineMark(r.verdict, r.facts, r.notWaiting)
  const head = headMarkdown(r, a, mark)
  const state = endedEarly(r) ? stateMarkdown(r, a) : ''
  const pictures = picturesMarkdown(r, a, opts.mermaid)
  const waves = r.waves?.length
    ? `${opts.mermaid ? wavesPicture(r) : ''}\n${wavesTableMarkdown(r, 20_000)}`
    : ''
  const facts = factsMarkdown(r)
  const timing = timingLine(a)
  const datacenters = datacentersMarkdown(r.fleet)
  // What has no budget of its own, and a margin for the headings between parts.
  const fixed =
    [head, state, pictures, waves, datacenters, facts, timing].reduce((n, p) => n + p.length, 0) +
    600
  const room = Math.max(2000, maxChars - fixed)
  const causes = causesMarkdown(a, Math.floor(room * 0.45))
  const logs = opts.mermaid ? causeLogsMarkdown(r, a, Math.floor(room * 0.25)) : ''
  const left = room - causes.length - logs.length
  // Only nodes not heard from yet: the causes table names them all already.
  const onlyPending = a.groups.every((g) => g.status === 'pending')
  const table = onlyPending
    ? { markdown: '', shown: 0, omitted: 0 }
    : problemTableMarkdown(a, r.fleet, Math.floor(left * 0.7))
  const succeeded = succeededMarkdown(a, r.fleet, left - table.markdown.length - 100)
  return {
    a,
    mark,
    head,
    state,
    causes,
    logs,
    pictures,
    timing,
    datacenters,
    waves,
    table,
    succeeded,
    facts
  }
}

/**
 * `3 of 5 nodes did not succeed, by cause` when some failed; `2 of 5 nodes had
 * not reported` when the rest only had not; else `4 of 5 nodes not on <id>`
 * (never sent, prepared only, rolled back: they did report, or were not asked).
 */
export function causesHeading(a: Analysis, deployId: string): string {
  const notOk = a.counts.total - a.counts.succeeded
  const of = `${notOk} of ${a.counts.total} nodes`
  if (a.failed.length + a.lost.length + a.silent.length > 0)
    return `${of} did not succeed, by cause`
  if (notOk === a.pending.length) return `${of} had not reported`
  return `${of} not on ${markdownText(deployId, 100)}`
}

/**
 * Markdown for the job summary: the verdict with its cause, what an early end
 * left behind, failures by cause with the first one's log open, the pictures,
 * the waves, the nodes that did not succeed, the successes as a count, and the
 * release's facts; within `maxChars`.
 */
export function summaryMarkdown(r: FleetReport, maxChars = SUMMARY_MAX_CHARS): string {
  const p = reportParts(r, maxChars, { mermaid: true })
  const out = [`### ${p.head}`]
  if (r.rollback) out.push(rollbackMarkdown(r))
  if (p.state) out.push(`#### What this run left behind\n\n${p.state}`)
  if (p.causes) out.push(`#### ${causesHeading(p.a, r.fleet.deployId)}\n\n${p.causes}`)
  if (p.logs) out.push(p.logs)
  if (p.pictures || p.timing) out.push(`#### The fleet\n\n${p.pictures}${p.timing}`)
  if (p.datacenters) out.push(`#### Datacenters\n\n${p.datacenters}`)
  if (p.waves) out.push(`#### Waves\n\n${p.waves}`)
  if (p.table.markdown) out.push(`#### Nodes that did not succeed\n\n${p.table.markdown}`)
  if (p.succeeded) out.push(p.succeeded)
  out.push(`#### Release\n\n${p.facts}`)
  return out.join('\n')
}
