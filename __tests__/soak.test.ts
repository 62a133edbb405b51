// A fixed-seed slice of the soak (bench/soak.ts, issue #16) through dist/: a
// deploy cancelled (SIGINT) just after its `latest` txn, two concurrent deploys
// of which one is killed (SIGKILL) just after its txn, and a rollback cancelled
// while its event fire is inside Consul; Consul answers in 100-250 ms, with
// "No cluster leader" bursts. After each iteration (runs and post steps),
// `latest` must name the last event's release (or be unchanged when none was
// fired) and be complete, the lock be free, no token printed, no false success.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  formatReport,
  formatRolloutReport,
  planIteration,
  runRolloutSoak,
  runSoak
} from '../bench/soak.ts'
import { scenarioAt } from './model/generate.ts'
import { describeScenario, previousInOtherLayout } from './model/scenario.ts'

const SEED = 403
const FIRST = 13
const RUNS = 3

describe('soak slice (dist/, seed 403, iterations 13-15)', { timeout: 90_000 }, () => {
  test('the plans are the seed’s: cancels inside the announce window', () => {
    const moments = Array.from({ length: RUNS }, (_, i) => planIteration(SEED, FIRST + i)).map(
      (p) => `${p.kind}:${p.runs.map((r) => r.signal?.moment ?? 'none').join('+')}`
    )
    assert.deepEqual(moments, ['deploy:after-txn', 'concurrent:none+after-txn', 'rollback:at-fire'])
  })

  test('no violation', async () => {
    const report = await runSoak({ seed: SEED, first: FIRST, runs: RUNS, maxMs: 50_000 })
    assert.equal(report.iterations, RUNS, formatReport(report))
    assert.ok(
      report.runs.filter((r) => r.signal?.sent).length >= 2,
      `signals were sent\n${formatReport(report)}`
    )
    assert.deepEqual(report.violations, [], formatReport(report))
  })
})

// The soak's rollout mode (issue #19): a fixed-seed slice of the matrix's
// scenarios, in process, judged from the fleet alone (trees sampled during the
// run, `current`, results/, `latest`) and against the contract 8/8a model.
// Seed 20 draws, among its first six, node names repeated across two
// datacenters with a failing node, and auto-rollbacks to a previous release
// published in the other layout (issue #19 cases 12 and 16), both ways.
describe('rollout soak slice (seed 20, scenarios 0-5)', { timeout: 240_000 }, () => {
  test('the slice draws the seed’s scenarios, faults, repeated names and layouts among them', () => {
    const drawn = Array.from({ length: 6 }, (_, i) => scenarioAt(20, i))
    assert.deepEqual(
      drawn,
      Array.from({ length: 6 }, (_, i) => scenarioAt(20, i)),
      'a scenario depends on (seed, index) only'
    )
    const listed = drawn.map(describeScenario).join('\n')
    assert.ok(
      drawn.some((s) => s.fault.kind !== 'none'),
      listed
    )
    assert.ok(
      drawn.some((s) => s.repeatNames && s.fault.kind === 'fail'),
      listed
    )
    for (const layout of ['in-place', 'releases'])
      assert.ok(
        drawn.some((s) => previousInOtherLayout(s) && s.autoRollback && s.layout === layout),
        `${layout} run over a previous release of the other layout, with auto-rollback:\n${listed}`
      )
  })

  test('no fleet invariant broken, no disagreement with the model', async () => {
    const report = await runRolloutSoak({
      seed: 20,
      first: 0,
      runs: 6,
      maxMs: 200_000,
      concurrency: 3
    })
    assert.equal(report.cases.length, 6, formatRolloutReport(report))
    assert.deepEqual(report.violated, [], formatRolloutReport(report))
    assert.deepEqual(report.disagreed, [], formatRolloutReport(report))
  })
})
