// Blocking reads stay under fetch's response-header timeout. Node's fetch
// (undici) fails a response whose headers take over 300 s; Consul holds a
// blocking read for wait + up to wait/16 (rpc.go blockingQuery), so a 5-minute
// wait could last 318.75 s and each idle read of a long deploy failed and was
// retried. The test scales time down: fetch gets a real 2 s header timeout (an
// undici Agent as the global dispatcher: undici is only a transitive
// dependency, used here and not bundled), the client is told of it, and a
// Consul stand-in holds each read for the longest Consul may: wait + wait/16.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Agent } from 'undici'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { parseGoDuration } from '../src/shared/duration.ts'
import { awaitFleet } from '../src/consul/await.ts'
import {
  ConsulClient,
  FETCH_HEADERS_TIMEOUT_MS,
  blockingBudget,
  raftIndex
} from '../src/consul/client.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'

// undici runs its header timer on a half-second tick (it may fire that much
// early or late): the client keeps a margin of at least a second for it.
const HEADERS_TIMEOUT_MS = 2000
/** the wait awaitFleet asks for at most (5 minutes), scaled as the header timeout is */
const FIVE_MINUTES_SCALED = (5 * 60_000 * HEADERS_TIMEOUT_MS) / FETCH_HEADERS_TIMEOUT_MS

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1')
const globals = globalThis as unknown as Record<symbol, unknown>
const dispatcher = new Agent({
  headersTimeout: HEADERS_TIMEOUT_MS,
  bodyTimeout: HEADERS_TIMEOUT_MS
})
let previous: unknown
let stand: Server
let standUrl: string
/** each blocking read the stand-in answered: its wait and how long it held it */
const held: Array<{ wait: string; heldMs: number }> = []

before(async () => {
  previous = globals[GLOBAL_DISPATCHER]
  globals[GLOBAL_DISPATCHER] = dispatcher
  // Idle Consul: a blocking read is held for wait + wait/16, the longest
  // jitter, and answers the same index (nothing changed).
  stand = createServer((req, res) => {
    const params = new URL(req.url ?? '/', 'http://x').searchParams
    const wait = params.get('wait')
    const answer = () => {
      res.setHeader('X-Consul-Index', '7')
      res.setHeader('Content-Type', 'application/json')
      res.end(req.url?.startsWith('/v1/kv/') ? '[]' : '{}')
    }
    if (!params.get('index') || wait === null) return answer()
    const waitMs = parseGoDuration(wait)!
    const started = Date.now()
    const timer = setTimeout(
      () => {
        held.push({ wait, heldMs: Date.now() - started })
        answer()
      },
      waitMs + waitMs / 16
    )
    res.on('close', () => clearTimeout(timer))
  })
  stand.listen(0, '127.0.0.1')
  await new Promise((resolve) => stand.once('listening', resolve))
  standUrl = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`
})
after(async () => {
  globals[GLOBAL_DISPATCHER] = previous
  stand.closeAllConnections()
  stand.close()
  await dispatcher.close()
})

describe('the budget of a blocking read', () => {
  test("Node's defaults: a 5-minute wait asks 254 s, held at most 270 s, timed out by us at 285 s", () => {
    // before: a 5-minute wait, held up to 318.75 s, past the 300 s timeout
    assert.ok(5 * 60_000 * (17 / 16) > FETCH_HEADERS_TIMEOUT_MS)
    for (let requested = 1000; requested <= 10 * 60_000; requested += 1000) {
      const { waitMs, timeoutMs } = blockingBudget(requested)
      assert.ok(waitMs <= requested)
      assert.ok(waitMs + waitMs / 16 < timeoutMs, 'our timeout never cuts a legitimate hold')
      assert.ok(timeoutMs < FETCH_HEADERS_TIMEOUT_MS, `${requested}: under the header timeout`)
    }
    assert.deepEqual(blockingBudget(5 * 60_000), { waitMs: 254_117, timeoutMs: 285_000 })
    assert.deepEqual(blockingBudget(60_000), { waitMs: 60_000, timeoutMs: 78_750 })
    assert.equal(blockingBudget(undefined).waitMs, 254_117, "never Consul's 5-minute default")
  })
})

describe('with a 2 s header timeout (time scaled by 1/150)', () => {
  test('control: a read held past the header timeout fails (the short timeout is in effect)', async () => {
    await assert.rejects(
      fetch(`${standUrl}/v1/kv/r/?recurse&index=7&wait=${2 * HEADERS_TIMEOUT_MS}ms`),
      (error: Error & { cause?: { code?: string } }) => {
        assert.equal(error.cause?.code, 'UND_ERR_HEADERS_TIMEOUT')
        return true
      }
    )
  })

  test('kvGet and getJson asking 5 minutes are held their longest and answer, with no retry', async () => {
    const retries: string[] = []
    const c = new ConsulClient({
      addr: standUrl,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      onRetry: (what) => retries.push(what)
    })
    held.length = 0
    const read = await c.kvGet('r/', { recurse: true, index: 7n, waitMs: FIVE_MINUTES_SCALED })
    assert.equal(read.index, 7n)
    await c.getJson('health/state/critical', 'node:read', {
      index: 7n,
      waitMs: FIVE_MINUTES_SCALED
    })
    assert.deepEqual(retries, [])
    assert.equal(held.length, 2)
    for (const { wait, heldMs } of held) {
      assert.equal(wait, '941ms')
      assert.ok(heldMs < HEADERS_TIMEOUT_MS, `held ${heldMs} ms`)
    }
  })

  test('an idle awaitFleet against the emulator logs no retry, read after read', async () => {
    const emu = await startConsulEmulator({
      nodes: [{ name: 'web-1', services: [{ name: 'web' }] }]
    })
    try {
      const retries: string[] = []
      const consul = new ConsulClient({
        addr: emu.url,
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        onRetry: (what) => retries.push(what)
      })
      const baselineIndex = raftIndex(
        (await consul.kvGet('idle/results/', { recurse: true })).index
      )
      const fleet = new FleetState({
        deployId: 'idle-1',
        baselineIndex,
        maxFailures: 0,
        targets: ['web-1']
      })
      const firedAt = Date.now()
      await awaitFleet({
        consul,
        fleet,
        resultsPrefix: 'idle/results/',
        firedAt,
        deadline: firedAt + 3 * HEADERS_TIMEOUT_MS,
        baselineIndex
      })
      assert.deepEqual(retries, [], 'no read failed')
      assert.equal(fleet.list()[0]?.status, 'silent')
      const reads = emu.requests.filter((r) =>
        r.path.startsWith('/v1/kv/idle/results/?recurse&index=')
      )
      assert.ok(reads.length >= 5, `${reads.length} blocking results reads across the wait`)
      for (const r of reads) assert.match(r.path, /&wait=(941ms|\d+m?s)$/)
    } finally {
      await emu.stop()
    }
  })
})
