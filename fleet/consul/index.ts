// An in-process emulation of a Consul cluster's HTTP API for tests, the demo
// and benchmarks. Never bundled into the action. Start with startConsulEmulator().
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import { AclSystem } from './acl.ts'
import type { AclRules, AclToken } from './acl.ts'
import { FaultSwitches } from './faults.ts'
import type { FaultHandle, FaultSpec } from './faults.ts'
import { handleRequest } from './http.ts'
import type { AgentRuntime, ArrivalLogEntry, Cluster, RequestLogEntry } from './http.ts'
import { ClusterState, serviceCheckId } from './state.ts'
import type { CheckStatus } from './state.ts'
// Routes register themselves on import.
import './kv.ts'
import './txn.ts'
import './sessions.ts'
import './events.ts'
import './catalog.ts'

export type {
  AclRules,
  AclToken,
  ArrivalLogEntry,
  CheckStatus,
  FaultHandle,
  FaultSpec,
  RequestLogEntry
}

export interface EmulatedService {
  name: string
  tags?: string[]
  port?: number
  /** a check `service:<name>` on this instance, in this state (true: passing); none by default */
  check?: CheckStatus | true
}

export interface EmulatedNode {
  name: string
  services?: EmulatedService[]
  server?: boolean
  meta?: Record<string, string>
}

export interface ConsulEmulatorOptions {
  datacenter?: string
  nodes: EmulatedNode[]
  acl?: { defaultPolicy: 'allow' | 'deny'; tokens: AclToken[] }
  // Consul 1.22+ caps PUT /v1/event/fire bodies (about 100 bytes); unset = pre-1.22.
  fireBodyLimit?: number
  // Listeners are opened at start for every node when there are at most this
  // many (default 64); beyond that only servers get one, others via openAgent().
  eagerListenerLimit?: number
}

export interface ConsulEmulator {
  // The first server's agent, e.g. http://127.0.0.1:PORT
  readonly url: string
  // That node's local agent; throws if its listener is not open (see openAgent).
  agentUrl(node: string): string
  // Opens that node's agent listener if needed; resolves to its URL.
  openAgent(node: string): Promise<string>
  // Joins late (no old events); resolves to its agent URL.
  addNode(node: EmulatedNode): Promise<string>
  removeNode(name: string): Promise<void>
  setHealth(name: string, status: 'passing' | 'critical'): void
  // Any check of a node (e.g. 'serfHealth', 'service:web'); throws for an unknown node or check.
  setCheck(node: string, checkId: string, status: CheckStatus, output?: string): void
  // The check `service:<service>` of that node's instance (registered with `check`).
  setServiceHealth(node: string, service: string, status: CheckStatus, output?: string): void
  // Event buffer lost, open connections dropped; the listener keeps its port.
  restartAgent(name: string): void
  faults: {
    inject(spec: FaultSpec): FaultHandle
    clear(): void
  }
  kv(key: string): { value: Buffer | null; modifyIndex: number; session?: string } | undefined
  events(node: string): Array<{ id: string; name: string; payload: string }>
  // One entry per answered request; `path` is the raw target (with query),
  // `bytes` the response body size; dropped connections are logged with status 0.
  requests: RequestLogEntry[]
  /** every request as it arrived, before faults and latency */
  arrivals: ArrivalLogEntry[]
  stop(): Promise<void>
}

export async function startConsulEmulator(opts: ConsulEmulatorOptions): Promise<ConsulEmulator> {
  const state = new ClusterState(opts.datacenter ?? 'dc1')
  const faults = new FaultSwitches()
  const cluster: Cluster = {
    state,
    acl: new AclSystem(opts.acl),
    agents: new Map(),
    faults,
    requests: [],
    arrivals: [],
    fireBodyLimit: opts.fireBodyLimit,
    // serf's Lamport clock for user events.
    lamportTime: 0,
    aborters: new Set(),
    stopped: false
  }
  const nodes = opts.nodes.some((node) => node.server)
    ? opts.nodes
    : [{ name: 'consul-server-1', server: true }, ...opts.nodes]

  const register = (spec: EmulatedNode): AgentRuntime => {
    if (state.nodes.has(spec.name)) throw new Error(`node ${spec.name} already exists`)
    state.registerNode({
      name: spec.name,
      server: spec.server ?? false,
      meta: spec.meta ?? {},
      services: (spec.services ?? []).map((s) => ({
        name: s.name,
        tags: s.tags ?? [],
        port: s.port ?? 0,
        ...(s.check === undefined ? {} : { check: s.check === true ? 'passing' : s.check })
      }))
    })
    const agent: AgentRuntime = {
      node: spec.name,
      url: null,
      listening: null,
      close: null,
      sockets: new Set(),
      events: [],
      eventWatchers: new Set()
    }
    cluster.agents.set(spec.name, agent)
    return agent
  }

  const open = (agent: AgentRuntime): Promise<string> => {
    if (cluster.stopped) return Promise.reject(new Error('emulator stopped'))
    agent.listening ??= new Promise<string>((resolve, reject) => {
      const server = createServer((req, res) => {
        void handleRequest(cluster, agent, req, res)
      })
      server.keepAliveTimeout = 5000
      server.on('connection', (socket: Socket) => {
        agent.sockets.add(socket)
        socket.on('close', () => agent.sockets.delete(socket))
      })
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        if (address === null || typeof address === 'string') return reject(new Error('no address'))
        agent.url = `http://127.0.0.1:${address.port}`
        agent.close = () =>
          new Promise<void>((done) => {
            for (const socket of agent.sockets) socket.destroy()
            server.closeAllConnections()
            server.close(() => done())
          })
        resolve(agent.url)
      })
    })
    return agent.listening
  }

  const agentFor = (name: string): AgentRuntime => {
    const agent = cluster.agents.get(name)
    if (!agent) throw new Error(`no such node: ${name}`)
    return agent
  }

  const eagerLimit = opts.eagerListenerLimit ?? 64
  for (const spec of nodes) {
    const agent = register(spec)
    if (spec.server || nodes.length <= eagerLimit) await open(agent)
  }
  const firstServer = nodes.find((node) => node.server)!
  const url = agentFor(firstServer.name).url!

  return {
    url,
    agentUrl(name) {
      const agent = agentFor(name)
      if (!agent.url)
        throw new Error(`agent ${name} has no listener yet: await emulator.openAgent('${name}')`)
      return agent.url
    },
    openAgent: (name) => open(agentFor(name)),
    async addNode(spec) {
      return open(register(spec))
    },
    async removeNode(name) {
      const agent = agentFor(name)
      state.deregisterNode(name)
      cluster.agents.delete(name)
      if (agent.listening) {
        await agent.listening.catch(() => undefined)
        await agent.close?.()
      }
    },
    setHealth(name, status) {
      agentFor(name)
      state.setSerfHealth(name, status)
    },
    setCheck(name, checkId, status, output) {
      agentFor(name)
      if (!state.setCheck(name, checkId, status, output))
        throw new Error(`node ${name} has no check ${checkId}`)
    },
    setServiceHealth(name, service, status, output) {
      agentFor(name)
      if (!state.setCheck(name, serviceCheckId(service), status, output))
        throw new Error(`node ${name} has no check for service ${service} (register it with check)`)
    },
    restartAgent(name) {
      const agent = agentFor(name)
      // agent.go: the event ring is in memory only, so a restart empties it.
      agent.events = []
      for (const socket of agent.sockets) socket.destroy()
    },
    faults: {
      inject: (spec) => faults.inject(spec),
      clear: () => faults.clear()
    },
    kv(key) {
      const entry = state.kv.get(key)
      if (!entry) return undefined
      return {
        value: entry.value,
        modifyIndex: entry.modifyIndex,
        ...(entry.session ? { session: entry.session } : {})
      }
    },
    events(name) {
      return agentFor(name).events.map((event) => ({
        id: event.id,
        name: event.name,
        payload: event.payload?.toString('utf8') ?? ''
      }))
    },
    requests: cluster.requests,
    arrivals: cluster.arrivals,
    async stop() {
      cluster.stopped = true
      for (const abort of [...cluster.aborters]) abort()
      for (const session of state.sessions.values())
        if (session.ttlTimer) clearTimeout(session.ttlTimer)
      await Promise.all(
        [...cluster.agents.values()].map(async (agent) => {
          if (!agent.listening) return
          await agent.listening.catch(() => undefined)
          await agent.close?.()
        })
      )
    }
  }
}
