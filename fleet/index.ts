// The whole local fleet in one call: s3rver, the Consul emulator, and one
// simulated stretcher node per Consul node. For tests, `npm run demo`,
// benchmarks and scripts/fleet.ts (CI). Never bundled into the action.
//
// The emulator's server, consul-server-1, runs stretcher too (fleet.server) unless
// `serverRunsStretcher: false`: a run with no filter targets every live node,
// servers included (contract 6), and still converges. With
// `service-filter: ^web$` only node-1..N are targeted and the server sees no event.
import type {
  AclRules,
  AclToken,
  ConsulEmulator,
  EmulatedDatacenterControls,
  EmulatedService
} from './consul/index.ts'
import { defaultServerName, startConsulEmulator } from './consul/index.ts'
import { startLocalS3 } from './s3.ts'
import type { LocalS3 } from './s3.ts'
import { runMatches, startStretcherNode } from './stretcher-node.ts'
import type { RunMatch, RunRecord, SimulatedNode } from './stretcher-node.ts'

export type { RunMatch, RunRecord, RunStatus, SimulatedNode } from './stretcher-node.ts'
export { deployIdOf } from './stretcher-node.ts'

export const SERVER_NODE = 'consul-server-1'
export const DEFAULT_DEST = '/srv/app'

export interface FleetNodeSpec {
  name: string
  /** default: [{ name: <service>, check: 'passing' }] (the service check `service:<service>`) */
  services?: EmulatedService[]
  deaf?: boolean
  /** deploys fail (every one, or the matching ones: a deploy ID or a predicate on it) */
  fail?: RunMatch
  /**
   * The app crashes after a successful deploy of a matching release: the
   * node's service checks turn critical (output `simulated crash after
   * deploying <id>`) once the node has reported success, as a crashing app's
   * health check would. A later successful deploy that does not match brings
   * them back to passing (a good release, or the rollback, runs fine).
   */
  crashAfterDeploy?: RunMatch
  /** how long after the success report the crash comes (default 0: at once) */
  crashDelayMs?: number
  delayMs?: number
  /** extra environment for this node's stretcher */
  env?: Record<string, string>
  /** its Consul datacenter (default: the first); set by `datacenters` for their nodes */
  datacenter?: string
}

export interface FleetDatacenterSpec {
  /** a Consul datacenter name, e.g. dc2 */
  name: string
  /** a count (<name>-node-1..N) or explicit nodes; default 3 */
  nodes?: number | FleetNodeSpec[]
  /** its servers' network coordinate in ms (WAN RTT = distance); default [10 × position, 0] */
  coordinate?: [number, number]
}

export interface LocalFleetOptions {
  /** a count (node-1..node-N) or explicit nodes; default 3. Not with `datacenters`. */
  nodes?: number | FleetNodeSpec[]
  /**
   * Several Consul datacenters, each with its nodes and its own server (consul-server-1 in the first, consul-server-1-<dc>
   * in the others), running stretcher too unless serverRunsStretcher is false.
   * The action talks to the first datacenter's server (FLEET_CONSUL_ADDR); every
   * node's stretcher talks to its own agent, so it hears its datacenter's events
   * and writes its results to its datacenter's KV. A name may repeat in another
   * datacenter (Consul allows it): such nodes are keyed `<dc>/<name>` in
   * `nodes`, `nodeTree()` and `datacenterOf()`; unique names stay plain.
   */
  datacenters?: FleetDatacenterSpec[]
  /** the service every default node registers; default 'web' */
  service?: string
  /** consul watch -name; default 'deploy' */
  eventName?: string
  /** the application's KV prefix: nodes boot from <kvPrefix>/latest, ACL rules use it */
  kvPrefix?: string
  /** ACLs on (default policy deny), with the action's, the nodes' and a management token */
  acl?: {
    defaultPolicy?: 'allow' | 'deny'
    /** names addNode() will use: the emulator's token table is fixed at start */
    lateNodes?: string[]
    extraTokens?: AclToken[]
    /**
     * a consul-kv-dashboard namespace: node tokens get `key:write` on
     * `<dashboard>/deploy/` (README, contract 11) and the anonymous token reads
     * `<dashboard>/` and the catalog, as the dashboard (which sends no token) needs
     */
    dashboard?: string
  }
  /** consul-server-1 runs a stretcher node too (default true) */
  serverRunsStretcher?: boolean
  /** s3rver bucket; default 'releases' */
  bucket?: string
  /** Consul 1.22+ fire body cap, passed to the emulator */
  fireBodyLimit?: number
  /** dest the fleet suggests in env.FLEET_DEST; default /srv/app */
  dest?: string
  /**
   * where the nodes fetch s3:// URLs from, given s3rver's endpoint (default: s3rver
   * itself); e.g. a recording proxy in front of it, which the caller stops
   */
  nodeS3Endpoint?: (s3Endpoint: string) => string | Promise<string>
}

export interface FleetTokens {
  /** everything allowed */
  management: string
  /** contract 6 "The action's token" */
  action: string
  /** per node: contract 6 "Each node's token" */
  nodes: Map<string, string>
}

export interface LocalFleet {
  s3: LocalS3
  consul: ConsulEmulator
  /** the stretcher nodes other than the server, by name (`<dc>/<name>` for a name in several datacenters) */
  nodes: Map<string, SimulatedNode>
  /** consul-server-1's stretcher node, unless serverRunsStretcher is false */
  server: SimulatedNode | undefined
  /** the datacenters' names, the action's first (one: the emulator's default, dc1) */
  datacenters: string[]
  /** each datacenter's server stretcher node, by datacenter (when the servers run stretcher) */
  servers: Map<string, SimulatedNode>
  /** the datacenter a node (server or not) is in */
  datacenterOf(node: string): string
  /** set when acl is on */
  tokens: FleetTokens | undefined
  /** AWS_* for s3rver, FLEET_S3_ENDPOINT, FLEET_S3_BUCKET, FLEET_CONSUL_ADDR, FLEET_DEST, FLEET_DATACENTERS, ... */
  env: Record<string, string>
  /** joins late (no old events) and boots from <kvPrefix>/latest */
  addNode(spec: FleetNodeSpec | string): Promise<SimulatedNode>
  /** <node root><dest> */
  nodeTree(name: string, dest?: string): string
  /** stops every node, then Consul and S3; removes every temp dir */
  stop(): Promise<void>
}

function servicesOf(spec: FleetNodeSpec, service: string): EmulatedService[] {
  return spec.services ?? [{ name: service, check: 'passing' }]
}

// FleetNodeSpec.crashAfterDeploy: after a successful run, the service checks
// go critical when the release matches (after crashDelayMs), back to passing
// at once when it does not (which also cancels a crash still pending).
function crashSwitch(
  consul: Pick<EmulatedDatacenterControls, 'setServiceHealth'>,
  spec: FleetNodeSpec,
  services: EmulatedService[],
  timers: Set<NodeJS.Timeout>
): (record: RunRecord) => void {
  const checked = services.filter((s) => s.check !== undefined).map((s) => s.name)
  if (checked.length === 0)
    throw new Error(`startLocalFleet: ${spec.name} has crashAfterDeploy but no service check`)
  let pending: NodeJS.Timeout | undefined
  const set = (status: 'critical' | 'passing', output: string): void => {
    for (const name of checked) consul.setServiceHealth(spec.name, name, status, output)
  }
  return (record) => {
    if (record.status !== 'success') return
    if (pending) {
      clearTimeout(pending)
      timers.delete(pending)
      pending = undefined
    }
    if (!runMatches(spec.crashAfterDeploy, record.manifestUrl)) return set('passing', '')
    const crash = (): void =>
      set('critical', `simulated crash after deploying ${record.deployId ?? record.manifestUrl}`)
    if (!spec.crashDelayMs) return crash()
    const timer = setTimeout(() => {
      timers.delete(timer)
      pending = undefined
      crash()
    }, spec.crashDelayMs)
    timer.unref()
    timers.add(timer)
    pending = timer
  }
}

function nodeRules(
  name: string,
  kvPrefix: string,
  eventName: string,
  dashboard: string | undefined
): AclRules {
  return {
    key_prefix: {
      [`${kvPrefix}/results/`]: 'write',
      [`${kvPrefix}/logs/`]: 'write',
      ...(dashboard === undefined ? {} : { [`${dashboard}/deploy/`]: 'write' as const })
    },
    // The boot recipe reads latest; the contract's node token leaves it out.
    key: { [`${kvPrefix}/latest`]: 'read' },
    agent: { [name]: 'read' },
    event: { [eventName]: 'read' }
  }
}

export async function startLocalFleet(opts: LocalFleetOptions = {}): Promise<LocalFleet> {
  const service = opts.service ?? 'web'
  const eventName = opts.eventName ?? 'deploy'
  const dest = opts.dest ?? DEFAULT_DEST
  if (opts.datacenters && opts.nodes !== undefined)
    throw new Error('startLocalFleet: give nodes per datacenter (datacenters[].nodes), not nodes')
  if (opts.datacenters?.length === 0) throw new Error('startLocalFleet: datacenters is empty')
  const countOf = (n: number, prefix: string): FleetNodeSpec[] =>
    Array.from({ length: n }, (_, i) => ({ name: `${prefix}node-${i + 1}` }))
  const dcSpecs: FleetDatacenterSpec[] = opts.datacenters ?? [{ name: 'dc1', nodes: opts.nodes }]
  const multi = opts.datacenters !== undefined
  const specs: FleetNodeSpec[] = dcSpecs.flatMap((dc) =>
    (typeof dc.nodes === 'object'
      ? dc.nodes
      : countOf(dc.nodes ?? 3, multi ? `${dc.name}-` : '')
    ).map((spec) => (multi ? { ...spec, datacenter: dc.name } : spec))
  )
  const serverNames = dcSpecs.map((dc, i) => defaultServerName(dc.name, i === 0))
  const dcOfSpec = (spec: FleetNodeSpec): string => spec.datacenter ?? dcSpecs[0]!.name
  // The emulator would refuse a duplicate only after opening some listeners.
  // A name may repeat across datacenters (two nodes), never within one.
  const seen = new Set(serverNames)
  const dcsOfName = new Map<string, Set<string>>()
  for (const spec of specs) {
    const dcs = dcsOfName.get(spec.name) ?? new Set<string>()
    if (seen.has(spec.name) && (dcs.size === 0 || dcs.has(dcOfSpec(spec))))
      throw new Error(`startLocalFleet: node ${spec.name} listed twice`)
    seen.add(spec.name)
    dcsOfName.set(spec.name, dcs.add(dcOfSpec(spec)))
  }
  /** a node's key in `nodes`: its name, or `<dc>/<name>` when the name is in several datacenters */
  const keyOf = (spec: FleetNodeSpec): string =>
    (dcsOfName.get(spec.name)?.size ?? 0) > 1 ? `${dcOfSpec(spec)}/${spec.name}` : spec.name
  const dcByNode = new Map<string, string>()
  dcSpecs.forEach((dc, i) => dcByNode.set(serverNames[i]!, dc.name))
  for (const spec of specs) dcByNode.set(keyOf(spec), dcOfSpec(spec))
  if (opts.acl && opts.kvPrefix === undefined)
    throw new Error('startLocalFleet: acl needs kvPrefix (the node tokens are scoped to it)')
  const serverRunsStretcher = opts.serverRunsStretcher ?? true

  let tokens: FleetTokens | undefined
  let acl: { defaultPolicy: 'allow' | 'deny'; tokens: AclToken[] } | undefined
  if (opts.acl) {
    const prefix = opts.kvPrefix!
    tokens = { management: 'fleet-management', action: 'fleet-action', nodes: new Map() }
    const names = [
      ...(serverRunsStretcher ? serverNames : []),
      ...specs.map((s) => s.name),
      ...(opts.acl.lateNodes ?? [])
    ]
    for (const name of names) tokens.nodes.set(name, `fleet-node-${name}`)
    acl = {
      defaultPolicy: opts.acl.defaultPolicy ?? 'deny',
      tokens: [
        { secretId: tokens.management, rules: { management: true } },
        {
          secretId: tokens.action,
          rules: {
            key_prefix: { [`${prefix}/`]: 'write' },
            event: { [eventName]: 'write' },
            session_prefix: { '': 'write' },
            node_prefix: { '': 'read' },
            service_prefix: { '': 'read' }
          }
        },
        ...names.map((name) => ({
          secretId: tokens!.nodes.get(name)!,
          rules: nodeRules(name, prefix, eventName, opts.acl?.dashboard)
        })),
        ...(opts.acl.dashboard === undefined
          ? []
          : [
              {
                secretId: 'anonymous',
                rules: {
                  key_prefix: { [`${opts.acl.dashboard}/`]: 'read' as const },
                  node_prefix: { '': 'read' as const }
                }
              }
            ]),
        ...(opts.acl.extraTokens ?? [])
      ]
    }
  }

  const started: Array<{ stop(): Promise<void> }> = []
  // crashDelayMs timers still pending: cleared by stop().
  const crashTimers = new Set<NodeJS.Timeout>()
  const clearCrashTimers = (): void => {
    for (const timer of crashTimers) clearTimeout(timer)
    crashTimers.clear()
  }
  const nodes = new Map<string, SimulatedNode>()
  const servers = new Map<string, SimulatedNode>()
  try {
    const s3 = await startLocalS3(opts.bucket)
    started.push(s3)
    const nodeS3Endpoint = opts.nodeS3Endpoint
      ? await opts.nodeS3Endpoint(s3.endpoint)
      : s3.endpoint
    const consul = await startConsulEmulator({
      ...(multi
        ? {
            datacenters: dcSpecs.map((dc) => ({
              name: dc.name,
              ...(dc.coordinate ? { coordinate: dc.coordinate } : {})
            }))
          }
        : {}),
      nodes: specs.map((spec) => ({
        name: spec.name,
        services: servicesOf(spec, service),
        ...(spec.datacenter ? { datacenter: spec.datacenter } : {})
      })),
      ...(acl ? { acl } : {}),
      ...(opts.fireBodyLimit === undefined ? {} : { fireBodyLimit: opts.fireBodyLimit })
    })
    started.push(consul)

    const startNode = async (spec: FleetNodeSpec, agentUrl: string): Promise<SimulatedNode> => {
      const token = tokens?.nodes.get(spec.name)
      const node = await startStretcherNode({
        name: spec.name,
        agentUrl,
        s3Endpoint: nodeS3Endpoint,
        eventName,
        ...(token ? { token } : {}),
        ...(spec.deaf ? { deaf: true } : {}),
        ...(spec.fail === undefined ? {} : { fail: spec.fail }),
        ...(spec.delayMs ? { delayMs: spec.delayMs } : {}),
        ...(spec.env ? { env: spec.env } : {}),
        ...(spec.crashAfterDeploy === undefined
          ? {}
          : {
              afterRun: crashSwitch(
                consul.datacenter(dcOfSpec(spec)),
                spec,
                servicesOf(spec, service),
                crashTimers
              )
            }),
        ...(opts.kvPrefix === undefined ? {} : { bootKvPrefix: opts.kvPrefix })
      })
      started.push(node)
      return node
    }

    if (serverRunsStretcher)
      for (const [i, dc] of dcSpecs.entries()) {
        const name = serverNames[i]!
        const agentUrl = await consul.datacenter(dc.name).openAgent(name)
        servers.set(dc.name, await startNode({ name }, agentUrl))
      }
    const server = servers.get(dcSpecs[0]!.name)
    // Started together, listed in spec order; all settle before a failure is
    // thrown, so that every node that did start is stopped.
    const settled = await Promise.allSettled(
      specs.map(async (spec) =>
        startNode(spec, await consul.datacenter(dcOfSpec(spec)).openAgent(spec.name))
      )
    )
    const failed = settled.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    const initial = settled.map((r) => (r as PromiseFulfilledResult<SimulatedNode>).value)
    initial.forEach((node, i) => nodes.set(keyOf(specs[i]!), node))

    const env: Record<string, string> = {
      ...s3.env,
      FLEET_S3_ENDPOINT: s3.endpoint,
      FLEET_S3_BUCKET: s3.bucket,
      FLEET_CONSUL_ADDR: consul.url,
      FLEET_DEST: dest,
      FLEET_SERVICE: service,
      FLEET_EVENT_NAME: eventName,
      ...(multi ? { FLEET_DATACENTERS: dcSpecs.map((dc) => dc.name).join(',') } : {}),
      ...(opts.kvPrefix === undefined ? {} : { FLEET_KV_PREFIX: opts.kvPrefix }),
      ...(tokens ? { FLEET_CONSUL_TOKEN: tokens.action } : {})
    }

    /**
     * A late node's key: `<dc>/<name>` when its name is in another datacenter
     * already (that node, keyed by its plain name until now, is re-keyed too).
     */
    const keyOfLate = (name: string, datacenter: string, plainDc: string | undefined): string => {
      const elsewhere = [...dcByNode.keys()].some((k) => k.endsWith(`/${name}`))
      const existing = nodes.get(name)
      if (plainDc !== undefined && existing) {
        dcByNode.delete(name)
        dcByNode.set(`${plainDc}/${name}`, plainDc)
        nodes.delete(name)
        nodes.set(`${plainDc}/${name}`, existing)
      }
      return plainDc !== undefined || elsewhere ? `${datacenter}/${name}` : name
    }

    let stopping: Promise<void> | undefined
    return {
      s3,
      consul,
      nodes,
      server,
      datacenters: dcSpecs.map((dc) => dc.name),
      servers,
      datacenterOf(name) {
        const dc = dcByNode.get(name)
        if (!dc) throw new Error(`no node ${name} in the fleet`)
        return dc
      },
      tokens,
      env,
      async addNode(input) {
        const spec: FleetNodeSpec = typeof input === 'string' ? { name: input } : input
        const datacenter = spec.datacenter ?? dcSpecs[0]!.name
        const plainDc = dcByNode.get(spec.name)
        if (plainDc === datacenter || dcByNode.has(`${datacenter}/${spec.name}`))
          throw new Error(`addNode: node ${spec.name} exists`)
        if (tokens && !tokens.nodes.has(spec.name)) {
          // The emulator's ACL table is fixed at start: late joiners need a token declared then.
          throw new Error(
            `addNode(${spec.name}): with ACLs on, late nodes must be named in opts.acl.lateNodes`
          )
        }
        const agentUrl = await consul.addNode({
          name: spec.name,
          services: servicesOf(spec, service),
          datacenter
        })
        const key = keyOfLate(spec.name, datacenter, plainDc)
        dcByNode.set(key, datacenter)
        const node = await startNode({ ...spec, datacenter }, agentUrl)
        nodes.set(key, node)
        return node
      },
      nodeTree(name, path = dest) {
        const node = nodes.get(name) ?? [...servers.values()].find((s) => s.name === name)
        if (!node) throw new Error(`no stretcher node ${name}`)
        return node.path(path)
      },
      stop() {
        clearCrashTimers()
        stopping ??= stopAll(started).then(clearCrashTimers)
        return stopping
      }
    }
  } catch (err) {
    await stopAll(started)
    clearCrashTimers()
    throw err
  }
}

// Nodes first (their long polls end), then Consul, then S3: reverse start order.
async function stopAll(started: Array<{ stop(): Promise<void> }>): Promise<void> {
  const [s3, consul, ...nodes] = started
  await Promise.all(nodes.map((node) => node.stop()))
  await consul?.stop()
  await s3?.stop()
}

/** Start a fleet, run `body` with it, and stop it whatever happens. */
export async function withLocalFleet<T>(
  opts: LocalFleetOptions,
  body: (fleet: LocalFleet) => Promise<T>
): Promise<T> {
  const fleet = await startLocalFleet(opts)
  try {
    return await body(fleet)
  } finally {
    await fleet.stop()
  }
}
