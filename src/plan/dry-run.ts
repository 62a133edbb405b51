// `dry-run: true`: after the plan stage, what a deploy would do, found by reads
// alone: no S3 object, no KV write, no event, no lock session. Reads here, the
// rendering below is pure.
import { SAFE_PAYLOAD_BYTES } from '../consul/announce.ts'
import type { LockState, ReleasePointer } from '../backend/fleet-backend.ts'
import { formatBytes } from '../shared/log.ts'
import type { Release } from '../publish/publish.ts'
import { codeSpan, markdownText, plainText } from '../shared/text.ts'
import { nameList } from '../shared/text.ts'

export interface DryRunPlan {
  app: string
  deployId: string
  /** true with rollback-to: an existing release, verified, re-announced */
  rollback: boolean
  /** a new build: the archive the plan stage checked (uncompressed tar) */
  archive?: { tarBytes: number; fileBytes: number; files: number }
  /** where the release is (rollback-to) or would be stored */
  release: Pick<Release, 'srcUrl' | 'manifestUrl'> &
    Partial<Pick<Release, 'checksum' | 'archiveBytes'>>
  eventName: string
  targets: string[]
  /** a staged rollout (waves, or layout: releases): each step and its nodes, in order */
  steps?: Array<{ label: string; nodes: string[] }>
  /** catalog nodes the filters leave out, and matching nodes that are not live */
  filteredOut: number
  notLive: number
  previous: ReleasePointer
  lock: LockState
  lockKey: string
  /** where the fleet is reached (contract 13); absent: Consul */
  backend?: 'consul' | 'serf'
}

function text(value: unknown, max = 120): string | undefined {
  return typeof value === 'string' && value !== '' ? plainText(value, max) : undefined
}

function previousLine(p: ReleasePointer): string {
  if (!p.deployId && !p.manifestUrl) return 'previous release: none (no latest, no deploy-id yet)'
  const h = p.history
  const commit = text(h?.commit, 40)
  const facts = [
    commit && `commit ${commit.slice(0, 7)}`,
    text(h?.published_at, 40) && `published ${text(h?.published_at, 40)}`,
    text(h?.run_url, 200) && `by ${text(h?.run_url, 200)}`
  ].filter(Boolean)
  const where = p.manifestUrl ? ` (latest ${plainText(p.manifestUrl, 200)})` : ' (no latest)'
  const record = facts.length ? `, ${facts.join(', ')}` : h ? '' : ', no history record'
  return `previous release: ${text(p.deployId) ?? '(no deploy-id)'}${where}${record}`
}

function lockLine(lock: LockState, key: string): string {
  if (!lock.held) return `deploy lock ${key}: free`
  const h = lock.holder
  const who = [
    text(h?.run_url, 200),
    text(h?.deploy_id) && `deploy ${text(h?.deploy_id)}`,
    text(h?.started_at, 40) && `since ${text(h?.started_at, 40)}`
  ].filter(Boolean)
  const session = [
    `session ${plainText(lock.session, 40)}`,
    lock.node && `on ${plainText(lock.node, 80)}`
  ]
    .filter(Boolean)
    .join(' ')
  return `deploy lock ${key}: held by ${who.length ? who.join(', ') : 'another run'} (${session}); a deploy now would wait for it`
}

/** What a dry run leaves alone, in the backend's words. */
function untouched(plan: DryRunPlan): string {
  return plan.backend === 'serf'
    ? 'no S3 object (release, latest, history or lock), no Serf tag, event or query'
    : 'no S3 object, no Consul key, event or session'
}

/** The dry run's report, one line each, for the log (already plain text). */
export function dryRunLines(plan: DryRunPlan): string[] {
  const lines = [
    `dry run: would ${plan.rollback ? 'roll back to' : 'deploy'} ${plan.deployId} of ${plan.app}`
  ]
  if (plan.archive)
    lines.push(
      `archive: ${plan.archive.files} entries, ${formatBytes(plan.archive.tarBytes)} as tar (${formatBytes(plan.archive.fileBytes)} of file data) before gzip, to ${plan.release.srcUrl}`
    )
  else if (plan.release.checksum)
    lines.push(
      `archive: ${plan.release.srcUrl}${plan.release.archiveBytes !== undefined ? `, ${formatBytes(plan.release.archiveBytes)}` : ''}, sha256 ${plan.release.checksum} (verified)`
    )
  const bytes = Buffer.byteLength(plan.release.manifestUrl)
  lines.push(
    `manifest: ${plan.release.manifestUrl} (${bytes} bytes as the event payload${plan.backend !== 'serf' && bytes > SAFE_PAYLOAD_BYTES ? `, over the ${SAFE_PAYLOAD_BYTES} Consul 1.22+ accepts` : ''})`
  )
  const left = [
    plan.filteredOut && `${plan.filteredOut} other nodes filtered out`,
    plan.notLive && `${plan.notLive} matching but not live`
  ].filter(Boolean)
  lines.push(
    `targets: ${plan.targets.length} nodes (event "${plan.eventName}"): ${nameList(plan.targets, 50)}${left.length ? `; ${left.join(', ')}` : ''}`
  )
  for (const step of plan.steps ?? [])
    lines.push(
      `${plainText(step.label, 60)}: ${step.nodes.length} ${step.nodes.length === 1 ? 'node' : 'nodes'}: ${nameList(step.nodes, 20)}`
    )
  lines.push(previousLine(plan.previous))
  lines.push(lockLine(plan.lock, plan.lockKey))
  lines.push(`nothing was written: ${untouched(plan)}`)
  return lines
}

/** The run's last line (the CLI's exit message). */
export function dryRunMessage(plan: DryRunPlan): string {
  return `dry run: ${plan.rollback ? 'rolling back to' : 'deploying'} ${plan.deployId} could go ahead on ${plan.targets.length} nodes${plan.lock.held ? ' (after the run holding the lock)' : ''}; nothing written`
}

/** The job summary of a dry run. */
export function dryRunMarkdown(plan: DryRunPlan): string {
  const rows = dryRunLines(plan)
    .slice(1, -1)
    .map((line) => {
      const [head, ...rest] = line.split(': ')
      return `| ${markdownText(head ?? '', 40)} | ${markdownText(rest.join(': '), 2000)} |`
    })
  return [
    `## 🔍 Dry run: ${plan.rollback ? 'roll back to' : 'deploy'} ${codeSpan(plan.deployId, 100)}`,
    '',
    '| | |',
    '| --- | --- |',
    ...rows,
    '',
    `Nothing was written: ${untouched(plan)}.`,
    ''
  ].join('\n')
}
