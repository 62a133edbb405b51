// What a run tells the report about its release and how far it got.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AnnounceJournal } from '../src/consul/announce.ts'
import { announcementProgress } from '../src/consul/announce.ts'
import { readConfig } from '../src/config/config.ts'
import type { Release } from '../src/publish/publish.ts'
import { runFacts } from '../src/report/run-facts.ts'

const env = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '12345678901',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKSPACE: '/work/space',
  AWS_REGION: 'eu-west-1'
}
const config = (inputs: Record<string, string>) =>
  readConfig((name) => inputs[name] ?? '', env, new Date('2026-11-30T11:57:30Z'))
const base = { 's3-url': 's3://bucket/releases', environment: 'production' }
const release: Release = {
  deployId: 'old-1',
  srcUrl: 's3://b/releases/web/old-1.tgz',
  manifestUrl: 's3://b/releases/web/old-1.yml',
  checksum: 'f'.repeat(64),
  archiveBytes: 1,
  files: 0,
  commit: '1111111aaaabbbbccccddddeeeeffff000011111',
  publishedAt: '2026-11-28T16:04:11.000Z'
}
const journal = (phase: AnnounceJournal['phase']): AnnounceJournal => ({
  kvPrefix: 'stretcher/web',
  deployId: 'x',
  manifestUrl: 'm',
  eventName: 'deploy',
  filters: {},
  phase,
  before: [
    { key: 'stretcher/web/latest', value: 's3://b/releases/web/prev-1.yml' },
    { key: 'stretcher/web/deploy-id', value: 'prev-1' }
  ],
  agentReceives: false
})

describe('runFacts', () => {
  test("a rollback names the release's own commit and publish time, and what it replaces", () => {
    const f = runFacts(config({ ...base, 'rollback-to': 'old-1' }), {
      release,
      journal: announcementProgress(journal('fired')),
      firedAt: 5
    })
    assert.equal(f.rollback, true)
    assert.equal(f.commit, release.commit, 'not the commit of the run')
    assert.equal(f.publishedAt, release.publishedAt)
    assert.equal(f.previousDeployId, 'prev-1')
    assert.equal(f.app, 'web')
    assert.equal(f.environment, 'production')
    assert.equal(f.timeoutMs, 600_000)
    assert.deepEqual([f.latestMoved, f.eventFired, f.firedAt], [true, true, 5])
  })

  test('how far the announcement got: latest moved, event fired, or not known', () => {
    const c = config(base)
    const at = (phase?: AnnounceJournal['phase']) => {
      const f = runFacts(c, { release, journal: phase && announcementProgress(journal(phase)) })
      return [f.latestMoved, f.eventFired]
    }
    assert.deepEqual(at(undefined), [false, false])
    assert.deepEqual(at('writing'), [undefined, undefined])
    assert.deepEqual(at('written'), [true, false])
    assert.deepEqual(at('firing'), [true, undefined])
    assert.deepEqual(at('fired'), [true, true])
    assert.deepEqual(at('settled'), [false, false])
    assert.equal(runFacts(c, { release }).commit, env.GITHUB_SHA)
  })

  test("the seam's journal carries Consul's record as it is, for the post step", () => {
    const written = journal('written')
    const progress = announcementProgress(written)
    assert.equal(JSON.stringify(progress.record), JSON.stringify(written))
    assert.equal(progress.previousDeployId, 'prev-1')
    assert.deepEqual(
      (['writing', 'written', 'firing', 'fired', 'settled'] as const).map(
        (phase) => announcementProgress(journal(phase)).settled
      ),
      [false, false, false, true, true]
    )
  })
})
