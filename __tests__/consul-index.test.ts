// X-Consul-Index is a uint64, kept exact at the HTTP boundary. An event list's
// index is a hash of the last event's ID (agent/event_endpoint.go uuidToUint64),
// usually above 2^53: read as a Number, 18446744073709551557 would go back as
// ?index=18446744073709552000, which Consul's list (blocking only while the
// index equals ?index exactly) answers at once: a loop on it spins. Research §0.3.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { uuidToUint64 } from '../fleet/consul/events.ts'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { nextIndex } from '../src/consul/await.ts'
import { ConsulClient, parseIndex, raftIndex } from '../src/consul/client.ts'

const BIG = '18446744073709551557'

describe('an index above 2^53 survives the round trip', () => {
  test('as a Number it would not (the bug this guards against)', () => {
    assert.equal(String(Number(BIG)), '18446744073709552000')
    assert.equal(parseIndex(BIG).toString(), BIG)
    assert.equal(parseIndex(null), 0n)
    assert.equal(parseIndex('12abc'), 0n)
  })

  test('?index= sent back equals the X-Consul-Index received (kvGet and getJson)', async () => {
    const asked: Array<string | null> = []
    const server = createServer((req, res) => {
      asked.push(new URL(req.url ?? '/', 'http://x').searchParams.get('index'))
      res.setHeader('X-Consul-Index', BIG)
      res.setHeader('Content-Type', 'application/json')
      res.end(req.url?.startsWith('/v1/kv/') ? '[]' : '{}')
    })
    server.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const c = new ConsulClient({
        addr: `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      })
      const first = await c.kvGet('big/', { recurse: true })
      assert.equal(first.index, BigInt(BIG))
      await c.kvGet('big/', { recurse: true, index: first.index, waitMs: 1000 })
      const json = await c.getJson('event/list', 'event:read', { query: { name: 'deploy' } })
      assert.equal(json.index, BigInt(BIG))
      await c.getJson('event/list', 'event:read', { index: json.index, waitMs: 1000 })
      assert.deepEqual(asked, [null, BIG, null, BIG])
    } finally {
      server.close()
      server.closeAllConnections()
    }
  })

  test('the blocking-query index rules keep it exact', () => {
    assert.equal(nextIndex(1n, BigInt(BIG)), BigInt(BIG))
    assert.equal(nextIndex(BigInt(BIG), BigInt(BIG)), BigInt(BIG))
  })

  test('a KV (Raft) index converts to a number only when exact', () => {
    assert.equal(raftIndex(9_007_199_254_740_991n), Number.MAX_SAFE_INTEGER)
    assert.throws(() => raftIndex(BigInt(BIG)), /above 2\^53/)
  })
})

describe("a blocking loop on the emulator's event list (a random uint64 index, as Consul's)", () => {
  let emu: ConsulEmulator
  let consul: ConsulClient
  before(async () => {
    emu = await startConsulEmulator({ nodes: [{ name: 'web-1', server: true }] })
    consul = new ConsulClient({ addr: emu.url, backoffBaseMs: 10 })
  })
  after(() => emu.stop())

  type Listed = Array<{ ID: string; Payload: string | null }>
  const list = (opts: { index?: bigint; waitMs?: number; signal?: AbortSignal } = {}) =>
    consul.getJson<Listed>('event/list', 'event:read', { query: { name: 'deploy' }, ...opts })

  test('neither spins while idle nor misses an event', async () => {
    // Fire until the last event's hash index is above 2^53 (15 in 16 are).
    let n = 0
    let start: bigint
    do {
      await consul.fireEvent('deploy', `before-${n++}`, {})
      start = (await list()).index
    } while (start <= 2n ** 53n)
    const lastId = emu.events('web-1').at(-1)!.id

    const controller = new AbortController()
    const received: string[] = []
    const sent: bigint[] = []
    let reads = 0
    let wake: () => void = () => {}
    // consul watch's loop: block on the last index; a different index is news.
    const loop = (async () => {
      let index = start
      while (!controller.signal.aborted) {
        reads++
        sent.push(index)
        const read = await list({ index, waitMs: 30_000, signal: controller.signal }).catch(
          (error: unknown) => {
            if (controller.signal.aborted) return undefined
            throw error
          }
        )
        if (!read) return
        if (read.index !== index) {
          const last = read.value.at(-1)!
          received.push(Buffer.from(last.Payload ?? '', 'base64').toString())
          assert.equal(read.index, uuidToUint64(last.ID))
          wake()
        }
        index = read.index
      }
    })()
    const next = () => new Promise<void>((resolve) => (wake = resolve))

    await new Promise((resolve) => setTimeout(resolve, 600))
    assert.equal(reads, 1, 'one read parked on the big index, no spinning')
    for (const payload of ['after-1', 'after-2', 'after-3']) {
      const got = next()
      await consul.fireEvent('deploy', payload, {})
      await got
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.deepEqual(received, ['after-1', 'after-2', 'after-3'], 'every event seen, once')
    assert.equal(reads, 4, 'one read per event, then parked again')
    // every ?index= the loop sent is one Consul answered with, exactly
    const blocking = emu.requests
      .map((r) => new URL(r.path, 'http://x').searchParams.get('index'))
      .filter((i): i is string => i !== null)
    assert.deepEqual(
      blocking,
      sent.slice(0, 3).map((i) => i.toString())
    )
    controller.abort()
    await loop
    assert.equal(start, uuidToUint64(lastId), 'the header was read exactly')
  })
})
