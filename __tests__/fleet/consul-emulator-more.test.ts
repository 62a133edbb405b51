// The Consul emulator: events, sessions and locks, ACLs, fault switches, agent lifecycle.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startConsulEmulator } from '../../fleet/consul/index.ts'
import type { ConsulEmulator, ConsulEmulatorOptions } from '../../fleet/consul/index.ts'
import { uuidToUint64 } from '../../fleet/consul/events.ts'

const fleet: ConsulEmulatorOptions['nodes'] = [
  { name: 'consul-server-1', server: true },
  { name: 'web-1', services: [{ name: 'web', tags: ['v1'] }] },
  { name: 'web-2', services: [{ name: 'web', tags: ['v2'] }] },
  { name: 'db-1', services: [{ name: 'db' }] }
]

async function withEmulator(
  opts: Partial<ConsulEmulatorOptions>,
  fn: (emu: ConsulEmulator) => Promise<void>
): Promise<void> {
  const emu = await startConsulEmulator({ nodes: fleet, ...opts })
  try {
    await fn(emu)
  } finally {
    await emu.stop()
  }
}

const fire = (
  emu: ConsulEmulator,
  query: string,
  body?: string,
  headers?: Record<string, string>
) => fetch(`${emu.url}/v1/event/fire/deploy${query}`, { method: 'PUT', body, headers })
const names = (emu: ConsulEmulator) =>
  ['consul-server-1', 'web-1', 'web-2', 'db-1'].filter((n) => emu.events(n).length > 0)

describe('events', () => {
  test('fire response shape; delivery to every live agent without filters', async () => {
    await withEmulator({}, async (emu) => {
      const res = await fire(emu, '', 'abc')
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.deepEqual(Object.keys(body), [
        'ID',
        'Name',
        'Payload',
        'NodeFilter',
        'ServiceFilter',
        'TagFilter',
        'Version',
        'LTime'
      ])
      assert.equal(body.Payload, Buffer.from('abc').toString('base64'))
      assert.equal(body.LTime, 0)
      assert.deepEqual(names(emu), ['consul-server-1', 'web-1', 'web-2', 'db-1'])
    })
  })

  test('service/tag/node filters apply at the receivers; dead agents miss events', async () => {
    await withEmulator({}, async (emu) => {
      await fire(emu, '?service=web&tag=v2', 'x')
      assert.deepEqual(names(emu), ['web-2'])
      emu.setHealth('web-1', 'critical')
      await fire(emu, '?service=^web$', 'y')
      assert.deepEqual(emu.events('web-1'), [])
      assert.equal(emu.events('web-2').length, 2)
      await fire(emu, '?node=^db-', 'z')
      assert.equal(emu.events('db-1')[0]!.payload, 'z')
    })
  })

  test('filter errors: tag without service, bad regexp, missing name (texts and statuses)', async () => {
    await withEmulator({}, async (emu) => {
      const tagOnly = await fire(emu, '?tag=v1', 'x')
      assert.equal(tagOnly.status, 500)
      assert.equal(await tagOnly.text(), 'Cannot provide tag filter without service filter')
      const bad = await fire(emu, '?node=(', 'x')
      assert.equal(bad.status, 500)
      assert.match(await bad.text(), /^Invalid node filter: /)
      const noName = await fetch(`${emu.url}/v1/event/fire/`, { method: 'PUT' })
      assert.equal(noName.status, 400)
      assert.equal(await noName.text(), 'Missing name')
    })
  })

  test("serf's 512-byte limit gives Consul's 500 text", async () => {
    await withEmulator({}, async (emu) => {
      assert.equal((await fire(emu, '', 'u'.repeat(380))).status, 200)
      const res = await fire(emu, '', 'u'.repeat(410))
      assert.equal(res.status, 500)
      assert.equal(
        await res.text(),
        '1 error occurred:\n\t* error broadcasting event to segment "": encoded user event exceeds configured limit of 512 bytes after encoding\n\n'
      )
      const huge = await fire(emu, '', 'u'.repeat(450))
      assert.match(
        await huge.text(),
        /: user event exceeds configured limit of 512 bytes before encoding\n\n$/
      )
    })
  })

  test('fireBodyLimit (Consul 1.22+) refuses larger bodies with 413', async () => {
    await withEmulator({ fireBodyLimit: 100 }, async (emu) => {
      assert.equal((await fire(emu, '', 'u'.repeat(100))).status, 200)
      const res = await fire(emu, '', 'u'.repeat(101))
      assert.equal(res.status, 413)
      assert.match(await res.text(), /too large/)
    })
  })

  test('event/list per agent: name filter, oldest first, uuid index as decimal string, 1 when empty', async () => {
    await withEmulator({}, async (emu) => {
      const web = emu.agentUrl('web-1')
      const empty = await fetch(`${web}/v1/event/list?name=deploy`)
      assert.equal(empty.headers.get('x-consul-index'), '1')
      assert.deepEqual(await empty.json(), [])
      await fire(emu, '', 'first')
      await fetch(`${emu.url}/v1/event/fire/other`, { method: 'PUT', body: 'o' })
      await fire(emu, '', 'second')
      const res = await fetch(`${web}/v1/event/list?name=deploy`)
      const events = (await res.json()) as Array<{ ID: string; Payload: string; LTime: number }>
      assert.deepEqual(
        events.map((e) => Buffer.from(e.Payload, 'base64').toString()),
        ['first', 'second']
      )
      assert.equal(res.headers.get('x-consul-index'), uuidToUint64(events[1]!.ID).toString())
      assert.ok(events[1]!.LTime > events[0]!.LTime)
    })
  })

  test('uuidToUint64 matches Consul for a known UUID', () => {
    // lower 0x1234567890abcdef ^ upper 0x1111222233334444
    assert.equal(
      uuidToUint64('12345678-90ab-cdef-1111-222233334444'),
      0x1234567890abcdefn ^ 0x1111222233334444n
    )
  })

  test('event/list blocks while the index equals ?index, wakes on a new event', async () => {
    await withEmulator({}, async (emu) => {
      const web = emu.agentUrl('web-1')
      const idx = (await fetch(`${web}/v1/event/list?name=deploy`)).headers.get('x-consul-index')
      const started = Date.now()
      const timedOut = await fetch(`${web}/v1/event/list?name=deploy&index=${idx}&wait=150ms`)
      assert.ok(Date.now() - started >= 140)
      assert.equal(timedOut.headers.get('x-consul-index'), idx)
      const pending = fetch(`${web}/v1/event/list?name=deploy&index=${idx}&wait=5s`)
      setTimeout(() => void fire(emu, '', 'p'), 50)
      const res = await pending
      assert.notEqual(res.headers.get('x-consul-index'), idx)
      // A different index (not just a lower one) returns at once.
      const now = Date.now()
      await fetch(`${web}/v1/event/list?name=deploy&index=12345&wait=5s`)
      assert.ok(Date.now() - now < 1000)
    })
  })

  test('chunked body (no Content-Length) is dropped', async () => {
    await withEmulator({}, async (emu) => {
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('chunked'))
          controller.close()
        }
      })
      const res = await fetch(`${emu.url}/v1/event/fire/deploy`, {
        method: 'PUT',
        body: stream,
        duplex: 'half'
      } as RequestInit)
      assert.equal(((await res.json()) as { Payload: unknown }).Payload, null)
    })
  })

  test('restartAgent empties the buffer; a late node has no old events; ring keeps 256', async () => {
    await withEmulator({}, async (emu) => {
      await fire(emu, '', 'a')
      emu.restartAgent('web-1')
      assert.deepEqual(emu.events('web-1'), [])
      const res = await fetch(`${emu.agentUrl('web-1')}/v1/event/list`)
      assert.equal(res.headers.get('x-consul-index'), '1')
      const lateUrl = await emu.addNode({ name: 'late', services: [{ name: 'web' }] })
      assert.deepEqual(await (await fetch(`${lateUrl}/v1/event/list`)).json(), [])
      for (let i = 0; i < 260; i += 1) await fire(emu, '?node=^late$', String(i))
      const events = emu.events('late')
      assert.equal(events.length, 256)
      assert.equal(events[0]!.payload, '4')
    })
  })
})

describe('sessions and locks', () => {
  const createSession = async (emu: ConsulEmulator, body: unknown, base = emu.url) => {
    const res = await fetch(`${base}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify(body)
    })
    return { status: res.status, text: await res.text() }
  }

  test('acquire/release with LockIndex, value replaced by the body', async () => {
    await withEmulator({}, async (emu) => {
      const { text } = await createSession(emu, { TTL: '30s', Name: 'deploy' })
      const sid = (JSON.parse(text) as { ID: string }).ID
      const acquire = (s: string, body = 'holder') =>
        fetch(`${emu.url}/v1/kv/app/lock?acquire=${s}`, { method: 'PUT', body })
      assert.equal(await (await acquire(sid)).json(), true)
      let [entry] = (await (await fetch(`${emu.url}/v1/kv/app/lock`)).json()) as Array<{
        LockIndex: number
        Session?: string
      }>
      assert.deepEqual([entry!.LockIndex, entry!.Session], [1, sid])
      assert.equal(await (await acquire(sid)).json(), true) // re-acquire while held
      assert.equal(emu.kv('app/lock')!.session, sid)
      const other = (JSON.parse((await createSession(emu, {})).text) as { ID: string }).ID
      assert.equal(await (await acquire(other)).json(), false)
      assert.equal(
        await (await fetch(`${emu.url}/v1/kv/app/lock?release=${other}`, { method: 'PUT' })).json(),
        false
      )
      assert.equal(
        await (await fetch(`${emu.url}/v1/kv/app/lock?release=${sid}`, { method: 'PUT' })).json(),
        true
      )
      ;[entry] = (await (await fetch(`${emu.url}/v1/kv/app/lock`)).json()) as Array<{
        LockIndex: number
        Session?: string
      }>
      assert.deepEqual([entry!.LockIndex, entry!.Session], [1, undefined])
      assert.equal(await (await acquire(other)).json(), true)
      assert.equal(emu.kv('app/lock')!.value!.toString(), 'holder')
      ;[entry] = (await (await fetch(`${emu.url}/v1/kv/app/lock`)).json()) as Array<{
        LockIndex: number
      }>
      assert.equal(entry!.LockIndex, 2)
      const unknown = await fetch(`${emu.url}/v1/kv/app/x?acquire=nope`, { method: 'PUT' })
      assert.equal(unknown.status, 500)
      assert.equal(await unknown.text(), 'invalid session "nope"')
    })
  })

  test('TTL bounds, renew 404, info [], default node is the asked agent', async () => {
    await withEmulator({}, async (emu) => {
      const short = await createSession(emu, { TTL: '5s' })
      assert.equal(short.status, 500)
      assert.equal(short.text, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]")
      const renew = await fetch(`${emu.url}/v1/session/renew/ghost`, { method: 'PUT' })
      assert.equal(renew.status, 404)
      assert.equal(await renew.text(), "Session id 'ghost' not found")
      assert.deepEqual(await (await fetch(`${emu.url}/v1/session/info/ghost`)).json(), [])
      const sid = (
        JSON.parse((await createSession(emu, { LockDelay: 5 }, emu.agentUrl('web-1'))).text) as {
          ID: string
        }
      ).ID
      const [info] = (await (await fetch(`${emu.url}/v1/session/info/${sid}`)).json()) as Array<
        Record<string, unknown>
      >
      assert.equal(info!.Node, 'web-1')
      assert.equal(info!.LockDelay, 5e9) // < 1000 means seconds
      assert.deepEqual(info!.NodeChecks, ['serfHealth'])
      assert.equal(info!.Behavior, 'release')
      const bad = await fetch(`${emu.url}/v1/session/create`, { method: 'PUT', body: '{nope' })
      assert.equal(bad.status, 400)
      assert.match(await bad.text(), /^Request decode failed: /)
    })
  })

  test('node going critical invalidates its sessions (release) and starts lock delay', async () => {
    await withEmulator({}, async (emu) => {
      const sid = (
        JSON.parse((await createSession(emu, { LockDelay: '1s' }, emu.agentUrl('web-1'))).text) as {
          ID: string
        }
      ).ID
      await fetch(`${emu.url}/v1/kv/l/1?acquire=${sid}`, { method: 'PUT', body: 'x' })
      const before = emu.kv('l/1')!.modifyIndex
      emu.setHealth('web-1', 'critical')
      assert.equal(emu.kv('l/1')!.session, undefined)
      assert.ok(emu.kv('l/1')!.modifyIndex > before)
      assert.deepEqual(await (await fetch(`${emu.url}/v1/session/info/${sid}`)).json(), [])
      const refused = await createSession(emu, {}, emu.agentUrl('web-1'))
      assert.deepEqual(refused, { status: 500, text: "Check 'serfHealth' is in critical state" })
      const other = (
        JSON.parse((await createSession(emu, { LockDelay: 0 })).text) as { ID: string }
      ).ID
      assert.equal(
        await (await fetch(`${emu.url}/v1/kv/l/1?acquire=${other}`, { method: 'PUT' })).json(),
        false
      )
    })
  })

  test('behavior delete removes held keys on destroy; TTL lapses at TTL×2', async (t) => {
    await withEmulator({}, async (emu) => {
      const sid = (
        JSON.parse((await createSession(emu, { Behavior: 'delete', LockDelay: 0 })).text) as {
          ID: string
        }
      ).ID
      await fetch(`${emu.url}/v1/kv/d/1?acquire=${sid}`, { method: 'PUT', body: 'x' })
      assert.equal(
        await (await fetch(`${emu.url}/v1/session/destroy/${sid}`, { method: 'PUT' })).json(),
        true
      )
      assert.equal(emu.kv('d/1'), undefined)
      t.mock.timers.enable({ apis: ['setTimeout'] })
      const ttl = (JSON.parse((await createSession(emu, { TTL: '10s' })).text) as { ID: string }).ID
      t.mock.timers.tick(19_000)
      assert.equal(
        ((await (await fetch(`${emu.url}/v1/session/info/${ttl}`)).json()) as unknown[]).length,
        1
      )
      t.mock.timers.tick(1_001)
      assert.equal(
        ((await (await fetch(`${emu.url}/v1/session/info/${ttl}`)).json()) as unknown[]).length,
        0
      )
      t.mock.timers.reset()
    })
  })
})

describe('ACLs', () => {
  const acl: ConsulEmulatorOptions['acl'] = {
    defaultPolicy: 'deny',
    tokens: [
      {
        secretId: 'action-token',
        accessorId: 'aaaaaaaa-0000-0000-0000-000000000001',
        rules: {
          key_prefix: { 'stretcher/app/': 'write', 'stretcher/app/secret': 'deny' },
          event_prefix: { deploy: 'write' },
          node_prefix: { 'web-': 'read' },
          agent_prefix: { '': 'read' }
        }
      }
    ]
  }

  test('token sources, 403 texts for unknown token and denial (anonymous variant)', async () => {
    await withEmulator({ acl }, async (emu) => {
      const ok = await fetch(`${emu.url}/v1/kv/stretcher/app/latest`, {
        method: 'PUT',
        body: 'u',
        headers: { 'X-Consul-Token': 'action-token' }
      })
      assert.equal(ok.status, 200)
      assert.equal(ok.headers.get('x-consul-default-acl-policy'), 'deny')
      assert.equal(
        (
          await fetch(`${emu.url}/v1/kv/stretcher/app/latest`, {
            headers: { Authorization: 'bearer action-token' }
          })
        ).status,
        200
      )
      assert.equal(
        (await fetch(`${emu.url}/v1/kv/stretcher/app/latest?token=action-token`)).status,
        200
      )
      const unknown = await fetch(`${emu.url}/v1/kv/x`, { headers: { 'X-Consul-Token': 'who' } })
      assert.equal(unknown.status, 403)
      assert.equal(await unknown.text(), 'ACL not found')
      const denied = await fetch(`${emu.url}/v1/kv/other`, {
        method: 'PUT',
        body: 'x',
        headers: { 'X-Consul-Token': 'action-token' }
      })
      assert.equal(denied.status, 403)
      assert.equal(
        await denied.text(),
        `Permission denied: token with AccessorID 'aaaaaaaa-0000-0000-0000-000000000001' lacks permission 'key:write' on "other"`
      )
      const longest = await fetch(`${emu.url}/v1/kv/stretcher/app/secret`, {
        method: 'PUT',
        body: 'x',
        headers: { 'X-Consul-Token': 'action-token' }
      })
      assert.equal(longest.status, 403)
      const anon = await fetch(`${emu.url}/v1/kv/x`, { method: 'PUT', body: 'x' })
      assert.equal(
        await anon.text(),
        `Permission denied: token with AccessorID '00000000-0000-0000-0000-000000000002' lacks permission 'key:write' on "x". The anonymous token is used implicitly when a request does not specify a token.`
      )
    })
  })

  test('lists filter instead of 403 and flag it; event fire denial is plain "Permission denied"', async () => {
    await withEmulator({ acl }, async (emu) => {
      const h = { 'X-Consul-Token': 'action-token' }
      const nodes = await fetch(`${emu.url}/v1/catalog/nodes`, { headers: h })
      assert.equal(nodes.status, 200)
      assert.equal(nodes.headers.get('x-consul-results-filtered-by-acls'), 'true')
      assert.deepEqual(
        ((await nodes.json()) as Array<{ Node: string }>).map((n) => n.Node),
        ['web-1', 'web-2']
      )
      const denied = await fetch(`${emu.url}/v1/event/fire/other`, { method: 'PUT', headers: h })
      assert.equal(denied.status, 403)
      assert.equal(await denied.text(), 'Permission denied')
      assert.equal(
        (await fetch(`${emu.url}/v1/event/fire/deploy`, { method: 'PUT', headers: h, body: 'x' }))
          .status,
        200
      )
      const listAnon = await fetch(`${emu.agentUrl('web-1')}/v1/event/list`)
      assert.deepEqual(await listAnon.json(), [])
      assert.equal(listAnon.headers.get('x-consul-results-filtered-by-acls'), null)
      const self = await fetch(`${emu.agentUrl('web-1')}/v1/agent/self`, { headers: h })
      assert.equal(self.status, 200)
    })
  })
})

describe('faults', () => {
  test('no-leader, rate-limit, latency, drop: next N requests matching a path', async () => {
    await withEmulator({}, async (emu) => {
      emu.faults.inject({ kind: 'no-leader', count: 1, path: /^\/v1\/kv\// })
      const noLeader = await fetch(`${emu.url}/v1/kv/a`)
      assert.equal(noLeader.status, 500)
      assert.equal(await noLeader.text(), 'No cluster leader')
      assert.equal((await fetch(`${emu.url}/v1/kv/a`)).status, 404)
      emu.faults.inject({ kind: 'no-leader', count: 1, viaClient: true })
      assert.equal(
        await (await fetch(`${emu.url}/v1/status/leader`)).text(),
        'rpc error making call: No cluster leader'
      )
      emu.faults.inject({ kind: 'rate-limit', count: 2 })
      const limited = await fetch(`${emu.url}/v1/kv/a`)
      assert.equal(limited.status, 429)
      assert.equal(await limited.text(), '')
      assert.equal((await fetch(`${emu.url}/v1/kv/a`)).status, 429)
      assert.equal((await fetch(`${emu.url}/v1/kv/a`)).status, 404)
      emu.faults.inject({ kind: 'latency', latencyMs: 150, count: 1 })
      const started = Date.now()
      await fetch(`${emu.url}/v1/kv/a`)
      assert.ok(Date.now() - started >= 140)
      emu.faults.inject({ kind: 'drop', count: 1, path: 'event/fire' })
      await assert.rejects(fetch(`${emu.url}/v1/event/fire/deploy`, { method: 'PUT' }))
      assert.equal(emu.events('web-1').length, 0)
      emu.faults.inject({ kind: 'rate-limit' })
      emu.faults.clear()
      assert.equal((await fetch(`${emu.url}/v1/kv/a`)).status, 404)
      const statuses = emu.requests.map((r) => r.status)
      assert.deepEqual(statuses.slice(0, 4), [500, 404, 500, 429])
      assert.ok(statuses.includes(0))
    })
  })

  test('removeNode deregisters and closes its listener; stop leaves nothing open', async () => {
    const emu = await startConsulEmulator({ nodes: fleet })
    const webUrl = emu.agentUrl('web-2')
    await emu.removeNode('web-2')
    const nodes = (await (await fetch(`${emu.url}/v1/catalog/nodes`)).json()) as Array<{
      Node: string
    }>
    assert.ok(!nodes.some((n) => n.Node === 'web-2'))
    await assert.rejects(fetch(`${webUrl}/v1/agent/self`))
    const pending = fetch(`${emu.url}/v1/kv/x?index=1&wait=10m`).catch(() => 'closed')
    await new Promise((r) => setTimeout(r, 20))
    await emu.stop()
    assert.equal(await pending, 'closed')
    await assert.rejects(fetch(`${emu.url}/v1/status/leader`))
  })

  test('lazy listeners beyond eagerListenerLimit', async () => {
    await withEmulator({ eagerListenerLimit: 1 }, async (emu) => {
      assert.throws(() => emu.agentUrl('web-1'), /openAgent/)
      const url = await emu.openAgent('web-1')
      assert.equal(emu.agentUrl('web-1'), url)
      const self = (await (await fetch(`${url}/v1/agent/self`)).json()) as {
        Config: { NodeName: string }
      }
      assert.equal(self.Config.NodeName, 'web-1')
    })
  })
})
