// The wait loop against the emulator: results land in KV as nodes would write
// them; the loop must notice, count only this deploy's, and stop at a verdict.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import {
  PACING,
  awaitFleet,
  catalogJoinerCheck,
  nextIndex,
  readSpacingMs,
  tokenBucket
} from '../src/consul/await.ts'
import { ConsulClient, raftIndex } from '../src/consul/client.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'

const ID = '20261122-021441-3f9c2ab-r9.1'
let emu: ConsulEmulator
let consul: ConsulClient
let prefixCounter = 0

before(async () => {
  emu = await startConsulEmulator({
    nodes: ['web-1', 'web-2', 'web-3'].map((name) => ({ name, services: [{ name: 'web' }] }))
  })
  consul = new ConsulClient({ addr: emu.url, backoffBaseMs: 10 })
})
after(() => emu.stop())

/** A fresh results/ prefix per test, its baseline, and a way to report as a node. */
async function setup(targets: string[], maxFailures = 0) {
  const prefix = `t${++prefixCounter}/results/`
  // An old result of this very deploy ID, written before the event: must not count.
  await consul.kvPut(
    `${prefix}web-1`,
    JSON.stringify({ deploy_id: ID, status: 'success', node: 'web-1', at: 1 })
  )
  const baseline = raftIndex((await consul.kvGet(prefix, { recurse: true })).index)
  const fleet = new FleetState({ deployId: ID, baselineIndex: baseline, maxFailures, targets })
  const report = (node: string, status: string, deployId = ID) =>
    consul.kvPut(
      `${prefix}${node}`,
      JSON.stringify({ deploy_id: deployId, status, node, at: Math.floor(Date.now() / 1000) })
    )
  return { prefix, baseline, fleet, report }
}

describe('awaitFleet', () => {
  test('converges as results land, ignoring the pre-event result and other deploys', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-1', 'web-2'])
    const firedAt = Date.now()
    setTimeout(() => void report('web-2', 'success'), 100)
    setTimeout(() => void report('web-1', 'success', 'some-other-deploy'), 200)
    setTimeout(() => void report('web-1', 'success'), 400)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 10_000,
      baselineIndex: baseline
    })
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
    assert.ok(Date.now() - firedAt < 3000, 'returned at the verdict, not the deadline')
    const web1 = fleet.list().find((s) => s.node === 'web-1')
    assert.ok((web1?.noticedMs ?? 0) >= 300, 'web-1 counted only for its second, right report')
  })

  test('at the deadline the silent node is named', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-1', 'web-2'])
    const firedAt = Date.now()
    setTimeout(() => void report('web-1', 'success'), 50)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 1200,
      baselineIndex: baseline
    })
    assert.deepEqual(fleet.verdict(), { done: true, ok: false, reason: 'timed_out' })
    assert.deepEqual(fleet.nodesByStatus('silent'), ['web-2'])
    assert.ok(Date.now() - firedAt < 4000)
  })

  test('a node whose serfHealth goes critical is lost, and the wait does not hang on it', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-2', 'web-3'], 1)
    const firedAt = Date.now()
    setTimeout(() => void report('web-2', 'success'), 50)
    setTimeout(() => emu.setHealth('web-3', 'critical'), 150)
    try {
      await awaitFleet({
        consul,
        fleet,
        resultsPrefix: prefix,
        firedAt,
        deadline: firedAt + 20_000,
        baselineIndex: baseline
      })
    } finally {
      emu.setHealth('web-3', 'passing')
    }
    assert.deepEqual(fleet.nodesByStatus('lost'), ['web-3'])
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'tolerated' })
    assert.ok(Date.now() - firedAt < 5000)
  })

  test('fails fast when failures exceed max-failures', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-1', 'web-2', 'web-3'])
    const firedAt = Date.now()
    setTimeout(() => void report('web-3', 'failure'), 50)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 20_000,
      baselineIndex: baseline
    })
    assert.deepEqual(fleet.verdict(), { done: true, ok: false, reason: 'failures' })
    assert.ok(Date.now() - firedAt < 3000)
  })

  test('survives No cluster leader right after the event', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-1'])
    emu.faults.inject({ kind: 'no-leader', count: 4, path: /\/v1\/kv\// })
    const firedAt = Date.now()
    setTimeout(() => void report('web-1', 'success'), 300)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 10_000,
      baselineIndex: baseline
    })
    emu.faults.clear()
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
  })

  test('cancellation stops the wait at once without a verdict', async () => {
    const { prefix, baseline, fleet } = await setup(['web-1'])
    const controller = new AbortController()
    const firedAt = Date.now()
    setTimeout(() => controller.abort(), 200)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 60_000,
      baselineIndex: baseline,
      signal: controller.signal
    })
    assert.ok(Date.now() - firedAt < 2000)
    assert.deepEqual(fleet.verdict(), { done: false })
  })

  test('many reports in a burst cost a bounded number of reads (token bucket)', async () => {
    const nodes = Array.from({ length: 200 }, (_, i) => `n-${i}`)
    const { prefix, baseline, fleet } = await setup(nodes)
    const before = emu.requests.filter((r) => r.path.includes(prefix)).length
    const firedAt = Date.now()
    // 200 nodes report over ~2 s.
    const writes = nodes.map(
      (node, i) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            void consul
              .kvPut(
                `${prefix}${node}`,
                JSON.stringify({ deploy_id: ID, status: 'success', node, at: 1 })
              )
              .then(() => resolve())
          }, i * 10)
        )
    )
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 20_000,
      baselineIndex: baseline
    })
    await Promise.all(writes)
    const reads =
      emu.requests.filter((r) => r.path.includes(prefix) && r.method === 'GET').length - before
    const seconds = (Date.now() - firedAt) / 1000
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
    assert.ok(reads <= 2 * seconds + 3, `${reads} reads in ${seconds.toFixed(1)} s`)
  })
})

describe('blocking-query rules', () => {
  test('index resets to 0 when it goes backwards, never below 1 otherwise', () => {
    assert.equal(nextIndex(100n, 120n), 120n)
    assert.equal(nextIndex(100n, 100n), 100n)
    assert.equal(nextIndex(100n, 50n), 0n)
    assert.equal(nextIndex(0n, 0n), 1n)
    // exact above 2^53: 18446744073709551557 is not rounded to …552000
    assert.equal(nextIndex(1n, 18446744073709551557n), 18446744073709551557n)
    assert.equal(nextIndex(18446744073709551557n, 18446744073709551556n), 0n)
  })

  test('token bucket: a burst of 2, then the rate', () => {
    let now = 0
    const bucket = tokenBucket(2, 2, () => now)
    assert.equal(bucket.take(), 0)
    assert.equal(bucket.take(), 0)
    assert.equal(bucket.take(), 500)
    now = 500
    assert.equal(bucket.take(), 500)
    now = 5000
    assert.equal(bucket.take(), 0)
  })
})

describe('read pacing', () => {
  test('a bucket can start with fewer tokens than it banks', () => {
    let now = 0
    const bucket = tokenBucket(2, 8, () => now, 2)
    assert.equal(bucket.take(), 0)
    assert.equal(bucket.take(), 0)
    assert.equal(bucket.take(), 500)
    now = 10_000 // idle: the bank fills to 8, no further
    for (let i = 0; i < 8; i++) assert.equal(bucket.take(), 0)
    assert.equal(bucket.take(), 500)
  })

  test('the plain budget until there is an arrival rate to go by', () => {
    assert.equal(readSpacingMs(2, { pending: 1000, reported: 0, reportingMs: 0 }), 500)
    assert.equal(readSpacingMs(2, { pending: 999, reported: 1, reportingMs: 5000 }), 500)
    assert.equal(readSpacingMs(2, { pending: 900, reported: 100, reportingMs: 200 }), 500)
  })

  test('slow while the verdict is far off, fast when the last reports are due', () => {
    // 100 reports a second, 800 to come: 8 s away
    assert.equal(readSpacingMs(2, { pending: 800, reported: 200, reportingMs: 2000 }), 1500)
    // 1 s away: inside the near window
    assert.equal(
      readSpacingMs(2, { pending: 100, reported: 900, reportingMs: 9000 }),
      500 * PACING.nearSpacing
    )
    // 2 s away: the next read lands as the near window opens, not 1.5 s later
    assert.equal(
      readSpacingMs(2, { pending: 200, reported: 800, reportingMs: 8000 }),
      2000 - PACING.nearMs
    )
    // scales with the configured rate
    assert.equal(readSpacingMs(1, { pending: 800, reported: 200, reportingMs: 2000 }), 3000)
  })

  test('1,000 reports over 10 s: at most 2 reads a second, the last noticed fast', () => {
    // a simulation of the loop's schedule (reads return at once while reports flow)
    let now = 0
    const bucket = tokenBucket(2, PACING.bankSeconds * 2, () => now, PACING.initialReads)
    const reportedBy = (t: number) => Math.min(1000, Math.floor(t / 10))
    let reads = 0
    let lastReadAt = -Infinity
    let seen = 0
    while (seen < 1000) {
      const spacing = readSpacingMs(2, {
        pending: 1000 - seen,
        reported: seen,
        reportingMs: seen > 0 ? now : 0
      })
      now = Math.max(now, lastReadAt + spacing)
      now += bucket.take()
      lastReadAt = now
      reads++
      seen = reportedBy(now)
    }
    assert.ok(reads <= 2 * (now / 1000), `${reads} reads in ${now} ms`)
    assert.ok(now - 10_000 <= 250, `last report noticed ${now - 10_000} ms late`)
  })
})

describe('late joiners', () => {
  test('a fresh result under a name the check refuses is ignored; an admitted joiner counts', async () => {
    const { prefix, baseline, fleet, report } = await setup(['web-1'])
    const asked: string[] = []
    const firedAt = Date.now()
    setTimeout(() => void report('ghost', 'failure'), 50)
    setTimeout(() => void report('late-1', 'success'), 100)
    setTimeout(() => void report('web-1', 'success'), 400)
    await awaitFleet({
      consul,
      fleet,
      resultsPrefix: prefix,
      firedAt,
      deadline: firedAt + 10_000,
      baselineIndex: baseline,
      admitJoiner: async (node) => {
        asked.push(node)
        return node === 'late-1'
      }
    })
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
    assert.deepEqual(
      fleet.list().map((s) => [s.node, s.status, s.joined ?? false]),
      [
        ['late-1', 'success', true],
        ['web-1', 'success', false]
      ]
    )
    assert.deepEqual([...new Set(asked)].sort(), ['ghost', 'late-1'])
    assert.equal(asked.filter((n) => n === 'ghost').length, 1, 'a refused name is looked up once')
  })

  test('the catalog check admits a live node matching the filters and nothing else', async () => {
    const check = catalogJoinerCheck(consul, { service: '^web$' })
    assert.equal(await check('web-2'), true)
    assert.equal(await check('no-such-node'), false)
    emu.setHealth('web-3', 'critical')
    try {
      assert.equal(await check('web-3'), false)
    } finally {
      emu.setHealth('web-3', 'passing')
    }
    assert.equal(await catalogJoinerCheck(consul, { service: '^db$' })('web-2'), false)
  })
})
