import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEPLOY_ID_PATTERN, deployIdProblem, generateDeployId } from '../src/config/deploy-id.ts'

const sha = '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b'

describe('generateDeployId', () => {
  test('carries time, short SHA, run and attempt, within the allowed alphabet and length', () => {
    const id = generateDeployId({
      now: new Date('2026-11-22T02:14:41.500Z'),
      sha,
      runId: '98765432101',
      runAttempt: '2'
    })
    assert.equal(id, '20261122-021441-3f9c2ab-r98765432101.2')
    assert.match(id, DEPLOY_ID_PATTERN)
    assert.ok(id.length <= 48)
  })

  test('a re-run of the same commit (next attempt) yields a new ID', () => {
    const now = new Date('2026-11-22T02:14:41Z')
    const first = generateDeployId({ now, sha, runId: '77', runAttempt: '1' })
    const rerun = generateDeployId({ now, sha, runId: '77', runAttempt: '2' })
    assert.notEqual(first, rerun)
  })

  test('sorts by time across days, hours and seconds', () => {
    const times = [
      '2026-01-02T00:00:00Z',
      '2026-01-01T23:59:59Z',
      '2025-12-31T12:00:00Z',
      '2026-01-01T23:59:58Z'
    ]
    const ids = times.map((t) =>
      generateDeployId({ now: new Date(t), sha, runId: '1', runAttempt: '1' })
    )
    const byTime = [...times].sort()
    const byId = [...ids].sort()
    assert.deepEqual(
      byId,
      byTime.map((t) => generateDeployId({ now: new Date(t), sha, runId: '1', runAttempt: '1' }))
    )
  })

  test('outside GitHub Actions two runs in the same second still differ', () => {
    const now = new Date('2026-11-22T02:14:41Z')
    const a = generateDeployId({ now, sha })
    const b = generateDeployId({ now, sha })
    assert.notEqual(a, b)
    assert.match(a, DEPLOY_ID_PATTERN)
    assert.match(
      generateDeployId({ now, random: () => Buffer.from('0102030405', 'hex') }),
      /^20261122-021441-nosha-x0102030405$/
    )
  })

  test('hostile SHA or run values cannot widen the alphabet or the length', () => {
    const id = generateDeployId({
      now: new Date(),
      sha: '../$(rm -rf)/',
      runId: '1; echo',
      runAttempt: '9'.repeat(40)
    })
    assert.match(id, DEPLOY_ID_PATTERN)
    assert.ok(id.length <= 48, id)
  })
})

describe('deployIdProblem', () => {
  for (const [id, problem] of [
    ['', /empty/],
    ['a'.repeat(49), /at most 48/],
    ['with space', /only letters/],
    ['-leading-dash', /start with a letter or digit/],
    ['.hidden', /start with a letter or digit/],
    ['a/b', /only letters/],
    ['{{x}}', /only letters/]
  ] as const) {
    test(`refuses ${JSON.stringify(id)}`, () => assert.match(deployIdProblem(id) ?? '', problem))
  }
  test('accepts a 48-character ID of the allowed alphabet', () => {
    assert.equal(deployIdProblem(`v1.2_3-${'a'.repeat(41)}`), undefined)
  })
})
