// User events: agent/event_endpoint.go (HTTP), agent/user_event.go (validation,
// receiver filters, ring buffer), hashicorp/serf serf/serf.go (size limit).
import { randomUUID } from 'node:crypto'
import { RE2JS } from 're2js'
import { parseQueryOptions, MAX_QUERY_TIME_MS } from './blocking.ts'
import { HttpError } from './errors.ts'
import type { AgentRuntime, DatacenterRuntime } from './http.ts'
import { route, sendJson } from './http.ts'
import { bytes } from './json.ts'
import type { UserEvent } from './user-event.ts'

// agent/agent.go: eventBuf holds the last 256 events.
export const EVENT_BUFFER_SIZE = 256
// serf/config.go UserEventSizeLimit default, not overridden by Consul.
const SERF_USER_EVENT_LIMIT = 512
// agent/user_event.go userEventMaxVersion
const USER_EVENT_VERSION = 1

// agent/user_event.go UserEvent JSON (LTime is codec:"-" but json-visible).
export function userEventJson(event: UserEvent): Record<string, unknown> {
  return {
    ID: event.id,
    Name: event.name,
    Payload: bytes(event.payload),
    NodeFilter: event.nodeFilter,
    ServiceFilter: event.serviceFilter,
    TagFilter: event.tagFilter,
    Version: event.version,
    LTime: event.ltime
  }
}

// agent/event_endpoint.go uuidToUint64: hex(id[0:8]+id[9:13]+id[14:18]) XOR hex(id[19:23]+id[24:36]).
export function uuidToUint64(id: string): bigint {
  const lower = BigInt('0x' + id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18))
  const upper = BigInt('0x' + id.slice(19, 23) + id.slice(24, 36))
  return lower ^ upper
}

// Go's regexp.Compile is RE2 with Perl flags (agent/user_event.go validates each
// filter with it and each receiver compiles it again), so the emulator compiles
// with re2js, RE2's semantics: `(?i)`, `[[:alpha:]]`, `\pL` and `\z` mean what
// they mean to Consul, and lookaround or backreferences are refused. (Its own
// copy, not the action's: the emulator stands for Consul.)
function compileFilter(kind: string, pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern)
  } catch (err) {
    // validateUserEventParams: "Invalid node filter: %v", %v being Go's
    // "error parsing regexp: <code>: `<expr>`", which re2js reproduces.
    throw new Error(`Invalid ${kind} filter: ${(err as Error).message}`, { cause: err })
  }
}

// Estimated msgpack sizes (research/consul-api.md §3, derived, not measured).
function msgpackUintSize(value: number): number {
  if (value < 128) return 1
  if (value < 256) return 2
  if (value < 65536) return 3
  if (value < 2 ** 32) return 5
  return 9
}

// serf.go UserEvent: both limits; the error reaches the client through
// internal_endpoint.go as a multierror per LAN segment (research §3).
function checkSerfLimit(name: string, payloadLength: number, ltime: number): void {
  const serfName = 'consul:event:' + name
  const consulMsgpack = 54 + name.length + payloadLength
  let reason: string | undefined
  if (serfName.length + consulMsgpack > SERF_USER_EVENT_LIMIT) {
    reason = `user event exceeds configured limit of ${SERF_USER_EVENT_LIMIT} bytes before encoding`
  } else if (payloadLength + 2 * name.length + msgpackUintSize(ltime) > 416) {
    // Derived from research §3: max payload = 417 − 2·len(name) − len(LTime) − 1.
    reason = `encoded user event exceeds configured limit of ${SERF_USER_EVENT_LIMIT} bytes after encoding`
  }
  if (reason)
    throw new Error(`1 error occurred:\n\t* error broadcasting event to segment "": ${reason}\n\n`)
}

route('/v1/event/fire/', ['PUT'], async (ctx) => {
  const name = ctx.path.slice('/v1/event/fire/'.length)
  // event_endpoint.go EventFire: 400 "Missing name".
  if (name === '') throw new HttpError(400, 'Missing name')
  const { cluster, params } = ctx
  // Consul 1.22+ (CVE-2025-11375, PR #22836) caps the fire body. The merged
  // fix's status and text are UNCONFIRMED (research §0); this mirrors the KV 413.
  if (cluster.fireBodyLimit !== undefined && ctx.contentLength > cluster.fireBodyLimit) {
    throw new HttpError(
      413,
      `Request body(${ctx.contentLength} bytes) too large, max size: ${cluster.fireBodyLimit} bytes`
    )
  }
  const nodeFilter = params.get('node') ?? ''
  const serviceFilter = params.get('service') ?? ''
  const tagFilter = params.get('tag') ?? ''
  // EventFire: the body is read only when req.ContentLength > 0 (chunked bodies are dropped).
  const payload = ctx.contentLength > 0 ? await ctx.body() : null
  // user_event.go validateUserEventParams (errors are 500s).
  if (tagFilter !== '' && serviceFilter === '')
    throw new Error('Cannot provide tag filter without service filter')
  if (nodeFilter !== '') compileFilter('node', nodeFilter)
  if (serviceFilter !== '') compileFilter('service', serviceFilter)
  if (tagFilter !== '') compileFilter('tag', tagFilter)
  // agent/user_event.go UserEvent: the RPC Internal.EventFire goes to the `?dc`
  // datacenter ("Any server can process in the remote DC, since the gossip will
  // take over anyways"), which checks event:write there; event_endpoint.go
  // answers a denial as exactly "Permission denied".
  const dc = ctx.dc()
  if (!ctx.auth().allowed('event', name, 'write')) throw new HttpError(403, 'Permission denied')
  const event: UserEvent = {
    id: randomUUID(),
    name,
    payload: payload && payload.length > 0 ? payload : null,
    nodeFilter,
    serviceFilter,
    tagFilter,
    version: USER_EVENT_VERSION,
    ltime: 0
  }
  checkSerfLimit(name, event.payload?.length ?? 0, dc.lamportTime + 1)
  dc.lamportTime += 1
  broadcast(dc, { ...event, ltime: dc.lamportTime })
  // The fire response carries LTime 0: the clock is assigned by serf later.
  sendJson(ctx, userEventJson(event))
})

// Gossip: every live agent of the datacenter's LAN pool gets the event (it never
// crosses to another datacenter) and applies the filters itself (user_event.go
// shouldProcessUserEvent), then ingestUserEvent stores it.
export function broadcast(dc: DatacenterRuntime, event: UserEvent): void {
  // regexp.MatchString: an unanchored search, as RE2JS#test.
  const nodeRe = event.nodeFilter ? compileFilter('node', event.nodeFilter) : undefined
  const serviceRe = event.serviceFilter ? compileFilter('service', event.serviceFilter) : undefined
  const tagRe = event.tagFilter ? compileFilter('tag', event.tagFilter) : undefined
  for (const node of dc.state.nodes.values()) {
    if (!dc.state.isLive(node.name)) continue
    if (nodeRe && !nodeRe.test(node.name)) continue
    if (serviceRe) {
      let found = false
      for (const service of node.services.values()) {
        if (!serviceRe.test(service.name)) continue
        if (!tagRe || service.tags.some((tag) => tagRe.test(tag))) {
          found = true
          break
        }
      }
      if (!found) continue
    }
    const agent = dc.agents.get(node.name)
    if (agent) ingest(agent, event)
  }
}

function ingest(agent: AgentRuntime, event: UserEvent): void {
  agent.events.push(event)
  if (agent.events.length > EVENT_BUFFER_SIZE) agent.events.shift()
  for (const wake of [...agent.eventWatchers]) wake()
}

// event_endpoint.go EventList: its own blocking loop, not rpc.go's. The agent's
// own ring buffer, never an RPC: no parseDC, so `?dc` is not read (an event fired
// into another datacenter is never in this list).
route(
  '/v1/event/list',
  ['GET'],
  (ctx) => {
    const options = parseQueryOptions(ctx.params)
    const authz = ctx.auth()
    const nameFilter = ctx.params.get('name') ?? ''
    const { agent } = ctx
    const run = (): { events: UserEvent[]; index: bigint; filtered: boolean } => {
      // Only `name` is honoured; ACL filtering drops events silently.
      const readable = agent.events.filter((event) => authz.allowed('event', event.name, 'read'))
      const events = readable.filter((event) => nameFilter === '' || event.name === nameFilter)
      // "Return a non-zero index to prevent a hot query loop".
      const last = events[events.length - 1]
      return {
        events,
        index: last ? uuidToUint64(last.id) : 1n,
        filtered: readable.length !== agent.events.length
      }
    }
    const send = (result: ReturnType<typeof run>): void => {
      // Only X-Consul-Index; the filtered header only when a token was sent (research §3).
      ctx.res.setHeader('X-Consul-Index', result.index.toString())
      if (result.filtered && authz.tokenSent)
        ctx.res.setHeader('X-Consul-Results-Filtered-By-ACLs', 'true')
      sendJson(ctx, result.events.map(userEventJson))
    }
    const first = run()
    // "Check for exact match on the query value. Because the index value is not monotonic".
    if (options.minIndex === 0n || first.index !== options.minIndex) {
      send(first)
      return
    }
    // Wait capped at maxQueryTime and defaulting to it (600s) when index is given without wait; no jitter.
    let waitMs = options.waitMs ?? 0
    if (waitMs > MAX_QUERY_TIME_MS || waitMs <= 0) waitMs = MAX_QUERY_TIME_MS
    let done = false
    const stop = (): void => {
      done = true
      clearTimeout(timer)
      agent.eventWatchers.delete(onEvent)
    }
    const onEvent = (): void => {
      queueMicrotask(() => {
        if (done) return
        const next = run()
        if (next.index !== options.minIndex) {
          stop()
          send(next)
        }
      })
    }
    const timer = setTimeout(() => {
      if (done) return
      stop()
      send(run())
    }, waitMs)
    agent.eventWatchers.add(onEvent)
    ctx.onAbort(stop)
  },
  { agentLocal: true }
)
