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
  const expected = new Set(params.expect ?? params.filterNodes ?? [])
  const waitFor = expected.size > 0 ? expected : undefined
  const until = params.until ?? 'responses'
  const acks: string[] = []
  const responses: QueryResult['responses'] = []
  const acked = new Set<string>()
  const responded = new Set<string>()
  const hasAnswered = (node: string): boolean =>
    until === 'acks'
      ? acked.has(node)
      : responded.has(node) && (!params.requestAck || acked.has(node))
  const payload =
    typeof params.payload === 'string' ? new TextEncoder().encode(params.payload) : params.payload

  return new Promise<QueryResult>((resolve, reject) => {
    let settled = false
    let guard: NodeJS.Timeout | undefined
    const settle = (result: QueryResult | Error) => {
      if (settled) return
      settled = true
      clearTimeout(guard)
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const result = (ended: QueryResult['ended']): QueryResult => ({
      acks: [...acks],
      responses: [...responses],
      ended,
      unanswered: waitFor ? [...waitFor].filter((n) => !hasAnswered(n)) : []
    })
    const onRaw = (raw: unknown, seq: number) => {
      let record: QueryRecord
      try {
        record = toQueryRecord(raw)
      } catch (err) {
        settle(new SerfRpcError(conn.addr, 'query', (err as Error).message))
        return
      }
      // The records keep coming until `done` even when the call has settled.
      if (record.type === 'done') conn.release(seq)
      if (settled) return
      // At the deadline Serf closes the query's channels a moment before its
      // stream sends `done`, and may stream their zero values first: acks and
      // responses from "" (seen in about 1 query of 20).
      if (record.type !== 'done' && record.from === '') return
      try {
        params.onRecord?.(record)
      } catch (err) {
        settle(err instanceof Error ? err : new Error(String(err)))
        return
      }
      if (record.type === 'done') return settle(result('done'))
      if (record.type === 'ack') {
        if (acked.has(record.from)) return
        acked.add(record.from)
        acks.push(record.from)
      } else {
        if (responded.has(record.from)) return
        responded.add(record.from)
        responses.push({ from: record.from, payload: record.payload })
      }
      if (waitFor && [...waitFor].every(hasAnswered)) settle(result('answered'))
    }
    const deadlineMs = params.timeoutMs || DEFAULT_DEADLINE_MS
    conn
      .open(
        'query',
        {
          FilterNodes: params.filterNodes,
          FilterTags: params.filterTags,
          RequestAck: params.requestAck ?? false,
          RelayFactor: params.relayFactor ?? 0,
          Timeout: Math.round((params.timeoutMs ?? 0) * 1e6),
          Name: params.name,
          Payload: payload ?? new Uint8Array(0)
        },
        onRaw,
        (err) => settle(err),
        { timeoutMs: callTimeoutMs }
      )
      .then(() => {
        if (settled) return
        guard = setTimeout(
          () =>
            settle(
              new SerfRpcError(
                conn.addr,
                'query',
                `no end of query ${params.name} within ${deadlineMs + callTimeoutMs} ms`
              )
            ),
          deadlineMs + callTimeoutMs
        )
      }, settle)
  })
}
