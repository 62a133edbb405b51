// The fleet backend over Serf (contract 13): targets from `members` and their
// tags, results in each member's tag `stretcher-<app>`, the release pointer,
// history, rollout record and lock as S3 objects under `<s3-prefix>/<app>/`,
// the one-wave default as a user event, waves as queries, failed nodes' logs
// from a query `stretcher-<app>-log`. One cluster: no datacenters.
import type { FleetBackend, ObjectStore } from '../backend/fleet-backend.ts'
import type { Log } from '../shared/log.ts'
import { readLogs } from './log-query.ts'
import { readLastResults, readTargets, watchMemberStatus } from './read-members.ts'
import type { SerfClient } from './rpc-client.ts'
import { acquireS3Lock, readS3Lock } from './s3-lock.ts'
import {
  readHistory,
  readRecentDeployIds,
  readReleasePointer,
  recordRollout,
  s3Url,
  serfObjectKeys,
  writeHistory
} from './s3-records.ts'
import { movePointer } from './send-release.ts'
import { Sends } from './sends.ts'

export { deployIdOfManifest, serfObjectKeys } from './s3-records.ts'

export interface SerfBackendOptions {
  app: string
  /** the key prefix under which `<app>/latest`, `<app>/history/` ... live ('' for none) */
  s3Prefix: string
  eventName: string
  /** RE2 on the member name, unanchored */
  nodeFilter?: string
  /** tag name -> RE2, anchored */
  tags: Record<string, string>
  log: Log
}

export function serfBackend(
  client: SerfClient,
  store: ObjectStore,
  opts: SerfBackendOptions
): FleetBackend {
  const keys = serfObjectKeys(opts.s3Prefix, opts.app)
  const { app, log } = opts
  const filters = { nodeFilter: opts.nodeFilter, tags: opts.tags }
  const sourceNode = agentName(client)
  const sends = new Sends({
    client,
    store,
    keys,
    app,
    eventName: opts.eventName,
    filters,
    sourceNode,
    log
  })
  const backend: FleetBackend = {
    at: () => backend,
    lockName: s3Url(store, keys.lock),
    datacenters: () => Promise.resolve([undefined]),
    targets: (signal, retryUntil) => readTargets(client, filters, signal, retryUntil),
    lastResults: (signal) => readLastResults(client, app, signal),
    releasePointer: () => readReleasePointer(store, keys),
    history: (deployId) => readHistory(store, keys, deployId),
    recentDeployIds: (count = 5) => readRecentDeployIds(store, keys, count),
    writeHistory: (record) => writeHistory(store, keys, record),
    recordRollout: (record) => recordRollout(store, keys, record),
    lock: (request) => acquireS3Lock(store, keys.lock, request),
    lockState: () => readS3Lock(store, keys.lock),
    send: (request) => sends.send(request),
    // One PUT of latest (the history record first): nothing to journal, it is whole or not.
    movePointer: async ({ deployId, manifestUrl, history, signal }) => {
      signal?.throwIfAborted()
      await movePointer({ store, keys, log }, deployId, { manifestUrl, history })
    },
    watch: (request) => sends.watch(request),
    health: (nodes, bakeMs, signal) => watchMemberStatus(client, nodes, bakeMs, signal),
    readLogs: (nodes) => readLogs(client, app, sourceNode, nodes, log)
  }
  return backend
}

/** The agent's member name, read from `stats` at its first use and kept. */
function agentName(client: SerfClient): () => Promise<string> {
  let name: string | undefined
  return async () => (name ??= (await client.stats()).sections.agent?.name ?? '')
}
