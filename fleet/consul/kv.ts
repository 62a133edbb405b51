// /v1/kv: agent/kvs_endpoint.go (HTTP side) and agent/consul/kvs_endpoint.go (server side).
import { blockingQuery, parseQueryOptions } from './blocking.ts'
import { HttpError } from './errors.ts'
import type { Ctx } from './http.ts'
import { route, sendJson, sendRaw, sendText, setMeta } from './http.ts'
import { bytes, uint64 } from './json.ts'
import type { DirEntry } from './state.ts'

// agent/config default kv_max_value_size: 512 KiB (raft's suggested max entry size).
export const KV_MAX_VALUE_SIZE = 524288

// structs.DirEntry field order; Value is base64 ([]byte) or null; Session omitempty.
export function dirEntryJson(entry: DirEntry, withValue = true): Record<string, unknown> {
  return {
    LockIndex: entry.lockIndex,
    Key: entry.key,
    Flags: uint64(entry.flags),
    Value: withValue ? bytes(entry.value) : null,
    Session: entry.session === '' ? undefined : entry.session,
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex
  }
}

// strconv.ParseUint(s, 10, 64) with Go's error text (the agent returns it as a 500).
export function parseUint64(text: string): bigint {
  if (!/^\d+$/.test(text))
    throw new Error(`strconv.ParseUint: parsing ${goQuote(text)}: invalid syntax`)
  const value = BigInt(text)
  if (value > 0xffffffffffffffffn)
    throw new Error(`strconv.ParseUint: parsing ${goQuote(text)}: value out of range`)
  return value
}

function goQuote(text: string): string {
  return JSON.stringify(text)
}

// url.Values.Encode: keys sorted, QueryEscape'd (space → '+').
function goEncodeQuery(params: URLSearchParams): string {
  const keys = [...new Set(params.keys())].sort()
  const escape = (s: string): string =>
    encodeURIComponent(s)
      .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%20/g, '+')
  return keys
    .flatMap((key) => params.getAll(key).map((value) => `${escape(key)}=${escape(value)}`))
    .join('&')
}

// agent/kvs_endpoint.go conflictingFlags: 400 "Conflicting flags: <encoded query>\n".
function rejectConflictingFlags(ctx: Ctx, ...flags: string[]): void {
  if (flags.filter((flag) => ctx.params.has(flag)).length > 1) {
    throw new HttpError(400, `Conflicting flags: ${goEncodeQuery(ctx.params)}\n`)
  }
}

// agent/kvs_endpoint.go missingKey
function requireKey(key: string): void {
  if (key === '') throw new HttpError(400, 'Missing key name')
}

route('/v1/kv/', ['GET', 'PUT', 'DELETE'], async (ctx) => {
  // Key = strings.TrimPrefix(req.URL.Path, "/v1/kv/"), Path already unescaped.
  const key = ctx.path.slice('/v1/kv/'.length)
  if (ctx.method === 'GET') {
    // Flags are checked by presence (params["keys"]), so ?keys=false still counts.
    if (ctx.params.has('keys')) return getKeys(ctx, key)
    return getKv(ctx, key)
  }
  if (ctx.method === 'PUT') return putKv(ctx, key)
  return deleteKv(ctx, key)
})

function getKv(ctx: Ctx, key: string): void {
  const recurse = ctx.params.has('recurse')
  if (!recurse) requireKey(key)
  const options = parseQueryOptions(ctx.params)
  const authz = ctx.auth()
  // agent/consul/kvs_endpoint.go Get: key:read is required for a single key.
  if (!recurse) authz.require('key', key, 'read')
  const { state } = ctx.dc()
  blockingQuery({
    options,
    run: () => {
      if (!recurse) {
        // A missing key reports the KV table index, so the 404 still carries one.
        const entry = state.kv.get(key)
        return entry
          ? { index: entry.modifyIndex, entries: [entry], filtered: false }
          : { index: state.kvTableIndex, entries: [], filtered: false }
      }
      const all = state.listEntries(key)
      const index = state.listIndex(key, all)
      // agent/consul/kvs_endpoint.go List: entries are filtered by key:read, not refused.
      const entries = all.filter((entry) => authz.allowed('key', entry.key, 'read'))
      return { index, entries, filtered: entries.length !== all.length }
    },
    watch: (wake) => state.watchKv(key, recurse, wake),
    onAbort: (abort) => ctx.onAbort(abort),
    send: (result) => {
      const meta = { index: result.index, filtered: result.filtered }
      // agent/kvs_endpoint.go KVSGet: setMeta is deferred before WriteHeader(404), so the empty 404 has X-Consul-Index.
      if (result.entries.length === 0) {
        setMeta(ctx, meta)
        sendText(ctx, 404, '')
        return
      }
      const first = result.entries[0]!
      if (ctx.params.has('raw') && !recurse) {
        // KVSGet raw: bare value, text/plain, nosniff, CSP sandbox.
        setMeta(ctx, meta)
        sendRaw(
          ctx,
          200,
          {
            'Content-Type': 'text/plain',
            'X-Content-Type-Options': 'nosniff',
            'Content-Security-Policy': 'sandbox'
          },
          first.value ?? Buffer.alloc(0)
        )
        return
      }
      sendJson(
        ctx,
        result.entries.map((entry) => dirEntryJson(entry)),
        200,
        meta
      )
    }
  })
}

// agent/kvs_endpoint.go KVSGetKeys + state/kvs.go KVSKeys.
function getKeys(ctx: Ctx, prefix: string): void {
  // "due to historic spelling error, we now are forced to check for both spellings"
  let separator = ''
  if (ctx.params.has('separator')) separator = ctx.params.get('separator') ?? ''
  if (ctx.params.has('seperator')) separator = ctx.params.get('seperator') ?? ''
  const options = parseQueryOptions(ctx.params)
  const authz = ctx.auth()
  const { state } = ctx.dc()
  blockingQuery({
    options,
    run: () => {
      const all = state.listEntries(prefix)
      let index = 0
      const keys: string[] = []
      let filtered = false
      for (const entry of all) {
        if (entry.modifyIndex > index) index = entry.modifyIndex
        if (!authz.allowed('key', entry.key, 'read')) {
          filtered = true
          continue
        }
        let name = entry.key
        if (separator !== '') {
          const at = name.indexOf(separator, prefix.length)
          if (at !== -1) name = name.slice(0, at + separator.length)
        }
        if (keys[keys.length - 1] !== name) keys.push(name)
      }
      const graveyard = state.graveyardMaxIndex(prefix)
      if (graveyard > index) index = graveyard
      return { index: index !== 0 ? index : state.kvTableIndex, keys, filtered }
    },
    watch: (wake) => state.watchKv(prefix, true, wake),
    onAbort: (abort) => ctx.onAbort(abort),
    send: (result) => {
      const meta = { index: result.index, filtered: result.filtered }
      // An empty non-root prefix is a 404; the root prefix answers [].
      if (result.keys.length === 0 && prefix !== '') {
        setMeta(ctx, meta)
        sendText(ctx, 404, '')
        return
      }
      sendJson(ctx, result.keys, 200, meta)
    }
  })
}

async function putKv(ctx: Ctx, key: string): Promise<void> {
  requireKey(key)
  rejectConflictingFlags(ctx, 'cas', 'acquire', 'release')
  const { params } = ctx
  const flags = params.has('flags') ? parseUint64(params.get('flags') ?? '') : 0n
  let verb: 'set' | 'cas' | 'lock' | 'unlock' = 'set'
  let casIndex = 0
  let session = ''
  if (params.has('cas')) {
    casIndex = Number(parseUint64(params.get('cas') ?? ''))
    verb = 'cas'
  }
  if (params.has('acquire')) {
    session = params.get('acquire') ?? ''
    verb = 'lock'
  }
  if (params.has('release')) {
    session = params.get('release') ?? ''
    verb = 'unlock'
  }
  // agent/kvs_endpoint.go KVSPut: Content-Length over kv_max_value_size → 413
  // (enforced on the body actually read too, as 1.22's CVE-2025-11374 fix does).
  if (ctx.contentLength > KV_MAX_VALUE_SIZE) throw tooLarge(ctx.contentLength)
  const body = await ctx.body()
  if (body.length > KV_MAX_VALUE_SIZE) throw tooLarge(body.length)
  // agent/consul/kvs_endpoint.go kvsPreApply: every KV write needs key:write.
  ctx.auth().require('key', key, 'write')
  const { state } = ctx.dc()
  const input = { key, value: body.length > 0 ? body : null, flags, lockIndex: 0, session: '' }
  if (verb === 'lock' && state.inLockDelay(key)) {
    // kvsPreApply: "Rejecting lock of key due to lock-delay" → false.
    sendJson(ctx, false)
    return
  }
  const idx = state.nextIndex()
  let ok = true
  if (verb === 'set') state.kvSet(idx, input, false)
  else if (verb === 'cas') ok = state.kvCas(idx, input, casIndex) !== null
  else if (verb === 'lock') ok = state.kvLock(idx, { ...input, session }) !== null
  else ok = state.kvUnlock(idx, { ...input, session }) !== null
  // KVSPut: "Only use the out value if this was a CAS" (set always answers true).
  sendJson(ctx, verb === 'set' ? true : ok)
}

function tooLarge(size: number): HttpError {
  return new HttpError(
    413,
    `Request body(${size} bytes) too large, max size: ${KV_MAX_VALUE_SIZE} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.`
  )
}

function deleteKv(ctx: Ctx, key: string): void {
  rejectConflictingFlags(ctx, 'recurse', 'cas')
  const recurse = ctx.params.has('recurse')
  if (!recurse) requireKey(key)
  const casIndex = ctx.params.has('cas')
    ? Number(parseUint64(ctx.params.get('cas') ?? ''))
    : undefined
  // kvsPreApply: delete-tree needs write on the prefix, others key:write.
  ctx.auth().require('key', key, 'write')
  const { state } = ctx.dc()
  const idx = state.nextIndex()
  if (recurse) state.kvDeleteTree(idx, key)
  else if (casIndex !== undefined) {
    sendJson(ctx, state.kvDeleteCas(idx, key, casIndex))
    return
  } else state.kvDelete(idx, key)
  sendJson(ctx, true)
}
