// The staged rollout plan (contract 8, 9, 10): input parsing, node order, RE2
// node filters, and planRollout's invariants as properties.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { RE2JS } from 're2js'
import { InputError } from '../src/shared/errors.ts'
import {
  DEFAULT_NODE_FILTER_BYTES,
  escapeRe2,
  nodeFilterBudget,
  nodeFilterFor,
  nodeFilters,
  nodeGroups
} from '../src/consul/node-filter.ts'
import { isPartial, orderTargets, planRollout } from '../src/rollout/plan/plan.ts'
import { labelledSteps } from '../src/rollout/kinds.ts'
import { canaryNodes } from '../src/consul/targets.ts'
import { compareNatural } from '../src/shared/natural-order.ts'
import { gateFailures, gateWatches } from '../src/consul/health-checks.ts'
import { parseBakeTime, parseWaves, waveCounts } from '../src/config/waves.ts'
import type { EventFilters as Filters } from '../src/shared/filters.ts'
import type { PlanInput, Step } from '../src/rollout/plan/plan.ts'
import type { WaveSpec } from '../src/config/waves.ts'

/** Go's regexp.MatchString: an unanchored search, RE2 semantics (agent/user_event.go). */
function matches(filter: string, name: string): boolean {
  return RE2JS.compile(filter).test(name)
}

/** The one-line InputError naming `input`, with `fragment` in its message. */
function inputError(input: string, fragment: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof InputError, String(err))
    assert.equal(err.input, input)
    assert.ok(err.message.startsWith(`${input} `), err.message)
    assert.ok(!err.message.includes('\n'), err.message)
    assert.match(err.message, fragment)
    return true
  }
}

describe('parseWaves', () => {
  test('N and P%, comma- or newline-separated, kinds mixed, blanks skipped', () => {
    assert.deepEqual(parseWaves('1, 25%, 100%'), [
      { kind: 'count', count: 1 },
      { kind: 'percent', percent: 25 },
      { kind: 'percent', percent: 100 }
    ])
    assert.deepEqual(parseWaves('2\n50 %\r\n10\n'), [
      { kind: 'count', count: 2 },
      { kind: 'percent', percent: 50 },
      { kind: 'count', count: 10 }
    ])
    assert.deepEqual(parseWaves('1,,3,'), [
      { kind: 'count', count: 1 },
      { kind: 'count', count: 3 }
    ])
  })

  test('empty input: no staged rollout', () => {
    assert.equal(parseWaves(''), undefined)
    assert.equal(parseWaves(' \n , '), undefined)
  })

  test('percent out of 1–100', () => {
    assert.throws(() => parseWaves('0%'), inputError('waves', /"0%" is out of range.*1% to 100%/))
    assert.throws(() => parseWaves('1, 101%'), inputError('waves', /"101%" is out of range/))
  })

  test('a node count below 1', () => {
    assert.throws(
      () => parseWaves('0, 100%'),
      inputError('waves', /"0" is out of range.*1 or more/)
    )
  })

  test('neither N nor P%: fractions, signs, words, units', () => {
    for (const bad of ['12.5%', '-1', '+2', 'half', '1e3', '50%%', '%', '3 nodes', '1;2']) {
      assert.throws(
        () => parseWaves(`1, ${bad}`),
        inputError('waves', /is neither N \(nodes\) nor P% \(percent of the targets\)/),
        bad
      )
    }
  })

  test('the message quotes the whole input on one line', () => {
    assert.throws(
      () => parseWaves('1\nx\n100%'),
      inputError('waves', /entry "x" .*\(got "1 x 100%"\)/)
    )
  })
})

describe('parseBakeTime', () => {
  test('Go durations; empty is 0s', () => {
    assert.equal(parseBakeTime(''), 0)
    assert.equal(parseBakeTime('0s'), 0)
    assert.equal(parseBakeTime('0'), 0)
    assert.equal(parseBakeTime('90s'), 90_000)
    assert.equal(parseBakeTime(' 1h30m '), 5_400_000)
  })

  test('not a Go duration', () => {
    for (const bad of ['10', '5 m', '2d', 'soon']) {
      assert.throws(() => parseBakeTime(bad), inputError('bake-time', /must be a Go duration/), bad)
    }
  })

  test('negative', () => {
    assert.throws(() => parseBakeTime('-5s'), inputError('bake-time', /must not be negative/))
  })
})

describe('waveCounts', () => {
  const waves = (text: string): WaveSpec[] => parseWaves(text)!

  test('percent rounded up, at least 1, all capped at the targets', () => {
    assert.deepEqual(waveCounts(waves('1, 25%, 100%'), 10), [1, 3, 10])
    assert.deepEqual(waveCounts(waves('1%, 50%'), 3), [1, 2])
    assert.deepEqual(waveCounts(waves('2, 200'), 5), [2, 5])
    assert.deepEqual(waveCounts(waves('100%'), 7), [7])
  })

  test('a partial rollout: the last wave below the targets', () => {
    assert.deepEqual(waveCounts(waves('1, 3'), 10), [1, 3])
  })

  test('no targets: no waves', () => {
    assert.deepEqual(waveCounts(waves('1, 25%, 100%'), 0), [])
  })

  test('a wave not larger than the one before (after conversion)', () => {
    assert.throws(
      () => waveCounts(waves('1, 25%, 100%'), 2),
      inputError(
        'waves',
        /"1, 25%, 100%" gives 1, 1, 2 of 2 target nodes: wave 2 must be larger than wave 1/
      )
    )
    assert.throws(() => waveCounts(waves('5, 3'), 10), inputError('waves', /wave 2 must be larger/))
    assert.throws(
      () => waveCounts(waves('3, 10'), 3),
      inputError('waves', /gives 3, 3 of 3 target nodes/)
    )
    assert.throws(() => waveCounts(waves('1, 1'), 1), inputError('waves', /of 1 target node:/))
  })
})

describe('orderTargets', () => {
  test('natural order of node names', () => {
    assert.deepEqual(orderTargets(['web-10', 'web-2', 'web-1', 'db-3'], []), [
      'db-3',
      'web-1',
      'web-2',
      'web-10'
    ])
    assert.ok(compareNatural('web-2', 'web-10') < 0)
    assert.ok(compareNatural('a9b', 'a10a') < 0)
    assert.ok(compareNatural('web-1.dc2', 'web-1.dc10') < 0)
    assert.ok(compareNatural('n99999999999999999999', 'n100000000000000000000') < 0)
    assert.notEqual(compareNatural('web-01', 'web-1'), 0)
  })

  test('canaries first, both groups naturally sorted; stray canaries and duplicates dropped', () => {
    assert.deepEqual(
      orderTargets(
        ['web-10', 'web-3', 'web-2', 'web-11', 'web-1', 'web-3'],
        ['web-11', 'web-2', 'gone']
      ),
      ['web-2', 'web-11', 'web-1', 'web-3', 'web-10']
    )
  })
})

describe('node filters (RE2)', () => {
  test('escaping follows Go regexp.QuoteMeta: - and _ stay, . is escaped', () => {
    assert.equal(escapeRe2('web-1.example_2'), 'web-1\\.example_2')
    assert.equal(escapeRe2('a+b(c)|[d]{e}^$*?\\'), 'a\\+b\\(c\\)\\|\\[d\\]\\{e\\}\\^\\$\\*\\?\\\\')
    assert.equal(nodeFilterFor(['a', 'b.c']), '^(a|b\\.c)$')
  })

  test('an escaped name matches only itself (re2js), for ., -, _, digits and metacharacters', () => {
    const names = [
      'web.1',
      'web-1',
      'web_1',
      'web1',
      'web-10',
      '1.2.3.4',
      'a+b',
      '(x)',
      'a|b',
      '[z]',
      '^$',
      'x\\y'
    ]
    const others = [
      ...names,
      'webx1',
      'web11',
      'web-1 ',
      ' web-1',
      'web-1\n',
      'aab',
      'x',
      'a',
      'b',
      'z',
      '',
      'xy'
    ]
    for (const name of names) {
      const filter = nodeFilterFor([name])
      for (const other of others)
        assert.equal(matches(filter, other), other === name, `${filter} ~ ${JSON.stringify(other)}`)
    }
  })

  test('split by a byte bound; a name that cannot fit alone is an error', () => {
    const names = Array.from({ length: 40 }, (_, i) => `web-${i + 1}`)
    const filters = nodeFilters(names, 64)
    assert.ok(filters.length > 1)
    for (const filter of filters) assert.ok(Buffer.byteLength(filter) <= 64, filter)
    assert.deepEqual(
      filters.flatMap((f) => f.slice(2, -2).split('|')),
      names
    )
    assert.deepEqual(nodeFilters(['a', 'b'], 7), ['^(a|b)$'])
    assert.deepEqual(nodeFilters(['a', 'b'], 6), ['^(a)$', '^(b)$'])
    assert.throws(() => nodeFilters(['x'.repeat(10)], 13), /too long for an event's node filter/)
    assert.deepEqual(nodeFilters([]), [])
  })

  test('nodeGroups: the nodes each filter matches, in order (what each event of a wave reached)', () => {
    const names = Array.from({ length: 40 }, (_, i) => `web.${i + 1}`)
    const filters = nodeFilters(names, 64)
    const groups = nodeGroups(names, 64)
    assert.equal(groups.length, filters.length)
    groups.forEach((group, i) => {
      for (const name of names)
        assert.equal(matches(filters[i]!, name), group.includes(name), `${filters[i]} ~ ${name}`)
    })
  })

  test('the default bound fits a user event of serf (512 bytes) with a 100-byte payload', () => {
    const budget = nodeFilterBudget({ eventName: 'deploy', payloadBytes: 100 })
    assert.ok(budget >= DEFAULT_NODE_FILTER_BYTES, `${budget}`)
    assert.ok(budget < 300, `${budget}`)
    // A longer payload, name or other filters leave less room.
    assert.ok(nodeFilterBudget({ eventName: 'deploy', payloadBytes: 200 }) < budget)
    assert.ok(nodeFilterBudget({ eventName: 'deploy-production', payloadBytes: 100 }) < budget)
    assert.ok(
      nodeFilterBudget({
        eventName: 'deploy',
        payloadBytes: 100,
        serviceFilter: '^web$',
        tagFilter: 'v1'
      }) < budget
    )
    assert.ok(nodeFilterBudget({ eventName: 'deploy', payloadBytes: 420 }) <= 0)
    assert.ok(nodeFilters(Array.from({ length: 30 }, (_, i) => `web-${i + 1}`)).length === 1)
  })
})

describe('planRollout (examples)', () => {
  const targets = Array.from({ length: 10 }, (_, i) => `web-${i + 1}`)

  test('1, 25%, 100% over 10 nodes with a canary: three deploy steps, latest before the third', () => {
    const steps = planRollout({
      datacenters: [{ targets, canaries: ['web-7'] }],
      waves: parseWaves('1, 25%, 100%'),
      bakeMs: 60_000,
      release: 'new'
    })
    assert.deepEqual(
      steps.map((s) => [s.kind, s.wave, s.waves, s.nodes.join(','), s.movesLatest, s.takesJoiners]),
      [
        ['deploy', 1, 3, 'web-7', false, false],
        ['deploy', 2, 3, 'web-1,web-2', false, false],
        ['deploy', 3, 3, 'web-3,web-4,web-5,web-6,web-8,web-9,web-10', true, true]
      ]
    )
    assert.deepEqual(nodeFilters(steps[0]!.nodes), ['^(web-7)$'])
    assert.ok(steps.every((s) => s.bakeMs === 60_000 && s.datacenter === undefined))
    assert.equal(isPartial(steps), false)
  })

  test('no waves: one step of every target', () => {
    const steps = planRollout({
      datacenters: [{ targets, canaries: [] }],
      waves: undefined,
      bakeMs: 0,
      release: 'new'
    })
    assert.equal(steps.length, 1)
    assert.equal(steps[0]!.nodes.length, 10)
    assert.equal(steps[0]!.movesLatest, true)
  })

  test('a partial rollout never moves latest and takes no joiners', () => {
    const steps = planRollout({
      datacenters: [{ targets, canaries: [] }],
      waves: parseWaves('1, 3'),
      bakeMs: 0,
      release: 'new'
    })
    assert.deepEqual(
      steps.map((s) => s.nodes.length),
      [1, 2]
    )
    assert.ok(steps.every((s) => !s.movesLatest && !s.takesJoiners))
    assert.equal(isPartial(steps), true)
  })

  test('layout: releases: prepare to all, then switch wave by wave; a promote skips the prepared', () => {
    const steps = planRollout({
      datacenters: [{ targets: ['a', 'b', 'c'], canaries: [] }],
      waves: parseWaves('1, 100%'),
      bakeMs: 0,
      layout: 'releases',
      release: 'new'
    })
    assert.deepEqual(
      steps.map((s) => [s.kind, s.wave, s.nodes.join(','), s.movesLatest]),
      [
        ['prepare', 0, 'a,b,c', false],
        ['switch', 1, 'a', false],
        ['switch', 2, 'b,c', true]
      ]
    )
    const promote = planRollout({
      datacenters: [{ targets: ['b', 'c'], canaries: [], prepared: ['b'] }],
      waves: undefined,
      bakeMs: 0,
      layout: 'releases',
      release: 'promote'
    })
    assert.deepEqual(
      promote.map((s) => [s.kind, s.nodes.join(',')]),
      [
        ['prepare', 'c'],
        ['switch', 'b,c']
      ]
    )
    // A new release cannot be prepared anywhere yet.
    const fresh = planRollout({
      datacenters: [{ targets: ['b'], canaries: [], prepared: ['b'] }],
      waves: undefined,
      bakeMs: 0,
      layout: 'releases',
      release: 'new'
    })
    assert.equal(fresh[0]!.kind, 'prepare')
  })

  test('several datacenters: one after another, latest moved once in each', () => {
    const steps = planRollout({
      datacenters: [
        { datacenter: 'dc1', targets: ['a-1', 'a-2'], canaries: [] },
        { datacenter: 'dc2', targets: [], canaries: [] },
        { datacenter: 'dc3', targets: ['c-1', 'c-2', 'c-3'], canaries: ['c-3'] }
      ],
      waves: parseWaves('1, 100%'),
      bakeMs: 0,
      release: 'new'
    })
    assert.deepEqual(
      steps.map((s) => [s.datacenter, s.wave, s.nodes.join(','), s.movesLatest]),
      [
        ['dc1', 1, 'a-1', false],
        ['dc1', 2, 'a-2', true],
        ['dc3', 1, 'c-3', false],
        ['dc3', 2, 'c-1,c-2', true]
      ]
    )
  })

  test('labelledSteps: each step by its label, its nodes named as the report names them', () => {
    const steps = planRollout({
      datacenters: [
        { datacenter: 'dc1', targets: ['web-1', 'web-2'], canaries: [] },
        { datacenter: 'dc2', targets: ['web-1', 'web-9'], canaries: [] }
      ],
      waves: parseWaves('1, 100%'),
      bakeMs: 0,
      layout: 'releases',
      release: 'new'
    })
    assert.deepEqual(labelledSteps(steps), [
      { label: 'dc1 prepare', nodes: ['web-1 (dc1)', 'web-2'] },
      { label: 'dc1 switch wave 1/2', nodes: ['web-1 (dc1)'] },
      { label: 'dc1 switch wave 2/2', nodes: ['web-2'] },
      { label: 'dc2 prepare', nodes: ['web-1 (dc2)', 'web-9'] },
      { label: 'dc2 switch wave 1/2', nodes: ['web-1 (dc2)'] },
      { label: 'dc2 switch wave 2/2', nodes: ['web-9'] }
    ])
  })

  test('waves that do not grow in one datacenter fail the plan naming waves', () => {
    assert.throws(
      () =>
        planRollout({
          datacenters: [
            { datacenter: 'dc1', targets, canaries: [] },
            { datacenter: 'dc2', targets: ['x'], canaries: [] }
          ],
          waves: parseWaves('1, 100%'),
          bakeMs: 0,
          release: 'new'
        }),
      inputError('waves', /gives 1, 1 of 1 target node/)
    )
  })
})

describe('canaries and the bake gate', () => {
  const catalog = [
    { node: 'web-1', services: [{ name: 'web', tags: ['canary'] }] },
    {
      node: 'web-2',
      services: [
        { name: 'web', tags: [] },
        { name: 'metrics', tags: ['canary'] }
      ]
    },
    { node: 'web-3', services: [{ name: 'web', tags: ['v2', 'canary'] }] },
    { node: 'db-1', services: [{ name: 'db', tags: ['canary'] }] }
  ]

  test('canaryNodes: the targeted service carries the tag canary', () => {
    assert.deepEqual(canaryNodes(catalog, { service: '^web$' }), ['web-1', 'web-3'])
    assert.deepEqual(canaryNodes(catalog, { service: '^web$', tag: '^v2$' }), ['web-3'])
    // No service filter: every service of the node is targeted.
    assert.deepEqual(canaryNodes(catalog, {}), ['web-1', 'web-2', 'web-3', 'db-1'])
  })

  const check = (
    Node: string,
    CheckID: string,
    Status: string,
    ServiceName = '',
    ServiceTags: string[] = []
  ) => ({
    Node,
    CheckID,
    Name: `${CheckID} check`,
    Status,
    Output: 'out',
    ServiceName,
    ServiceTags
  })

  test('gateWatches: the targeted service’s checks; all but serfHealth without a service filter', () => {
    const web = check('web-1', 'service:web', 'critical', 'web', ['v2'])
    const metrics = check('web-1', 'service:metrics', 'critical', 'metrics')
    const disk = check('web-1', 'disk', 'critical')
    const serf = check('web-1', 'serfHealth', 'critical')
    const on = (filters: Filters) =>
      [web, metrics, disk, serf].filter((c) => gateWatches(c, filters)).map((c) => c.CheckID)
    assert.deepEqual(on({ service: '^web$' }), ['service:web'])
    assert.deepEqual(on({ service: 'web|metrics' }), ['service:web', 'service:metrics'])
    assert.deepEqual(on({ service: '^web$', tag: '^v1$' }), [])
    assert.deepEqual(on({ node: '^web-' }), ['service:web', 'service:metrics', 'disk'])
  })

  test('gateFailures: critical watched checks of the wave’s nodes, naming node and check; warning passes', () => {
    const checks = [
      check('web-1', 'service:web', 'passing', 'web'),
      check('web-2', 'service:web', 'critical', 'web'),
      check('web-3', 'service:web', 'warning', 'web'),
      check('web-4', 'service:web', 'critical', 'web'),
      check('web-2', 'serfHealth', 'critical')
    ]
    assert.deepEqual(gateFailures(['web-1', 'web-2', 'web-3'], checks, { service: '^web$' }), [
      { node: 'web-2', checkId: 'service:web', name: 'service:web check', output: 'out' }
    ])
  })
})

// ---------------------------------------------------------------- properties

// Node names with ., -, _ and digits: what fleets use and what a careless escape gets wrong.
const nodeName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/)
const waveSpec: fc.Arbitrary<WaveSpec> = fc.oneof(
  fc.record({ kind: fc.constant('count' as const), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('percent' as const), percent: fc.integer({ min: 1, max: 100 }) })
)
const datacenter = fc.uniqueArray(nodeName, { minLength: 0, maxLength: 30 }).chain((targets) =>
  fc.record({
    targets: fc.constant(targets),
    canaries: fc.subarray(targets),
    prepared: fc.subarray(targets)
  })
)
/** The plan's input, and the node-filter size the Consul backend cuts each step's nodes to. */
type PlanCase = PlanInput & { maxFilterBytes: number }
const planInput: fc.Arbitrary<PlanCase> = fc.record({
  datacenters: fc
    .array(datacenter, { minLength: 1, maxLength: 3 })
    .map((dcs) => dcs.map((dc, i) => ({ ...dc, datacenter: `dc${i + 1}` }))),
  // Half the time the waves end at 100%: full rollouts as often as partial ones.
  waves: fc.option(
    fc
      .tuple(fc.array(waveSpec, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([waves, full]) =>
        full ? [...waves, { kind: 'percent' as const, percent: 100 }] : waves
      ),
    { nil: undefined }
  ),
  bakeMs: fc.integer({ min: 0, max: 600_000 }),
  layout: fc.constantFrom('in-place' as const, 'releases' as const),
  release: fc.constantFrom('new' as const, 'promote' as const, 'rollback' as const),
  // 30: room for the longest escaped name below (12 characters, 11 of them `.`).
  maxFilterBytes: fc.integer({ min: 30, max: 300 })
})

/** The plan, or undefined when waveCounts refuses the waves for some datacenter (checked apart). */
function tryPlan(input: PlanInput): Step[] | undefined {
  try {
    return planRollout(input)
  } catch (err) {
    assert.ok(err instanceof InputError && err.input === 'waves', String(err))
    return undefined
  }
}

/** The plan; a refused one is skipped (fc.pre). */
function planOrSkip(input: PlanInput): Step[] {
  const steps = tryPlan(input)
  fc.pre(steps !== undefined)
  return steps as Step[]
}

/** An independent count: the smallest k with k/targets ≥ P/100, at least 1, capped. */
function expectedCount(wave: WaveSpec, targets: number): number {
  if (wave.kind === 'count') return Math.min(wave.count, targets)
  let k = 1
  while (k < targets && k * 100 < wave.percent * targets) k += 1
  return k
}

const waveSteps = (steps: readonly Step[], dc: string | undefined) =>
  steps.filter((s) => s.datacenter === dc && s.kind !== 'prepare')

describe('planRollout (properties)', () => {
  test('the plan is refused exactly when the converted waves do not grow', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const refused = input.datacenters.some((dc) => {
          const n = dc.targets.length
          const counts = (input.waves ?? [{ kind: 'percent', percent: 100 }]).map((w) =>
            expectedCount(w, n)
          )
          return n > 0 && counts.some((c, i) => i > 0 && c <= counts[i - 1]!)
        })
        assert.equal(tryPlan(input) === undefined, refused)
      })
    )
  })

  test('every target in exactly one deploy/switch step (a partial rollout: a prefix of the order); canaries first; wave sizes as written', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const steps = planOrSkip(input)
        for (const dc of input.datacenters) {
          const mine = waveSteps(steps, dc.datacenter)
          const sent = mine.flatMap((s) => s.nodes)
          assert.equal(new Set(sent).size, sent.length)
          assert.deepEqual(sent, orderTargets(dc.targets, dc.canaries).slice(0, sent.length))
          const full = mine.length > 0 && mine[mine.length - 1]!.movesLatest
          if (full) assert.deepEqual([...sent].sort(), [...dc.targets].sort())
          else assert.ok(sent.length < dc.targets.length || dc.targets.length === 0)
          // Canaries are a prefix of the rollout order.
          const canary = new Set(dc.canaries)
          const firstOther = sent.findIndex((n) => !canary.has(n))
          if (firstOther !== -1) assert.ok(sent.slice(firstOther).every((n) => !canary.has(n)))
          // Cumulative sizes as written.
          if (dc.targets.length === 0) {
            assert.equal(mine.length, 0)
            continue
          }
          const waves = input.waves ?? [{ kind: 'percent', percent: 100 }]
          let total = 0
          assert.equal(mine.length, waves.length)
          mine.forEach((step, i) => {
            total += step.nodes.length
            assert.equal(total, expectedCount(waves[i]!, dc.targets.length))
            assert.equal(step.wave, i + 1)
            assert.equal(step.waves, waves.length)
            assert.equal(step.kind, input.layout === 'releases' ? 'switch' : 'deploy')
            assert.equal(step.bakeMs, input.bakeMs)
          })
          // Datacenters in the order given.
          const order = steps.map((s) => s.datacenter)
          assert.deepEqual(
            order.filter((d, i) => order.indexOf(d) === i),
            input.datacenters.filter((d) => d.targets.length > 0).map((d) => d.datacenter)
          )
        }
      })
    )
  })

  test('latest moves once per datacenter, just before its last wave; never in a partial rollout', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const steps = planOrSkip(input)
        for (const dc of input.datacenters) {
          const mine = steps.filter((s) => s.datacenter === dc.datacenter)
          const moves = mine.filter((s) => s.movesLatest)
          const wave = waveSteps(steps, dc.datacenter)
          const partial = wave.flatMap((s) => s.nodes).length < dc.targets.length
          if (dc.targets.length === 0 || partial) {
            assert.equal(moves.length, 0)
          } else {
            assert.equal(moves.length, 1)
            assert.equal(moves[0], wave[wave.length - 1])
            assert.notEqual(moves[0]!.kind, 'prepare')
          }
        }
        assert.equal(
          isPartial(steps),
          input.datacenters.some((dc) => {
            const sent = waveSteps(steps, dc.datacenter).flatMap((s) => s.nodes).length
            return sent > 0 && sent < dc.targets.length
          })
        )
      })
    )
  })

  test('prepare (layout: releases) goes before every switch, to each target that lacks the release', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const steps = planOrSkip(input)
        for (const dc of input.datacenters) {
          const mine = steps.filter((s) => s.datacenter === dc.datacenter)
          const prepares = mine.filter((s) => s.kind === 'prepare')
          if (input.layout !== 'releases' || dc.targets.length === 0) {
            assert.equal(prepares.length, 0)
            continue
          }
          const kept = new Set(input.release === 'new' ? [] : dc.prepared)
          const expected = dc.targets.filter((n) => !kept.has(n)).sort()
          assert.deepEqual(prepares.flatMap((s) => s.nodes).sort(), expected)
          if (prepares.length > 0) assert.equal(mine[0], prepares[0])
          assert.ok(prepares.every((s) => s.bakeMs === 0 && !s.movesLatest && s.wave === 0))
        }
      })
    )
  })

  test('each step’s filters match exactly its nodes among all targets (re2js), within the byte bound', () => {
    fc.assert(
      fc.property(planInput, fc.array(nodeName, { maxLength: 5 }), (input, strangers) => {
        const steps = planOrSkip(input)
        const targets = input.datacenters.flatMap((dc) => dc.targets)
        // What an unescaped `.` would also match: each dot replaced by another character.
        const lookalikes = targets.filter((n) => n.includes('.')).map((n) => n.replace(/\./g, 'x'))
        const everyone = [...new Set([...targets, ...strangers, ...lookalikes])]
        for (const step of steps) {
          const mine = new Set(step.nodes)
          for (const filter of nodeFilters(step.nodes, input.maxFilterBytes)) {
            assert.ok(Buffer.byteLength(filter) <= input.maxFilterBytes, filter)
            assert.match(filter, /^\^\(.*\)\$$/)
          }
          for (const node of everyone) {
            const hit = nodeFilters(step.nodes, input.maxFilterBytes).some((f) => matches(f, node))
            assert.equal(hit, mine.has(node), `${node} vs ${step.nodes.join(' ')}`)
          }
        }
      }),
      { numRuns: 60 }
    )
  })

  test('joiners go to the last wave of each datacenter that rolls out in full, the only step that moves its latest', () => {
    fc.assert(
      fc.property(planInput, (input) => {
        const steps = planOrSkip(input)
        for (const dc of input.datacenters) {
          const mine = waveSteps(steps, dc.datacenter)
          const takers = steps.filter((s) => s.datacenter === dc.datacenter && s.takesJoiners)
          const last = mine[mine.length - 1]
          // full in this datacenter: its last wave moves latest (a partial one never does)
          assert.deepEqual(takers, last?.movesLatest ? [last] : [])
          assert.ok(
            steps
              .filter((s) => s.datacenter === dc.datacenter)
              .every((s) => !s.movesLatest || s === last)
          )
        }
      })
    )
  })
})
