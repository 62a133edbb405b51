// The release and the way back, as markdown: the release line and the deploy
// facts, the line to paste to roll back, auto-rollback's line, and what a run
// that ended early left behind (published, `latest`, the event, the nodes),
// also for the post step when the main step never reached its verdict
// (`abandonedMarkdown`). Apart from the nodes' tables: these are about the
// release and the run, not node by node. Pure.
import type { FleetState } from '../fleet-state/fleet-state.ts'
import type { DeployFacts, FleetReport } from './report-types.ts'
import type { Analysis } from './fleet-analysis.ts'
import { subject } from './headline.ts'
import {
  codeSpan,
  formatDuration,
  markdownText,
  plainText,
  plural,
  utcTime
} from '../shared/text.ts'

/** The auto-rollback line under the headline, when one ran. */
export function rollbackMarkdown(r: FleetReport): string {
  return r.rollback ? `**Auto-rollback:** ${markdownText(r.rollback, 400)}\n` : ''
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

export function timeLine(r: FleetReport): string {
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
