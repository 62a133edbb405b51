// The few Consul HTTP API calls the action makes, on Node's own fetch.
// Not the npm `consul` client: the await loop needs each response's
// X-Consul-Index (also on a 404), the exact error body to name a missing ACL
// permission, AbortSignal cancellation and per-call timeouts, none of which it
// exposes cleanly (its typings even reject index/wait/token: research §8).
// The transport is http-transport.ts; the KV and event calls are in kv-api.ts
// and events-api.ts, offered here as methods. Callers import from this file.
import { ConsulError } from './consul-error.ts'
import { eventIds, fireEvent, newEventId } from './events-api.ts'
import type { ConsulClientOptions } from './http-transport.ts'
import { ConsulHttp } from './http-transport.ts'
import type { KvEntry, KvRead, TxnKvOp } from './kv-api.ts'
import { kvDelete, kvGet, kvKeys, kvPut, txn } from './kv-api.ts'

export {
  blockingBudget,
  FETCH_HEADERS_TIMEOUT_MS,
  parseIndex,
  raftIndex
} from './blocking-query.ts'
export { ConsulError } from './consul-error.ts'
export type { ConsulClientOptions, ConsulResponse, RequestOptions } from './http-transport.ts'
export type { KvEntry, KvRead, TxnKvOp } from './kv-api.ts'
export { decodeKvEntries } from './kv-api.ts'

/** What the clients made by inDatacenter() share with the one they came from. */
interface SharedState {
  agentDatacenter?: Promise<string>
}

export class ConsulClient extends ConsulHttp {
  private readonly shared: SharedState

  constructor(options: ConsulClientOptions, shared: SharedState = {}) {
    super(options)
    this.shared = shared
  }

  /**
   * The same client with every request answered from `datacenter` (`?dc=` on
   * each call: Consul's agent forwards it there, agent/http.go parseDC). Cheap:
   * a new object over the same options, nothing is fetched; the agent's
   * datacenter, once known, is shared.
   */
  inDatacenter(datacenter: string | undefined): ConsulClient {
    if (datacenter === undefined || datacenter === this.datacenter) return this
    return new ConsulClient({ ...this.options, dc: datacenter }, this.shared)
  }

  /**
   * GET /v1/catalog/datacenters: every datacenter the agent's servers know over
   * the WAN, nearest first (catalog.mdx: "sorted in ascending order based on the
   * estimated median round trip time"; agent/router/router.go
   * GetDatacentersByDistance puts the agent's own at RTT 0, so first). Needs no
   * ACL permission and no leader.
   */
  async datacentersList(signal?: AbortSignal): Promise<string[]> {
    const { value } = await this.getJson<string[] | null>('catalog/datacenters', 'no permission', {
      signal
    })
    return value ?? []
  }

  /**
   * The datacenter of the agent at `addr`: /v1/agent/self `Config.Datacenter`
   * (agent:read), else, when the token may not read the agent, the first of
   * datacentersList() (the agent's own is at RTT 0). Asked once per client family.
   */
  agentDatacenter(signal?: AbortSignal): Promise<string> {
    const root = this.datacenter === undefined ? this : this.unbound()
    this.shared.agentDatacenter ??= root
      .getJson<{ Config?: { Datacenter?: string } }>('agent/self', 'agent:read', { signal })
      .then(
        ({ value }) => value.Config?.Datacenter ?? '',
        async (error: unknown) => {
          if (!(error instanceof ConsulError) || error.status !== 403) throw error
          return (await root.datacentersList(signal))[0] ?? ''
        }
      )
      .then((dc) => {
        if (dc === '') throw new ConsulError('Consul did not say its datacenter', undefined, false)
        return dc
      })
    // A failed lookup is not kept: the next call asks again.
    const asked = this.shared.agentDatacenter
    asked.catch(() => {
      if (this.shared.agentDatacenter === asked) this.shared.agentDatacenter = undefined
    })
    return asked
  }

  /**
   * The Consul servers' node names in the client's datacenter: the nodes of the
   * `consul` service, which every server registers on itself (leader.go
   * reconcileMember). A session created with `?dc=` in another datacenter than
   * the agent's must name a node there (session/create defaults Node to the
   * agent's own): a server is one that is always there. Needs service:read on
   * "consul" and node:read.
   */
  async serverNodes(signal?: AbortSignal): Promise<string[]> {
    const { value } = await this.getJson<Array<{ Node: string }>>(
      'catalog/service/consul',
      'service:read on "consul"',
      { signal }
    )
    return value.map((entry) => entry.Node).sort()
  }

  private unbound(): ConsulClient {
    const { dc: _dc, ...options } = this.options
    return new ConsulClient(options, this.shared)
  }

  // KV (kv-api.ts)

  kvGet(key: string, opts?: Parameters<typeof kvGet>[2]): Promise<KvRead> {
    return kvGet(this, key, opts)
  }

  txn(ops: TxnKvOp[], permission: string, opts?: Parameters<typeof txn>[3]): Promise<KvEntry[]> {
    return txn(this, ops, permission, opts)
  }

  kvPut(key: string, value: string, opts?: Parameters<typeof kvPut>[3]): Promise<boolean> {
    return kvPut(this, key, value, opts)
  }

  kvDelete(key: string, opts?: Parameters<typeof kvDelete>[2]): Promise<void> {
    return kvDelete(this, key, opts)
  }

  kvKeys(prefix: string, opts?: Parameters<typeof kvKeys>[2]): Promise<string[]> {
    return kvKeys(this, prefix, opts)
  }

  // User events (events-api.ts)

  fireEvent(
    name: string,
    payload: string,
    filters: Parameters<typeof fireEvent>[3],
    opts?: Parameters<typeof fireEvent>[4]
  ): Promise<{ id: string }> {
    return fireEvent(this, name, payload, filters, opts)
  }

  eventIds(name: string, payload: string, signal?: AbortSignal): Promise<string[]> {
    return eventIds(this, name, payload, signal)
  }

  newEventId(
    name: string,
    payload: string,
    seenBefore: string[],
    signal?: AbortSignal
  ): Promise<string | undefined> {
    return newEventId(this, name, payload, seenBefore, signal)
  }

  /** The node name of the agent this client talks to (`Config.NodeName` of /v1/agent/self). */
  async agentNodeName(signal?: AbortSignal): Promise<string> {
    const { value } = await this.getJson<{ Config?: { NodeName?: string } }>(
      'agent/self',
      'agent:read',
      { signal }
    )
    return value.Config?.NodeName ?? ''
  }
}
