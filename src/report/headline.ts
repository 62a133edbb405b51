// The run in one line: the verdict line and the failure message (the run's
// annotation), and the headline with its cause (`web → production: 1 of 5
// nodes failed (node-3: …)`) that tops the summary and titles the check run,
// with its mark. Apart because each of these is read alone (an annotation, a
// title, a status description, a log line), not only inside the summary.
// Pure; fleet text in them is made plain or escaped.
import type { FleetCounts, FleetState, Verdict } from '../fleet-state/fleet-state.ts'
import type { DeployFacts, FleetReport } from './report-types.ts'
import type { Analysis } from './fleet-analysis.ts'
import { analyse, byStatus, failedNodes, NOT_A_CAUSE } from './fleet-analysis.ts'
import {
  codeSpan,
  formatDuration,
  markdownText,
  middleCut,
  nameList,
  plainText,
  plural
} from '../shared/text.ts'
import { progressLine } from '../fleet-state/progress-line.ts'

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

/** `web → production`, or `web`, or nothing. */
export function subject(facts: DeployFacts): string {
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
export function markedHeadline(r: FleetReport, a: Analysis, short: boolean): string {
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
