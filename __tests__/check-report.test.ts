import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FleetReport } from '../src/report/check-report.ts'
import {
  CHECK_FIELD_MAX,
  checkConclusion,
  checkOutput,
  checkTitle,
  commitState,
  runConclusion,
  statusDescription
} from '../src/report/check-report.ts'
import type { ResultEntry } from '../src/fleet-state/fleet-state.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'

const ID = '20261122-021441-3f9c2ab-r1.1'
const result = (node: string, status: string, index: number): ResultEntry => ({
  node,
  modifyIndex: index,
  value: JSON.stringify({ deploy_id: ID, status, node, at: 1_790_000_000 })
})
function fleetOf(
  succeeded: string[],
  failed: string[] = [],
  pending: string[] = [],
  maxFailures = 0
) {
  const f = new FleetState({
    deployId: ID,
    baselineIndex: 1,
    maxFailures,
    targets: [...succeeded, ...failed, ...pending]
  })
  let i = 10
  for (const n of succeeded) f.applyResults([result(n, 'success', i++)], i * 100)
  for (const n of failed) f.applyResults([result(n, 'failure', i++)], i * 100)
  return f
}
const names = (n: number, prefix = 'node-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
const reportOf = (fleet: FleetState, extra: Partial<FleetReport> = {}): FleetReport => ({
  fleet,
  verdict: fleet.verdict(),
  facts: {
    manifestUrl: 's3://bucket/app/x.yml',
    checksum: 'f'.repeat(64),
    commit: 'a'.repeat(40),
    durationMs: 42_000
  },
  ...extra
})

describe('conclusion and title', () => {
  test('success: 48/50 tolerated within max-failures', () => {
    const r = reportOf(fleetOf(names(48), ['bad-1', 'bad-2'], [], 2))
    assert.equal(checkConclusion(r), 'success')
    assert.match(
      checkTitle(r),
      new RegExp(`^48 of 50 nodes on ${ID}; 2 did not, within max-failures 2 \\(bad-1 and 1 more: `)
    )
  })

  test('all converged', () => {
    const r = reportOf(fleetOf(names(50)))
    assert.equal(checkConclusion(r), 'success')
    assert.equal(checkTitle(r), `all 50 nodes on ${ID}`)
  })

  test('failure', () => {
    const r = reportOf(fleetOf(names(3), ['bad']))
    assert.equal(checkConclusion(r), 'failure')
    assert.equal(commitState(checkConclusion(r)), 'failure')
  })

  test('timed out', () => {
    const f = fleetOf(names(3), [], ['slow'])
    f.expire()
    const r = reportOf(f)
    assert.equal(checkConclusion(r), 'timed_out')
    assert.equal(checkTitle(r), 'timed out: 1 of 4 nodes silent (slow)')
    assert.equal(commitState('timed_out'), 'failure')
  })

  test('cancelled', () => {
    const f = fleetOf(names(1), [], ['x'])
    const r = reportOf(f, { facts: { cancelled: true } })
    assert.equal(checkConclusion(r), 'cancelled')
    assert.equal(
      checkTitle(r),
      `cancelled after the event: 1 of 2 nodes on ${ID}, 1 may still be applying it`
    )
    assert.equal(commitState('cancelled'), 'error')
  })

  test('an error while waiting fails the check', () => {
    const r = reportOf(fleetOf(names(1), [], ['x']), { facts: { error: 'consul unreachable' } })
    assert.equal(checkConclusion(r), 'failure')
    assert.match(statusDescription(r), /^stopped: consul unreachable \(1 of 2 on /)
  })

  test('not waited for: neutral', () => {
    const r = reportOf(fleetOf([], [], names(5)), { verdict: { done: false }, notWaiting: true })
    assert.equal(checkConclusion(r), 'neutral')
    assert.equal(statusDescription(r), `${ID} announced to 5 nodes; not waiting (wait: false)`)
  })

  test('in progress', () => {
    const r = reportOf(fleetOf(names(2), ['b'], names(7, 'p')), { verdict: { done: false } })
    assert.equal(checkTitle(r), `2 of 10 nodes on ${ID} so far, 1 failed`)
    assert.equal(commitState('in_progress'), 'pending')
  })
})

describe('the conclusion output', () => {
  test("is the check run's conclusion on every end of a run (neutral, not waiting, is success)", () => {
    const timedOut = (maxFailures: number) => {
      const f = fleetOf(names(3), [], ['slow'], maxFailures)
      f.expire()
      return f
    }
    const ends: Array<[string, FleetReport, string]> = [
      ['converged', reportOf(fleetOf(names(3))), 'success'],
      ['tolerated', reportOf(fleetOf(names(3), ['bad'], [], 1)), 'success'],
      ['failed nodes', reportOf(fleetOf(names(3), ['bad'])), 'failure'],
      ['silent nodes at the timeout', reportOf(timedOut(0)), 'timed_out'],
      ['silent node within max-failures', reportOf(timedOut(1)), 'success'],
      ['no live target', reportOf(fleetOf([])), 'failure'],
      [
        'cancelled',
        reportOf(fleetOf(names(1), [], ['x']), { facts: { cancelled: true } }),
        'cancelled'
      ],
      [
        'an error after announcing',
        reportOf(fleetOf(names(1), [], ['x']), { facts: { error: 'consul unreachable' } }),
        'failure'
      ],
      [
        'not waiting',
        reportOf(fleetOf([], [], names(2)), { verdict: { done: false }, notWaiting: true }),
        'success'
      ]
    ]
    for (const [name, r, expected] of ends) {
      // As the pipeline and main.ts decide whether the run fails.
      const cancelled = r.facts.cancelled === true
      const failed =
        cancelled ||
        r.facts.error !== undefined ||
        (!r.notWaiting && !(r.verdict.done && r.verdict.ok))
      const conclusion = runConclusion({ failed, cancelled, verdict: r.verdict })
      assert.equal(conclusion, expected, name)
      const check = checkConclusion(r)
      assert.equal(conclusion, check === 'neutral' ? 'success' : check, name)
    }
  })

  test('an error before anything is announced (bad input, plan stage) is failure', () => {
    assert.equal(runConclusion({ failed: true, cancelled: false }), 'failure')
    assert.equal(runConclusion({ failed: true, cancelled: true }), 'cancelled')
  })
})

describe('output', () => {
  test('summary has the facts and the per-node table; text the failed logs', () => {
    const r = reportOf(fleetOf(['web-1'], ['web-2']), {
      excerpts: [{ node: 'web-2', text: 'E: disk full\nstretcher: failure' }]
    })
    const out = checkOutput(r)
    assert.match(out.summary, /Deploy ID:\*\* `20261122-021441-3f9c2ab-r1.1`/)
    assert.match(out.summary, /Commit:\*\* `a{40}`/)
    assert.match(out.summary, /Manifest:\*\* `s3:\/\/bucket\/app\/x.yml`/)
    assert.match(out.summary, /Checksum \(sha256\):\*\* `f{64}`/)
    assert.match(out.summary, /Duration:\*\* 42s/)
    assert.match(out.summary, /^\| web-2 \| ❌ failed \| [\d.]+m?s \| `stretcher: failure` \|$/m)
    assert.match(out.summary, /^\| ❌ 1 \| `stretcher: failure` \| web-2 \|$/m)
    assert.doesNotMatch(out.summary + out.text, /```mermaid/, 'no Mermaid in a check run')
    assert.match(out.text ?? '', /<b>web-2<\/b>[\s\S]*E: disk full\nstretcher: failure/)
  })

  test('no text when no node failed', () => {
    assert.equal(checkOutput(reportOf(fleetOf(['a']))).text, undefined)
  })

  test('every field within 65,535 characters, with a note of the nodes and lines left out', () => {
    const hostile = names(5000, `${'|'.repeat(60)}<b>`)
    const failed = hostile.slice(0, 50)
    const r = reportOf(fleetOf(hostile.slice(50), failed), {
      excerpts: failed.map((node) => ({
        node,
        text: Array.from({ length: 200 }, (_, i) => `line ${i} ${'z'.repeat(390)}`).join('\n')
      }))
    })
    const out = checkOutput(r)
    assert.ok(out.summary.length <= CHECK_FIELD_MAX, String(out.summary.length))
    assert.ok((out.text ?? '').length <= CHECK_FIELD_MAX, String(out.text?.length))
    // Every failed node is a row; the successes are a count.
    const rows = out.summary.split('\n').filter((l) => l.includes('| ❌ failed |'))
    assert.equal(rows.length, 50)
    assert.match(out.summary, /✅ 4950 nodes succeeded/)
    assert.match(out.text ?? '', /the lines that matter/)
    // A smaller limit is honoured too.
    const small = checkOutput(r, 10_000)
    assert.ok(small.summary.length <= 10_000 && (small.text ?? '').length <= 10_000)
  })

  test('hostile node names and logs render inert', () => {
    const evil = [
      '[x](https://evil.example)',
      '<script>alert(1)</script>',
      '\x1b[2J\x1b[31mred',
      'a|b'
    ]
    const r = reportOf(fleetOf([], evil), {
      excerpts: evil.map((node) => ({
        node,
        text: '```\n</details><img src=x onerror=alert(1)>\n\x1b[31mboom'
      }))
    })
    const out = checkOutput(r)
    for (const field of [out.title, out.summary, out.text ?? '']) {
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(field, /\]\(https|<script|\x1b/)
    }
    assert.doesNotMatch(out.summary, /<img|<script/)
    for (const row of out.summary.split('\n').filter((l) => l.includes('❌ failure')))
      assert.equal(row.split('|').length, 6, row)
  })
})

describe('status description', () => {
  test('at most 140 characters, one line, whatever the fleet', () => {
    const r = reportOf(fleetOf([], names(300, `very-long-node-name-${'x'.repeat(60)}-`)))
    const d = statusDescription(r)
    assert.ok(d.length <= 140, String(d.length))
    assert.doesNotMatch(d, /\n/)
    assert.match(d, /^300 of 300 nodes failed \(very-long-node-name-x+-0 and 299 more: /)
  })
})
