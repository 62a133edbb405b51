// `query`: asks the nodes (all, or FilterNodes/FilterTags) and collects their
// acks and responses. Serf sends `done` only at the query's deadline, so the
// call resolves as soon as every expected node answered, or at `done` saying
// which did not (an answer over 1 KB is dropped by Serf: that node never answers).
import type { SerfConnection } from './rpc-connection.ts'
import { SerfRpcError } from './rpc-error.ts'
import { toQueryRecord } from './rpc-records.ts'
import type { QueryRecord } from './rpc-types.ts'

export interface QueryParams {
  name: string
  payload?: Uint8Array | string
  /** only these members handle it */
  filterNodes?: string[]
  /** only members whose tags match these anchored regexes handle it */
  filterTags?: Record<string, string>
  /** members ack on receipt, before their handler runs */
  requestAck?: boolean
  relayFactor?: number
  /** Serf's deadline in ms (sent as ns); unset: Serf's default, 3.2 s for up to 9 members */
  timeoutMs?: number
  /** the nodes to wait for; default filterNodes; with neither the call ends at `done` */
  expect?: string[]
  /**
   * what answering is: a response (default; with requestAck, the ack as well,
   * which may come after the response) or an ack
   */
  until?: 'responses' | 'acks'
  /** every record as it comes, until the call settles */
  onRecord?: (record: QueryRecord) => void
}

export interface QueryResult {
  /** nodes that acked, in order */
  acks: string[]
  /** one per node, in order */
  responses: { from: string; payload: Uint8Array }[]
  /** every expected node answered (`answered`), or Serf's deadline passed (`done`) */
  ended: 'answered' | 'done'
  /** expected nodes that did not answer by the deadline */
  unanswered: string[]
}

/** Serf's default deadline is at most 9.6 s below 1000 members. */
const DEFAULT_DEADLINE_MS = 10_000

export function runQuery(
  conn: SerfConnection,
  params: QueryParams,
  callTimeoutMs: number
): Promise<QueryResult> {
  const call = new QueryCall(conn, params)
  const deadlineMs = params.timeoutMs || DEFAULT_DEADLINE_MS
  conn
    .open('query', queryRequest(params), call.onRaw, call.settle, { timeoutMs: callTimeoutMs })
    .then(() => call.endBy(deadlineMs + callTimeoutMs), call.settle)
  return call.promise
}

/** The body of a `query` request. */
function queryRequest(params: QueryParams): object {
  const payload =
    typeof params.payload === 'string' ? new TextEncoder().encode(params.payload) : params.payload
  return {
    FilterNodes: params.filterNodes,
    FilterTags: params.filterTags,
    RequestAck: params.requestAck ?? false,
    RelayFactor: params.relayFactor ?? 0,
    Timeout: Math.round((params.timeoutMs ?? 0) * 1e6),
    Name: params.name,
    Payload: payload ?? new Uint8Array(0)
  }
}

/**
 * One query call: the acks and responses so far, and whether the call has
 * settled (it settles once; the records keep coming until `done` after it).
 */
class QueryCall {
  readonly promise: Promise<QueryResult>
  private readonly conn: SerfConnection
  private readonly params: QueryParams
  /** the nodes to wait for; undefined: the call ends at `done` */
  private readonly waitFor: Set<string> | undefined
  private readonly until: 'responses' | 'acks'
  private readonly acks: string[] = []
  private readonly responses: QueryResult['responses'] = []
  private readonly acked = new Set<string>()
  private readonly responded = new Set<string>()
  private settled = false
  /** fails the call when neither `done` nor every answer came in time */
  private guard: NodeJS.Timeout | undefined
  private resolve: (result: QueryResult) => void = () => {}
  private reject: (err: Error) => void = () => {}

  constructor(conn: SerfConnection, params: QueryParams) {
    this.conn = conn
    this.params = params
    const expected = new Set(params.expect ?? params.filterNodes ?? [])
    this.waitFor = expected.size > 0 ? expected : undefined
    this.until = params.until ?? 'responses'
    this.promise = new Promise<QueryResult>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  readonly settle = (result: QueryResult | Error): void => {
    if (this.settled) return
    this.settled = true
    clearTimeout(this.guard)
    if (result instanceof Error) this.reject(result)
    else this.resolve(result)
  }

  /** Once the agent took the query: it must end within `ms`. */
  endBy(ms: number): void {
    if (this.settled) return
    this.guard = setTimeout(
      () =>
        this.settle(
          new SerfRpcError(
            this.conn.addr,
            'query',
            `no end of query ${this.params.name} within ${ms} ms`
          )
        ),
      ms
    )
  }

  readonly onRaw = (raw: unknown, seq: number): void => {
    let record: QueryRecord
    try {
      record = toQueryRecord(raw)
    } catch (err) {
      this.settle(new SerfRpcError(this.conn.addr, 'query', (err as Error).message))
      return
    }
    // The records keep coming until `done` even when the call has settled.
    if (record.type === 'done') this.conn.release(seq)
    if (this.settled) return
    // At the deadline Serf closes the query's channels a moment before its
    // stream sends `done`, and may stream their zero values first: acks and
    // responses from "" (seen in about 1 query of 20).
    if (record.type !== 'done' && record.from === '') return
    if (!this.passOn(record)) return
    if (record.type === 'done') return this.settle(this.result('done'))
    if (!this.take(record)) return
    if (this.waitFor && [...this.waitFor].every(this.hasAnswered))
      this.settle(this.result('answered'))
  }

  /** Hands the record to the caller's onRecord; false when it threw (the call failed with it). */
  private passOn(record: QueryRecord): boolean {
    try {
      this.params.onRecord?.(record)
      return true
    } catch (err) {
      this.settle(err instanceof Error ? err : new Error(String(err)))
      return false
    }
  }

  /** Counts an ack or response; false when that node's was counted already. */
  private take(record: Exclude<QueryRecord, { type: 'done' }>): boolean {
    if (record.type === 'ack') {
      if (this.acked.has(record.from)) return false
      this.acked.add(record.from)
      this.acks.push(record.from)
    } else {
      if (this.responded.has(record.from)) return false
      this.responded.add(record.from)
      this.responses.push({ from: record.from, payload: record.payload })
    }
    return true
  }

  private readonly hasAnswered = (node: string): boolean =>
    this.until === 'acks'
      ? this.acked.has(node)
      : this.responded.has(node) && (!this.params.requestAck || this.acked.has(node))

  private result(ended: QueryResult['ended']): QueryResult {
    return {
      acks: [...this.acks],
      responses: [...this.responses],
      ended,
      unanswered: this.waitFor ? [...this.waitFor].filter((n) => !this.hasAnswered(n)) : []
    }
  }
}
