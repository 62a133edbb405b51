// The fleet backend over Consul (contract 5, 6, 10): targets from the catalog
// and serfHealth, the release pointer and history in KV, the lock as a session,
// failed nodes' logs from logs/<node>. Every datacenter is the same backend
// with `?dc=` (ConsulClient.inDatacenter).
import type {
  FleetBackend,
  SendRequest,
  Sent,
  HeldLock,
  HistoryRead,
  LockHolder,
  LockRequest,
  LockState,
  ReleasePointer,
  Targets,
  WatchRequest
} from '../backend/fleet-backend.ts'
import type { Config, DatacenterSelection } from '../config/config.ts'
import type { ParsedResult } from '../fleet-state/fleet-state.ts'
import { parseResult } from '../fleet-state/fleet-state.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import { nodeFilters, nodeGroups } from './node-filter.ts'
import type { EventFilters } from '../shared/filters.ts'
import type { Log } from '../shared/log.ts'
import type { Announcement, AnnounceJournal } from './announce.ts'
import { announce, announcementProgress, moveLatestOnly } from './announce.ts'
import { awaitFleet, catalogJoinerCheck, readCatalog } from './await.ts'
import { bake } from './health-gate.ts'
import type { ConsulClient } from './client.ts'
import { kvKeys } from './kv-keys.ts'
import { acquireLock } from './lock.ts'
import { canaryNodes, selectTargets } from './targets.ts'
import { resolveDatacenters } from './datacenters.ts'

/** Failed nodes' logs are read 8 at a time, at most this many. */
const MAX_LOGS_READ = 200

export function consulBackend(consul: ConsulClient, config: Config, log: Log): FleetBackend {
  const keys = kvKeys(config.kvPrefix)
  return {
    at: (datacenter) => consulBackend(consul.inDatacenter(datacenter), config, log),
    lockName: keys.lock,
    datacenters: (selection, signal) => listDatacenters(consul, selection, signal),
    targets: (signal, retryUntil) => readTargets(consul, config.filters, signal, retryUntil),
    lastResults: (signal) => readLastResults(consul, keys.results, signal),
    releasePointer: (signal) => readPointer(consul, config.kvPrefix, signal),
    history: (deployId, signal) => readHistory(consul, keys.history(deployId), signal),
    recentDeployIds: (count = 5) => readRecentDeployIds(consul, config.kvPrefix, count),
    send: (request) => sendEvents(consul, config, log, request),
    movePointer: (request) =>
      moveLatestOnly(
        consul,
        { ...config, deployId: request.deployId },
        { manifestUrl: request.manifestUrl, history: request.history },
        log,
        {
          signal: request.signal,
          datacenter: consul.datacenter,
          onJournal: toSeam(request.onJournal)
        }
      ),
    watch: (request) => watchResults(consul, config.filters, keys.results, request),
    health: (nodes, bakeMs, signal) =>
      bake({ consul, nodes, filters: config.filters, bakeMs, signal }),
    async writeHistory(record, signal) {
      await consul.kvPut(keys.history(record.deploy_id), JSON.stringify(record), { signal })
    },
    async recordRollout(record, signal) {
      if (record === undefined) await consul.kvDelete(keys.rollout)
      else await consul.kvPut(keys.rollout, JSON.stringify(record), { signal })
    },
    lock: (request) => takeLock(consul, keys.lock, request),
    lockState: (signal) => readLock(consul, keys.lock, signal),
    readLogs: (nodes) => readLogs(consul, keys, nodes)
  }
}

/** The datacenters a run goes through; [undefined]: the agent's own, no `?dc`. */
async function listDatacenters(
  consul: ConsulClient,
  selection: DatacenterSelection,
  signal?: AbortSignal
): Promise<Array<string | undefined>> {
  if (selection.kind === 'agent') return [undefined]
  return resolveDatacenters(selection, await consul.datacentersList(signal))
}

/** The live nodes the filters select, and the canaries among all that match. */
async function readTargets(
  consul: ConsulClient,
  filters: EventFilters,
  signal?: AbortSignal,
  retryUntil?: number
): Promise<Targets> {
  const catalog = await readCatalog(consul, filters, signal, retryUntil)
  const selection = selectTargets(catalog, filters)
  const matching = new Set([...selection.targets, ...selection.notLive])
  return {
    selection,
    canaries: canaryNodes(
      catalog.filter((node) => matching.has(node.node)),
      filters
    ),
    known: catalog.length
  }
}

/** Each node's last readable result under results/, keyed by node name. */
async function readLastResults(
  consul: ConsulClient,
  resultsPrefix: string,
  signal?: AbortSignal
): Promise<Map<string, ParsedResult>> {
  const read = await consul.kvGet(resultsPrefix, { recurse: true, signal })
  const byNode = new Map<string, ParsedResult>()
  for (const entry of read.entries) {
    const result = parseResult(entry.value)
    if (typeof result !== 'string') byNode.set(entry.key.slice(resultsPrefix.length), result)
  }
  return byNode
}

/** The history record stored at `where` (history/<deploy-id>). */
async function readHistory(
  consul: ConsulClient,
  where: string,
  signal?: AbortSignal
): Promise<HistoryRead> {
  const value = (await consul.kvGet(where, { signal })).entries[0]?.value
  if (!value) return { found: false, where }
  try {
    return { found: true, where, record: JSON.parse(value) as HistoryRecord }
  } catch {
    return { found: true, where, unreadable: true }
  }
}

/** The newest `count` deploy IDs under history/ (IDs sort by time). */
async function readRecentDeployIds(
  consul: ConsulClient,
  kvPrefix: string,
  count: number
): Promise<string[]> {
  const prefix = `${kvPrefix}/history/`
  const ids = await consul.kvKeys(prefix)
  return ids
    .map((k) => k.slice(prefix.length))
    .filter((id) => id !== '' && !id.includes('/'))
    .sort()
    .reverse()
    .slice(0, count)
}

/** Follow results/ and serfHealth until a verdict; late joiners are checked in the catalog. */
async function watchResults(
  consul: ConsulClient,
  filters: EventFilters,
  resultsPrefix: string,
  request: WatchRequest
): Promise<void> {
  const joinerCheck = catalogJoinerCheck(consul, filters, request.signal)
  await awaitFleet({
    consul,
    fleet: request.fleet,
    resultsPrefix,
    firedAt: request.sent.firedAt,
    deadline: request.deadline,
    baselineIndex: request.sent.baseline,
    signal: request.signal,
    admitJoiner: request.admitJoiners ? (node) => joinerCheck(node).catch(() => false) : undefined,
    onChange: request.onChange
  })
}

/** Failed nodes' logs, 8 reads at a time, at most MAX_LOGS_READ nodes. */
async function readLogs(
  consul: ConsulClient,
  keys: ReturnType<typeof kvKeys>,
  nodes: readonly string[]
): Promise<Array<{ node: string; text: string }>> {
  const excerpts: Array<{ node: string; text: string }> = []
  const failed = nodes.slice(0, MAX_LOGS_READ)
  for (let i = 0; i < failed.length; i += 8) {
    const batch = failed.slice(i, i + 8)
    const texts = await Promise.all(batch.map((node) => readLog(consul, keys.log(node))))
    batch.forEach((node, j) => {
      const text = texts[j]
      if (text !== undefined) excerpts.push({ node, text })
    })
  }
  return excerpts
}

/** The seam's journal callback, fed from Consul's announcement journal. */
function toSeam(
  onJournal: SendRequest['onJournal']
): ((journal: AnnounceJournal) => void) | undefined {
  return onJournal && ((journal) => onJournal(announcementProgress(journal)))
}

/**
 * A step's events, one per filter set (a wave too large for one node filter is
 * several): latest moves with the first when the step moves it; the later ones
 * read nothing again (their results count from the first event's baseline).
 * Resolves with the first event's mark; `onFired` hears of each.
 */
async function sendEvents(
  consul: ConsulClient,
  config: Config,
  log: Log,
  request: SendRequest
): Promise<Sent | undefined> {
  // The one-wave default keeps the configured filters; waves name their nodes.
  const groups = request.byFilters ? undefined : nodeGroups(request.nodes)
  const filterSets: EventFilters[] = groups
    ? nodeFilters(request.nodes).map((node) => ({ node }))
    : [config.filters]
  const sending = { ...config, deployId: request.deployId }
  let first: Announcement | undefined
  let last: Announcement | undefined
  for (const [n, filters] of filterSets.entries()) {
    const moves = request.pointer !== undefined && n === 0
    last = await announce(
      consul,
      sending,
      {
        manifestUrl: request.pointer?.manifestUrl ?? request.eventUrl,
        eventUrl: request.eventUrl,
        history: moves ? request.pointer?.history : undefined
      },
      log,
      {
        signal: request.signal,
        targets: request.nodes,
        filters,
        movesLatest: moves,
        continuing: first &&
          last && { baselineIndex: first.baselineIndex, seenAfter: last.seenAfter },
        datacenter: consul.datacenter,
        onJournal: moves ? toSeam(request.onJournal) : undefined
      }
    )
    first ??= last
    request.onFired?.({
      firedAt: last.firedAt,
      baseline: last.baselineIndex,
      ...(groups ? { nodes: groups[n] } : {})
    })
  }
  return first && { firedAt: first.firedAt, baseline: first.baselineIndex }
}

/**
 * The deploy lock (contract 5, 10); its session hangs off a server of the lock's
 * datacenter when that is not the agent's own.
 */
async function takeLock(
  consul: ConsulClient,
  key: string,
  request: LockRequest
): Promise<HeldLock> {
  const remote =
    consul.datacenter !== undefined &&
    consul.datacenter !== (await consul.agentDatacenter(request.signal))
  const node = remote ? (await consul.serverNodes(request.signal))[0] : undefined
  return acquireLock(consul, { key, node, ...request })
}

/** A failed node's stretcher log (at most 64 KiB, contract 5); '' when none is stored. */
async function readLog(consul: ConsulClient, key: string): Promise<string | undefined> {
  const read = await consul.kvGet(key).catch(() => undefined)
  return read === undefined ? undefined : (read.entries[0]?.value ?? '')
}

/** What `latest` and `deploy-id` name now, and the history record of that ID. */
async function readPointer(
  consul: ConsulClient,
  kvPrefix: string,
  signal?: AbortSignal
): Promise<ReleasePointer> {
  const keys = kvKeys(kvPrefix)
  const latest = (await consul.kvGet(keys.latest, { signal })).entries[0]?.value ?? undefined
  const deployId = (await consul.kvGet(keys.deployId, { signal })).entries[0]?.value ?? undefined
  let history: Partial<HistoryRecord> | undefined
  if (deployId) {
    const record = (await consul.kvGet(keys.history(deployId), { signal })).entries[0]?.value
    try {
      const parsed = record ? (JSON.parse(record) as unknown) : undefined
      if (parsed && typeof parsed === 'object') history = parsed as Partial<HistoryRecord>
    } catch {
      history = undefined
    }
  }
  return { manifestUrl: latest, deployId, history }
}

/** Who holds the deploy lock, read without taking it (no session is created). */
async function readLock(
  consul: ConsulClient,
  key: string,
  signal?: AbortSignal
): Promise<LockState> {
  const entry = (await consul.kvGet(key, { signal })).entries[0]
  if (!entry?.session) return { held: false }
  let holder: Partial<LockHolder> | undefined
  try {
    const parsed = entry.value ? (JSON.parse(entry.value) as unknown) : undefined
    if (parsed && typeof parsed === 'object') holder = parsed as Partial<LockHolder>
  } catch {
    holder = undefined
  }
  // The session's node and name say more when the holder wrote nothing readable;
  // a token without session:read only loses that detail.
  const info = await consul
    .getJson<Array<{ Node?: string; Name?: string }> | null>(
      `session/info/${encodeURIComponent(entry.session)}`,
      'session:read',
      { signal }
    )
    .then((r) => r.value?.[0])
    .catch(() => undefined)
  return { held: true, session: entry.session, holder, node: info?.Node, name: info?.Name }
}
