// An in-process emulation of a Consul cluster's HTTP API for tests, the demo
// and benchmarks. Never bundled into the action. Start with startConsulEmulator().
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import { AclSystem } from './acl.ts'
import type { AclRules, AclToken } from './acl.ts'
import { FaultSwitches } from './faults.ts'
import type { FaultHandle, FaultSpec } from './faults.ts'
import { handleRequest } from './http.ts'
import type {
  AgentRuntime,
  ArrivalLogEntry,
  Cluster,
  DatacenterRuntime,
  RequestLogEntry
} from './http.ts'
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
  /** the datacenter the node (and its agent) belongs to; default: the first one */
  datacenter?: string
}

export interface EmulatedDatacenter {
  name: string
  /**
   * Its servers' network coordinate, in ms: the WAN round-trip time between two
   * datacenters is the distance between theirs (/v1/catalog/datacenters sorts
   * by it). Default [10 × its position in the list, 0].
   */
  coordinate?: [number, number]
}

export interface ConsulEmulatorOptions {
  /** the one datacenter's name (default dc1); with `datacenters`, must be the first one if given */
  datacenter?: string
  /**
   * Several WAN-joined datacenters, each with its own KV, catalog, sessions,
   * health, events and raft index; the first is the primary (ACLs replicate
   * from it) and holds `url`. A datacenter with no server node gets one:
   * consul-server-1 in the first, consul-server-1-<dc> in the others.
   */
  datacenters?: Array<string | EmulatedDatacenter>
  nodes: EmulatedNode[]
  acl?: { defaultPolicy: 'allow' | 'deny'; tokens: AclToken[] }
  // Consul 1.22+ caps PUT /v1/event/fire bodies (about 100 bytes); unset = pre-1.22.
  fireBodyLimit?: number
  // Listeners are opened at start for every node when there are at most this
  // many (default 64); beyond that only servers get one, others via openAgent().
  eagerListenerLimit?: number
}

/** The node-level controls, for the nodes of one datacenter. */
export interface EmulatedDatacenterControls {
  readonly name: string
  /** the agent of this datacenter's first server */
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
  kv(key: string): { value: Buffer | null; modifyIndex: number; session?: string } | undefined
  events(node: string): Array<{ id: string; name: string; payload: string }>
}

export interface ConsulEmulator extends Omit<EmulatedDatacenterControls, 'name'> {
  // The first server's agent of the first datacenter, e.g. http://127.0.0.1:PORT
  readonly url: string
  /** the datacenters' names, as given (the primary first) */
  readonly datacenters: string[]
  /**
   * One datacenter's controls. The emulator's own node methods look a name up in
   * every datacenter (an error when several have it: use this), and kv() reads
   * the first datacenter.
   */
  datacenter(name: string): EmulatedDatacenterControls & {
    /**
     * false: its servers cannot be reached over the WAN, so requests forwarded
     * there (`?dc=`) fail with agent/structs/errors.go ErrDCNotAvailable (500
     * "Remote DC has no server currently reachable"); its own agents still work.
     */
    setReachable(reachable: boolean): void
  }
  faults: {
    inject(spec: FaultSpec): FaultHandle
    clear(): void
  }
  // One entry per answered request; `path` is the raw target (with query),
  // `bytes` the response body size; dropped connections are logged with status 0.
  requests: RequestLogEntry[]
  /** every request as it arrived, before faults and latency */
  arrivals: ArrivalLogEntry[]
  stop(): Promise<void>
}

/** The server node a datacenter gets when none of its nodes is a server. */
export function defaultServerName(datacenter: string, primary: boolean): string {
  return primary ? 'consul-server-1' : `consul-server-1-${datacenter}`
}

export async function startConsulEmulator(opts: ConsulEmulatorOptions): Promise<ConsulEmulator> {
  const dcSpecs: EmulatedDatacenter[] = (opts.datacenters ?? [opts.datacenter ?? 'dc1']).map(
    (dc) => (typeof dc === 'string' ? { name: dc } : dc)
  )
  if (dcSpecs.length === 0) throw new Error('startConsulEmulator: datacenters is empty')
  if (opts.datacenter !== undefined && opts.datacenter !== dcSpecs[0]!.name)
    throw new Error('startConsulEmulator: datacenter must name the first of datacenters')
  const primaryName = dcSpecs[0]!.name
  const faults = new FaultSwitches()
  const cluster: Cluster = {
    datacenters: new Map(),
    acl: new AclSystem(opts.acl),
    faults,
    requests: [],
    arrivals: [],
    fireBodyLimit: opts.fireBodyLimit,
    aborters: new Set(),
    stopped: false
  }
  dcSpecs.forEach((spec, i) => {
    if (cluster.datacenters.has(spec.name))
      throw new Error(`startConsulEmulator: datacenter ${spec.name} listed twice`)
    cluster.datacenters.set(spec.name, {
      name: spec.name,
      state: new ClusterState(spec.name, i),
      agents: new Map(),
      // serf's Lamport clock for user events, one per LAN pool.
      lamportTime: 0,
      coordinate: spec.coordinate ?? [10 * i, 0],
      reachable: true
    })
  })
  const dcOf = (name: string | undefined): DatacenterRuntime => {
    const dc = cluster.datacenters.get(name ?? primaryName)
    if (!dc) throw new Error(`no such datacenter: ${name}`)
    return dc
  }
  const nodes: EmulatedNode[] = []
  for (const dc of cluster.datacenters.values()) {
    const own = opts.nodes.filter((node) => (node.datacenter ?? primaryName) === dc.name)
    if (!own.some((node) => node.server))
      nodes.push({
        name: defaultServerName(dc.name, dc.name === primaryName),
        server: true,
        datacenter: dc.name
      })
    nodes.push(...own)
  }
  for (const node of opts.nodes) dcOf(node.datacenter)

  const register = (spec: EmulatedNode): AgentRuntime => {
    const dc = dcOf(spec.datacenter)
    const { state } = dc
    if (state.nodes.has(spec.name))
      throw new Error(
        `node ${spec.name} already exists${cluster.datacenters.size > 1 ? ` in ${dc.name}` : ''}`
      )
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
      datacenter: dc,
      server: spec.server ?? false,
      url: null,
      listening: null,
      close: null,
      sockets: new Set(),
      events: [],
      eventWatchers: new Set()
    }
    dc.agents.set(spec.name, agent)
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

  // A node by name: in one datacenter, or in whichever single one has it.
  const agentFor = (name: string, dcName?: string): AgentRuntime => {
    if (dcName !== undefined) {
      const agent = dcOf(dcName).agents.get(name)
      if (!agent) throw new Error(`no such node: ${name} in ${dcName}`)
      return agent
    }
    const found = [...cluster.datacenters.values()].flatMap((dc) => {
      const agent = dc.agents.get(name)
      return agent ? [agent] : []
    })
    if (found.length === 0) throw new Error(`no such node: ${name}`)
    if (found.length > 1)
      throw new Error(
        `node ${name} is in several datacenters (${found.map((a) => a.datacenter.name).join(', ')}): use emulator.datacenter(<name>)`
      )
    return found[0]!
  }

  const eagerLimit = opts.eagerListenerLimit ?? 64
  for (const spec of nodes) {
    const agent = register(spec)
    if (spec.server || nodes.length <= eagerLimit) await open(agent)
  }
  const serverUrl = (dc: DatacenterRuntime): string =>
    [...dc.agents.values()].find((agent) => agent.server)!.url!

  const controls = (dcName?: string): Omit<EmulatedDatacenterControls, 'name' | 'url'> => ({
    agentUrl(name) {
      const agent = agentFor(name, dcName)
      if (!agent.url)
        throw new Error(`agent ${name} has no listener yet: await emulator.openAgent('${name}')`)
      return agent.url
    },
    openAgent: (name) => open(agentFor(name, dcName)),
    async addNode(spec) {
      if (dcName !== undefined && spec.datacenter !== undefined && spec.datacenter !== dcName)
        throw new Error(`addNode: ${spec.name} names datacenter ${spec.datacenter}, not ${dcName}`)
      return open(register({ ...spec, datacenter: spec.datacenter ?? dcName }))
    },
    async removeNode(name) {
      const agent = agentFor(name, dcName)
      agent.datacenter.state.deregisterNode(name)
      agent.datacenter.agents.delete(name)
      if (agent.listening) {
        await agent.listening.catch(() => undefined)
        await agent.close?.()
      }
    },
    setHealth(name, status) {
      const agent = agentFor(name, dcName)
      agent.datacenter.state.setSerfHealth(name, status)
    },
    setCheck(name, checkId, status, output) {
      const agent = agentFor(name, dcName)
      if (!agent.datacenter.state.setCheck(name, checkId, status, output))
        throw new Error(`node ${name} has no check ${checkId}`)
    },
    setServiceHealth(name, service, status, output) {
      const agent = agentFor(name, dcName)
      if (!agent.datacenter.state.setCheck(name, serviceCheckId(service), status, output))
        throw new Error(`node ${name} has no check for service ${service} (register it with check)`)
    },
    restartAgent(name) {
      const agent = agentFor(name, dcName)
      // agent.go: the event ring is in memory only, so a restart empties it.
      agent.events = []
      for (const socket of agent.sockets) socket.destroy()
    },
    kv(key) {
      const entry = dcOf(dcName).state.kv.get(key)
      if (!entry) return undefined
      return {
        value: entry.value,
        modifyIndex: entry.modifyIndex,
        ...(entry.session ? { session: entry.session } : {})
      }
    },
    events(name) {
      return agentFor(name, dcName).events.map((event) => ({
        id: event.id,
        name: event.name,
        payload: event.payload?.toString('utf8') ?? ''
      }))
    }
  })

  return {
    url: serverUrl(dcOf(primaryName)),
    datacenters: dcSpecs.map((dc) => dc.name),
    ...controls(),
    datacenter(name) {
      const dc = dcOf(name)
      return {
        name,
        url: serverUrl(dc),
        ...controls(name),
        setReachable(reachable) {
          dc.reachable = reachable
        }
      }
    },
    faults: {
      inject: (spec) => faults.inject(spec),
      clear: () => faults.clear()
    },
    requests: cluster.requests,
    arrivals: cluster.arrivals,
    async stop() {
      cluster.stopped = true
      for (const abort of [...cluster.aborters]) abort()
      const agents: AgentRuntime[] = []
      for (const dc of cluster.datacenters.values()) {
        for (const session of dc.state.sessions.values())
          if (session.ttlTimer) clearTimeout(session.ttlTimer)
        agents.push(...dc.agents.values())
      }
      await Promise.all(
        agents.map(async (agent) => {
          if (!agent.listening) return
          await agent.listening.catch(() => undefined)
          await agent.close?.()
        })
      )
    }
  }
}
