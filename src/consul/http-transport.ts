// The transport every Consul call goes through: the URL and its `?dc=`, the
// token header, per-attempt timeouts, retries with backoff while a failure is
// transient, and the error a failure becomes (consul-error.ts). The endpoint
// groups (kv-api.ts, events-api.ts, client.ts) are built on it.
import { blockingBudget, goDuration, parseIndex } from './blocking-query.ts'
import { ConsulError, networkCode, statusError, TRANSIENT_NETWORK } from './consul-error.ts'

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

/** A Consul agent's HTTP API, bound to one datacenter (`?dc=`) or none. */
export class ConsulHttp {
  readonly addr: string
  /** the datacenter every request names (`?dc=`); undefined: the agent's own */
  readonly datacenter: string | undefined
  protected readonly options: ConsulClientOptions
  private readonly token: string | undefined
  private readonly retryForMs: number
  private readonly onRetry: ConsulClientOptions['onRetry']
  /** told about decisions worth a log line (ConsulClientOptions.onNotice) */
  readonly onNotice: ConsulClientOptions['onNotice']
  private readonly backoffBaseMs: number
  private readonly headersTimeoutMs: number | undefined

  constructor(options: ConsulClientOptions) {
    this.options = options
    this.datacenter = options.dc === '' ? undefined : options.dc
    this.addr = options.addr.replace(/\/+$/, '')
    this.token = options.token
    this.retryForMs = options.retryForMs ?? 60_000
    this.onRetry = options.onRetry
    this.onNotice = options.onNotice
    this.backoffBaseMs = options.backoffBaseMs ?? 250
    this.headersTimeoutMs = options.headersTimeoutMs
  }

  /** `?index=&wait=` and the attempt's timeout; Consul's rules plus fetch's header timeout. */
  blocking(index: bigint | undefined, waitMs: number | undefined) {
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
        failure = statusError(what, res.status, body, options.permission, dc)
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
