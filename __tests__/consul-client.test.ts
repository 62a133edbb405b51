// The action's Consul client against the emulator, faults injected: what is
// retried, what fails at once, and that the token never shows.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { ConsulClient, ConsulError } from '../src/consul/client.ts'

const TOKEN = 'action-secret-token-93e1'
let emu: ConsulEmulator
let secured: ConsulEmulator

before(async () => {
  emu = await startConsulEmulator({ nodes: [{ name: 'web-1', services: [{ name: 'web' }] }] })
  secured = await startConsulEmulator({
    nodes: [{ name: 'web-1' }],
    acl: {
      defaultPolicy: 'deny',
      tokens: [
        {
          secretId: TOKEN,
          accessorId: 'acc-1',
          rules: { key_prefix: { 'stretcher/web/': 'read' } }
        }
      ]
    }
  })
})
afterEach(() => emu.faults.clear())
after(async () => {
  await emu.stop()
  await secured.stop()
})

const client = (over: Partial<ConstructorParameters<typeof ConsulClient>[0]> = {}) =>
  new ConsulClient({ addr: emu.url, backoffBaseMs: 10, retryForMs: 5000, ...over })

describe('ConsulClient', () => {
  test('a missing key reads as no entries, with the index Consul still sends', async () => {
    const read = await client().kvGet('stretcher/none', { recurse: true })
    assert.deepEqual(read.entries, [])
    assert.ok(read.index >= 1)
  })

  test('txn sets several keys atomically; values decode as UTF-8', async () => {
    const c = client()
    await c.txn(
      [
        { Verb: 'set', Key: 'app/latest', Value: 's3://b/app/1.yml' },
        { Verb: 'set', Key: 'app/deploy-id', Value: 'ïd-1' }
      ],
      'key:write on "app/"'
    )
    const read = await c.kvGet('app/', { recurse: true })
    assert.deepEqual(
      read.entries.map((e) => [e.key, e.value]),
      [
        ['app/deploy-id', 'ïd-1'],
        ['app/latest', 's3://b/app/1.yml']
      ]
    )
  })

  test('changedAfter: a recursive read returns only the entries written after that index', async () => {
    const c = client()
    await c.txn(
      [
        { Verb: 'set', Key: 'since/a', Value: 'one' },
        { Verb: 'set', Key: 'since/c', Value: 'unchanged' }
      ],
      'key:write'
    )
    const first = await c.kvGet('since/', { recurse: true })
    await c.txn(
      [
        { Verb: 'set', Key: 'since/b', Value: 'two' },
        { Verb: 'set', Key: 'since/a', Value: 'one again' }
      ],
      'key:write'
    )
    const later = await c.kvGet('since/', { recurse: true, changedAfter: first.index })
    assert.deepEqual(
      later.entries.map((e) => [e.key, e.value]),
      [
        ['since/a', 'one again'],
        ['since/b', 'two']
      ]
    )
    assert.ok(later.entries.every((e) => BigInt(e.modifyIndex) > first.index))
    // Index 0 (a reset) and no index read everything.
    for (const changedAfter of [0n, undefined])
      assert.equal((await c.kvGet('since/', { recurse: true, changedAfter })).entries.length, 3)
    const none = await c.kvGet('since/', { recurse: true, changedAfter: later.index })
    assert.deepEqual(none.entries, [])
  })

  test('kvKeys lists key names under a prefix; a missing prefix is an empty list', async () => {
    const c = client()
    assert.deepEqual(await c.kvKeys('keys-test/history/'), [])
    await c.kvPut('keys-test/history/b', '1')
    await c.kvPut('keys-test/history/a', '1')
    assert.deepEqual(await c.kvKeys('keys-test/history/'), [
      'keys-test/history/a',
      'keys-test/history/b'
    ])
  })

  test('a rolled-back txn changes nothing and says why', async () => {
    const c = client()
    await c.txn([{ Verb: 'set', Key: 'cas/k', Value: 'v1' }], 'x')
    await assert.rejects(
      c.txn(
        [
          { Verb: 'set', Key: 'cas/other', Value: 'x' },
          { Verb: 'check-not-exists', Key: 'cas/k' }
        ],
        'x'
      ),
      /rolled back the KV transaction: cas\/k/
    )
    assert.equal(emu.kv('cas/other'), undefined)
  })

  for (const [name, spec] of [
    ['No cluster leader', { kind: 'no-leader' as const, count: 3 }],
    [
      'rpc error making call: No cluster leader',
      { kind: 'no-leader' as const, viaClient: true, count: 2 }
    ],
    ['429 with an empty body', { kind: 'rate-limit' as const, count: 3 }],
    ['a dropped connection', { kind: 'drop' as const, count: 2 }]
  ] as const) {
    test(`retries through ${name}`, async () => {
      const retries: string[] = []
      emu.faults.inject({ ...spec, path: /catalog\/nodes/ })
      const { value } = await client({ onRetry: (what) => retries.push(what) }).getJson<
        Array<{ Node: string }>
      >('catalog/nodes', 'node:read')
      assert.ok(value.some((n) => n.Node === 'web-1'))
      assert.equal(retries.length, spec.count)
    })
  }

  test('gives up on a lasting fault at the retry deadline, naming the call', async () => {
    emu.faults.inject({ kind: 'no-leader', path: /catalog\/nodes/ })
    const started = Date.now()
    await assert.rejects(
      client({ retryForMs: 300 }).getJson('catalog/nodes', 'node:read'),
      /Consul answered GET \/v1\/catalog\/nodes with 500: No cluster leader/
    )
    assert.ok(Date.now() - started < 2000)
  })

  test('an unreachable address fails naming it', async () => {
    // A port that was just free (fetch itself refuses "bad ports" such as 9).
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    server.close()
    await once(server, 'close')
    const c = new ConsulClient({
      addr: `http://127.0.0.1:${port}`,
      retryForMs: 100,
      backoffBaseMs: 10
    })
    await assert.rejects(
      c.getJson('catalog/nodes', 'node:read'),
      new RegExp(
        `^ConsulError: Consul at http://127\\.0\\.0\\.1:${port} did not answer GET /v1/catalog/nodes: ECONNREFUSED$`
      )
    )
  })

  test('403 fails at once, naming the permission the token lacks, never the token', async () => {
    const retries: string[] = []
    const c = new ConsulClient({ addr: secured.url, token: TOKEN, onRetry: (w) => retries.push(w) })
    await assert.rejects(
      c.kvPut('stretcher/web/latest', 'x', { permission: 'key:write on "stretcher/web/"' }),
      (e: Error) => {
        assert.ok(e instanceof ConsulError)
        assert.equal(e.status, 403)
        assert.equal(
          e.message,
          'Consul refused PUT /v1/kv/stretcher/web/latest: the token lacks key:write on "stretcher/web/"'
        )
        assert.ok(!e.message.includes(TOKEN))
        return true
      }
    )
    assert.deepEqual(retries, [])
    // The token is sent: it may read what its rules allow.
    await c.kvGet('stretcher/web/', { recurse: true })
  })

  test('an unknown token is called unknown', async () => {
    const c = new ConsulClient({ addr: secured.url, token: 'not-a-token' })
    await assert.rejects(
      c.kvGet('stretcher/web/x'),
      /the token is unknown to Consul \(ACL not found\)/
    )
  })

  test('a blocking read returns when a result lands, not at the end of its wait', async () => {
    const c = client()
    const first = await c.kvGet('block/', { recurse: true })
    const started = Date.now()
    setTimeout(() => void c.kvPut('block/web-1', 'done'), 150)
    const second = await c.kvGet('block/', { recurse: true, index: first.index, waitMs: 10_000 })
    assert.ok(Date.now() - started < 3000)
    assert.equal(second.entries[0]?.value, 'done')
    assert.ok(second.index > first.index)
  })

  test('an aborted blocking read stops at once', async () => {
    const c = client()
    const first = await c.kvGet('abort/', { recurse: true })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('cancelled')), 100)
    const started = Date.now()
    await assert.rejects(
      c.kvGet('abort/', {
        recurse: true,
        index: first.index,
        waitMs: 30_000,
        signal: controller.signal
      }),
      /cancelled/
    )
    assert.ok(Date.now() - started < 2000)
  })

  test('the event payload goes verbatim, filters as query parameters', async () => {
    const { id } = await client().fireEvent('deploy', 's3://releases/web/1.yml', {
      service: '^web$'
    })
    assert.match(id, /^[0-9a-f-]{36}$/)
    const events = emu.events('web-1')
    assert.equal(events.at(-1)?.payload, 's3://releases/web/1.yml')
  })

  test('an event list that does not answer holds the fire back ~2 s at most, then the event is fired', async () => {
    emu.faults.inject({ kind: 'latency', latencyMs: 10_000, path: /^\/v1\/event\/list/ })
    const started = Date.now()
    const { id } = await client().fireEvent('deploy', 's3://releases/web/slow-list.yml', {})
    assert.ok(Date.now() - started < 4_000, `${Date.now() - started} ms`)
    assert.equal(emu.events('web-1').at(-1)?.id, id)
  })

  test('a fire refused before Consul handled it is fired again, even when the same payload was fired before (rollback)', async () => {
    const payload = 's3://releases/web/rollback-target.yml'
    const count = () => emu.events('web-1').filter((e) => e.payload === payload).length
    await client().fireEvent('deploy', payload, {})
    emu.faults.inject({ kind: 'error', status: 500, count: 1, path: /^\/v1\/event\/fire\// })
    const { id } = await client().fireEvent('deploy', payload, {})
    assert.equal(count(), 2, 'the earlier event with this payload is not taken for this one')
    assert.equal(emu.events('web-1').at(-1)?.id, id)
  })
})
