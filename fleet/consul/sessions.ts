// /v1/session: agent/session_endpoint.go (HTTP), agent/consul/session_endpoint.go
// (validation), agent/consul/state/session.go and session_ttl.go.
import { blockingQuery, parseGoDuration, parseQueryOptions } from './blocking.ts'
import { HttpError } from './errors.ts'
import type { Ctx } from './http.ts'
import { route, sendJson } from './http.ts'
import type { Session } from './state.ts'
import { SERF_CHECK_ID } from './state.ts'

// agent/consul/config.go SessionTTLMin default 10s; structs.SessionTTLMax 24h.
const SESSION_TTL_MIN_MS = 10_000
const SESSION_TTL_MAX_MS = 86_400_000
// session_endpoint.go: LockDelay numbers under lockDelayMinThreshold (1000) are seconds.
const LOCK_DELAY_MIN_THRESHOLD = 1000

export function sessionJson(session: Session): Record<string, unknown> {
  return {
    ID: session.id,
    Name: session.name,
    Node: session.node,
    LockDelay: session.lockDelayNs,
    Behavior: session.behavior,
    TTL: session.ttl,
    NodeChecks: session.nodeChecks,
    ServiceChecks: null,
    CreateIndex: session.createIndex,
    ModifyIndex: session.modifyIndex
  }
}

// Go's time.Duration formatting, enough for the TTL error message.
function goDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h0m0s`
  if (ms % 60_000 === 0) return `${ms / 60_000}m0s`
  return `${ms / 1000}s`
}

route('/v1/session/create', ['PUT'], async (ctx) => {
  // session_endpoint.go SessionCreate defaults: this agent's node, serfHealth, 15s, release.
  const input = {
    name: '',
    node: ctx.agent.node,
    lockDelayNs: 15e9,
    behavior: 'release' as 'release' | 'delete',
    ttl: '',
    nodeChecks: [SERF_CHECK_ID]
  }
  // "Handle optional request body": decoded only when ContentLength > 0.
  if (ctx.contentLength > 0) {
    let body: Record<string, unknown>
    try {
      const parsed: unknown = JSON.parse((await ctx.body()).toString('utf8'))
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('json: cannot unmarshal into Go value of type structs.Session')
      body = parsed as Record<string, unknown>
    } catch (err) {
      throw new HttpError(400, `Request decode failed: ${(err as Error).message}`)
    }
    const field = (name: string): unknown => {
      const found = Object.keys(body).find((key) => key.toLowerCase() === name.toLowerCase())
      return found === undefined ? undefined : body[found]
    }
    if (typeof field('Name') === 'string') input.name = field('Name') as string
    if (typeof field('Node') === 'string' && field('Node') !== '')
      input.node = field('Node') as string
    if (typeof field('TTL') === 'string') input.ttl = field('TTL') as string
    const behavior = field('Behavior')
    if (behavior !== undefined && behavior !== '') {
      // consul/session_endpoint.go Apply: "Invalid Behavior setting '%s'".
      if (behavior !== 'release' && behavior !== 'delete')
        throw new Error(`Invalid Behavior setting '${String(behavior)}'`)
      input.behavior = behavior
    }
    const lockDelay = field('LockDelay')
    if (typeof lockDelay === 'number') {
      // FixupLockDelay: a number is nanoseconds, or seconds when under 1000.
      input.lockDelayNs = lockDelay < LOCK_DELAY_MIN_THRESHOLD ? lockDelay * 1e9 : lockDelay
    } else if (typeof lockDelay === 'string') {
      const ms = parseGoDuration(lockDelay)
      if (ms === undefined)
        throw new HttpError(
          400,
          `Request decode failed: time: invalid duration ${JSON.stringify(lockDelay)}`
        )
      input.lockDelayNs = ms * 1e6
    }
    // Checks (deprecated) and NodeChecks both name node checks; an explicit [] drops serfHealth.
    const checks = field('NodeChecks') ?? field('Checks')
    if (Array.isArray(checks)) input.nodeChecks = checks.map(String)
  }
  let ttlMs = 0
  if (input.ttl !== '') {
    const parsed = parseGoDuration(input.ttl)
    if (parsed === undefined)
      throw new Error(
        `Session TTL '${input.ttl}' invalid: time: invalid duration ${JSON.stringify(input.ttl)}`
      )
    // consul/session_endpoint.go Apply: TTL within [SessionTTLMin, SessionTTLMax] (0 allowed).
    if (parsed !== 0 && (parsed < SESSION_TTL_MIN_MS || parsed > SESSION_TTL_MAX_MS)) {
      throw new Error(
        `Invalid Session TTL '${Math.round(parsed * 1e6)}', must be between [${goDuration(SESSION_TTL_MIN_MS)}=${goDuration(SESSION_TTL_MAX_MS)}]`
      )
    }
    ttlMs = parsed
  }
  // consul/session_endpoint.go Apply: session:write on the session's node.
  ctx.auth().require('session', input.node, 'write')
  const session = ctx.dc().state.createSession(input)
  ctx.dc().state.armSessionTtl(session, ttlMs)
  sendJson(ctx, { ID: session.id })
})

route('/v1/session/destroy/', ['PUT'], (ctx) => {
  const id = ctx.path.slice('/v1/session/destroy/'.length)
  if (id === '') throw new HttpError(400, 'Missing session')
  const session = ctx.dc().state.sessions.get(id)
  if (session) ctx.auth().require('session', session.node, 'write')
  // Destroying an unknown session is not an error.
  ctx.dc().state.destroySession(id)
  sendJson(ctx, true)
})

route('/v1/session/renew/', ['PUT'], (ctx) => {
  const id = ctx.path.slice('/v1/session/renew/'.length)
  if (id === '') throw new HttpError(400, 'Missing session')
  const session = ctx.dc().state.sessions.get(id)
  // session_endpoint.go SessionRenew: 404 "Session id '%s' not found".
  if (!session) throw new HttpError(404, `Session id '${id}' not found`)
  ctx.auth().require('session', session.node, 'write')
  ctx.dc().state.armSessionTtl(session, parseGoDuration(session.ttl) ?? 0)
  sendJson(ctx, [sessionJson(session)])
})

function listSessions(ctx: Ctx, pick: (session: Session) => boolean): void {
  const options = parseQueryOptions(ctx.params)
  const authz = ctx.auth()
  const { state } = ctx.dc()
  blockingQuery({
    options,
    run: () => {
      const all = [...state.sessions.values()].filter(pick)
      const sessions = all.filter((s) => authz.allowed('session', s.node, 'read'))
      return { index: state.sessionsIndex, sessions, filtered: sessions.length !== all.length }
    },
    watch: (wake) => state.watchSessions(wake),
    onAbort: (abort) => ctx.onAbort(abort),
    // "Use empty list instead of nil".
    send: (result) =>
      sendJson(ctx, result.sessions.map(sessionJson), 200, {
        index: result.index,
        filtered: result.filtered
      })
  })
}

route('/v1/session/info/', ['GET'], (ctx) => {
  const id = ctx.path.slice('/v1/session/info/'.length)
  if (id === '') throw new HttpError(400, 'Missing session')
  listSessions(ctx, (session) => session.id === id)
})

route('/v1/session/node/', ['GET'], (ctx) => {
  const node = ctx.path.slice('/v1/session/node/'.length)
  listSessions(ctx, (session) => session.node === node)
})

route('/v1/session/list', ['GET'], (ctx) => listSessions(ctx, () => true))
