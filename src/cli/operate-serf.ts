// The operator commands on a Serf cluster (contract 13): `status` reads the
// members and their `stretcher-<app>` tags from one agent (serf-rpc-addr, or
// one started for serf-join), `latest` from S3; `history` reads the S3 records
// `<s3-url>/<app>/history/*.json`. The same rows and text as with Consul
// (fleet-status.ts, release-history.ts). Nothing is written.
import type { ObjectStore } from '../backend/fleet-backend.ts'
import type { OperateConfig } from '../config/config.ts'
import { readMembers } from '../serf/read-members.ts'
import { RUNNER_TAG, memberMatcher } from '../serf/member-targets.ts'
import { parseSerfResult, serfResultTagName } from '../shared/serf-result-tag.ts'
import type { SerfClient } from '../serf/rpc-client.ts'
import type { Member } from '../serf/rpc-types.ts'
import { deployIdOfManifest, serfObjectKeys } from '../serf/backend.ts'
import type { FleetStatus, StatusSource } from './fleet-status.ts'
import { assembleStatus, statusRow } from './fleet-status.ts'
import type { ReleaseHistory } from './release-history.ts'
import { releaseHistory } from './release-history.ts'

/** How many history records are read at once. */
const READ_CONCURRENCY = 16

type SerfOperateConfig = OperateConfig & {
  backend: Extract<OperateConfig['backend'], { kind: 'serf' }>
}

function keysOf(config: OperateConfig) {
  return serfObjectKeys(config.s3?.prefix ?? '', config.app)
}

/** s3://bucket/prefix/app: where the app's objects are. */
function appUrl(store: ObjectStore, config: OperateConfig): string {
  return `s3://${store.bucket}/${keysOf(config).latest.replace(/\/latest$/, '')}`
}

/** The deploy ID `latest` names (its manifest's file name), or undefined. */
async function currentDeployId(store: ObjectStore, config: OperateConfig) {
  const url = (await store.readText(keysOf(config).latest))?.trim().split('\n')[0]
  return url ? deployIdOfManifest(url) : undefined
}

function describeSelection(config: SerfOperateConfig): string {
  const parts = [
    config.filters.node !== undefined && `node-filter ${config.filters.node}`,
    ...Object.entries(config.backend.tags).map(([k, re]) => `serf-tags ${k}=${re}`)
  ].filter((p): p is string => typeof p === 'string')
  return parts.length ? `matching ${parts.join(', ')}` : 'in the cluster (no filter)'
}

export async function readSerfFleetStatus(
  client: Pick<SerfClient, 'members'>,
  store: ObjectStore,
  config: SerfOperateConfig
): Promise<FleetStatus> {
  const [members, current] = await Promise.all([
    readMembers(client),
    currentDeployId(store, config)
  ])
  const where = appUrl(store, config)
  const source: StatusSource = {
    where,
    currentKey: `${where}/latest`,
    selection: describeSelection(config),
    down: 'member failed or left',
    noneHint: "the action's own agents are never counted",
    json: { s3_url: where }
  }
  return assembleStatus(config.app, source, current, memberRows(members, config, current))
}

/** The matching members (agents the action started aside), each with its last result tag. */
function memberRows(members: readonly Member[], config: SerfOperateConfig, current?: string) {
  const matches = memberMatcher({ nodeFilter: config.filters.node, tags: config.backend.tags })
  const tagName = serfResultTagName(config.app)
  return members
    .filter((m) => m.tags[RUNNER_TAG] === undefined && matches(m))
    .map((m) => {
      const tag = m.tags[tagName]
      const parsed = tag === undefined ? undefined : parseSerfResult(tag)
      const result =
        parsed === undefined || typeof parsed === 'string'
          ? parsed
          : { deployId: parsed.deployId, status: parsed.status }
      return statusRow(m.name, m.status === 'alive', result, current)
    })
}

export async function readSerfReleaseHistory(
  store: ObjectStore,
  config: OperateConfig
): Promise<ReleaseHistory> {
  const keys = keysOf(config)
  const [current, listed] = await Promise.all([
    currentDeployId(store, config),
    store.list(keys.historyPrefix)
  ])
  const ids = listed
    .map((key) => key.slice(keys.historyPrefix.length))
    .filter((name) => name.endsWith('.json') && !name.includes('/') && name !== '.json')
    .map((name) => name.slice(0, -'.json'.length))
  const entries: Array<{ deployId: string; value: string | null }> = []
  for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
    const batch = ids.slice(i, i + READ_CONCURRENCY)
    const values = await Promise.all(batch.map((id) => store.readText(keys.history(id))))
    batch.forEach((deployId, j) => entries.push({ deployId, value: values[j] ?? null }))
  }
  return releaseHistory({
    app: config.app,
    kvPrefix: config.kvPrefix,
    s3Url: appUrl(store, config),
    current,
    entries
  })
}
