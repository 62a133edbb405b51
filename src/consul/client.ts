// The few Consul HTTP API calls the action makes, on Node's own fetch.
// Not the npm `consul` client: the await loop needs each response's
// X-Consul-Index (also on a 404), the exact error body to name a missing ACL
// permission, AbortSignal cancellation and per-call timeouts, none of which it
// exposes cleanly (its typings even reject index/wait/token: research §8).

import { blockingBudget, goDuration, parseIndex } from './blocking-query.ts'
import {
  ConsulError,
  DC_NOT_AVAILABLE,
  firstLine,
  MISSING_NODE,
  networkCode,
  NO_DC_PATH,
  TRANSIENT_NETWORK
} from './consul-error.ts'
import type { KvEntry, KvRead, TxnKvOp } from './kv-api.ts'
import { decodeKvEntries, encodeKey } from './kv-api.ts'

export {
  blockingBudget,
  FETCH_HEADERS_TIMEOUT_MS,
  parseIndex,
  raftIndex
} from './blocking-query.ts'
export { ConsulError } from './consul-error.ts'
export type { KvEntry, KvRead, TxnKvOp } from './kv-api.ts'
export { decodeKvEntries } from './kv-api.ts'

export interface ConsulClientOptions {
  addr: string
  token?: string
  /**
   * The Consul datacenter every request is answered from (`?dc=` on each call);
   * unset: the agent's own. See ConsulClient.inDatacenter.
   */
  dc?: string
  /** how long transient failures are retried before giving up */
  retryForMs?: number
  /** told about each retry, for the log */
  onRetry?: (what: string, attempt: number, delayMs: number) => void
  /** told about other decisions worth a log line */
  onNotice?: (line: string) => void
  /** for tests: a faster backoff */
  backoffBaseMs?: number
  /** the fetch's response-header timeout that blocking reads must stay under (default: Node's) */
  headersTimeoutMs?: number
}

export interface RequestOptions {
  query?: Record<string, string | number | bigint | boolean | undefined>
  body?: string
  signal?: AbortSignal
  /** the ACL permission this call needs, named in a 403 error */
  permission: string
  /** per-attempt timeout; blocking reads pass wait + margin */
  timeoutMs?: number
  /** give up retrying at this epoch ms (defaults to now + retryForMs) */
  retryUntil?: number
  /**
   * Once aborted, a failed attempt is not tried again. Unlike `signal` it never
   * cuts a request short: a write already sent is let finish, so its outcome is known.
   */
  stopRetrying?: AbortSignal
  /** statuses that are answers, not errors (e.g. 404 on a KV read) */
  accept?: number[]
  /**
   * For a request that is not safe to repeat: asked after a transient failure,
   * before trying again, whether the failed attempt took effect after all (its
   * answer lost). An answer returned here ends the request as if it had succeeded.
   */
  tookEffect?: () => Promise<ConsulResponse | undefined>
}

export interface ConsulResponse {
  status: number
  body: string
  /** X-Consul-Index, exact (0n when absent) */
  index: bigint
  knownLeader: boolean
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** What the clients made by inDatacenter() share with the one they came from. */
interface SharedState {
  agentDatacenter?: Promise<string>
}

export class ConsulClient {
  readonly addr: string
  /** the datacenter every request names (`?dc=`); undefined: the agent's own */
  readonly datacenter: string | undefined
  private readonly options: ConsulClientOptions
  private readonly shared: SharedState
  private readonly token: string | undefined
  private readonly retryForMs: number
  private readonly onRetry: ConsulClientOptions['onRetry']
  private readonly onNotice: ConsulClientOptions['onNotice']
  private readonly backoffBaseMs: number
  private readonly headersTimeoutMs: number | undefined

  constructor(options: ConsulClientOptions, shared: SharedState = {}) {
    this.options = options
    this.shared = shared
    this.datacenter = options.dc === '' ? undefined : options.dc
    this.addr = options.addr.replace(/\/+$/, '')
    this.token = options.token
    this.retryForMs = options.retryForMs ?? 60_000
    this.onRetry = options.onRetry
    this.onNotice = options.onNotice
    this.backoffBaseMs = options.backoffBaseMs ?? 250
    this.headersTimeoutMs = options.headersTimeoutMs
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

  /** `?index=&wait=` and the attempt's timeout; Consul's rules plus fetch's header timeout. */
  private blocking(index: bigint | undefined, waitMs: number | undefined) {
    if (index === undefined || index <= 0n) return { query: {}, timeoutMs: 30_000 } // index 0 never blocks
    const budget = blockingBudget(waitMs, this.headersTimeoutMs)
    return { query: { index, wait: goDuration(budget.waitMs) }, timeoutMs: budget.timeoutMs }
  }

  /** One API call, retried with backoff while the failure is transient (5xx, 429, resets). */
  async request(method: string, path: string, options: RequestOptions): Promise<ConsulResponse> {
    const url = new URL(`${this.addr}/v1/${path}`)
    const query =
      this.datacenter === undefined ? options.query : { dc: this.datacenter, ...options.query }
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined || v === false) continue
      url.searchParams.set(k, v === true ? '' : String(v))
    }
    // Consul reads flags by presence (`?recurse`), so drop the `=` of empty values.
    const href = url.href.replace(/=(&|$)/g, '$1')
    const retryUntil = options.retryUntil ?? Date.now() + this.retryForMs
    const dc = url.searchParams.get('dc') || undefined
    const what = `${method} /v1/${path.split('?')[0]}${dc === undefined ? '' : ` in datacenter "${dc}"`}`
    for (let attempt = 1; ; attempt++) {
      let failure: ConsulError
      try {
        const headers: Record<string, string> = {}
        if (this.token) headers['X-Consul-Token'] = this.token
        const timeout = AbortSignal.timeout(Math.ceil(options.timeoutMs ?? 30_000))
        const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
        const res = await fetch(href, { method, headers, body: options.body, signal })
        const body = await res.text()
        const index = parseIndex(res.headers.get('x-consul-index'))
        const knownLeader = res.headers.get('x-consul-knownleader') !== 'false'
        if (res.ok || options.accept?.includes(res.status))
          return { status: res.status, body, index, knownLeader }
        failure = this.statusError(what, res.status, body, options.permission, dc)
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error
        if (error instanceof ConsulError) throw error
        const code = networkCode(error)
        const timedOut = (error as Error).name === 'TimeoutError'
        const transient = timedOut || (code !== undefined && TRANSIENT_NETWORK.has(code))
        failure = new ConsulError(
          `Consul at ${this.addr} did not answer ${what}: ${timedOut ? 'timed out' : (code ?? (error as Error).message)}`,
          undefined,
          transient
        )
      }
      if (!failure.transient) throw failure
      const effect = await options.tookEffect?.()
      if (effect) return effect
      if (options.stopRetrying?.aborted) throw failure
      // Exponential backoff with full jitter, as Consul's client guidance suggests.
      const delay =
        Math.min(this.backoffBaseMs * 2 ** Math.min(attempt - 1, 6), 10_000) *
        (0.5 + Math.random() / 2)
      if (Date.now() + delay > retryUntil) throw failure
      this.onRetry?.(`${failure.message}`, attempt, delay)
      await sleep(
        delay,
        options.stopRetrying && options.signal
          ? AbortSignal.any([options.signal, options.stopRetrying])
          : (options.stopRetrying ?? options.signal)
      ).catch((reason: unknown) => {
        throw options.signal?.aborted ? reason : failure
      })
    }
  }

  private statusError(
    what: string,
    status: number,
    body: string,
    permission: string,
    dc: string | undefined
  ): ConsulError {
    const text = firstLine(body)
    if (status === 500 && text.includes(NO_DC_PATH)) {
      // Retrying does not help: the agent's servers know no such datacenter.
      return new ConsulError(
        `Consul has no path to datacenter "${dc ?? '?'}" (${what.replace(/ in datacenter ".*"$/, '')}): it is not one of the datacenters its servers know over the WAN (GET /v1/catalog/datacenters lists them)`,
        status,
        false,
        dc
      )
    }
    if (
      status === 500 &&
      text.includes(MISSING_NODE) &&
      what.startsWith('PUT /v1/session/create')
    ) {
      // Not transient either: a session belongs to a node of the datacenter it is
      // created in, and Node defaults to the agent's own (session_endpoint.go),
      // which another datacenter's catalog does not have.
      return new ConsulError(
        `Consul refused ${what}: ${text}${dc === undefined ? '' : ` (a session in datacenter "${dc}" must name one of its nodes: Node defaults to the agent's own)`}`,
        status,
        false
      )
    }
    if (status === 500 && text.includes(DC_NOT_AVAILABLE)) {
      // Known, its servers unreachable for now: worth retrying.
      return new ConsulError(
        `Consul cannot reach any server of datacenter "${dc ?? '?'}" (${what}): ${text}`,
        status,
        true
      )
    }
    if (status === 403) {
      // "Permission denied" or "ACL not found" (acl/errors.go): not worth retrying.
      const reason = /ACL not found/i.test(text)
        ? 'the token is unknown to Consul (ACL not found)'
        : `the token lacks ${permission}`
      return new ConsulError(`Consul refused ${what}: ${reason}`, status, false)
    }
    const transient = status >= 500 || status === 429
    return new ConsulError(
      `Consul answered ${what} with ${status}${text ? `: ${text}` : ''}`,
      status,
      transient
    )
  }

  /** A KV read; a missing key or prefix is an empty list with the index still set. */
  async kvGet(
    key: string,
    opts: {
      recurse?: boolean
      index?: bigint
      waitMs?: number
      signal?: AbortSignal
      permission?: string
      retryUntil?: number
      /** only entries modified after this index (see decodeKvEntries) */
      changedAfter?: bigint
    } = {}
  ): Promise<KvRead> {
    const blocking = this.blocking(opts.index, opts.waitMs)
    const res = await this.request('GET', `kv/${encodeKey(key)}`, {
      query: { recurse: opts.recurse, ...blocking.query },
      signal: opts.signal,
      permission: opts.permission ?? `key:read on "${key}"`,
      timeoutMs: blocking.timeoutMs,
      retryUntil: opts.retryUntil,
      accept: [404]
    })
    return {
      entries: res.status === 404 ? [] : decodeKvEntries(res.body, opts.changedAfter),
      index: res.index
    }
  }

  /** An atomic transaction; throws with Consul's reasons when it rolled back. */
  async txn(
    ops: TxnKvOp[],
    permission: string,
    opts: Pick<RequestOptions, 'signal' | 'stopRetrying' | 'retryUntil'> = {}
  ): Promise<KvEntry[]> {
    const body = JSON.stringify(
      ops.map((op) => ({
        KV: {
          ...op,
          Value: op.Value === undefined ? undefined : Buffer.from(op.Value).toString('base64')
        }
      }))
    )
    const res = await this.request('PUT', 'txn', { ...opts, body, permission, accept: [409] })
    const parsed = JSON.parse(res.body) as {
      Results: Array<{ KV: unknown }> | null
      Errors: Array<{ OpIndex: number; What: string }> | null
    }
    if (res.status === 409) {
      const reasons = (parsed.Errors ?? [])
        .map((e) => `${ops[e.OpIndex]?.Key ?? e.OpIndex}: ${e.What}`)
        .join('; ')
      if (/Permission denied/i.test(reasons))
        throw new ConsulError(
          `Consul refused the KV transaction: the token lacks ${permission}`,
          403,
          false
        )
      throw new ConsulError(`Consul rolled back the KV transaction: ${reasons}`, 409, false)
    }
    return decodeKvEntries(JSON.stringify((parsed.Results ?? []).map((r) => r.KV)))
  }

  async kvPut(
    key: string,
    value: string,
    opts: {
      acquire?: string
      release?: string
      cas?: number
      permission?: string
      signal?: AbortSignal
      retryUntil?: number
    } = {}
  ): Promise<boolean> {
    const res = await this.request('PUT', `kv/${encodeKey(key)}`, {
      query: { acquire: opts.acquire, release: opts.release, cas: opts.cas },
      body: value,
      signal: opts.signal,
      retryUntil: opts.retryUntil,
      permission: opts.permission ?? `key:write on "${key}"`
    })
    return res.body.trim() === 'true'
  }

  /** Delete a key (a missing key is no error: Consul answers true). */
  async kvDelete(
    key: string,
    opts: { signal?: AbortSignal; permission?: string } = {}
  ): Promise<void> {
    await this.request('DELETE', `kv/${encodeKey(key)}`, {
      signal: opts.signal,
      permission: opts.permission ?? `key:write on "${key}"`
    })
  }

  /** Key names under a prefix (`?keys`); a missing prefix is an empty list. */
  async kvKeys(
    prefix: string,
    opts: { permission?: string; signal?: AbortSignal } = {}
  ): Promise<string[]> {
    const res = await this.request('GET', `kv/${encodeKey(prefix)}`, {
      query: { keys: true },
      signal: opts.signal,
      permission: opts.permission ?? `key:read on "${prefix}"`,
      accept: [404]
    })
    return res.status === 404 ? [] : (JSON.parse(res.body) as string[])
  }

  /**
   * Fire a user event; the payload goes verbatim (stretcher uses it untrimmed).
   * A fire whose answer is lost (reset, timeout, a 5xx from a proxy) may have been
   * handled, and firing again would deploy every node twice: `seenBefore` (the IDs
   * of events with this payload already in the agent's list; read here when not
   * given) is compared with the list after such a failure, and an event new there
   * was ours. (The agent lists only events it received itself: when the filters
   * keep it from the event, or the list cannot be read, it is fired again.)
   */
  async fireEvent(
    name: string,
    payload: string,
    filters: { node?: string; service?: string; tag?: string },
    opts: Pick<RequestOptions, 'signal' | 'stopRetrying'> & { seenBefore?: string[] } = {}
  ): Promise<{ id: string }> {
    const seenBefore =
      'seenBefore' in opts
        ? opts.seenBefore
        : await this.eventIds(name, payload, opts.signal).catch(() => undefined)
    const res = await this.request('PUT', `event/fire/${encodeURIComponent(name)}`, {
      query: { node: filters.node, service: filters.service, tag: filters.tag },
      body: payload,
      signal: opts.signal,
      stopRetrying: opts.stopRetrying,
      permission: `event:write on "${name}"`,
      tookEffect:
        seenBefore &&
        (async () => {
          const fired = await this.newEventId(name, payload, seenBefore, opts.signal).catch(
            () => undefined
          )
          if (fired === undefined) return undefined
          this.onNotice?.(
            `the event was fired after all (${fired} is in the agent's event list): not firing it again`
          )
          return { status: 200, body: JSON.stringify({ ID: fired }), index: 0n, knownLeader: true }
        })
    })
    return { id: (JSON.parse(res.body) as { ID: string }).ID }
  }

  /**
   * IDs of the events named `name` carrying `payload` in the agent's event buffer.
   * The buffer is the agent's own (agent/event_endpoint.go EventList reads no
   * `?dc`): it only ever holds events of the agent's datacenter, so in a client
   * bound to another datacenter this throws rather than say "not fired" (callers
   * treat an unreadable list as "cannot tell", and fire again).
   */
  async eventIds(name: string, payload: string, signal?: AbortSignal): Promise<string[]> {
    if (this.datacenter !== undefined) {
      // Asked once; like the list itself, never allowed to hold the fire back long.
      const own = await Promise.race([
        this.agentDatacenter(signal),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref())
      ])
      if (own === undefined)
        throw new ConsulError("the agent's datacenter is not known yet", undefined, true)
      if (own !== this.datacenter)
        throw new ConsulError(
          `the agent's event list holds only its own datacenter's events, not "${this.datacenter}"'s`,
          undefined,
          false
        )
    }
    const res = await this.request('GET', 'event/list', {
      query: { name },
      signal,
      permission: `event:read on "${name}"`,
      // a check, not the deploy: a slow agent must not hold the event back for long
      timeoutMs: 2_000,
      retryUntil: Date.now() + 2_000
    })
    const events = JSON.parse(res.body) as Array<{ ID: string; Payload: string | null }>
    const wanted = Buffer.from(payload).toString('base64')
    return events.filter((e) => e.Payload === wanted).map((e) => e.ID)
  }

  /** The ID of an event with this payload that is in the agent's list and not in `seenBefore`. */
  async newEventId(
    name: string,
    payload: string,
    seenBefore: string[],
    signal?: AbortSignal
  ): Promise<string | undefined> {
    const ids = await this.eventIds(name, payload, signal)
    return ids.find((id) => !seenBefore.includes(id))
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

  async getJson<T>(
    path: string,
    permission: string,
    opts: {
      query?: RequestOptions['query']
      signal?: AbortSignal
      index?: bigint
      waitMs?: number
      retryUntil?: number
    } = {}
  ): Promise<{ value: T; index: bigint }> {
    const blocking = this.blocking(opts.index, opts.waitMs)
    const res = await this.request('GET', path, {
      query: { ...opts.query, ...blocking.query },
      signal: opts.signal,
      permission,
      retryUntil: opts.retryUntil,
      timeoutMs: blocking.timeoutMs
    })
    return { value: JSON.parse(res.body) as T, index: res.index }
  }
}
