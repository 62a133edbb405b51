// Catalog, health, agent and status endpoints: agent/catalog_endpoint.go,
// agent/health_endpoint.go, agent/agent_endpoint.go, agent/status_endpoint.go.
// Health rules follow website/content/api-docs/health.mdx ("health.mdx" below);
// its `filter` (bexpr) parameter is not emulated.
import type { Authorizer } from './acl.ts'
import { blockingQuery, parseQueryOptions } from './blocking.ts'
import { HttpError } from './errors.ts'
import type { Ctx, DatacenterRuntime } from './http.ts'
import { route, sendJson } from './http.ts'
import type { CheckRecord, NodeRecord, ServiceRecord } from './state.ts'

const CONSUL_VERSION = '1.21.4'

function taggedAddresses(node: NodeRecord): Record<string, string> {
  return { lan: node.address, lan_ipv4: node.address, wan: node.address, wan_ipv4: node.address }
}

// structs.Node as catalog/nodes renders it.
function nodeJson(ctx: Ctx, node: NodeRecord): Record<string, unknown> {
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: ctx.dc().state.datacenter,
    TaggedAddresses: taggedAddresses(node),
    Meta: node.meta,
    CreateIndex: node.createIndex,
    ModifyIndex: node.modifyIndex
  }
}

function agentServiceJson(service: ServiceRecord): Record<string, unknown> {
  return {
    ID: service.id,
    Service: service.name,
    Tags: service.tags,
    Address: '',
    Meta: {},
    Port: service.port,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    CreateIndex: service.createIndex,
    ModifyIndex: service.modifyIndex
  }
}

// health.mdx "List Checks for Node" sample: a node-level check (serfHealth) has
// empty ServiceID/ServiceName and ServiceTags []; a service check names its
// service instance and carries that service's tags.
function checkJson(node: NodeRecord, check: CheckRecord): Record<string, unknown> {
  const service = check.serviceId === '' ? undefined : node.services.get(check.serviceId)
  return {
    Node: node.name,
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: '',
    Output: check.output,
    ServiceID: check.serviceId,
    ServiceName: check.serviceName,
    ServiceTags: service ? service.tags : [],
    Type: '',
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
    CreateIndex: check.createIndex,
    ModifyIndex: check.modifyIndex
  }
}

// A catalog read: blocking on any catalog change, filtered by ACLs (never a 403).
function catalogQuery<T>(
  ctx: Ctx,
  run: (authz: Authorizer) => { index: number; value: T; filtered: boolean }
): void {
  const options = parseQueryOptions(ctx.params)
  const authz = ctx.auth()
  const { state } = ctx.dc()
  blockingQuery({
    options,
    run: () => run(authz),
    watch: (wake) => state.watchCatalog(wake),
    onAbort: (abort) => ctx.onAbort(abort),
    send: (result) =>
      sendJson(ctx, result.value, 200, { index: result.index, filtered: result.filtered })
  })
}

// filter/node-meta support: just node-meta=k:v (bexpr `filter` is not emulated).
function matchesNodeMeta(ctx: Ctx, node: NodeRecord): boolean {
  for (const pair of ctx.params.getAll('node-meta')) {
    const at = pair.indexOf(':')
    const key = at === -1 ? pair : pair.slice(0, at)
    const value = at === -1 ? '' : pair.slice(at + 1)
    if (node.meta[key] !== value) return false
  }
  return true
}

route('/v1/catalog/nodes', ['GET'], (ctx) => {
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const all = [...state.nodes.values()].filter((node) => matchesNodeMeta(ctx, node))
    // Failed nodes stay listed (with serfHealth critical) until reaped; node:read filters.
    const visible = all.filter((node) => authz.allowed('node', node.name, 'read'))
    visible.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return {
      index: state.nodesIndex,
      value: visible.map((node) => nodeJson(ctx, node)),
      filtered: visible.length !== all.length
    }
  })
})

route('/v1/catalog/services', ['GET'], (ctx) => {
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const services = new Map<string, Set<string>>()
    let filtered = false
    for (const node of state.nodes.values()) {
      for (const service of node.services.values()) {
        if (!authz.allowed('service', service.name, 'read')) {
          filtered = true
          continue
        }
        const tags = services.get(service.name) ?? new Set<string>()
        for (const tag of service.tags) tags.add(tag)
        services.set(service.name, tags)
      }
    }
    const value: Record<string, string[]> = {}
    for (const name of [...services.keys()].sort()) value[name] = [...services.get(name)!]
    return { index: state.servicesIndex, value, filtered }
  })
})

function serviceInstances(
  ctx: Ctx,
  name: string
): Array<{ node: NodeRecord; service: ServiceRecord }> {
  const tags = ctx.params.getAll('tag')
  const out: Array<{ node: NodeRecord; service: ServiceRecord }> = []
  for (const node of ctx.dc().state.nodes.values()) {
    for (const service of node.services.values()) {
      // catalog_endpoint.go: repeated ?tag= must all match (AND).
      if (service.name === name && tags.every((tag) => service.tags.includes(tag)))
        out.push({ node, service })
    }
  }
  return out.sort((a, b) => (a.node.name < b.node.name ? -1 : 1))
}

route('/v1/catalog/service/', ['GET'], (ctx) => {
  const name = ctx.path.slice('/v1/catalog/service/'.length)
  if (name === '') throw new HttpError(400, 'Missing service name')
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const index = state.serviceIndexes.get(name) ?? state.servicesIndex
    if (!authz.allowed('service', name, 'read')) return { index, value: [], filtered: true }
    const all = serviceInstances(ctx, name)
    const visible = all.filter(({ node }) => authz.allowed('node', node.name, 'read'))
    const value = visible.map(({ node, service }) => ({
      ID: node.id,
      Node: node.name,
      Address: node.address,
      Datacenter: state.datacenter,
      TaggedAddresses: taggedAddresses(node),
      NodeMeta: node.meta,
      ServiceKind: '',
      ServiceID: service.id,
      ServiceName: service.name,
      ServiceTags: service.tags,
      ServiceAddress: '',
      ServiceWeights: { Passing: 1, Warning: 1 },
      ServiceMeta: {},
      ServicePort: service.port,
      ServiceEnableTagOverride: false,
      CreateIndex: service.createIndex,
      ModifyIndex: service.modifyIndex
    }))
    return { index, value, filtered: visible.length !== all.length }
  })
})

route('/v1/catalog/node/', ['GET'], (ctx) => {
  const name = ctx.path.slice('/v1/catalog/node/'.length)
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const node = state.nodes.get(name)
    // catalog_endpoint.go CatalogNodeServices: an unknown node is JSON null.
    if (!node || !authz.allowed('node', name, 'read'))
      return { index: state.nodesIndex, value: null, filtered: Boolean(node) }
    const services: Record<string, unknown> = {}
    let filtered = false
    for (const service of node.services.values()) {
      if (authz.allowed('service', service.name, 'read'))
        services[service.id] = agentServiceJson(service)
      else filtered = true
    }
    return {
      index: Math.max(state.nodesIndex, state.servicesIndex),
      value: { Node: nodeJson(ctx, node), Services: services },
      filtered
    }
  })
})

route('/v1/health/node/', ['GET'], (ctx) => {
  const name = ctx.path.slice('/v1/health/node/'.length)
  if (name === '') throw new HttpError(400, 'Missing node name')
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const node = state.nodes.get(name)
    // health_endpoint.go: "Use empty list instead of nil" → [] for an unknown node.
    if (!node) return { index: state.checksIndex, value: [], filtered: false }
    if (!authz.allowed('node', name, 'read'))
      return { index: state.checksIndex, value: [], filtered: true }
    // health.mdx: node:read,service:read; a service's checks need service:read on it.
    const all = [...node.checks.values()]
    const visible = all.filter(
      (check) => check.serviceName === '' || authz.allowed('service', check.serviceName, 'read')
    )
    return {
      index: state.checksIndex,
      value: visible.map((check) => checkJson(node, check)),
      filtered: visible.length !== all.length
    }
  })
})

route('/v1/health/state/', ['GET'], (ctx) => {
  const wanted = ctx.path.slice('/v1/health/state/'.length)
  // health_endpoint.go HealthChecksInState: 400 "Missing check state".
  if (wanted === '') throw new HttpError(400, 'Missing check state')
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const checks: Array<Record<string, unknown>> = []
    let filtered = false
    for (const node of state.nodes.values()) {
      for (const check of node.checks.values()) {
        if (wanted !== 'any' && check.status !== wanted) continue
        if (!authz.allowed('node', node.name, 'read')) {
          filtered = true
          continue
        }
        checks.push(checkJson(node, check))
      }
    }
    return { index: state.checksIndex, value: checks, filtered }
  })
})

// health.mdx "List Checks for Service": the checks of every instance of the
// service (never node-level checks such as serfHealth); blocking; node:read and
// service:read (ACL-filtered, never a 403). Its index is the checks table's
// (state/catalog.go ServiceChecks: catalogChecksMaxIndex).
route('/v1/health/checks/', ['GET'], (ctx) => {
  const name = ctx.path.slice('/v1/health/checks/'.length)
  if (name === '') throw new HttpError(400, 'Missing service name')
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const index = state.checksIndex
    if (!authz.allowed('service', name, 'read')) return { index, value: [], filtered: true }
    const value: Array<Record<string, unknown>> = []
    let filtered = false
    for (const node of [...state.nodes.values()].filter((n) => matchesNodeMeta(ctx, n))) {
      const checks = [...node.checks.values()].filter((check) => check.serviceName === name)
      if (checks.length === 0) continue
      if (!authz.allowed('node', node.name, 'read')) {
        filtered = true
        continue
      }
      for (const check of checks) value.push(checkJson(node, check))
    }
    return { index, value, filtered }
  })
})

route('/v1/health/service/', ['GET'], (ctx) => {
  const name = ctx.path.slice('/v1/health/service/'.length)
  if (name === '') throw new HttpError(400, 'Missing service name')
  catalogQuery(ctx, (authz) => {
    const { state } = ctx.dc()
    const index = Math.max(state.serviceIndexes.get(name) ?? state.servicesIndex, 1)
    if (!authz.allowed('service', name, 'read')) return { index, value: [], filtered: true }
    const passingOnly = ctx.params.has('passing')
    const value: Array<Record<string, unknown>> = []
    let filtered = false
    for (const { node, service } of serviceInstances(ctx, name)) {
      if (!authz.allowed('node', node.name, 'read')) {
        filtered = true
        continue
      }
      // health.mdx sample: an instance's Checks are the node's own checks
      // (serfHealth) and that service instance's checks, not other services'.
      const checks = [...node.checks.values()].filter(
        (check) => check.serviceId === '' || check.serviceId === service.id
      )
      // health.mdx `passing`: "only nodes with all checks in the passing state"
      // (health_endpoint.go filterNonPassing: warning counts as not passing).
      if (passingOnly && checks.some((check) => check.status !== 'passing')) continue
      value.push({
        Node: nodeJson(ctx, node),
        Service: agentServiceJson(service),
        Checks: checks.map((check) => checkJson(node, check))
      })
    }
    return { index, value, filtered }
  })
})

// agent_endpoint.go AgentSelf: the answering agent's own config; needs agent:read
// on its node. Agent endpoints are answered by the agent itself: `?dc` is not read.
route(
  '/v1/agent/self',
  ['GET'],
  (ctx) => {
    const { state } = ctx.agent.datacenter
    const node = state.nodes.get(ctx.agent.node)
    if (!node) throw new Error('agent is not registered')
    ctx.auth().require('agent', node.name, 'read')
    // The first datacenter is the primary one (ACLs are replicated from it).
    const primary = ctx.cluster.datacenters.keys().next().value ?? state.datacenter
    const config = {
      Datacenter: state.datacenter,
      PrimaryDatacenter: primary,
      NodeName: node.name,
      NodeID: node.id,
      Revision: 'emulated',
      Server: node.server,
      Version: CONSUL_VERSION,
      BuildDate: '2025-01-01T00:00:00Z'
    }
    sendJson(ctx, {
      Config: config,
      DebugConfig: { NodeName: node.name, Datacenter: state.datacenter, ServerMode: node.server },
      Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 0.00001 },
      Member: memberJson(ctx, node),
      Stats: {},
      Meta: node.meta
    })
  },
  { agentLocal: true }
)

// agent_endpoint.go AgentMembers: the agent's LAN serf members (its own
// datacenter; `?wan` is not emulated); Status 1 alive, 4 failed.
function memberJson(ctx: Ctx, node: NodeRecord): Record<string, unknown> {
  const { state } = ctx.agent.datacenter
  return {
    Name: node.name,
    Addr: node.address,
    Port: 8301,
    Tags: {
      dc: state.datacenter,
      id: node.id,
      role: node.server ? 'consul' : 'node',
      vsn: '2'
    },
    Status: state.isLive(node.name) ? 1 : 4,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4
  }
}

route(
  '/v1/agent/members',
  ['GET'],
  (ctx) => {
    const authz = ctx.auth()
    const members = [...ctx.agent.datacenter.state.nodes.values()]
      .filter((node) => authz.allowed('node', node.name, 'read'))
      .map((node) => memberJson(ctx, node))
    sendJson(ctx, members)
  },
  { agentLocal: true }
)

// status_endpoint.go: the leader's RPC address as a JSON string; no ACL. An
// RPC (Status.Leader / Status.Peers), so `?dc` is forwarded.
route('/v1/status/leader', ['GET'], (ctx) => {
  const { state } = ctx.dc()
  const leader = [...state.nodes.values()].find((node) => node.server && state.isLive(node.name))
  sendJson(ctx, leader ? `${leader.address}:8300` : '')
})

route('/v1/status/peers', ['GET'], (ctx) => {
  sendJson(
    ctx,
    [...ctx.dc().state.nodes.values()]
      .filter((node) => node.server)
      .map((node) => `${node.address}:8300`)
  )
})

// catalog_endpoint.go CatalogDatacenters → Catalog.ListDatacenters, answered
// by a server of the agent's own datacenter (no `?dc`, no ACL, no index:
// catalog.mdx "ACL Required: none", "Blocking Queries: NO"). Order:
// agent/router/router.go GetDatacentersByDistance: "Everything in the local
// datacenter looks like zero RTT", others the RTT to their servers; the names
// are sorted first, then stable-sorted by RTT, so ties go by name.
route(
  '/v1/catalog/datacenters',
  ['GET'],
  (ctx) => {
    const own = ctx.agent.datacenter
    const rtt = (dc: DatacenterRuntime): number =>
      dc === own
        ? 0
        : Math.hypot(dc.coordinate[0] - own.coordinate[0], dc.coordinate[1] - own.coordinate[1])
    const names = [...ctx.cluster.datacenters.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    )
    const sorted = names.map((dc) => ({ name: dc.name, rtt: rtt(dc) }))
    sorted.sort((a, b) => a.rtt - b.rtt) // Array#sort is stable
    sendJson(
      ctx,
      sorted.map((dc) => dc.name)
    )
  },
  { agentLocal: true }
)
