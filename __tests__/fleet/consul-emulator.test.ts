// The Consul emulator, pinned through real HTTP: KV, blocking queries, txn,
// catalog/health/agent. Events, sessions, ACLs and faults are in consul-emulator-more.test.ts.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startConsulEmulator } from '../../fleet/consul/index.ts'
import type { ConsulEmulator } from '../../fleet/consul/index.ts'

let emu: ConsulEmulator

before(async () => {
  emu = await startConsulEmulator({
    nodes: [
      { name: 'consul-server-1', server: true },
      { name: 'web-1', services: [{ name: 'web', tags: ['v1', 'blue'], port: 80 }] },
      { name: 'web-2', services: [{ name: 'web', tags: ['v2'], port: 80 }] },
      { name: 'db-1', services: [{ name: 'db', tags: ['primary'] }], meta: { rack: 'r1' } }
    ]
  })
})
after(() => emu.stop())

const put = (path: string, body?: string | Buffer, headers?: Record<string, string>) =>
  fetch(emu.url + path, { method: 'PUT', body, headers })
const get = (path: string, base = emu.url) => fetch(base + path)
const index = (res: Response) => Number(res.headers.get('x-consul-index'))

describe('KV', () => {
  test('percent-encoded keys are decoded; DirEntry shape and order; base64 value', async () => {
    assert.equal(await (await put('/v1/kv/t1%2Fa', 'hello')).json(), true)
    const res = await get('/v1/kv/t1/a')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    const text = await res.text()
    const [entry] = JSON.parse(text)
    assert.deepEqual(Object.keys(entry), [
      'LockIndex',
      'Key',
      'Flags',
      'Value',
      'CreateIndex',
      'ModifyIndex'
    ])
    assert.equal(entry.Key, 't1/a')
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'hello')
    assert.equal(index(res), entry.ModifyIndex)
    assert.equal(res.headers.get('x-consul-knownleader'), 'true')
    assert.equal(res.headers.get('x-consul-lastcontact'), '0')
    assert.equal(res.headers.get('x-consul-default-acl-policy'), 'allow')
  })

  test('empty value is null; flags kept as uint64', async () => {
    await put('/v1/kv/t2/empty?flags=18446744073709551615')
    const text = await (await get('/v1/kv/t2/empty')).text()
    assert.match(text, /"Flags":18446744073709551615,"Value":null/)
  })

  test('missing key: 404 with empty body and X-Consul-Index >= 1', async () => {
    const res = await get('/v1/kv/t3/missing')
    assert.equal(res.status, 404)
    assert.equal(await res.text(), '')
    assert.ok(index(res) >= 1)
    const rec = await get('/v1/kv/t3/none/?recurse')
    assert.equal(rec.status, 404)
    assert.ok(index(rec) >= 1)
  })

  test('raw returns the bare value with Consul headers', async () => {
    await put('/v1/kv/t4', 's3://bucket/x.yml')
    const res = await get('/v1/kv/t4?raw')
    assert.equal(res.headers.get('content-type'), 'text/plain')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('content-security-policy'), 'sandbox')
    assert.equal(await res.text(), 's3://bucket/x.yml')
  })

  test('recurse sorts and indexes by max ModifyIndex; ?recurse=false still recurses', async () => {
    await put('/v1/kv/t5/b', '2')
    await put('/v1/kv/t5/a', '1')
    const res = await get('/v1/kv/t5/?recurse=false')
    const entries = (await res.json()) as Array<{ Key: string; ModifyIndex: number }>
    assert.deepEqual(
      entries.map((e) => e.Key),
      ['t5/a', 't5/b']
    )
    assert.equal(index(res), Math.max(...entries.map((e) => e.ModifyIndex)))
  })

  test('keys with separator; empty non-root prefix 404, root []', async () => {
    await put('/v1/kv/t6/x/1', '')
    await put('/v1/kv/t6/x/2', '')
    await put('/v1/kv/t6/y', '')
    assert.deepEqual(await (await get('/v1/kv/t6/?keys&separator=/')).json(), ['t6/x/', 't6/y'])
    assert.deepEqual(await (await get('/v1/kv/t6/?keys')).json(), ['t6/x/1', 't6/x/2', 't6/y'])
    assert.equal((await get('/v1/kv/nothing-here/?keys')).status, 404)
    const root = await get('/v1/kv/?keys')
    assert.equal(root.status, 200)
  })

  test('identical write does not bump ModifyIndex; a changed one does', async () => {
    await put('/v1/kv/t7', 'same')
    const first = emu.kv('t7')!.modifyIndex
    await put('/v1/kv/t7', 'same')
    assert.equal(emu.kv('t7')!.modifyIndex, first)
    await put('/v1/kv/t7', 'other')
    assert.ok(emu.kv('t7')!.modifyIndex > first)
  })

  test('cas=0 creates only if absent; cas=N must match', async () => {
    assert.equal(await (await put('/v1/kv/t8?cas=0', 'a')).json(), true)
    assert.equal(await (await put('/v1/kv/t8?cas=0', 'b')).json(), false)
    const mi = emu.kv('t8')!.modifyIndex
    assert.equal(await (await put(`/v1/kv/t8?cas=${mi + 100}`, 'c')).json(), false)
    assert.equal(await (await put(`/v1/kv/t8?cas=${mi}`, 'c')).json(), true)
    assert.equal(emu.kv('t8')!.value!.toString(), 'c')
  })

  test('errors: conflicting flags 400, bad cas 500 ParseUint text, missing key 400, 405', async () => {
    const conflict = await put('/v1/kv/t9?cas=1&acquire=x', 'v')
    assert.equal(conflict.status, 400)
    assert.equal(await conflict.text(), 'Conflicting flags: acquire=x&cas=1\n')
    const bad = await put('/v1/kv/t9?cas=abc', 'v')
    assert.equal(bad.status, 500)
    assert.equal(await bad.text(), 'strconv.ParseUint: parsing "abc": invalid syntax')
    const missing = await get('/v1/kv/')
    assert.equal(missing.status, 400)
    assert.equal(await missing.text(), 'Missing key name')
    const post = await fetch(emu.url + '/v1/kv/x', { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(await post.text(), 'method POST not allowed')
    const unknown = await get('/v1/nope')
    assert.equal(unknown.status, 404)
  })

  test('values over 512 KiB are refused with 413 and Consul message', async () => {
    const res = await put('/v1/kv/t10', Buffer.alloc(524289))
    assert.equal(res.status, 413)
    assert.equal(
      await res.text(),
      'Request body(524289 bytes) too large, max size: 524288 bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.'
    )
    assert.equal((await put('/v1/kv/t10', Buffer.alloc(524288))).status, 200)
  })

  test('delete, recurse delete, cas delete quirks', async () => {
    await put('/v1/kv/t11/a', '1')
    await put('/v1/kv/t11/b', '1')
    assert.equal(
      await (await fetch(emu.url + '/v1/kv/t11/a?cas=0', { method: 'DELETE' })).json(),
      false
    )
    // A CAS delete of a missing key answers true (state/kvs.go: return entry == nil).
    assert.equal(
      await (await fetch(emu.url + '/v1/kv/t11/zz?cas=5', { method: 'DELETE' })).json(),
      true
    )
    assert.equal(
      (await fetch(emu.url + '/v1/kv/t11/?recurse&cas=1', { method: 'DELETE' })).status,
      400
    )
    assert.equal(
      await (await fetch(emu.url + '/v1/kv/t11/?recurse', { method: 'DELETE' })).json(),
      true
    )
    assert.equal(emu.kv('t11/a'), undefined)
    assert.equal(emu.kv('t11/b'), undefined)
  })
})

describe('blocking queries', () => {
  test('blocks until the key changes, then returns the new index', async () => {
    await put('/v1/kv/b1', 'one')
    const i = index(await get('/v1/kv/b1'))
    const started = Date.now()
    const pending = get(`/v1/kv/b1?index=${i}&wait=5s`)
    setTimeout(() => void put('/v1/kv/b1', 'two'), 100)
    const res = await pending
    assert.ok(Date.now() - started < 3000)
    assert.ok(index(res) > i)
    const [entry] = (await res.json()) as Array<{ Value: string }>
    assert.equal(Buffer.from(entry!.Value, 'base64').toString(), 'two')
  })

  test('times out after wait (+ up to wait/16 jitter) with unchanged data', async () => {
    await put('/v1/kv/b2', 'x')
    const i = index(await get('/v1/kv/b2'))
    const started = Date.now()
    const res = await get(`/v1/kv/b2?index=${i}&wait=200ms`)
    const took = Date.now() - started
    // 200ms + at most 12.5ms jitter, plus scheduling slack.
    assert.ok(took >= 190 && took < 400, `took ${took}`)
    assert.equal(index(res), i)
  })

  test('a write elsewhere does not wake a single-key blocker', async () => {
    await put('/v1/kv/b3', 'x')
    const i = index(await get('/v1/kv/b3'))
    const started = Date.now()
    const pending = get(`/v1/kv/b3?index=${i}&wait=300ms`)
    setTimeout(() => void put('/v1/kv/b3-other', 'y'), 50)
    await pending
    assert.ok(Date.now() - started >= 280)
  })

  test('a delete wakes a recurse blocker via the tombstone index', async () => {
    await put('/v1/kv/b4/a', '1')
    await put('/v1/kv/b4/b', '1')
    const i = index(await get('/v1/kv/b4/?recurse'))
    const pending = get(`/v1/kv/b4/?recurse&index=${i}&wait=5s`)
    setTimeout(() => void fetch(emu.url + '/v1/kv/b4/a', { method: 'DELETE' }), 50)
    const res = await pending
    assert.ok(index(res) > i)
    assert.deepEqual(
      ((await res.json()) as Array<{ Key: string }>).map((e) => e.Key),
      ['b4/b']
    )
  })

  test('an index ahead of the server waits the full time and returns the lower index', async () => {
    await put('/v1/kv/b5', 'x')
    const started = Date.now()
    const res = await get('/v1/kv/b5?index=999999999&wait=150ms')
    assert.ok(Date.now() - started >= 140)
    assert.ok(index(res) < 999999999)
  })

  test('bad index / wait are 400 with Consul texts', async () => {
    const badIndex = await get('/v1/kv/b6?index=abc')
    assert.equal(badIndex.status, 400)
    assert.equal(await badIndex.text(), 'Invalid index')
    const badWait = await get('/v1/kv/b6?index=1&wait=10')
    assert.equal(badWait.status, 400)
    assert.equal(await badWait.text(), 'Invalid wait time')
  })

  test('catalog/nodes blocks until a node joins', async () => {
    const res0 = await get('/v1/catalog/nodes')
    const i = index(res0)
    const pending = get(`/v1/catalog/nodes?index=${i}&wait=5s`)
    setTimeout(() => void emu.addNode({ name: 'late-1' }), 50)
    const res = await pending
    assert.ok(index(res) > i)
    const names = ((await res.json()) as Array<{ Node: string }>).map((n) => n.Node)
    assert.ok(names.includes('late-1'))
    await emu.removeNode('late-1')
  })

  test('health/node blocks until its serfHealth changes', async () => {
    const i = index(await get('/v1/health/node/db-1'))
    const pending = get(`/v1/health/node/db-1?index=${i}&wait=5s`)
    setTimeout(() => emu.setHealth('db-1', 'critical'), 50)
    const res = await pending
    const [check] = (await res.json()) as Array<{ Status: string; Output: string }>
    assert.equal(check!.Status, 'critical')
    assert.equal(check!.Output, 'Agent not live or unreachable')
    emu.setHealth('db-1', 'passing')
  })
})

describe('txn', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const txn = (ops: unknown) => put('/v1/txn', JSON.stringify(ops))

  test('atomic set + get results; set result has no value', async () => {
    const res = await txn([
      { KV: { Verb: 'set', Key: 'x1/latest', Value: b64('url') } },
      { KV: { Verb: 'set', Key: 'x1/deploy-id', Value: b64('id-1') } },
      { KV: { Verb: 'get', Key: 'x1/latest' } }
    ])
    assert.equal(res.status, 200)
    const body = (await res.json()) as {
      Results: Array<{ KV: { Key: string; Value: string | null } }>
      Errors: null
    }
    assert.equal(body.Errors, null)
    assert.equal(body.Results.length, 3)
    assert.equal(body.Results[0]!.KV.Value, null)
    assert.equal(body.Results[2]!.KV.Value, b64('url'))
    assert.equal(emu.kv('x1/deploy-id')!.value!.toString(), 'id-1')
    assert.equal(emu.kv('x1/latest')!.modifyIndex, emu.kv('x1/deploy-id')!.modifyIndex)
  })

  test('a failing op rolls everything back with 409 and Errors', async () => {
    await put('/v1/kv/x2/a', 'old')
    const res = await txn([
      { KV: { Verb: 'set', Key: 'x2/a', Value: b64('new') } },
      { KV: { Verb: 'set', Key: 'x2/b', Value: b64('new') } },
      { KV: { Verb: 'check-not-exists', Key: 'x2/a' } },
      { KV: { Verb: 'cas', Key: 'x2/c', Value: b64('v'), Index: 42 } }
    ])
    assert.equal(res.status, 409)
    const body = (await res.json()) as {
      Results: null
      Errors: Array<{ OpIndex: number; What: string }>
    }
    assert.equal(body.Results, null)
    assert.deepEqual(body.Errors, [
      { OpIndex: 2, What: 'key "x2/a" exists' },
      { OpIndex: 3, What: 'failed to set key "x2/c", index is stale' }
    ])
    assert.equal(emu.kv('x2/a')!.value!.toString(), 'old')
    assert.equal(emu.kv('x2/b'), undefined)
  })

  test('check-index, delete-cas, get-tree, get-or-empty, delete-tree', async () => {
    await put('/v1/kv/x3/a', '1')
    const mi = emu.kv('x3/a')!.modifyIndex
    const ok = await txn([
      { KV: { Verb: 'check-index', Key: 'x3/a', Index: mi } },
      { KV: { Verb: 'get-or-empty', Key: 'x3/none' } },
      { KV: { Verb: 'get-tree', Key: 'x3/' } }
    ])
    assert.equal(ok.status, 200)
    const stale = await txn([{ KV: { Verb: 'delete-cas', Key: 'x3/a', Index: mi + 1 } }])
    assert.equal(stale.status, 409)
    assert.equal(
      ((await stale.json()) as { Errors: Array<{ What: string }> }).Errors[0]!.What,
      'failed to delete key "x3/a", index is stale'
    )
    assert.equal((await txn([{ KV: { Verb: 'delete-tree', Key: 'x3/' } }])).status, 200)
    assert.equal(emu.kv('x3/a'), undefined)
  })

  test('more than 128 operations is a 413', async () => {
    const ops = Array.from({ length: 129 }, (_, i) => ({ KV: { Verb: 'get', Key: `k${i}` } }))
    const res = await txn(ops)
    assert.equal(res.status, 413)
    assert.equal(await res.text(), 'Transaction contains too many operations (129 > 128)')
  })
})

describe('catalog, health, agent, status', () => {
  test('catalog/nodes lists every node with Consul fields', async () => {
    const nodes = (await (await get('/v1/catalog/nodes')).json()) as Array<Record<string, unknown>>
    assert.deepEqual(
      nodes.map((n) => n.Node),
      ['consul-server-1', 'db-1', 'web-1', 'web-2']
    )
    assert.deepEqual(Object.keys(nodes[0]!), [
      'ID',
      'Node',
      'Address',
      'Datacenter',
      'TaggedAddresses',
      'Meta',
      'CreateIndex',
      'ModifyIndex'
    ])
  })

  test('catalog/service with AND-ed tags; catalog/services; catalog/node', async () => {
    const web = (await (await get('/v1/catalog/service/web?tag=v1&tag=blue')).json()) as Array<{
      Node: string
    }>
    assert.deepEqual(
      web.map((s) => s.Node),
      ['web-1']
    )
    const services = (await (await get('/v1/catalog/services')).json()) as Record<string, string[]>
    assert.deepEqual(Object.keys(services), ['consul', 'db', 'web'])
    const node = (await (await get('/v1/catalog/node/web-2')).json()) as {
      Node: { Node: string }
      Services: Record<string, { Tags: string[] }>
    }
    assert.equal(node.Node.Node, 'web-2')
    assert.deepEqual(node.Services.web!.Tags, ['v2'])
    assert.equal(await (await get('/v1/catalog/node/ghost')).text(), 'null')
  })

  test('health: serfHealth check, state filter, passing filter, unknown node []', async () => {
    const [check] = (await (await get('/v1/health/node/web-1')).json()) as Array<
      Record<string, unknown>
    >
    assert.equal(check!.CheckID, 'serfHealth')
    assert.equal(check!.Name, 'Serf Health Status')
    assert.equal(check!.Output, 'Agent alive and reachable')
    assert.deepEqual(await (await get('/v1/health/node/ghost')).json(), [])
    emu.setHealth('web-2', 'critical')
    try {
      const critical = (await (await get('/v1/health/state/critical')).json()) as Array<{
        Node: string
      }>
      assert.deepEqual(
        critical.map((c) => c.Node),
        ['web-2']
      )
      const passing = (await (await get('/v1/health/service/web?passing')).json()) as Array<{
        Node: { Node: string }
      }>
      assert.deepEqual(
        passing.map((e) => e.Node.Node),
        ['web-1']
      )
      const all = (await (await get('/v1/health/service/web')).json()) as unknown[]
      assert.equal(all.length, 2)
      const members = (await (await get('/v1/agent/members')).json()) as Array<{
        Name: string
        Status: number
      }>
      assert.equal(members.find((m) => m.Name === 'web-2')!.Status, 4)
    } finally {
      emu.setHealth('web-2', 'passing')
    }
    assert.equal((await get('/v1/health/state/')).status, 400)
  })

  test('agent/self answers as the agent that was asked', async () => {
    const server = (await (await get('/v1/agent/self')).json()) as {
      Config: { NodeName: string; Server: boolean }
    }
    assert.deepEqual([server.Config.NodeName, server.Config.Server], ['consul-server-1', true])
    const web = (await (await get('/v1/agent/self', emu.agentUrl('web-1'))).json()) as {
      Config: { NodeName: string; Server: boolean }
    }
    assert.deepEqual([web.Config.NodeName, web.Config.Server], ['web-1', false])
    assert.notEqual(emu.agentUrl('web-1'), emu.url)
  })

  test('status/leader is a JSON string', async () => {
    const leader = await (await get('/v1/status/leader')).json()
    assert.match(String(leader), /^[\d.]+:8300$/)
  })
})
