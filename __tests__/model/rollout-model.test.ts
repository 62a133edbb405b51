// The rollout model (issue #19) on cases worked by hand from contract 8 and 8a:
// each expectation quotes the line it comes from.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Prediction } from './rollout-model.ts'
import { predict, waveCounts } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'
import { RELEASE } from './scenario.ts'

const base: Scenario = {
  datacenters: 1,
  nodesPerDc: 3,
  waves: '1, 100%',
  bake: false,
  layout: 'in-place',
  autoRollback: false,
  maxFailures: 0,
  wait: true,
  mode: 'deploy',
  previous: true,
  fault: { kind: 'none', dc: 0, position: 0 },
  cancel: false
}
const scenario = (over: Partial<Scenario>): Scenario => ({ ...base, ...over })
const states = (p: Prediction) => Object.fromEntries(p.nodes.map((n) => [n.node, n.states]))
const holds = (p: Prediction) => Object.fromEntries(p.nodes.map((n) => [n.node, n.holds]))

describe('rollout model (contract 8, 8a)', () => {
  test('waves: N or P% of the targets, rounded up, at least 1, capped, each larger than the one before', () => {
    assert.deepEqual(waveCounts('1, 25%, 100%', 8), [1, 2, 8])
    assert.deepEqual(waveCounts('34%, 100%', 3), [2, 3])
    assert.deepEqual(waveCounts('1%', 3), [1])
    assert.deepEqual(waveCounts('2, 10', 3), [2, 3])
    assert.equal(waveCounts('2, 1', 3), undefined)
    assert.equal(waveCounts('50%, 1', 2), undefined)
    assert.deepEqual(waveCounts(undefined, 4), [4])
  })

  test('the canary fails: later waves never receive anything; latest keeps the previous release', () => {
    const p = predict(scenario({ fault: { kind: 'fail', dc: 0, position: 0 } }))
    assert.deepEqual(states(p), {
      'node-1': ['failed'],
      'node-2': ['not sent'],
      'node-3': ['not sent']
    })
    assert.equal(p.code, 1)
    assert.equal(p.conclusion, 'failure')
    assert.deepEqual(p.cause, { kind: 'failed', nodes: ['node-1'] })
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
    assert.deepEqual(p.wavesCompleted, [0], '0 when the first failed')
  })

  test('auto-rollback sends the previous release to every node that was sent this one', () => {
    const p = predict(scenario({ autoRollback: true, fault: { kind: 'fail', dc: 0, position: 2 } }))
    assert.deepEqual(states(p), {
      'node-1': ['rolled back'],
      // sent with node-3, which failed the wave: the run stops at once, it may not have reported
      'node-2': ['rolled back', 'silent', 'pending'],
      'node-3': ['rolled back']
    })
    assert.deepEqual(holds(p)['node-1'], [RELEASE.a])
    assert.deepEqual(holds(p)['node-2'], [RELEASE.a])
    assert.deepEqual(p.latest, { dc1: RELEASE.a }, 'leaves latest on the previous release')
    assert.equal(p.rolledBack, true)
    assert.deepEqual(p.wavesCompleted, [1])
  })

  test('a failure in the last wave without auto-rollback: latest moved just before its event', () => {
    const p = predict(scenario({ fault: { kind: 'fail', dc: 0, position: 2 } }))
    assert.deepEqual(p.latest, { dc1: RELEASE.b })
    assert.deepEqual(states(p)['node-2'], ['succeeded', 'silent', 'pending'])
    assert.deepEqual(holds(p)['node-2'], [RELEASE.b], 'it was sent the release: it applies it')
  })

  test('a partial rollout succeeds and leaves latest unchanged', () => {
    const p = predict(scenario({ waves: '1' }))
    assert.equal(p.code, 0)
    assert.deepEqual(states(p), {
      'node-1': ['succeeded'],
      // in no wave at all: a row `not sent`, or none
      'node-2': ['not sent', 'absent'],
      'node-3': ['not sent', 'absent']
    })
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
    assert.deepEqual(p.wavesCompleted, [1])
  })

  test('a check critical during the bake fails the wave at once, whatever max-failures tolerates', () => {
    const p = predict(
      scenario({ bake: true, maxFailures: 1, fault: { kind: 'critical', dc: 0, position: 0 } })
    )
    assert.equal(p.code, 1)
    assert.deepEqual(p.cause, { kind: 'critical', nodes: ['node-1'] })
    assert.deepEqual(states(p)['node-2'], ['not sent'])
  })

  test('no bake: no health gate, a crashing node does not fail the run', () => {
    const p = predict(scenario({ fault: { kind: 'critical', dc: 0, position: 0 } }))
    assert.equal(p.code, 0)
  })

  test('a silent node in the last wave within max-failures: the run succeeds, the node is silent', () => {
    const p = predict(scenario({ maxFailures: 1, fault: { kind: 'silent', dc: 0, position: 2 } }))
    assert.equal(p.code, 0)
    assert.deepEqual(states(p)['node-3'], ['silent'])
    assert.deepEqual(p.latest, { dc1: RELEASE.b })
  })

  test('a silent node beyond max-failures: the timeout, with the silent node, is the cause', () => {
    const p = predict(scenario({ fault: { kind: 'silent', dc: 0, position: 0 } }))
    assert.equal(p.conclusion, 'timed_out')
    assert.deepEqual(p.cause, { kind: 'timeout', nodes: ['node-1'] })
  })

  test('a datacenter whose rollout fails stops the run: later ones receive nothing', () => {
    const p = predict(scenario({ datacenters: 2, fault: { kind: 'fail', dc: 0, position: 0 } }))
    assert.deepEqual(states(p)['dc2-node-1'], ['not sent'])
    assert.deepEqual(p.latest, { dc1: RELEASE.a, dc2: RELEASE.a })
    const ok = predict(scenario({ datacenters: 2 }))
    assert.deepEqual(ok.latest, { dc1: RELEASE.b, dc2: RELEASE.b })
    assert.deepEqual(ok.wavesCompleted, [4], 'two waves in each datacenter')
    const single = predict(scenario({ datacenters: 2, waves: undefined }))
    assert.deepEqual(
      single.wavesCompleted,
      [1],
      '1 for a run without waves that succeeded in every datacenter'
    )
  })

  test('wait: false with waves is a bad input naming waves; nothing is written', () => {
    const p = predict(scenario({ wait: false }))
    assert.equal(p.refusal, 'waves')
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
  })

  test('a cancel after the first wave: latest unchanged, no rollback, the rest not sent', () => {
    const p = predict(scenario({ cancel: true, autoRollback: true }))
    assert.equal(p.conclusion, 'cancelled')
    assert.equal(p.rolledBack, false, 'a cancelled run does not roll back')
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
    assert.deepEqual(states(p)['node-3'], ['not sent'])
    const single = predict(scenario({ cancel: true, waves: undefined }))
    assert.deepEqual(single.latest, { dc1: RELEASE.b }, 'one wave: latest moved before its event')
  })

  test('layout releases, a node fails its prepare: the others are prepared, not switched', () => {
    const p = predict(scenario({ layout: 'releases', fault: { kind: 'fail', dc: 0, position: 1 } }))
    assert.deepEqual(states(p), {
      'node-1': ['prepared', 'silent', 'pending'],
      'node-2': ['failed'],
      'node-3': ['prepared', 'silent', 'pending']
    })
    assert.deepEqual(holds(p)['node-1'], [RELEASE.a], 'current stays on the previous release')
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
  })

  test('auto-rollback with no previous release: nothing to roll back to', () => {
    const p = predict(
      scenario({ previous: false, autoRollback: true, fault: { kind: 'fail', dc: 0, position: 0 } })
    )
    assert.equal(p.rolledBack, false)
    assert.deepEqual(p.latest, { dc1: undefined })
  })

  test('a failed promote rolls back the partial rollout’s nodes too', () => {
    const p = predict(
      scenario({ mode: 'promote', autoRollback: true, fault: { kind: 'fail', dc: 0, position: 1 } })
    )
    assert.deepEqual(holds(p)['node-1'], [RELEASE.a])
    assert.deepEqual(states(p)['node-3'], ['not sent'], 'waves 1, 100% over node-2, node-3')
  })

  test('layout releases, rollback-to a kept release is a switch only: no prepare, nothing to unpack', () => {
    const p = predict(
      scenario({
        mode: 'rollback-to',
        layout: 'releases',
        fault: { kind: 'fail', dc: 0, position: 0 }
      })
    )
    assert.equal(p.code, 0, 'the failing node fails to unpack an archive, and none is sent')
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
  })

  test('a node is one (datacenter, node name) pair: the same names in two datacenters are six nodes', () => {
    const p = predict(
      scenario({
        datacenters: 2,
        repeatNames: true,
        waves: undefined,
        fault: { kind: 'fail', dc: 1, position: 1 }
      })
    )
    assert.deepEqual(states(p), {
      'dc1/node-1': ['succeeded'],
      'dc1/node-2': ['succeeded'],
      'dc1/node-3': ['succeeded'],
      // sent with node-2 (dc2), which failed: it may not have reported by the verdict
      'dc2/node-1': ['succeeded', 'silent', 'pending'],
      'dc2/node-2': ['failed'],
      'dc2/node-3': ['succeeded', 'silent', 'pending']
    })
    assert.deepEqual(p.cause, { kind: 'failed', nodes: ['dc2/node-2'] })
    assert.deepEqual(
      p.nodes.map((n) => n.datacenter),
      ['dc1', 'dc1', 'dc1', 'dc2', 'dc2', 'dc2']
    )
  })

  test('auto-rollback keeps the run’s layout: a previous release published in-place comes back as a release', () => {
    const p = predict(
      scenario({
        layout: 'releases',
        previousLayout: 'in-place',
        autoRollback: true,
        waves: undefined,
        bake: true,
        fault: { kind: 'critical', dc: 0, position: 1 }
      })
    )
    // before the run, the releases tree held nothing; the rollback prepares and switches rel-a
    assert.deepEqual(holds(p), {
      'node-1': [RELEASE.a],
      'node-2': [RELEASE.a],
      'node-3': [RELEASE.a]
    })
    assert.deepEqual(states(p)['node-1'], ['rolled back'])
    assert.equal(p.nodes[0]!.reported, RELEASE.a)
    assert.equal(p.rolledBack, true)
    assert.deepEqual(p.latest, { dc1: RELEASE.a })
  })

  test('a prepare failing over a previous release of the other layout: the releases tree may stay empty', () => {
    const p = predict(
      scenario({
        layout: 'releases',
        previousLayout: 'in-place',
        autoRollback: true,
        fault: { kind: 'fail', dc: 0, position: 0 }
      })
    )
    assert.deepEqual(
      holds(p)['node-1'],
      ['', RELEASE.a],
      'current never existed; a rollback may add it'
    )
    assert.equal(p.rolledBack, 'either')
  })

  test('a joiner is part of the last wave', () => {
    const p = predict(scenario({ fault: { kind: 'join', dc: 0, position: 0 } }))
    assert.deepEqual(states(p)['node-9'], ['succeeded'])
    assert.deepEqual(holds(p)['node-9'], [RELEASE.b])
  })
})
