// PUT /v1/txn: agent/txn_endpoint.go (decoding, limits), agent/consul/txn_endpoint.go
// (ACL and lock-delay pre-checks) and agent/consul/state/txn.go (atomic apply).
import { HttpError } from './errors.ts'
import type { Ctx } from './http.ts'
import { route, sendJson } from './http.ts'
import { dirEntryJson, KV_MAX_VALUE_SIZE } from './kv.ts'
import type { DirEntry } from './state.ts'

// txn.mdx: "up to 128 operations" (maxTxnOps).
export const MAX_TXN_OPS = 128
// agent/config default txn_max_req_len: 512 KiB.
const TXN_MAX_REQ_LEN = 524288

interface TxnKvOp {
  Verb?: string
  Key?: string
  Value?: string | null
  Flags?: number
  Index?: number
  Session?: string
}

const WRITE_VERBS = new Set(['set', 'cas', 'lock', 'unlock', 'delete', 'delete-tree', 'delete-cas'])

route('/v1/txn', ['PUT'], async (ctx) => {
  if (ctx.contentLength > TXN_MAX_REQ_LEN) {
    throw new HttpError(
      413,
      `Request body(${ctx.contentLength} bytes) too large, max size: ${TXN_MAX_REQ_LEN} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#txn_max_req_len.`
    )
  }
  let ops: unknown
  try {
    ops = JSON.parse((await ctx.body()).toString('utf8'))
  } catch (err) {
    // txn_endpoint.go: an undecodable body is a 400.
    throw new HttpError(400, `Failed to parse body: ${(err as Error).message}`)
  }
  if (!Array.isArray(ops))
    throw new HttpError(
      400,
      'Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps'
    )
  // txn_endpoint.go: "Transaction contains too many operations (%d > %d)" → 413.
  if (ops.length > MAX_TXN_OPS)
    throw new HttpError(
      413,
      `Transaction contains too many operations (${ops.length} > ${MAX_TXN_OPS})`
    )
  const kvOps: TxnKvOp[] = []
  for (const op of ops as Array<{ KV?: TxnKvOp }>) {
    const kv = op?.KV
    if (!kv) throw new HttpError(400, 'Failed to parse body: only KV operations are emulated')
    const size = kv.Value ? Buffer.from(kv.Value, 'base64').length : 0
    // txn_endpoint.go: "Value for key %q is too large (%d > %d bytes)" → 413.
    if (size > KV_MAX_VALUE_SIZE)
      throw new HttpError(
        413,
        `Value for key ${JSON.stringify(kv.Key ?? '')} is too large (${size} > ${KV_MAX_VALUE_SIZE} bytes)`
      )
    kvOps.push(kv)
  }
  const authz = ctx.auth()
  const { state } = ctx.dc()
  const errors: Array<{ OpIndex: number; What: string }> = []
  // consul/txn_endpoint.go preCheck → kvsPreApply for each op: ACLs and lock delay.
  kvOps.forEach((op, opIndex) => {
    const verb = op.Verb ?? ''
    const key = op.Key ?? ''
    const need = WRITE_VERBS.has(verb) ? 'write' : 'read'
    if (!authz.allowed('key', key, need)) {
      errors.push({ OpIndex: opIndex, What: permissionText(authz.accessorId, key, need) })
    } else if (verb === 'lock' && state.inLockDelay(key)) {
      errors.push({
        OpIndex: opIndex,
        What: `failed to lock key ${JSON.stringify(key)} due to lock delay`
      })
    }
  })
  if (errors.length > 0) {
    sendJson(ctx, { Results: null, Errors: errors }, 409)
    return
  }
  const isWrite = kvOps.some((op) => WRITE_VERBS.has(op.Verb ?? ''))
  const idx = isWrite ? state.nextIndex() : state.raftIndex
  const results: Array<{ KV: Record<string, unknown> }> = []
  state.beginTxn()
  kvOps.forEach((op, opIndex) => {
    try {
      for (const result of applyOp(ctx, idx, op)) results.push({ KV: result })
    } catch (err) {
      // state/txn.go: every failing op is reported, then the whole txn is rolled back.
      errors.push({ OpIndex: opIndex, What: (err as Error).message })
    }
  })
  if (errors.length > 0) {
    state.rollbackTxn()
    sendJson(ctx, { Results: null, Errors: errors }, 409)
    return
  }
  state.commitTxn()
  if (!isWrite) {
    // txn_endpoint.go: a read-only txn goes to Txn.Read and only sets LastContact/KnownLeader.
    ctx.res.setHeader('X-Consul-KnownLeader', 'true')
    ctx.res.setHeader('X-Consul-LastContact', '0')
  }
  // txn_endpoint.go: 200 {"Results":[...],"Errors":null}.
  sendJson(ctx, { Results: results, Errors: null })
})

function permissionText(accessorId: string, key: string, need: string): string {
  return `Permission denied: token with AccessorID '${accessorId}' lacks permission 'key:${need}' on ${JSON.stringify(key)}`
}

// state/txn.go txnKVS, verb by verb, with its error texts.
function applyOp(ctx: Ctx, idx: number, op: TxnKvOp): Array<Record<string, unknown>> {
  const { state } = ctx.dc()
  const verb = op.Verb ?? ''
  const key = op.Key ?? ''
  const value = op.Value ? Buffer.from(op.Value, 'base64') : null
  const input = {
    key,
    value: value && value.length > 0 ? value : null,
    flags: BigInt(op.Flags ?? 0),
    lockIndex: 0,
    session: op.Session ?? ''
  }
  const index = op.Index ?? 0
  const quoted = JSON.stringify(key)
  let entry: DirEntry | null | undefined
  switch (verb) {
    case 'set':
      entry = state.kvSet(idx, input, false)
      break
    case 'cas':
      entry = state.kvCas(idx, input, index)
      if (!entry) throw new Error(`failed to set key ${quoted}, index is stale`)
      break
    case 'lock':
      entry = state.kvLock(idx, input)
      if (!entry) throw new Error(`failed to lock key ${quoted}, lock is already held`)
      break
    case 'unlock':
      entry = state.kvUnlock(idx, input)
      if (!entry)
        throw new Error(
          `failed to unlock key ${quoted}, lock isn't held, or is held by another session`
        )
      break
    case 'get':
      entry = state.kv.get(key)
      if (!entry) throw new Error(`key ${quoted} doesn't exist`)
      // "For a GET we keep the value".
      return [dirEntryJson(entry)]
    case 'get-or-empty':
      entry = state.kv.get(key) ?? {
        key,
        value: null,
        flags: 0n,
        lockIndex: 0,
        session: '',
        createIndex: 0,
        modifyIndex: 0
      }
      break
    case 'get-tree':
      return state.listEntries(key).map((e) => dirEntryJson(e))
    case 'check-index':
      entry = state.kv.get(key)
      if (!entry) throw new Error(`failed to check index, key ${quoted} doesn't exist`)
      if (entry.modifyIndex !== index)
        throw new Error(
          `failed to check index of key ${quoted}, current modify index ${entry.modifyIndex} != ${index}`
        )
      break
    case 'check-session':
      entry = state.kv.get(key)
      if (!entry) throw new Error(`failed to check session, key ${quoted} doesn't exist`)
      if (entry.session !== input.session)
        throw new Error(
          `failed to check session, key ${quoted} held by session ${JSON.stringify(entry.session)}, not ${JSON.stringify(input.session)}`
        )
      break
    case 'check-not-exists':
      if (state.kv.has(key)) throw new Error(`key ${quoted} exists`)
      return []
    case 'delete':
      state.kvDelete(idx, key)
      return []
    case 'delete-tree':
      state.kvDeleteTree(idx, key)
      return []
    case 'delete-cas':
      if (!state.kvDeleteCas(idx, key, index))
        throw new Error(`failed to delete key ${quoted}, index is stale`)
      return []
    default:
      throw new Error(`unknown KV verb ${JSON.stringify(verb)}`)
  }
  // "otherwise we clone and blank out the value".
  return [dirEntryJson(entry, false)]
}
