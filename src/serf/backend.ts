// The fleet backend over Serf (contract 13): targets from `members` and their
// tags, results in each member's tag `stretcher-<app>`, the release pointer,
// history, rollout record and lock as S3 objects under `<s3-prefix>/<app>/`,
// the one-wave default as a user event, waves as queries, failed nodes' logs
// from a query `stretcher-<app>-log`. One cluster: no datacenters.
import type {
  FleetBackend,
  HistoryRead,
  ObjectStore,
  ReleasePointer,
  Targets
} from '../backend/fleet-backend.ts'
import type { GateFailure } from '../backend/gate-failure.ts'
import type { ParsedResult } from '../fleet-state/fleet-state.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import type { Resend } from './await-tags.ts'
import { awaitTags } from './await-tags.ts'
import { isGone, memberMatcher, selectMembers } from './member-targets.ts'
import { nodeChunks, queryBaseBytes } from './query-chunks.ts'
import { decodeMark, parseResultTag, resultTagName } from './result-tag.ts'
import type { SerfClient } from './rpc-client.ts'
import type { Member } from './rpc-types.ts'
import { acquireS3Lock, readS3Lock } from './s3-lock.ts'
import { sleep } from './sleep.ts'
import { queryNodes, sendRelease } from './send-release.ts'

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

/** How often the bake gate reads member status. */
const HEALTH_POLL_MS = 250
/** How long a failed node has to answer the log query. */
const LOG_QUERY_MS = 5000
/** Serf drops an answer over 1 KB: what is shown is at most this. */
const LOG_MAX_BYTES = 1024

/** The S3 keys of an app's objects (contract 13). */
export function serfObjectKeys(s3Prefix: string, app: string) {
  const base = [s3Prefix.replace(/^\/+|\/+$/g, ''), app].filter((p) => p !== '').join('/')
  return {
    latest: `${base}/latest`,
    lock: `${base}/lock`,
    rollout: `${base}/rollout`,
    historyPrefix: `${base}/history/`,
    history: (deployId: string) => `${base}/history/${deployId}.json`
  }
}

/** A manifest URL's deploy ID: its file name without `.yml`. */
export function deployIdOfManifest(url: string): string | undefined {
  const name = url.trim().split('/').pop() ?? ''
  return name.endsWith('.yml') && name.length > 4 ? name.slice(0, -4) : undefined
}

function parseJson<T>(text: string | undefined): T | 'unreadable' | undefined {
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed && typeof parsed === 'object' ? (parsed as T) : 'unreadable'
  } catch {
    return 'unreadable'
  }
}

export function serfBackend(
  client: SerfClient,
  store: ObjectStore,
  opts: SerfBackendOptions
): FleetBackend {
  const keys = serfObjectKeys(opts.s3Prefix, opts.app)
  const { log } = opts
  const url = (key: string) => `s3://${store.bucket}/${key}`
  const matches = memberMatcher({ nodeFilter: opts.nodeFilter, tags: opts.tags })
  /** query sends whose nodes have not all acked, by the send's mark (each send's is its own) */
  const unackedBySend = new Map<number, Resend>()
  let agentName: string | undefined
  const sourceNode = async () => (agentName ??= (await client.stats()).sections.agent?.name ?? '')

  const members = async (signal?: AbortSignal, retryUntil?: number): Promise<Member[]> => {
    for (;;) {
      try {
        return await client.members()
      } catch (error) {
        if (signal?.aborted || retryUntil === undefined || Date.now() >= retryUntil) throw error
        await sleep(Math.min(500, retryUntil - Date.now()), signal)
      }
    }
  }

  const backend: FleetBackend = {
    at: () => backend,
    lockName: url(keys.lock),

    datacenters: () => Promise.resolve([undefined]),

    async targets(signal, retryUntil): Promise<Targets> {
      return selectMembers(await members(signal, retryUntil), {
        nodeFilter: opts.nodeFilter,
        tags: opts.tags
      })
    },

    async lastResults(signal) {
      const byNode = new Map<string, ParsedResult>()
      for (const member of await members(signal)) {
        const tag = parseResultTag(member.tags[resultTagName(opts.app)])
        if (typeof tag === 'string') continue
        byNode.set(member.name, {
          deployId: tag.deployId,
          status: tag.status,
          ...(tag.phase ? { phase: tag.phase } : {})
        })
      }
      return byNode
    },

    async releasePointer(): Promise<ReleasePointer> {
      const manifestUrl = (await store.readText(keys.latest))?.trim().split('\n')[0]
      if (!manifestUrl) return {}
      const deployId = deployIdOfManifest(manifestUrl)
      if (deployId === undefined) return { manifestUrl }
      const record = parseJson<Partial<HistoryRecord>>(await store.readText(keys.history(deployId)))
      return {
        manifestUrl,
        deployId,
        ...(record && record !== 'unreadable' ? { history: record } : {})
      }
    },

    async history(deployId): Promise<HistoryRead> {
      const where = url(keys.history(deployId))
      const record = parseJson<HistoryRecord>(await store.readText(keys.history(deployId)))
      if (record === undefined) return { found: false, where }
      if (record === 'unreadable') return { found: true, where, unreadable: true }
      return { found: true, where, record }
    },

    async recentDeployIds(count = 5) {
      return (await store.list(keys.historyPrefix))
        .map((k) => k.slice(keys.historyPrefix.length))
        .filter((name) => name.endsWith('.json') && !name.includes('/'))
        .map((name) => name.slice(0, -'.json'.length))
        .filter((id) => id !== '')
        .sort()
        .reverse()
        .slice(0, count)
    },

    async writeHistory(record) {
      await store.writeText(keys.history(record.deploy_id), JSON.stringify(record))
    },

    async recordRollout(record) {
      if (record === undefined) await store.remove(keys.rollout)
      else await store.writeText(keys.rollout, JSON.stringify(record))
    },

    lock: (request) => acquireS3Lock(store, keys.lock, request),
    lockState: () => readS3Lock(store, keys.lock),

    async send(request) {
      const outcome = await sendRelease(
        { client, store, eventName: opts.eventName, keys, log },
        request
      )
      if (!outcome) return undefined
      if (outcome.unacked.length > 0) {
        const node = await sourceNode()
        unackedBySend.set(outcome.sent.baseline, {
          unacked: new Set(outcome.unacked),
          send: (nodes) => queryNodes(client, opts.eventName, request.eventUrl, nodes, node)
        })
      }
      return outcome.sent
    },

    async watch(request) {
      const key = request.sent.baseline
      const resend = unackedBySend.get(key)
      unackedBySend.delete(key)
      if (opts.nodeFilter === undefined && Object.keys(opts.tags).length === 0)
        log.debug('no node-filter or serf-tags: every alive member is a target')
      await awaitTags({
        client,
        app: opts.app,
        fleet: request.fleet,
        mark: decodeMark(request.sent.baseline),
        firedAt: request.sent.firedAt,
        deadline: request.deadline,
        signal: request.signal,
        admitJoiner: request.admitJoiners
          ? (member) => member.status === 'alive' && matches(member)
          : undefined,
        onChange: request.onChange,
        resend,
        log
      })
    },

    async health(nodes, bakeMs, signal): Promise<GateFailure[]> {
      const until = Date.now() + bakeMs
      const watched = new Set(nodes)
      for (;;) {
        signal?.throwIfAborted()
        const byName = new Map((await members(signal)).map((m) => [m.name, m]))
        const failures: GateFailure[] = []
        for (const node of watched) {
          const status = byName.get(node)?.status ?? 'gone from the members'
          if (status === 'gone from the members' || isGone(status as Member['status']))
            failures.push({ node, checkId: 'serf:member', name: 'member status', output: status })
        }
        if (failures.length > 0) return failures
        if (Date.now() >= until) return []
        await sleep(Math.min(HEALTH_POLL_MS, until - Date.now()), signal)
      }
    },

    async readLogs(nodes) {
      if (nodes.length === 0) return []
      const name = `stretcher-${opts.app}-log`
      const chunks = nodeChunks(nodes, queryBaseBytes(name, '', await sourceNode()))
      const answers = new Map<string, string>()
      await Promise.all(
        chunks.map(async (chunk) => {
          const result = await client
            .query({ name, filterNodes: chunk, timeoutMs: LOG_QUERY_MS })
            .catch((error: unknown) => {
              log.warning(`the log query ${name} failed: ${(error as Error).message}`)
              return undefined
            })
          for (const r of result?.responses ?? [])
            answers.set(r.from, new TextDecoder().decode(r.payload.subarray(0, LOG_MAX_BYTES)))
        })
      )
      const silent = nodes.filter((n) => !answers.has(n))
      if (silent.length > 0)
        log.info(
          `no answer to the log query ${name} from ${silent.join(', ')} (the node needs -event-handler "query:${name}=tail -c 900 <its stretcher log>")`
        )
      return nodes.map((node) => ({ node, text: answers.get(node) ?? '' }))
    }
  }
  return backend
}
