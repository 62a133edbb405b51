// The Consul client across datacenters, against the emulator with two: a client
// bound with inDatacenter() names its datacenter on every call; the datacenter
// list; "No path to datacenter" as a clear error naming it.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { ConsulClient, ConsulError } from '../src/consul/client.ts'

let emu: ConsulEmulator

before(async () => {
  emu = await startConsulEmulator({
    datacenters: ['dc1', 'dc2'],
    nodes: [
      { name: 'web-1', services: [{ name: 'web' }] },
      { name: 'eu-web-1', datacenter: 'dc2', services: [{ name: 'web' }] }
    ]
  })
})
afterEach(() => emu.faults.clear())
after(() => emu.stop())

const client = (over: Partial<ConstructorParameters<typeof ConsulClient>[0]> = {}) =>
  new ConsulClient({ addr: emu.url, backoffBaseMs: 10, retryForMs: 2000, ...over })

/** the requests logged since `from`, as `METHOD path?query` */
const since = (from: number) => emu.requests.slice(from).map((r) => `${r.method} ${r.path}`)

describe('a client bound to a datacenter', () => {
  test('inDatacenter is cheap and leaves the original unbound', () => {
    const root = client()
    const dc2 = root.inDatacenter('dc2')
    assert.equal(root.datacenter, undefined)
    assert.equal(dc2.datacenter, 'dc2')
    assert.equal(dc2.addr, root.addr)
    assert.equal(dc2.inDatacenter('dc2'), dc2)
    assert.equal(dc2.inDatacenter('dc1').datacenter, 'dc1')
    assert.equal(client({ dc: 'dc2' }).datacenter, 'dc2')
  })

  test('every call of a bound client carries ?dc=, and is answered from that datacenter', async () => {
    const dc2 = client().inDatacenter('dc2')
    const from = emu.requests.length
    await dc2.txn(
      [
        { Verb: 'set', Key: 'stretcher/web/latest', Value: 's3://r/web/2.yml' },
        { Verb: 'set', Key: 'stretcher/web/deploy-id', Value: 'd2' }
      ],
      'key:write on "stretcher/web/"'
    )
    assert.equal(await dc2.kvPut('stretcher/web/history/d2', '{}'), true)
    const read = await dc2.kvGet('stretcher/web/', { recurse: true })
    assert.deepEqual(
      read.entries.map((e) => e.key),
      ['stretcher/web/deploy-id', 'stretcher/web/history/d2', 'stretcher/web/latest']
    )
    // A blocking read too.
    await dc2.kvGet('stretcher/web/results/', { recurse: true, index: 1n, waitMs: 50 })
    assert.deepEqual(await dc2.kvKeys('stretcher/web/history/'), ['stretcher/web/history/d2'])
    const { value: nodes } = await dc2.getJson<Array<{ Node: string; Datacenter: string }>>(
      'catalog/service/web',
      'service:read on "web"'
    )
    assert.deepEqual(
      nodes.map((n) => `${n.Datacenter}/${n.Node}`),
      ['dc2/eu-web-1']
    )
    await dc2.fireEvent('deploy', 's3://r/web/2.yml', { service: '^web$' })
    await dc2.agentNodeName()
    await dc2.datacentersList()
    const calls = since(from)
    assert.ok(calls.length >= 9, calls.join('\n'))
    for (const call of calls.filter((c) => !c.includes('/v1/agent/self')))
      assert.match(call, /[?&]dc=dc2(&|$)/, call)
    // Written in dc2, not in dc1.
    assert.equal(emu.datacenter('dc2').kv('stretcher/web/deploy-id')?.value?.toString(), 'd2')
    assert.equal(emu.kv('stretcher/web/deploy-id'), undefined)
    assert.deepEqual(
      emu.events('eu-web-1').map((e) => e.payload),
      ['s3://r/web/2.yml']
    )
    assert.deepEqual(emu.events('web-1'), [])
  })

  test('the unbound client sends no dc at all (one datacenter, as before)', async () => {
    const from = emu.requests.length
    await client().kvGet('stretcher/none')
    assert.deepEqual(since(from), ['GET /v1/kv/stretcher/none'])
  })

  test('errors name the datacenter', async () => {
    emu.faults.inject({ kind: 'error', status: 403, body: 'Permission denied', path: /dc=dc2/ })
    await assert.rejects(
      client().inDatacenter('dc2').kvPut('stretcher/web/x', '1'),
      (error: ConsulError) =>
        error.message ===
        'Consul refused PUT /v1/kv/stretcher/web/x in datacenter "dc2": the token lacks key:write on "stretcher/web/x"'
    )
  })
})

describe('datacentersList and agentDatacenter', () => {
  test("datacentersList: /v1/catalog/datacenters, the agent's own first", async () => {
    assert.deepEqual(await client().datacentersList(), ['dc1', 'dc2'])
    const fromDc2 = new ConsulClient({ addr: emu.datacenter('dc2').url })
    assert.deepEqual(await fromDc2.datacentersList(), ['dc2', 'dc1'])
  })

  test('agentDatacenter: agent/self, asked once per client family', async () => {
    const root = client()
    const from = emu.requests.length
    assert.equal(await root.inDatacenter('dc2').agentDatacenter(), 'dc1')
    assert.equal(await root.agentDatacenter(), 'dc1')
    assert.equal(await root.inDatacenter('dc1').agentDatacenter(), 'dc1')
    assert.deepEqual(since(from), ['GET /v1/agent/self'])
  })

  test('agentDatacenter without agent:read: the nearest datacenter listed (RTT 0)', async () => {
    emu.faults.inject({
      kind: 'error',
      status: 403,
      body: 'Permission denied',
      path: /agent\/self/
    })
    assert.equal(await client().agentDatacenter(), 'dc1')
  })

  test("the event list is read only for the agent's own datacenter", async () => {
    await client().fireEvent('deploy', 's3://r/web/own.yml', {})
    assert.deepEqual(
      (await client().inDatacenter('dc1').eventIds('deploy', 's3://r/web/own.yml')).length,
      1
    )
    await assert.rejects(
      client().inDatacenter('dc2').eventIds('deploy', 's3://r/web/2.yml'),
      /holds only its own datacenter's events, not "dc2"'s/
    )
    // So a fire into dc2 does not consult it, and a refused fire is fired again.
    const dc2 = client().inDatacenter('dc2')
    await dc2.agentDatacenter()
    emu.faults.inject({ kind: 'error', status: 500, count: 1, path: /^\/v1\/event\/fire\// })
    const from = emu.requests.length
    const { id } = await dc2.fireEvent('deploy', 's3://r/web/3.yml', {})
    assert.deepEqual(
      since(from).filter((c) => c.includes('/v1/event/')),
      ['PUT /v1/event/fire/deploy?dc=dc2', 'PUT /v1/event/fire/deploy?dc=dc2']
    )
    assert.equal(emu.events('eu-web-1').at(-1)?.id, id)
  })
})

describe('a slow agent', () => {
  test('an agent/self that does not answer holds a bound fire back ~2 s at most', async () => {
    emu.faults.inject({ kind: 'latency', latencyMs: 10_000, path: /^\/v1\/agent\/self/ })
    const started = Date.now()
    const { id } = await client().inDatacenter('dc2').fireEvent('deploy', 's3://r/web/4.yml', {})
    assert.ok(Date.now() - started < 4_000, `${Date.now() - started} ms`)
    assert.equal(emu.events('eu-web-1').at(-1)?.id, id)
  })
})

describe('a datacenter Consul has no route to', () => {
  for (const [agent, addr] of [
    ['a server agent', () => emu.url],
    ['a client agent', () => emu.agentUrl('web-1')]
  ] as const)
    test(`No path to datacenter, through ${agent}: one clear error naming it, not retried`, async () => {
      const from = emu.requests.length
      await assert.rejects(
        client({ addr: addr() }).inDatacenter('dc9').kvGet('stretcher/web/latest'),
        (error: unknown) => {
          assert.ok(error instanceof ConsulError)
          assert.equal(error.noPathTo, 'dc9')
          assert.equal(error.transient, false)
          assert.equal(error.status, 500)
          assert.match(
            error.message,
            /^Consul has no path to datacenter "dc9" \(GET \/v1\/kv\/stretcher\/web\/latest\): it is not one of the datacenters its servers know/
          )
          return true
        }
      )
      assert.equal(emu.requests.length - from, 1)
    })

  test('unreachable for now: retried, then an error naming it', async () => {
    emu.datacenter('dc2').setReachable(false)
    try {
      const retries: number[] = []
      await assert.rejects(
        client({ retryForMs: 300, onRetry: (_what, attempt) => retries.push(attempt) })
          .inDatacenter('dc2')
          .kvGet('stretcher/web/latest'),
        /^ConsulError: Consul cannot reach any server of datacenter "dc2" .*Remote DC has no server currently reachable/
      )
      assert.ok(retries.length >= 1)
    } finally {
      emu.datacenter('dc2').setReachable(true)
    }
  })
})

describe('a session in another datacenter', () => {
  test('without a Node of that datacenter: refused at once, saying why', async () => {
    const dc2 = client().inDatacenter('dc2')
    const from = emu.requests.length
    await assert.rejects(
      dc2.request('PUT', 'session/create', { body: '{"TTL":"15s"}', permission: 'session:write' }),
      (error: unknown) => {
        assert.ok(error instanceof ConsulError)
        assert.equal(error.transient, false)
        assert.equal(
          error.message,
          'Consul refused PUT /v1/session/create in datacenter "dc2": Missing node registration (a session in datacenter "dc2" must name one of its nodes: Node defaults to the agent\'s own)'
        )
        return true
      }
    )
    assert.equal(emu.requests.length - from, 1)
    // Named (one of its servers), it is created there.
    const [server] = await dc2.serverNodes()
    assert.equal(server, 'consul-server-1-dc2')
    assert.deepEqual(await client().serverNodes(), ['consul-server-1'])
    const res = await dc2.request('PUT', 'session/create', {
      body: JSON.stringify({ TTL: '15s', Node: server }),
      permission: 'session:write'
    })
    const { ID } = JSON.parse(res.body) as { ID: string }
    assert.equal(await dc2.kvPut('stretcher/web/lock', 'me', { acquire: ID }), true)
    assert.equal(emu.datacenter('dc2').kv('stretcher/web/lock')?.session, ID)
    await dc2.request('PUT', `session/destroy/${ID}`, { permission: 'session:write' })
  })
})
