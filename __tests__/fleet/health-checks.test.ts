// Health checks in the Consul emulator (the bake gate's ground truth, contract
// 8): service checks in the health endpoints as api-docs/health.mdx describes
// them, and blocking queries that wake when a check turns critical.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startConsulEmulator } from '../../fleet/consul/index.ts'
import type { ConsulEmulator } from '../../fleet/consul/index.ts'

interface Check {
  Node: string
  CheckID: string
  Name: string
  Status: string
  Output: string
  ServiceID: string
  ServiceName: string
  ServiceTags: string[]
}
interface Instance {
  Node: { Node: string }
  Service: { ID: string; Service: string }
  Checks: Check[]
}

describe('the emulator’s health endpoints with service checks', () => {
  let emu: ConsulEmulator
  before(async () => {
    emu = await startConsulEmulator({
      nodes: [
        { name: 'consul-server-1', server: true },
        { name: 'web-1', services: [{ name: 'web', tags: ['canary'], check: true }] },
        {
          name: 'web-2',
          services: [
            { name: 'web', tags: ['v2'], check: 'passing' },
            { name: 'metrics', check: 'passing' }
          ]
        },
        { name: 'web-3', services: [{ name: 'web', check: 'passing' }] },
        { name: 'db-1', services: [{ name: 'db' }] }
      ],
      acl: {
        defaultPolicy: 'allow',
        tokens: [
          {
            secretId: 'no-web',
            rules: { node_prefix: { '': 'read' }, service_prefix: { '': 'read', web: 'deny' } }
          }
        ]
      }
    })
  })
  after(() => emu.stop())

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(emu.url + path, { headers })
  const index = (res: Response) => Number(res.headers.get('x-consul-index'))
  const json = async <T>(path: string): Promise<T> => (await (await get(path)).json()) as T

  test('health/node: serfHealth (no ServiceID) and service:<id> checks with ServiceID, ServiceName, ServiceTags', async () => {
    // health.mdx "List Checks for Node", sample response.
    const checks = await json<Check[]>('/v1/health/node/web-1')
    assert.deepEqual(
      checks.map((c) => [c.CheckID, c.Name, c.Status, c.ServiceID, c.ServiceName, c.ServiceTags]),
      [
        ['serfHealth', 'Serf Health Status', 'passing', '', '', []],
        ['service:web', "Service 'web' check", 'passing', 'web', 'web', ['canary']]
      ]
    )
    // A service registered without a check has none.
    assert.deepEqual(
      (await json<Check[]>('/v1/health/node/db-1')).map((c) => c.CheckID),
      ['serfHealth']
    )
  })

  test('health/checks/:service: that service’s checks on every node, never serfHealth; 400 without a name', async () => {
    // health.mdx "List Checks for Service".
    const checks = await json<Check[]>('/v1/health/checks/web')
    assert.deepEqual(
      checks.map((c) => [c.Node, c.CheckID, c.ServiceName]),
      [
        ['web-1', 'service:web', 'web'],
        ['web-2', 'service:web', 'web'],
        ['web-3', 'service:web', 'web']
      ]
    )
    assert.deepEqual(await json<Check[]>('/v1/health/checks/db'), [])
    assert.deepEqual(await json<Check[]>('/v1/health/checks/ghost'), [])
    const res = await get('/v1/health/checks/')
    assert.equal(res.status, 400)
    assert.equal(await res.text(), 'Missing service name')
  })

  test('health/service: Checks are the node’s and that instance’s only; ?passing drops critical and warning', async () => {
    const all = await json<Instance[]>('/v1/health/service/web')
    const web2 = all.find((e) => e.Node.Node === 'web-2')!
    // metrics' check on web-2 is not part of the web instance.
    assert.deepEqual(
      web2.Checks.map((c) => c.CheckID),
      ['serfHealth', 'service:web']
    )
    emu.setServiceHealth('web-2', 'web', 'critical', 'connection refused')
    emu.setServiceHealth('web-3', 'web', 'warning')
    try {
      // health.mdx `passing`: "only nodes with all checks in the passing state".
      const passing = await json<Instance[]>('/v1/health/service/web?passing')
      assert.deepEqual(
        passing.map((e) => e.Node.Node),
        ['web-1']
      )
      const everyone = await json<Instance[]>('/v1/health/service/web')
      assert.equal(everyone.length, 3)
      const critical = everyone.find((e) => e.Node.Node === 'web-2')!.Checks[1]!
      assert.deepEqual([critical.Status, critical.Output], ['critical', 'connection refused'])
      // health/state sees service checks too.
      assert.deepEqual(
        (await json<Check[]>('/v1/health/state/critical')).map((c) => `${c.Node}/${c.CheckID}`),
        ['web-2/service:web']
      )
    } finally {
      emu.setServiceHealth('web-2', 'web', 'passing', '')
      emu.setServiceHealth('web-3', 'web', 'passing')
    }
  })

  test('another service’s critical check on the node does not take the instance out of ?passing', async () => {
    emu.setServiceHealth('web-2', 'metrics', 'critical')
    try {
      assert.deepEqual(
        (await json<Instance[]>('/v1/health/service/metrics?passing')).map((e) => e.Node.Node),
        []
      )
      assert.deepEqual(
        (await json<Instance[]>('/v1/health/service/web?passing')).map((e) => e.Node.Node),
        ['web-1', 'web-2', 'web-3']
      )
    } finally {
      emu.setServiceHealth('web-2', 'metrics', 'passing')
    }
  })

  test('blocking health/checks/:service wakes when a check turns critical', async () => {
    const first = await get('/v1/health/checks/web')
    const i = index(first)
    const pending = get(`/v1/health/checks/web?index=${i}&wait=5s`)
    const started = Date.now()
    setTimeout(() => emu.setServiceHealth('web-3', 'web', 'critical', 'crashed'), 50)
    try {
      const res = await pending
      assert.ok(index(res) > i)
      assert.ok(Date.now() - started < 4000, 'woke before the wait ran out')
      const checks = (await res.json()) as Check[]
      assert.equal(checks.find((c) => c.Node === 'web-3')!.Status, 'critical')
    } finally {
      emu.setServiceHealth('web-3', 'web', 'passing', '')
    }
  })

  test('blocking health/service (with ?passing) and health/node wake on a service check', async () => {
    const service = index(await get('/v1/health/service/web?passing'))
    const node = index(await get('/v1/health/node/web-1'))
    const pendingService = get(`/v1/health/service/web?passing&index=${service}&wait=5s`)
    const pendingNode = get(`/v1/health/node/web-1?index=${node}&wait=5s`)
    setTimeout(() => emu.setServiceHealth('web-1', 'web', 'critical'), 50)
    try {
      const [s, n] = await Promise.all([pendingService, pendingNode])
      assert.ok(index(s) > service)
      assert.ok(index(n) > node)
      assert.ok(!((await s.json()) as Instance[]).some((e) => e.Node.Node === 'web-1'))
      const checks = (await n.json()) as Check[]
      assert.equal(checks.find((c) => c.CheckID === 'service:web')!.Status, 'critical')
    } finally {
      emu.setServiceHealth('web-1', 'web', 'passing')
    }
  })

  test('a blocking query on another service does not return for this change', async () => {
    // state/catalog.go ensureCheckTxn bumps only the changed service's index.
    const db = index(await get('/v1/health/service/db'))
    const pending = get(`/v1/health/service/db?index=${db}&wait=300ms`)
    setTimeout(() => emu.setServiceHealth('web-2', 'web', 'critical'), 20)
    try {
      const res = await pending
      assert.equal(index(res), db)
    } finally {
      emu.setServiceHealth('web-2', 'web', 'passing')
    }
  })

  test('an unchanged status writes nothing; unknown node or check throws', async () => {
    const i = index(await get('/v1/health/checks/web'))
    emu.setServiceHealth('web-1', 'web', 'passing')
    assert.equal(index(await get('/v1/health/checks/web')), i)
    assert.throws(() => emu.setServiceHealth('db-1', 'db', 'critical'), /no check for service db/)
    assert.throws(() => emu.setCheck('web-1', 'nope', 'critical'), /no check nope/)
    assert.throws(() => emu.setCheck('ghost', 'serfHealth', 'critical'), /no such node/)
    // setCheck reaches serfHealth too, as setHealth does.
    emu.setCheck('db-1', 'serfHealth', 'critical', 'gone')
    assert.equal((await json<Check[]>('/v1/health/node/db-1'))[0]!.Status, 'critical')
    emu.setHealth('db-1', 'passing')
  })

  test('ACLs: service checks need service:read (filtered, never a 403)', async () => {
    // health.mdx: node:read,service:read.
    const h = { 'X-Consul-Token': 'no-web' }
    const checks = await get('/v1/health/checks/web', h)
    assert.equal(checks.status, 200)
    assert.deepEqual(await checks.json(), [])
    assert.equal(checks.headers.get('x-consul-results-filtered-by-acls'), 'true')
    const node = await get('/v1/health/node/web-2', h)
    assert.deepEqual(
      ((await node.json()) as Check[]).map((c) => c.CheckID),
      ['serfHealth', 'service:metrics']
    )
    assert.equal(node.headers.get('x-consul-results-filtered-by-acls'), 'true')
  })
})
