// One agent's HTTP API: routing, common headers and error shapes (agent/http.go).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { AclSystem } from './acl.ts'
import type { Authorizer } from './acl.ts'
import { HttpError } from './errors.ts'
import type { FaultSpec, FaultSwitches } from './faults.ts'
import { goJson } from './json.ts'
import type { ClusterState } from './state.ts'
import type { UserEvent } from './user-event.ts'

export interface AgentRuntime {
  node: string
  /** the datacenter the agent belongs to (its LAN pool) */
  datacenter: DatacenterRuntime
  /** a server agent answers RPC errors as they are; a client agent's come through its RPC pool */
  server: boolean
  url: string | null
  listening: Promise<string> | null
  close: (() => Promise<void>) | null
  sockets: Set<Socket>
  // agent/agent.go: eventBuf is a 256-slot ring, oldest first when read.
  events: UserEvent[]
  eventWatchers: Set<() => void>
}

/**
 * One Consul datacenter: its own servers' replicated state (KV, catalog,
 * sessions, health: one raft log, so its own X-Consul-Index), its LAN pool of
 * agents (user events are LAN gossip: they never leave it) and its serf clock.
 */
export interface DatacenterRuntime {
  name: string
  state: ClusterState
  agents: Map<string, AgentRuntime>
  lamportTime: number
  /** a network coordinate (ms): the WAN round-trip time between two datacenters is their distance */
  coordinate: [number, number]
  /** false: its servers cannot be reached over the WAN (ErrDCNotAvailable for forwarded requests) */
  reachable: boolean
}

export interface RequestLogEntry {
  method: string
  path: string
  agent: string
  /** the answering agent's own datacenter */
  datacenter: string
  status: number
  bytes: number
}

/** A request as it arrived, before any fault or latency: when a test must act on a write in flight. */
export interface ArrivalLogEntry {
  method: string
  path: string
  agent: string
  datacenter: string
  /** epoch ms */
  at: number
  /** the raft index of the agent's datacenter when it arrived: every write before it is at or below */
  raftIndex: number
}

export interface Cluster {
  /** WAN-joined datacenters, the primary (ACL authority) first */
  datacenters: Map<string, DatacenterRuntime>
  acl: AclSystem
  faults: FaultSwitches
  requests: RequestLogEntry[]
  arrivals: ArrivalLogEntry[]
  fireBodyLimit: number | undefined
  aborters: Set<() => void>
  stopped: boolean
}

export interface Ctx {
  cluster: Cluster
  agent: AgentRuntime
  req: IncomingMessage
  res: ServerResponse
  method: string
  // Decoded path, as Go's req.URL.Path.
  path: string
  params: URLSearchParams
  // -1 when unknown (chunked), as Go's req.ContentLength.
  contentLength: number
  /**
   * The datacenter the request is answered from: `?dc=` (agent/http.go parseDC:
   * an empty value means the agent's own), or the agent's own on agent-local
   * endpoints. Throws as the RPC forwarding does (agent/consul/rpc.go forwardDC)
   * for a datacenter with no route: call it where Consul makes the RPC, after the
   * HTTP-level checks.
   */
  dc(): DatacenterRuntime
  /** the token resolved in the answering datacenter (after dc(): the RPC is forwarded first) */
  auth(): Authorizer
  body(): Promise<Buffer>
  onAbort(abort: () => void): void
}

export interface Meta {
  index: number | bigint
  filtered?: boolean
}

type Handler = (ctx: Ctx) => Promise<void> | void
interface Route {
  prefix: boolean
  path: string
  methods: string[]
  handler: Handler
  agentLocal: boolean
}

const routes: Route[] = []

/**
 * `agentLocal`: answered by the agent itself, never an RPC, so `?dc=` is not
 * read (agent/event_endpoint.go EventList, agent/agent_endpoint.go: no parseDC).
 */
export function route(
  path: string,
  methods: string[],
  handler: Handler,
  opts: { agentLocal?: boolean } = {}
): void {
  routes.push({
    prefix: path.endsWith('/'),
    path,
    methods,
    handler,
    agentLocal: opts.agentLocal ?? false
  })
}

// agent/structs/errors.go: errNoDCPath and errDCNotAvailable.
export const NO_DC_PATH = 'No path to datacenter'
export const DC_NOT_AVAILABLE = 'Remote DC has no server currently reachable'

/**
 * agent/consul/rpc.go forwardDC: an unknown datacenter is ErrNoDCPath, a known
 * one whose servers cannot be reached ErrDCNotAvailable. agent/http.go has no
 * case for either: 500 with err.Error(). A client agent gets the error back from
 * a server through its RPC pool, which wraps it (agent/pool/pool.go: "rpc error
 * making call: %w"); a server agent forwards itself and answers it bare.
 */
export function resolveDatacenter(
  cluster: Cluster,
  agent: AgentRuntime,
  name: string
): DatacenterRuntime {
  const dc = cluster.datacenters.get(name)
  let reason: string | undefined
  if (!dc) reason = NO_DC_PATH
  else if (dc !== agent.datacenter && !dc.reachable) reason = DC_NOT_AVAILABLE
  if (reason) throw new HttpError(500, agent.server ? reason : `rpc error making call: ${reason}`)
  return dc!
}

// agent/http.go setMeta → setIndex / setKnownLeader / setLastContact; the
// emulated agent always hears from the leader, so LastContact is 0.
export function setMeta(ctx: Ctx, meta: Meta): void {
  const index = BigInt(meta.index)
  ctx.res.setHeader('X-Consul-Index', (index < 1n ? 1n : index).toString())
  ctx.res.setHeader('X-Consul-KnownLeader', 'true')
  ctx.res.setHeader('X-Consul-LastContact', '0')
  if (meta.filtered) ctx.res.setHeader('X-Consul-Results-Filtered-By-ACLs', 'true')
}

// agent/http.go wrap: JSON via json.Marshal, Content-Type application/json.
export function sendJson(ctx: Ctx, value: unknown, status = 200, meta?: Meta): void {
  if (meta) setMeta(ctx, meta)
  const body = ctx.params.has('pretty') ? JSON.stringify(value, null, 4) + '\n' : goJson(value)
  write(ctx, status, 'application/json', Buffer.from(body))
}

// Go's Fprint + content sniffing: plain text.
export function sendText(ctx: Ctx, status: number, text: string): void {
  write(ctx, status, text === '' ? undefined : 'text/plain; charset=utf-8', Buffer.from(text))
}

export function sendRaw(
  ctx: Ctx,
  status: number,
  headers: Record<string, string>,
  body: Buffer
): void {
  for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value)
  write(ctx, status, undefined, body)
}

function write(ctx: Ctx, status: number, contentType: string | undefined, body: Buffer): void {
  const { res } = ctx
  if (res.headersSent || res.destroyed) return
  if (contentType && !res.hasHeader('Content-Type')) res.setHeader('Content-Type', contentType)
  res.setHeader('Content-Length', String(body.length))
  res.statusCode = status
  res.end(body)
  ctx.cluster.requests.push({
    method: ctx.method,
    path: ctx.req.url ?? '',
    agent: ctx.agent.node,
    datacenter: ctx.agent.datacenter.name,
    status,
    bytes: body.length
  })
}

export async function handleRequest(
  cluster: Cluster,
  agent: AgentRuntime,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const target = req.url ?? '/'
  const method = (req.method ?? 'GET').toUpperCase()
  cluster.arrivals.push({
    method,
    path: target,
    agent: agent.node,
    datacenter: agent.datacenter.name,
    at: Date.now(),
    raftIndex: agent.datacenter.state.raftIndex
  })
  const url = new URL(target, 'http://agent')
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    path = url.pathname
  }
  const aborters: Array<() => void> = []
  const abortAll = (): void => {
    for (const abort of aborters.splice(0)) abort()
  }
  res.on('close', abortAll)
  cluster.aborters.add(abortAll)
  res.on('close', () => cluster.aborters.delete(abortAll))
  const lengthHeader = req.headers['content-length']
  let bodyPromise: Promise<Buffer> | undefined
  let authz: Authorizer | undefined
  let agentLocal = false
  const ctx: Ctx = {
    cluster,
    agent,
    req,
    res,
    method,
    path,
    params: url.searchParams,
    contentLength:
      lengthHeader === undefined
        ? req.headers['transfer-encoding']
          ? -1
          : 0
        : Number(lengthHeader),
    dc() {
      const wanted = agentLocal ? '' : (url.searchParams.get('dc') ?? '')
      return wanted === '' ? agent.datacenter : resolveDatacenter(cluster, agent, wanted)
    },
    auth() {
      const dc = ctx.dc()
      authz ??= cluster.acl.resolve(AclSystem.tokenFrom(url.searchParams, req.headers), dc.name)
      return authz
    },
    body() {
      bodyPromise ??= readBody(req)
      return bodyPromise
    },
    onAbort(abort) {
      aborters.push(abort)
    }
  }
  // agent/http.go: X-Consul-Default-ACL-Policy on every response.
  res.setHeader('X-Consul-Default-ACL-Policy', cluster.acl.defaultPolicy)
  const { latencyMs, terminal } = cluster.faults.take(
    method,
    target,
    agent.node,
    url.searchParams.get('dc') || agent.datacenter.name
  )
  if (latencyMs > 0) {
    // The latency stands for Consul's own work (the RPC to the servers, the Raft
    // apply), which starts once the body is in and runs to the end even if the
    // client hangs up meanwhile: net/http only fails the write of the answer.
    if (ctx.contentLength !== 0) await ctx.body().catch(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, latencyMs))
  }
  if (terminal) {
    applyFault(ctx, terminal)
    return
  }
  try {
    const found = routes.find((r) => (r.prefix ? path.startsWith(r.path) : path === r.path))
    if (!found) {
      // agent/http.go: unknown API paths.
      throw new HttpError(404, 'Invalid URL path: not a recognized HTTP API endpoint\n')
    }
    const allow = [...found.methods, 'OPTIONS'].join(',')
    if (method === 'OPTIONS') {
      // agent/http.go wrap: OPTIONS answers 200 with the Allow header.
      res.setHeader('Allow', allow)
      sendText(ctx, 200, '')
      return
    }
    if (!found.methods.includes(method)) {
      // agent/http.go MethodNotAllowedError → 405 with Allow.
      res.setHeader('Allow', allow)
      throw new HttpError(405, `method ${method} not allowed`)
    }
    agentLocal = found.agentLocal
    await found.handler(ctx)
  } catch (err) {
    if (err instanceof HttpError) {
      if (err.status === 429 && err.message === '') sendText(ctx, 429, '')
      else sendText(ctx, err.status, err.message)
    } else {
      // agent/http.go handleErr default: 500 with err.Error().
      sendText(ctx, 500, err instanceof Error ? err.message : String(err))
    }
  }
}

function applyFault(ctx: Ctx, fault: FaultSpec): void {
  switch (fault.kind) {
    case 'no-leader':
      // agent/structs/errors.go ErrNoLeader; the client RPC pool prefixes "rpc error making call: ".
      sendText(
        ctx,
        500,
        fault.viaClient ? 'rpc error making call: No cluster leader' : 'No cluster leader'
      )
      return
    case 'rate-limit':
      // agent/http.go: ErrRPCRateExceeded → 429 with an empty body.
      sendText(ctx, 429, '')
      return
    case 'error':
      sendText(ctx, fault.status ?? 500, fault.body ?? '')
      return
    case 'drop':
      ctx.cluster.requests.push({
        method: ctx.method,
        path: ctx.req.url ?? '',
        agent: ctx.agent.node,
        datacenter: ctx.agent.datacenter.name,
        status: 0,
        bytes: 0
      })
      ctx.req.socket.destroy()
      return
    default:
      return
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
