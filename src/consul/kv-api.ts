// The KV store's entries as the client returns them: decoded from Consul's
// JSON (base64 values), and the operations of a KV transaction.

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
