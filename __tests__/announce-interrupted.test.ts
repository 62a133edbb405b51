// The announce step interrupted at every point (issue #16): a Consul stand-in
// lets the txn or the fire take effect and then fails, loses the answer, or is
// cut short by a cancel, and a fake clock runs the waits. After the main step
// and, where it left work, the post step's settle: `latest` and `deploy-id` name
// the release of the last event fired, or hold exactly what they held before.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AnnounceConsul, AnnounceJournal, Clock } from '../src/consul/announce.ts'
import {
  announce,
  isSettled,
  moveLatestOnly,
  settle,
  WRITE_SETTLES_MS
} from '../src/consul/announce.ts'
import { readConfig } from '../src/config/config.ts'
import type { KvEntry, TxnKvOp } from '../src/consul/client.ts'
import { ConsulError } from '../src/consul/client.ts'
import { memoryLog } from '../src/shared/log.ts'

type Call = 'txn' | 'fire' | 'restore'
/**
 * refuse: Consul answers no (nothing applied); lost: applied, answer lost
 * (the client gave up retrying); lost-before: not applied, no answer; cancel:
 * applied, and the run is cancelled while it was in flight (it still answers);
 * cut: applied, and cut short after a cancel (the grace ran out); cut-before:
 * cut short before Consul applied it.
 */
type Fault = 'refuse' | 'lost' | 'lost-before' | 'cancel' | 'cut' | 'cut-before'

const PREFIX = 'stretcher/web'
const LATEST = `${PREFIX}/latest`
const DEPLOY_ID = `${PREFIX}/deploy-id`
const OLD_URL = 's3://releases/web/old.yml'
const NEW_URL = 's3://releases/web/new.yml'

class StandInConsul implements AnnounceConsul {
  kv = new Map<string, { value: string; modifyIndex: number }>()
  events: Array<{
    id: string
    name: string
    payload: string
    filters: Record<string, string | undefined>
  }> = []
  index = 10
  calls: string[] = []
  faults = new Map<Call, Fault>()
  readonly cancel: AbortController
  /** whether the agent is one of the event's targets (and so lists it) */
  readonly agentReceives: boolean
  constructor(cancel: AbortController, agentReceives: boolean) {
    this.cancel = cancel
    this.agentReceives = agentReceives
  }

  private fault(call: Call): Fault | undefined {
    const fault = this.faults.get(call)
    this.faults.delete(call)
    return fault
  }

  /** Apply `effect` unless the fault says it never reached Consul; then answer as the fault says. */
  private async through<T>(call: Call, effect: () => T): Promise<T> {
    this.calls.push(call)
    const fault = this.fault(call)
    if (fault === 'refuse') throw new ConsulError(`Consul answered ${call} with 413`, 413, false)
    if (fault === 'lost-before')
      throw new ConsulError(`Consul did not answer ${call}: ECONNRESET`, undefined, true)
    if (fault === 'cut-before') {
      this.cancel.abort(new Error('cancelled'))
      throw new DOMException('cut short', 'AbortError')
    }
    const result = effect()
    if (fault === 'lost')
      throw new ConsulError(`Consul did not answer ${call}: ECONNRESET`, undefined, true)
    if (fault === 'cancel') this.cancel.abort(new Error('cancelled'))
    if (fault === 'cut') {
      this.cancel.abort(new Error('cancelled'))
      throw new DOMException('cut short', 'AbortError')
    }
    return result
  }

  entry(key: string): KvEntry | undefined {
    const e = this.kv.get(key)
    return (
      e && {
        key,
        value: e.value,
        flags: 0,
        createIndex: 1,
        modifyIndex: e.modifyIndex,
        lockIndex: 0
      }
    )
  }

  async kvGet(key: string, opts: { recurse?: boolean; signal?: AbortSignal } = {}) {
    opts.signal?.throwIfAborted()
    const keys = opts.recurse ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : [key]
    const entries = keys.map((k) => this.entry(k)).filter((e) => e !== undefined)
    return { entries, index: BigInt(this.index) }
  }

  async txn(ops: TxnKvOp[]): Promise<KvEntry[]> {
    const restoring = ops.some((op) => op.Verb === 'check-index')
    return this.through(restoring ? 'restore' : 'txn', () => {
      for (const op of ops)
        if (op.Verb === 'check-index' && this.kv.get(op.Key)?.modifyIndex !== op.Index)
          throw new ConsulError('Consul rolled back the KV transaction', 409, false)
      this.index++
      const out: KvEntry[] = []
      for (const op of ops) {
        if (op.Verb === 'set') {
          this.kv.set(op.Key, { value: op.Value ?? '', modifyIndex: this.index })
          out.push(this.entry(op.Key) as KvEntry)
        } else if (op.Verb === 'delete') this.kv.delete(op.Key)
      }
      return out
    })
  }

  async fireEvent(name: string, payload: string, filters: Record<string, string | undefined>) {
    return this.through('fire', () => {
      const id = `ev-${this.events.length + 1}`
      this.events.push({ id, name, payload, filters })
      return { id }
    })
  }

  async eventIds(name: string, payload: string) {
    if (!this.agentReceives) return []
    return this.events.filter((e) => e.name === name && e.payload === payload).map((e) => e.id)
  }

  async newEventId(name: string, payload: string, seenBefore: string[]) {
    return (await this.eventIds(name, payload)).find((id) => !seenBefore.includes(id))
  }

  async agentNodeName() {
    return this.agentReceives ? 'web-1' : 'ci-runner'
  }
}

function fakeClock(): Clock & { slept: number } {
  let now = Date.parse('2026-11-30T12:00:00Z')
  const clock = {
    slept: 0,
    now: () => now,
    sleep: async (ms: number) => {
      clock.slept += ms
      now += ms
    }
  }
  return clock
}

const config = readConfig(
  (name) =>
    ({
      's3-url': 's3://releases/web',
      'deploy-id': 'new',
      'service-filter': '^web$'
    })[name as string] ?? '',
  { GITHUB_REPOSITORY: 'acme/web', AWS_REGION: 'us-east-1' }
)

interface Scenario {
  faults?: Partial<Record<Call, Fault>>
  agentReceives?: boolean
  /** latest and deploy-id before the run; undefined: none yet */
  previous?: boolean
  /** cancel once the reads before the txn are done */
  cancelBeforeTxn?: boolean
  /** latest and deploy-id alone, no event (an empty last switch wave) */
  pointerOnly?: boolean
}

async function run(scenario: Scenario) {
  const cancel = new AbortController()
  const consul = new StandInConsul(cancel, scenario.agentReceives ?? true)
  if (scenario.previous ?? true) {
    consul.kv.set(LATEST, { value: OLD_URL, modifyIndex: 5 })
    consul.kv.set(DEPLOY_ID, { value: 'old', modifyIndex: 5 })
  }
  for (const [call, fault] of Object.entries(scenario.faults ?? {}))
    consul.faults.set(call as Call, fault)
  const clock = fakeClock()
  const log = memoryLog()
  const journals: AnnounceJournal[] = []
  if (scenario.cancelBeforeTxn) {
    const read = consul.kvGet.bind(consul)
    consul.kvGet = async (key, opts) => {
      const answer = await read(key, opts)
      if (key.endsWith('/results/')) cancel.abort(new Error('cancelled'))
      return answer
    }
  }
  let outcome: 'announced' | 'threw' = 'announced'
  let error: unknown
  try {
    if (scenario.pointerOnly)
      await moveLatestOnly(consul, config, { manifestUrl: NEW_URL }, log, {
        signal: cancel.signal,
        onJournal: (j) => journals.push(j),
        clock
      })
    else
      await announce(consul, config, { manifestUrl: NEW_URL }, log, {
        signal: cancel.signal,
        targets: ['web-1', 'web-2'],
        onJournal: (j) => journals.push(j),
        clock
      })
  } catch (e) {
    outcome = 'threw'
    error = e
  }
  const afterMain = snapshot(consul)
  // The post step, as the runner runs it after the main step: settles what was left.
  const left = journals.at(-1)
  let postOutcome
  if (left && !isSettled(left))
    postOutcome = await settle(consul, structuredClone(left), log, {
      deadline: clock.now() + 30_000,
      clock
    })
  return { consul, outcome, error, journals, left, afterMain, postOutcome, log, clock }
}

function snapshot(consul: StandInConsul) {
  return {
    latest: consul.kv.get(LATEST)?.value,
    deployId: consul.kv.get(DEPLOY_ID)?.value,
    lastEvent: consul.events.at(-1)?.payload
  }
}

/** The rule of issue #16. */
function assertRule(
  state: { latest?: string; deployId?: string; lastEvent?: string },
  previous: boolean
) {
  if (state.lastEvent === NEW_URL) {
    assert.equal(state.latest, NEW_URL, 'the event went out: latest names its release')
    assert.equal(state.deployId, 'new')
  } else {
    assert.equal(state.lastEvent, undefined, 'no other event was fired')
    assert.equal(state.latest, previous ? OLD_URL : undefined, 'no event: latest as before')
    assert.equal(state.deployId, previous ? 'old' : undefined)
  }
}

describe('announce interrupted', () => {
  test('uninterrupted: latest and deploy-id move, one event, the journal ends fired', async () => {
    const r = await run({})
    assert.equal(r.outcome, 'announced')
    assert.deepEqual(r.afterMain, { latest: NEW_URL, deployId: 'new', lastEvent: NEW_URL })
    assert.deepEqual(
      r.journals.map((j) => j.phase),
      ['writing', 'written', 'firing', 'fired']
    )
    assert.equal(r.left?.agentReceives, true)
  })

  test('cancelled before the txn: nothing written, no event, nothing left', async () => {
    const r = await run({ cancelBeforeTxn: true })
    assert.equal(r.outcome, 'threw')
    assert.deepEqual(r.consul.calls, [])
    assert.deepEqual(r.afterMain, { latest: OLD_URL, deployId: 'old', lastEvent: undefined })
    assert.equal(r.left, undefined)
  })

  test('txn refused: nothing to undo, the refusal is the error', async () => {
    const r = await run({ faults: { txn: 'refuse' } })
    assert.equal(r.outcome, 'threw')
    assert.match(String(r.error), /answered txn with 413/)
    assertRule(r.afterMain, true)
    assert.equal(r.left?.phase, 'settled')
    assert.deepEqual(r.consul.calls, ['txn'])
  })

  for (const previous of [true, false]) {
    test(`txn applied, its answer lost: the write is waited out, read, and undone (${previous ? 'an earlier release' : 'first release'})`, async () => {
      const r = await run({ faults: { txn: 'lost' }, previous })
      assert.equal(r.outcome, 'threw')
      assertRule(r.afterMain, previous)
      assert.equal(r.afterMain.lastEvent, undefined)
      assert.ok(r.clock.slept >= WRITE_SETTLES_MS, 'waited for the lost write to settle')
      assert.equal(r.left?.phase, 'settled')
    })
  }

  test('txn never reached Consul, answer lost: read shows nothing written', async () => {
    const r = await run({ faults: { txn: 'lost-before' } })
    assertRule(r.afterMain, true)
    assert.deepEqual(r.consul.calls, ['txn'])
    assert.equal(r.left?.phase, 'settled')
  })

  test('cancel while the txn is in flight: it answers, then latest is put back before any event', async () => {
    const r = await run({ faults: { txn: 'cancel' } })
    assert.equal(r.outcome, 'threw')
    assertRule(r.afterMain, true)
    assert.deepEqual(r.consul.calls, ['txn', 'restore'])
    assert.ok(r.log.lines.includes(`restored ${LATEST} to ${OLD_URL}`))
  })

  test('txn cut short after a cancel: the main step leaves it (and the lock) to the post step, which undoes it', async () => {
    const r = await run({ faults: { txn: 'cut' } })
    assert.equal(r.outcome, 'threw')
    // Right after the main step latest names a release no event carried: the post step's to fix.
    assert.equal(r.afterMain.latest, NEW_URL)
    assert.equal(r.left?.phase, 'writing')
    assert.ok(r.log.lines.some((l) => /left to the post step/.test(l)))
    assert.deepEqual(r.postOutcome, { fired: false, settled: true })
    assertRule(snapshot(r.consul), true)
  })

  test('txn cut short before Consul applied it: the post step finds nothing to undo', async () => {
    const r = await run({ faults: { txn: 'cut-before' } })
    assert.equal(r.left?.phase, 'writing')
    assert.deepEqual(r.postOutcome, { fired: false, settled: true })
    assertRule(snapshot(r.consul), true)
    assert.deepEqual(r.consul.calls, ['txn'])
  })

  test('event refused (payload too large): latest put back, the error says how to shorten it', async () => {
    const r = await run({ faults: { fire: 'refuse' } })
    assert.match(
      String(r.error),
      /refused the deploy event: the event payload \(the manifest URL\) is 25 bytes/
    )
    assertRule(r.afterMain, true)
    assert.equal(r.left?.phase, 'settled')
  })

  test('event refused on a first release: latest and deploy-id deleted again', async () => {
    const r = await run({ faults: { fire: 'refuse' }, previous: false })
    assertRule(r.afterMain, false)
    assert.equal(r.consul.kv.size, 0)
  })

  test('fire applied, its answer lost, the agent lists it: taken as fired, nothing restored', async () => {
    const r = await run({ faults: { fire: 'lost' } })
    assert.equal(r.outcome, 'announced')
    assert.deepEqual(r.afterMain, { latest: NEW_URL, deployId: 'new', lastEvent: NEW_URL })
    assert.equal(r.consul.events.length, 1, 'not fired twice')
    assert.equal(r.left?.phase, 'fired')
  })

  test('fire lost before Consul, the agent lists no such event: latest put back', async () => {
    const r = await run({ faults: { fire: 'lost-before' } })
    assert.equal(r.outcome, 'threw')
    assertRule(r.afterMain, true)
    assert.equal(r.consul.events.length, 0)
  })

  test('fire lost, the agent is not a target (its list cannot tell): fired again, latest kept', async () => {
    for (const fault of ['lost', 'lost-before'] as const) {
      const r = await run({ faults: { fire: fault }, agentReceives: false })
      assert.equal(r.outcome, 'announced', fault)
      assertRule(r.afterMain, true)
      assert.equal(r.afterMain.lastEvent, NEW_URL, fault)
      assert.ok(r.log.lines.some((l) => /sent it again/.test(l)))
    }
  })

  test('cancel while the fire is in flight: it answers, the event went out, latest stays (issue #16 case 2)', async () => {
    const r = await run({ faults: { fire: 'cancel' } })
    assert.equal(r.outcome, 'announced', 'the pipeline reports the cancel; the event is out')
    assert.deepEqual(r.afterMain, { latest: NEW_URL, deployId: 'new', lastEvent: NEW_URL })
    assert.equal(r.left?.phase, 'fired')
    assert.ok(!r.consul.calls.includes('restore'))
  })

  for (const [fault, receives] of [
    ['cut', true],
    ['cut', false],
    ['cut-before', true],
    ['cut-before', false]
  ] as const) {
    test(`fire cut short after a cancel (${fault === 'cut' ? 'it went out' : 'it did not'}; agent ${receives ? 'lists it' : 'is not a target'}): the post step finds out`, async () => {
      const r = await run({ faults: { fire: fault }, agentReceives: receives })
      assert.equal(r.outcome, 'threw')
      assert.equal(
        r.left?.phase,
        'firing',
        'unknown until the write settles: left to the post step'
      )
      assert.ok(r.postOutcome?.settled)
      const end = snapshot(r.consul)
      assertRule(end, true)
      if (fault === 'cut' && receives) {
        assert.equal(r.consul.events.length, 1, 'found in the list, not fired again')
        assert.ok(r.postOutcome?.fired)
      }
      if (fault === 'cut-before' && receives) {
        assert.equal(r.consul.events.length, 0, 'not in the list: put back')
        assert.equal(end.latest, OLD_URL)
      }
      if (!receives) assert.equal(end.lastEvent, NEW_URL, 'cannot be told: sent again')
    })
  }

  test('restore refused because another run moved latest since: left to that run', async () => {
    const cancel = new AbortController()
    const consul = new StandInConsul(cancel, true)
    consul.kv.set(LATEST, { value: OLD_URL, modifyIndex: 5 })
    const journal: AnnounceJournal = {
      kvPrefix: PREFIX,
      deployId: 'new',
      manifestUrl: NEW_URL,
      eventName: 'deploy',
      filters: {},
      phase: 'written',
      before: [{ key: LATEST, value: OLD_URL }],
      written: [{ key: LATEST, modifyIndex: 7 }],
      agentReceives: true
    }
    consul.kv.set(LATEST, { value: 's3://releases/web/later.yml', modifyIndex: 9 })
    const log = memoryLog()
    const outcome = await settle(consul, journal, log, { deadline: Date.now() + 1000 })
    assert.deepEqual(outcome, { fired: false, settled: true })
    assert.equal(consul.kv.get(LATEST)?.value, 's3://releases/web/later.yml')
    assert.ok(log.lines.includes(`${LATEST} was changed by another run since: left as it is`))
  })

  test('cancelled after the txn and the restore is lost too: the post step restores', async () => {
    const r = await run({ faults: { txn: 'cancel', restore: 'lost-before' } })
    assert.equal(r.afterMain.latest, NEW_URL, 'not restored by the main step')
    assert.equal(r.left?.phase, 'written')
    assert.deepEqual(r.postOutcome, { fired: false, settled: true })
    assertRule(snapshot(r.consul), true)
  })
})

describe('announce a wave before the last (movesLatest: false)', () => {
  test('fires with the wave filter only; latest, deploy-id and history stay; no journal', async () => {
    const cancel = new AbortController()
    const consul = new StandInConsul(cancel, true)
    consul.kv.set(LATEST, { value: OLD_URL, modifyIndex: 5 })
    consul.kv.set(DEPLOY_ID, { value: 'old', modifyIndex: 5 })
    const journals: AnnounceJournal[] = []
    const log = memoryLog()
    const result = await announce(consul, config, { manifestUrl: NEW_URL }, log, {
      signal: cancel.signal,
      filters: { node: '^(web\\-1)$' },
      movesLatest: false,
      onJournal: (j) => journals.push(j)
    })
    assert.equal(result.eventId, 'ev-1')
    assert.deepEqual(
      consul.events.map((e) => e.filters),
      [{ node: '^(web\\-1)$' }]
    )
    assert.deepEqual(snapshot(consul), { latest: OLD_URL, deployId: 'old', lastEvent: NEW_URL })
    assert.deepEqual(consul.calls, ['fire'], 'no txn')
    assert.deepEqual(journals, [])
    assert.ok(log.lines.some((l) => l.includes('with node=^(web\\-1)$')))
  })

  test('a refused wave event fails the step and writes nothing', async () => {
    const cancel = new AbortController()
    const consul = new StandInConsul(cancel, true)
    consul.faults.set('fire', 'refuse')
    await assert.rejects(
      announce(consul, config, { manifestUrl: NEW_URL }, memoryLog(), {
        movesLatest: false,
        filters: { node: '^(web\\-1)$' }
      }),
      /answered fire with 413/
    )
    assert.equal(consul.kv.size, 0)
    assert.equal(consul.events.length, 0)
  })
})

describe('latest moved alone (an empty last switch wave): the write is its end', () => {
  const moved = { latest: NEW_URL, deployId: 'new', lastEvent: undefined }
  const before = { latest: OLD_URL, deployId: 'old', lastEvent: undefined }

  test('uninterrupted: latest and deploy-id move in one txn, no event, the journal ends fired', async () => {
    const r = await run({ pointerOnly: true })
    assert.equal(r.outcome, 'announced')
    assert.deepEqual(r.afterMain, moved)
    assert.deepEqual(r.consul.calls, ['txn'])
    assert.deepEqual(
      r.journals.map((j) => j.phase),
      ['writing', 'written', 'fired']
    )
    assert.equal(r.left?.pointerOnly, true)
  })

  test('txn applied, its answer lost: read back, it took effect, so it stands', async () => {
    const r = await run({ pointerOnly: true, faults: { txn: 'lost' } })
    assert.equal(r.outcome, 'announced', String(r.error))
    assert.deepEqual(r.afterMain, moved)
    assert.ok(r.clock.slept >= WRITE_SETTLES_MS, 'waited for the lost write to settle')
    assert.equal(r.left?.phase, 'fired')
  })

  test('txn refused: nothing moved, the refusal is the error', async () => {
    const r = await run({ pointerOnly: true, faults: { txn: 'refuse' } })
    assert.equal(r.outcome, 'threw')
    assert.deepEqual(r.afterMain, before)
    assert.equal(r.left?.phase, 'settled')
  })

  test('cancel while the txn is in flight: it answers, and latest stays moved (nothing else to do)', async () => {
    const r = await run({ pointerOnly: true, faults: { txn: 'cancel' } })
    assert.equal(r.outcome, 'announced', String(r.error))
    assert.deepEqual(r.afterMain, moved)
    assert.deepEqual(r.consul.calls, ['txn'])
    assert.equal(r.left?.phase, 'fired')
  })

  test('txn cut short after a cancel: the post step finds it took effect and says latest moved', async () => {
    const r = await run({ pointerOnly: true, faults: { txn: 'cut' } })
    assert.equal(r.outcome, 'threw')
    assert.equal(r.left?.phase, 'writing')
    assert.deepEqual(r.postOutcome, { fired: true, settled: true })
    assert.deepEqual(snapshot(r.consul), moved)
  })

  test('txn cut short before Consul applied it: the post step finds nothing moved', async () => {
    const r = await run({ pointerOnly: true, faults: { txn: 'cut-before' } })
    assert.equal(r.left?.phase, 'writing')
    assert.deepEqual(r.postOutcome, { fired: false, settled: true })
    assert.deepEqual(snapshot(r.consul), before)
  })
})

test('the journal names the datacenter it was written to, so the post step settles it there', async () => {
  const cancel = new AbortController()
  const consul = new StandInConsul(cancel, true)
  const journals: AnnounceJournal[] = []
  await announce(consul, config, { manifestUrl: NEW_URL }, memoryLog(), {
    datacenter: 'dc2',
    onJournal: (j) => journals.push(j)
  })
  assert.deepEqual(
    journals.map((j) => [j.phase, j.datacenter]),
    [
      ['writing', 'dc2'],
      ['written', 'dc2'],
      ['firing', 'dc2'],
      ['fired', 'dc2']
    ]
  )
})

test("a wave's later events read nothing again: they count from the first event's baseline", async () => {
  const cancel = new AbortController()
  const consul = new StandInConsul(cancel, true)
  const reads: string[] = []
  const kvGet = consul.kvGet.bind(consul)
  const eventIds = consul.eventIds.bind(consul)
  consul.kvGet = async (key, opts) => (reads.push(`kv ${key}`), kvGet(key, opts))
  consul.eventIds = async (name, payload) => (reads.push('events'), eventIds(name, payload))
  const log = memoryLog()
  const first = await announce(consul, config, { manifestUrl: NEW_URL }, log, {
    movesLatest: false,
    filters: { node: '^(web-1)$' }
  })
  assert.deepEqual(reads, [`kv ${PREFIX}/results/`, 'events'])
  assert.deepEqual(first.seenAfter, ['ev-1'])
  reads.length = 0
  consul.index += 50 // results written meanwhile must still count from the first baseline
  const second = await announce(consul, config, { manifestUrl: NEW_URL }, log, {
    movesLatest: false,
    filters: { node: '^(web-2)$' },
    continuing: { baselineIndex: first.baselineIndex, seenAfter: first.seenAfter }
  })
  assert.deepEqual(reads, [], 'no read before the second fire')
  assert.equal(second.baselineIndex, first.baselineIndex)
  assert.deepEqual(second.seenAfter, ['ev-1', 'ev-2'])
  assert.deepEqual(
    consul.events.map((e) => e.filters),
    [{ node: '^(web-1)$' }, { node: '^(web-2)$' }]
  )
})
