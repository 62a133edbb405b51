// The KV store's calls (read, write, delete, list keys, transaction) and their
// entries as the client returns them, decoded from Consul's JSON (base64 values).
import { ConsulError } from './consul-error.ts'
import type { ConsulHttp, RequestOptions } from './http-transport.ts'

export interface KvEntry {
  key: string
  /** the value decoded as UTF-8; null when empty */
  value: string | null
  flags: number
  createIndex: number
  modifyIndex: number
  lockIndex: number
  session?: string
}

export interface KvRead {
  entries: KvEntry[]
  /** X-Consul-Index of the answer (present on a 404 too), exact */
  index: bigint
}

export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/')
}

/**
 * ModifyIndex and the like are Raft indexes: exact as numbers (see raftIndex).
 * `changedAfter`: only entries modified after that index are decoded and
 * returned (a blocking read of 10,000 results, where a few changed, decodes
 * those few: less garbage per read, a smaller young generation).
 */
export function decodeKvEntries(body: string, changedAfter?: bigint): KvEntry[] {
  const parsed = JSON.parse(body) as Array<{
    Key: string
    Value: string | null
    Flags?: number
    CreateIndex: number
    ModifyIndex: number
    LockIndex?: number
    Session?: string
  }>
  const after = changedAfter === undefined || changedAfter < 1n ? undefined : Number(changedAfter)
  const raw = after === undefined ? parsed : parsed.filter((e) => e.ModifyIndex > after)
  return raw.map((e) => ({
    key: e.Key,
    value:
      e.Value === null || e.Value === undefined
        ? null
        : Buffer.from(e.Value, 'base64').toString('utf8'),
    flags: e.Flags ?? 0,
    createIndex: e.CreateIndex,
    modifyIndex: e.ModifyIndex,
    lockIndex: e.LockIndex ?? 0,
    session: e.Session || undefined
  }))
}

export interface TxnKvOp {
  Verb:
    | 'set'
    | 'cas'
    | 'get'
    | 'check-index'
    | 'check-not-exists'
    | 'delete'
    | 'lock'
    | 'unlock'
    | 'check-session'
  Key: string
  Value?: string
  Index?: number
  Session?: string
}

/** A KV read; a missing key or prefix is an empty list with the index still set. */
export async function kvGet(
  consul: ConsulHttp,
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
  const blocking = consul.blocking(opts.index, opts.waitMs)
  const res = await consul.request('GET', `kv/${encodeKey(key)}`, {
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
export async function txn(
  consul: ConsulHttp,
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
  const res = await consul.request('PUT', 'txn', { ...opts, body, permission, accept: [409] })
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

export async function kvPut(
  consul: ConsulHttp,
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
  const res = await consul.request('PUT', `kv/${encodeKey(key)}`, {
    query: { acquire: opts.acquire, release: opts.release, cas: opts.cas },
    body: value,
    signal: opts.signal,
    retryUntil: opts.retryUntil,
    permission: opts.permission ?? `key:write on "${key}"`
  })
  return res.body.trim() === 'true'
}

/** Delete a key (a missing key is no error: Consul answers true). */
export async function kvDelete(
  consul: ConsulHttp,
  key: string,
  opts: { signal?: AbortSignal; permission?: string } = {}
): Promise<void> {
  await consul.request('DELETE', `kv/${encodeKey(key)}`, {
    signal: opts.signal,
    permission: opts.permission ?? `key:write on "${key}"`
  })
}

/** Key names under a prefix (`?keys`); a missing prefix is an empty list. */
export async function kvKeys(
  consul: ConsulHttp,
  prefix: string,
  opts: { permission?: string; signal?: AbortSignal } = {}
): Promise<string[]> {
  const res = await consul.request('GET', `kv/${encodeKey(prefix)}`, {
    query: { keys: true },
    signal: opts.signal,
    permission: opts.permission ?? `key:read on "${prefix}"`,
    accept: [404]
  })
  return res.status === 404 ? [] : (JSON.parse(res.body) as string[])
}
