// The Consul emulator with several WAN-joined datacenters: each its own KV,
// catalog, health, sessions, events and raft index; `?dc=` forwarded from any
// agent; /v1/catalog/datacenters; "No path to datacenter"; global ACL tokens.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startConsulEmulator } from '../../fleet/consul/index.ts'
import type { ConsulEmulator } from '../../fleet/consul/index.ts'

let emu: ConsulEmulator

before(async () => {
  emu = await startConsulEmulator({
    datacenters: [
      { name: 'dc1', coordinate: [0, 0] },
      { name: 'dc2', coordinate: [30, 0] },
      { name: 'dc3', coordinate: [20, 0] }
    ],
    nodes: [
      { name: 'web-1', services: [{ name: 'web', check: true }] },
      { name: 'web-2', services: [{ name: 'web' }] },
      { name: 'eu-web-1', datacenter: 'dc2', services: [{ name: 'web', tags: ['eu'] }] },
      { name: 'eu-web-2', datacenter: 'dc2', services: [{ name: 'web', tags: ['eu'] }] },
      { name: 'ap-web-1', datacenter: 'dc3', services: [{ name: 'web' }] }
    ]
  })
})
after(() => emu.stop())

const dc1 = () => emu.url
const dc2 = () => emu.datacenter('dc2').url
const req = (base: string, path: string, init?: RequestInit) => fetch(base + path, init)
const put = (base: string, path: string, body?: string) =>
  fetch(base + path, { method: 'PUT', body })
const index = (res: Response) => Number(res.headers.get('x-consul-index'))

describe('layout', () => {
  test('each datacenter has a server of its own; agents belong to one datacenter', async () => {
    assert.deepEqual(emu.datacenters, ['dc1', 'dc2', 'dc3'])
    const self = await (
      await req(emu.agentUrl('eu-web-1'), '/v1/agent/self')
    )
      .text()
      .then(JSON.parse)
    assert.equal(self.Config.Datacenter, 'dc2')
    assert.equal(self.Config.PrimaryDatacenter, 'dc1')
    assert.equal(self.Config.NodeName, 'eu-web-1')
    const server = await (await req(dc2(), '/v1/agent/self')).text().then(JSON.parse)
    assert.equal(server.Config.NodeName, 'consul-server-1-dc2')
    assert.equal(server.Config.Server, true)
    // agent/members is the agent's LAN pool: its own datacenter only.
    const members = await (await req(dc2(), '/v1/agent/members')).text().then(JSON.parse)
    assert.deepEqual(members.map((m: { Name: string }) => m.Name).sort(), [
      'consul-server-1-dc2',
      'eu-web-1',
      'eu-web-2'
    ])
  })

  test('node names are per datacenter: the same name may be in two', async () => {
    const url = await emu.datacenter('dc3').addNode({ name: 'web-1' })
    try {
      const self = await (await req(url, '/v1/agent/self')).text().then(JSON.parse)
      assert.equal(self.Config.Datacenter, 'dc3')
      assert.throws(() => emu.agentUrl('web-1'), /several datacenters \(dc1, dc3\)/)
      assert.notEqual(emu.datacenter('dc1').agentUrl('web-1'), url)
    } finally {
      await emu.datacenter('dc3').removeNode('web-1')
    }
    assert.ok(emu.agentUrl('web-1'))
  })
})

describe('?dc= is forwarded from any agent', () => {
  test('KV: written and read in that datacenter only, its own X-Consul-Index', async () => {
    const before1 = index(await req(dc1(), '/v1/kv/?keys'))
    assert.equal(
      await (await put(dc1(), '/v1/kv/app/latest?dc=dc2', 'v2')).text().then(JSON.parse),
      true
    )
    // dc2's own agents read it without ?dc; dc1 does not have it.
    const there = await req(emu.agentUrl('eu-web-1'), '/v1/kv/app/latest?raw')
    assert.equal(await there.text(), 'v2')
    assert.equal((await req(dc1(), '/v1/kv/app/latest')).status, 404)
    const forwarded = await req(dc1(), '/v1/kv/app/latest?dc=dc2')
    const [entry] = await forwarded.text().then(JSON.parse)
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'v2')
    assert.equal(index(forwarded), entry.ModifyIndex)
    assert.equal(emu.datacenter('dc2').kv('app/latest')?.value?.toString(), 'v2')
    assert.equal(emu.kv('app/latest'), undefined) // kv() reads the first datacenter
    // dc1's raft index did not move for a dc2 write.
    assert.equal(index(await req(dc1(), '/v1/kv/?keys')), before1)
    // ?dc naming the agent's own datacenter is the same as none.
    assert.equal((await req(emu.agentUrl('eu-web-2'), '/v1/kv/app/latest?dc=dc2')).status, 200)
  })

  test('txn applies in that datacenter', async () => {
    const ops = [
      { KV: { Verb: 'set', Key: 'app/deploy-id', Value: Buffer.from('d-2').toString('base64') } }
    ]
    const res = await put(dc1(), '/v1/txn?dc=dc2', JSON.stringify(ops))
    assert.equal(res.status, 200)
    assert.equal(emu.datacenter('dc2').kv('app/deploy-id')?.value?.toString(), 'd-2')
    assert.equal(emu.kv('app/deploy-id'), undefined)
  })

  test('catalog and health come from that datacenter, Datacenter set to it', async () => {
    const nodes = await (await req(dc1(), '/v1/catalog/nodes?dc=dc2')).text().then(JSON.parse)
    assert.deepEqual(
      nodes.map((n: { Node: string; Datacenter: string }) => `${n.Datacenter}/${n.Node}`),
      ['dc2/consul-server-1-dc2', 'dc2/eu-web-1', 'dc2/eu-web-2']
    )
    const service = await (
      await req(dc1(), '/v1/catalog/service/web?dc=dc2')
    )
      .text()
      .then(JSON.parse)
    assert.deepEqual(
      service.map((s: { Node: string }) => s.Node),
      ['eu-web-1', 'eu-web-2']
    )
    assert.deepEqual(service[0].ServiceTags, ['eu'])
    const checks = await (
      await req(dc1(), '/v1/health/node/eu-web-2?dc=dc2')
    )
      .text()
      .then(JSON.parse)
    assert.equal(checks[0].CheckID, 'serfHealth')
    assert.deepEqual(
      await (await req(dc1(), '/v1/health/node/eu-web-2')).text().then(JSON.parse),
      []
    )
    const leader = await (await req(dc1(), '/v1/status/leader?dc=dc2')).text().then(JSON.parse)
    assert.match(leader, /^10\.1\.\d+\.\d+:8300$/)
    emu.datacenter('dc2').setHealth('eu-web-2', 'critical')
    const critical = await (
      await req(dc1(), '/v1/health/state/critical?dc=dc2')
    )
      .text()
      .then(JSON.parse)
    assert.deepEqual(
      critical.map((c: { Node: string }) => c.Node),
      ['eu-web-2']
    )
    assert.deepEqual(
      await (await req(dc1(), '/v1/health/state/critical')).text().then(JSON.parse),
      []
    )
    emu.datacenter('dc2').setHealth('eu-web-2', 'passing')
  })

  test('blocking queries block on their own datacenter: a dc1 write does not wake a dc2 read', async () => {
    await put(dc1(), '/v1/kv/block/x?dc=dc2', 'a')
    const first = await req(dc1(), '/v1/kv/block/?recurse&dc=dc2')
    const waiting = req(dc1(), `/v1/kv/block/?recurse&dc=dc2&index=${index(first)}&wait=5s`)
    let settled = false
    void waiting.then(() => (settled = true))
    await put(dc1(), '/v1/kv/block/x', 'same key, dc1')
    await new Promise((resolve) => setTimeout(resolve, 150))
    assert.equal(settled, false, 'a write in dc1 woke a read of dc2')
    await put(emu.agentUrl('eu-web-1'), '/v1/kv/block/x', 'b')
    const woken = await waiting
    assert.ok(index(woken) > index(first))
    const [entry] = await woken.text().then(JSON.parse)
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'b')
  })

  test('sessions live in that datacenter; the default node is the asking agent, unknown there', async () => {
    // session_endpoint.go SessionCreate defaults Node to the agent's own NodeName,
    // which dc2's catalog does not have (state/session.go: Missing node registration).
    const refused = await put(dc1(), '/v1/session/create?dc=dc2')
    assert.equal(refused.status, 500)
    assert.equal(await refused.text(), 'Missing node registration')
    const created = await put(
      dc1(),
      '/v1/session/create?dc=dc2',
      JSON.stringify({ Node: 'consul-server-1-dc2', TTL: '30s' })
    )
    const { ID } = await created.text().then(JSON.parse)
    const list2 = await (await req(dc1(), '/v1/session/list?dc=dc2')).text().then(JSON.parse)
    assert.deepEqual(
      list2.map((s: { ID: string }) => s.ID),
      [ID]
    )
    assert.deepEqual(await (await req(dc1(), '/v1/session/list')).text().then(JSON.parse), [])
    assert.equal(
      await (
        await put(dc1(), `/v1/kv/app/lock?dc=dc2&acquire=${ID}`, 'me')
      )
        .text()
        .then(JSON.parse),
      true
    )
    assert.equal(emu.datacenter('dc2').kv('app/lock')?.session, ID)
    // dc1 does not know the session.
    const wrongDc = await put(dc1(), `/v1/kv/app/lock?acquire=${ID}`, 'me')
    assert.equal(wrongDc.status, 500)
    assert.equal(await wrongDc.text(), `invalid session "${ID}"`)
    assert.equal((await put(dc1(), `/v1/session/renew/${ID}`)).status, 404)
    assert.equal((await put(dc1(), `/v1/session/renew/${ID}?dc=dc2`)).status, 200)
    assert.equal(
      await (await put(dc1(), `/v1/session/destroy/${ID}?dc=dc2`)).text().then(JSON.parse),
      true
    )
    assert.equal(emu.datacenter('dc2').kv('app/lock')?.session, undefined)
  })

  test('an event fired with ?dc=dc2 reaches dc2 agents only; event/list is agent-local', async () => {
    const fired = await put(dc1(), '/v1/event/fire/deploy?dc=dc2&service=web', 'release-2')
    assert.equal(fired.status, 200)
    const { ID } = await fired.text().then(JSON.parse)
    assert.deepEqual(
      emu.events('eu-web-1').map((e) => e.id),
      [ID]
    )
    assert.deepEqual(
      emu.events('eu-web-2').map((e) => e.payload),
      ['release-2']
    )
    assert.deepEqual(emu.events('web-1'), [])
    assert.deepEqual(emu.events('ap-web-1'), [])
    // event_endpoint.go EventList has no parseDC: the agent's own buffer, whatever ?dc says.
    assert.deepEqual(
      await (await req(dc1(), '/v1/event/list?name=deploy&dc=dc2')).text().then(JSON.parse),
      []
    )
    const there = await (
      await req(emu.agentUrl('eu-web-1'), '/v1/event/list?name=deploy')
    )
      .text()
      .then(JSON.parse)
    assert.deepEqual(
      there.map((e: { ID: string }) => e.ID),
      [ID]
    )
    // Each datacenter's LAN pool has its own serf clock.
    assert.equal(there[0].LTime, 1)
  })
})

describe('/v1/catalog/datacenters', () => {
  test('sorted by round-trip time from the asking agent, its own first', async () => {
    const from1 = await req(dc1(), '/v1/catalog/datacenters')
    assert.equal(from1.status, 200)
    assert.deepEqual(await from1.text().then(JSON.parse), ['dc1', 'dc3', 'dc2'])
    assert.equal(from1.headers.get('x-consul-index'), null) // not a blocking query
    assert.deepEqual(await (await req(dc2(), '/v1/catalog/datacenters')).text().then(JSON.parse), [
      'dc2',
      'dc3',
      'dc1'
    ])
    // From dc3 (at 20): dc2 is 10 away, dc1 20; ?dc is not read (no RPC to forward).
    assert.deepEqual(
      await (
        await req(emu.agentUrl('ap-web-1'), '/v1/catalog/datacenters?dc=dc1')
      )
        .text()
        .then(JSON.parse),
      ['dc3', 'dc2', 'dc1']
    )
  })

  test('ties go by name (names sorted, then a stable sort by RTT)', async () => {
    const tied = await startConsulEmulator({
      datacenters: [
        { name: 'zz', coordinate: [0, 0] },
        { name: 'mm', coordinate: [5, 0] },
        { name: 'aa', coordinate: [-5, 0] }
      ],
      nodes: []
    })
    try {
      assert.deepEqual(
        await (await req(tied.url, '/v1/catalog/datacenters')).text().then(JSON.parse),
        ['zz', 'aa', 'mm']
      )
    } finally {
      await tied.stop()
    }
  })
})

describe('a datacenter with no route', () => {
  test('unknown: 500 "No path to datacenter" from a server, wrapped by a client agent', async () => {
    for (const [method, path] of [
      ['GET', '/v1/kv/app/latest?dc=nowhere'],
      ['PUT', '/v1/kv/app/latest?dc=nowhere'],
      ['PUT', '/v1/txn?dc=nowhere'],
      ['PUT', '/v1/event/fire/deploy?dc=nowhere'],
      ['GET', '/v1/catalog/nodes?dc=nowhere'],
      ['GET', '/v1/health/state/any?dc=nowhere'],
      ['PUT', '/v1/session/create?dc=nowhere'],
      ['GET', '/v1/status/leader?dc=nowhere']
    ] as const) {
      const body =
        method === 'GET'
          ? undefined
          : path.includes('txn')
            ? '[]'
            : path.includes('session')
              ? '{}'
              : 'x'
      const server = await req(dc1(), path, { method, body })
      assert.equal(server.status, 500, path)
      assert.equal(await server.text(), 'No path to datacenter', path)
      const client = await req(emu.agentUrl('web-1'), path, { method, body })
      assert.equal(client.status, 500, path)
      assert.equal(await client.text(), 'rpc error making call: No path to datacenter', path)
    }
    assert.equal(emu.kv('app/latest'), undefined)
  })

  test('HTTP-level checks come first; agent-local endpoints ignore ?dc', async () => {
    assert.equal((await req(dc1(), '/v1/kv/x?dc=nowhere&index=abc')).status, 400)
    assert.equal((await req(dc1(), '/v1/agent/self?dc=nowhere')).status, 200)
    assert.equal((await req(dc1(), '/v1/event/list?dc=nowhere')).status, 200)
    assert.deepEqual(
      await (await req(dc1(), '/v1/catalog/datacenters?dc=nowhere')).text().then(JSON.parse),
      ['dc1', 'dc3', 'dc2']
    )
  })

  test('unreachable: 500 "Remote DC has no server currently reachable"; its own agents still answer', async () => {
    emu.datacenter('dc3').setReachable(false)
    try {
      const res = await req(dc1(), '/v1/kv/app/latest?dc=dc3')
      assert.equal(res.status, 500)
      assert.equal(await res.text(), 'Remote DC has no server currently reachable')
      assert.equal((await req(emu.agentUrl('ap-web-1'), '/v1/kv/app/latest')).status, 404)
    } finally {
      emu.datacenter('dc3').setReachable(true)
    }
    assert.equal((await req(dc1(), '/v1/kv/app/latest?dc=dc3')).status, 404)
  })
})

describe('faults', () => {
  test('a fault can target the datacenter a request is answered from', async () => {
    emu.faults.inject({ kind: 'error', status: 500, body: 'boom', datacenter: 'dc2' })
    try {
      assert.equal((await req(dc1(), '/v1/kv/app/latest?dc=dc2')).status, 500)
      assert.equal((await req(emu.agentUrl('eu-web-1'), '/v1/kv/app/latest')).status, 500)
      assert.equal((await req(dc1(), '/v1/kv/app/latest')).status, 404)
      assert.equal((await req(dc1(), '/v1/kv/app/latest?dc=dc3')).status, 404)
    } finally {
      emu.faults.clear()
    }
  })
})

describe('ACLs across datacenters', () => {
  let secured: ConsulEmulator
  before(async () => {
    secured = await startConsulEmulator({
      datacenters: ['dc1', 'dc2'],
      nodes: [{ name: 'eu-web-1', datacenter: 'dc2', services: [{ name: 'web' }] }],
      acl: {
        defaultPolicy: 'deny',
        tokens: [
          {
            secretId: 'global-action',
            rules: { key_prefix: { 'app/': 'write' }, event: { deploy: 'write' } }
          },
          { secretId: 'dc1-local', local: 'dc1', rules: { key_prefix: { 'app/': 'write' } } }
        ]
      }
    })
  })
  after(() => secured.stop())

  const as = (token: string, base: string, path: string, body: string) =>
    fetch(base + path, { method: 'PUT', body, headers: { 'X-Consul-Token': token } })

  test('a global token is valid in every datacenter, forwarded or asked there', async () => {
    const dc2Url = secured.datacenter('dc2').url
    assert.equal((await as('global-action', secured.url, '/v1/kv/app/a?dc=dc2', '1')).status, 200)
    assert.equal((await as('global-action', dc2Url, '/v1/kv/app/b', '2')).status, 200)
    assert.equal(
      (await as('global-action', secured.url, '/v1/event/fire/deploy?dc=dc2', 'x')).status,
      200
    )
    assert.equal(secured.datacenter('dc2').kv('app/a')?.value?.toString(), '1')
    // Its rules still apply there.
    const denied = await as('global-action', secured.url, '/v1/kv/other?dc=dc2', '3')
    assert.equal(denied.status, 403)
    assert.match(await denied.text(), /lacks permission 'key:write' on "other"/)
  })

  test('a local token is unknown outside its datacenter: ACL not found', async () => {
    assert.equal((await as('dc1-local', secured.url, '/v1/kv/app/c', '1')).status, 200)
    const res = await as('dc1-local', secured.url, '/v1/kv/app/c?dc=dc2', '1')
    assert.equal(res.status, 403)
    assert.equal(await res.text(), 'ACL not found')
  })
})
