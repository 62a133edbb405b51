import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ResultEntry } from '../src/fleet-state/fleet-state.ts'
import { FleetState, labelsOfSteps, nodeKey, nodesOfSteps } from '../src/fleet-state/fleet-state.ts'
import { resultRows } from '../src/report/report.ts'

const ID = '20261122-021441-3f9c2ab-r1.1'
const result = (node: string, status: string, modifyIndex: number, deployId = ID): ResultEntry => ({
  node,
  modifyIndex,
  value: JSON.stringify({ deploy_id: deployId, status, node, at: 1_790_000_000 })
})
const fleet = (targets: string[], maxFailures = 0, untargeted: string[] = []) =>
  new FleetState({ deployId: ID, baselineIndex: 100, maxFailures, targets, untargeted })

describe('FleetState', () => {
  test('converges when every target reports success for this deploy', () => {
    const f = fleet(['a', 'b'])
    f.applyResults([result('a', 'success', 101)])
    assert.deepEqual(f.verdict(), { done: false })
    assert.deepEqual(f.counts(), {
      total: 2,
      succeeded: 1,
      failed: 0,
      pending: 1,
      notSent: 0,
      prepared: 0,
      rolledBack: 0
    })
    f.applyResults([result('b', 'success', 102)], 1500)
    assert.deepEqual(f.verdict(), { done: true, ok: true, reason: 'converged' })
    assert.equal(f.list()[1]?.noticedMs, 1500)
  })

  test('a result written before the event (index at or below the baseline) does not count, even with this ID', () => {
    const f = fleet(['a'])
    f.applyResults([result('a', 'success', 100)])
    assert.deepEqual(f.verdict(), { done: false })
    f.applyResults([result('a', 'success', 101)])
    assert.equal(f.verdict().done, true)
  })

  test('another deploy ID or garbage is noted, not counted', () => {
    const f = fleet(['a', 'b', 'c'])
    f.applyResults([
      result('a', 'success', 150, 'older-deploy'),
      { node: 'b', modifyIndex: 151, value: '<script>not json' },
      { node: 'c', modifyIndex: 152, value: JSON.stringify({ deploy_id: ID, status: 'maybe' }) }
    ])
    assert.deepEqual(f.counts(), {
      total: 3,
      succeeded: 0,
      failed: 0,
      pending: 3,
      notSent: 0,
      prepared: 0,
      rolledBack: 0
    })
    assert.deepEqual(
      f.list().map((s) => s.note),
      [
        'reported deploy older-deploy',
        'result is not JSON',
        'result status is neither success nor failure'
      ]
    )
  })

  test('fails fast once failures exceed max-failures, before silent nodes time out', () => {
    const f = fleet(['a', 'b', 'c'], 1)
    f.applyResults([result('a', 'failure', 101)])
    assert.deepEqual(f.verdict(), { done: false })
    f.applyResults([result('b', 'failure', 102)])
    assert.deepEqual(f.verdict(), { done: true, ok: false, reason: 'failures' })
  })

  test('max-failures tolerates a failed node', () => {
    const f = fleet(['a', 'b'], 1)
    f.applyResults([result('a', 'failure', 101), result('b', 'success', 102)])
    assert.deepEqual(f.verdict(), { done: true, ok: true, reason: 'tolerated' })
    assert.deepEqual(f.counts(), {
      total: 2,
      succeeded: 1,
      failed: 1,
      pending: 0,
      notSent: 0,
      prepared: 0,
      rolledBack: 0
    })
  })

  test('at the deadline the silent nodes are named and fail the run', () => {
    const f = fleet(['a', 'b', 'c'])
    f.applyResults([result('a', 'success', 101)])
    f.expire()
    assert.deepEqual(f.verdict(), { done: true, ok: false, reason: 'timed_out' })
    assert.deepEqual(f.nodesByStatus('silent'), ['b', 'c'])
  })

  test('a node that goes critical is lost, counts as failed, is not waited for', () => {
    const f = fleet(['a', 'b'], 1)
    f.applyResults([result('a', 'success', 101)])
    assert.equal(f.markLost('b')?.status, 'lost')
    assert.equal(f.markLost('a'), undefined, 'a node that already reported stays reported')
    assert.deepEqual(f.verdict(), { done: true, ok: true, reason: 'tolerated' })
    assert.deepEqual(fleet(['x']).verdict().done, false)
  })

  test('a node that joined and reports this deploy is counted; a filtered-out node is ignored', () => {
    const f = fleet(['a'], 0, ['db-1'])
    f.applyResults([
      result('a', 'success', 101),
      result('late-1', 'success', 102),
      result('db-1', 'failure', 103)
    ])
    assert.deepEqual(f.counts(), {
      total: 2,
      succeeded: 2,
      failed: 0,
      pending: 0,
      notSent: 0,
      prepared: 0,
      rolledBack: 0
    })
    assert.equal(f.list().find((s) => s.node === 'late-1')?.joined, true)
    assert.equal(f.isTarget('db-1'), false)
  })

  test('the first counted answer stands: a later rewrite does not flip it', () => {
    const f = fleet(['a', 'b'])
    f.applyResults([result('a', 'failure', 101)])
    f.applyResults([result('a', 'success', 105)])
    assert.equal(f.list()[0]?.status, 'failure')
  })

  test('no targets is a failed verdict, not an empty success', () => {
    assert.deepEqual(fleet([]).verdict(), { done: true, ok: false, reason: 'no_targets' })
  })
})

test('layout: releases: a switch step counts only switch results of this deploy, and records what the node keeps', () => {
  const fleet = new FleetState({
    deployId: 'd2',
    baselineIndex: 10,
    maxFailures: 0,
    targets: ['a', 'b'],
    phase: 'switch'
  })
  const value = (phase: string, releases: string[] = ['d1', 'd2']) =>
    JSON.stringify({ deploy_id: 'd2', status: 'success', phase, node: 'a', at: 1, releases })
  fleet.applyResults([
    { node: 'a', value: value('prepare'), modifyIndex: 11 },
    { node: 'b', value: value('switch'), modifyIndex: 12 }
  ])
  assert.equal(fleet.list()[0]!.status, 'pending')
  assert.equal(fleet.list()[0]!.note, 'reported the prepare phase of d2')
  assert.deepEqual(
    {
      status: fleet.list()[1]!.status,
      phase: fleet.list()[1]!.phase,
      releases: fleet.list()[1]!.releases
    },
    { status: 'success', phase: 'switch', releases: ['d1', 'd2'] }
  )
  fleet.applyResults([{ node: 'a', value: value('switch'), modifyIndex: 13 }])
  assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
})

test('contract 8a states: not sent, prepared and rolled back are counted apart, never as pending', () => {
  const f = new FleetState({
    deployId: 'v2',
    baselineIndex: 10,
    maxFailures: 0,
    // c is dc2's: a node is a (datacenter, name) pair
    targets: ['a', 'b', { node: 'c', datacenter: 'dc2' }, 'd']
  })
  f.applyResults([
    { node: 'a', value: JSON.stringify({ deploy_id: 'v2', status: 'failure' }), modifyIndex: 11 },
    {
      node: 'b',
      value: JSON.stringify({ deploy_id: 'v2', status: 'success', phase: 'prepare' }),
      modifyIndex: 12
    }
  ])
  f.noteNotSent('c', 'not sent: wave 2 did not start', 2, 'dc2')
  f.markPrepared()
  f.markRolledBack('a', { deployId: 'v1', at: 5 })
  f.markRolledBack('c', { deployId: 'v1' }) // never sent: stays not sent
  assert.deepEqual(f.counts(), {
    total: 4,
    succeeded: 0,
    failed: 0,
    pending: 1,
    notSent: 1,
    prepared: 1,
    rolledBack: 1
  })
  const byNode = Object.fromEntries(f.list().map((s) => [s.node, s]))
  assert.equal(byNode.a?.status, 'rolled_back')
  assert.equal(byNode.a?.was, 'failure', 'the failure stays its cause')
  assert.equal(byNode.a?.deployId, 'v1')
  assert.equal(byNode.b?.status, 'prepared')
  assert.deepEqual([byNode.c?.status, byNode.c?.datacenter, byNode.c?.wave], ['not_sent', 'dc2', 2])
  assert.equal(byNode.d?.status, 'pending')
})

describe('a node is a (datacenter, name) pair (contract 8a)', () => {
  const twoWebOnes = () =>
    new FleetState({
      deployId: ID,
      baselineIndex: 0,
      maxFailures: 0,
      targets: [
        { node: 'web-1', datacenter: 'dc1' },
        { node: 'web-2', datacenter: 'dc1' },
        { node: 'web-1', datacenter: 'dc2' }
      ]
    })
  /** A step's fleet, as the executor makes it: its datacenter's names, read by name. */
  const step = (datacenter: string, targets: string[], untargeted: string[] = []) =>
    new FleetState({
      deployId: ID,
      baselineIndex: 100,
      maxFailures: 0,
      targets,
      untargeted,
      datacenter
    })

  test('the same name in two datacenters is two nodes: counts, states, labels and results', () => {
    const run = twoWebOnes()
    assert.equal(run.counts().total, 3)
    const dc1 = step('dc1', ['web-1', 'web-2'])
    dc1.applyResults([result('web-1', 'success', 101), result('web-2', 'success', 102)])
    const dc2 = step('dc2', ['web-1'])
    dc2.applyResults([result('web-1', 'failure', 101)])
    run.absorb(dc1, 1, 'dc1')
    run.absorb(dc2, 1, 'dc2')
    assert.deepEqual(run.counts(), {
      total: 3,
      succeeded: 2,
      failed: 1,
      pending: 0,
      notSent: 0,
      prepared: 0,
      rolledBack: 0
    })
    assert.deepEqual(
      run.list().map((s) => [s.datacenter, s.node, s.status]),
      [
        ['dc1', 'web-1', 'success'],
        ['dc2', 'web-1', 'failure'],
        ['dc1', 'web-2', 'success']
      ]
    )
    // Named apart only where the name repeats.
    assert.deepEqual(run.nodesByStatus('success'), ['web-1 (dc1)', 'web-2'])
    assert.deepEqual(run.nodesByStatus('failure'), ['web-1 (dc2)'])
    assert.equal(run.datacenterOf({ node: 'web-1', datacenter: 'dc2' }), 'dc2')
    assert.deepEqual(
      resultRows(run).map((r) => [r.datacenter, r.node, r.status]),
      [
        ['dc1', 'web-1', 'success'],
        ['dc2', 'web-1', 'failure'],
        ['dc1', 'web-2', 'success']
      ]
    )
  })

  test("a step's fleet reads bare names in its own datacenter: lost, joiners and the left-out", () => {
    const dc2 = step('dc2', ['web-1'], ['db-1'])
    assert.equal(dc2.markLost('web-1')?.datacenter, 'dc2')
    assert.equal(dc2.isTarget({ node: 'web-1', datacenter: 'dc1' }), false)
    assert.equal(dc2.isKnown('db-1'), true)
    assert.equal(dc2.isKnown({ node: 'db-1', datacenter: 'dc1' }), false)
    // A joiner's state is of the step's datacenter.
    dc2.applyResults([result('web-9', 'success', 101)])
    assert.deepEqual(
      dc2.list().map((s) => [s.datacenter, s.node, s.status, s.joined]),
      [
        ['dc2', 'web-1', 'lost', undefined],
        ['dc2', 'web-9', 'success', true]
      ]
    )
    // A plain run (no datacenter) keeps records without one.
    const plain = fleet(['a'])
    assert.deepEqual(plain.list(), [{ node: 'a', status: 'pending' }])
  })

  test('not sent, rolled back and absorb each touch one datacenter’s node', () => {
    const run = twoWebOnes()
    const dc1 = step('dc1', ['web-1', 'web-2'])
    dc1.applyResults([result('web-1', 'failure', 101), result('web-2', 'success', 102)])
    run.absorb(dc1, 1, 'dc1')
    run.noteNotSent('web-1', 'dc2 did not start', 1, 'dc2')
    // Auto-rollback's fleet in dc1: its web-1 reported the previous release.
    const back = new FleetState({
      deployId: 'v1',
      baselineIndex: 200,
      maxFailures: 0,
      targets: ['web-1'],
      datacenter: 'dc1'
    })
    back.applyResults([result('web-1', 'success', 201, 'v1')])
    for (const s of back.list()) run.markRolledBack(s, { deployId: 'v1', at: s.at })
    assert.deepEqual(
      run.list().map((s) => [s.datacenter, s.node, s.status]),
      [
        ['dc1', 'web-1', 'rolled_back'],
        ['dc2', 'web-1', 'not_sent'],
        ['dc1', 'web-2', 'success']
      ]
    )
    assert.equal(run.counts().notSent, 1)
    assert.equal(run.counts().rolledBack, 1)
  })
})

describe('node identities', () => {
  test('keys tell pairs apart; labels name the datacenter only where a name repeats', () => {
    assert.notEqual(nodeKey('dc1', 'web-1'), nodeKey('dc2', 'web-1'))
    assert.notEqual(nodeKey('dc1', 'x'), nodeKey(undefined, 'dc1x'))
    assert.equal(nodeKey(undefined, 'web-1'), nodeKey('', 'web-1'), 'Serf: the empty datacenter')
    const steps = [
      { datacenter: 'dc1', nodes: ['web-1', 'web-2'] },
      { datacenter: 'dc1', nodes: ['web-1'] }, // a prepare's nodes again
      { datacenter: 'dc2', nodes: ['web-1', 'db-1'] }
    ]
    assert.deepEqual(nodesOfSteps(steps), [
      { node: 'web-1', datacenter: 'dc1' },
      { node: 'web-2', datacenter: 'dc1' },
      { node: 'web-1', datacenter: 'dc2' },
      { node: 'db-1', datacenter: 'dc2' }
    ])
    assert.deepEqual(labelsOfSteps([steps[0]!, steps[2]!]), [
      'web-1 (dc1)',
      'web-2',
      'web-1 (dc2)',
      'db-1'
    ])
    assert.deepEqual(labelsOfSteps([{ datacenter: undefined, nodes: ['a', 'b'] }]), ['a', 'b'])
  })
})
