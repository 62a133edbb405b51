import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { DryRunPlan } from '../src/plan/dry-run.ts'
import { dryRunLines, dryRunMarkdown, dryRunMessage } from '../src/plan/dry-run.ts'

const ID = '20261130-113000-abcdef0-r7.1'
const PREVIOUS = '20261129-090000-1234567-r6.1'

function plan(extra: Partial<DryRunPlan> = {}): DryRunPlan {
  return {
    app: 'web',
    deployId: ID,
    rollback: false,
    archive: { tarBytes: 20_480, fileBytes: 1234, files: 4 },
    release: {
      srcUrl: `s3://releases/app/web/${ID}.tgz`,
      manifestUrl: `s3://releases/app/web/${ID}.yml`
    },
    eventName: 'deploy',
    targets: ['web-1', 'web-2'],
    filteredOut: 1,
    notLive: 0,
    previous: {
      deployId: PREVIOUS,
      manifestUrl: `s3://releases/app/web/${PREVIOUS}.yml`,
      history: {
        commit: '1234567890abcdef1234567890abcdef12345678',
        published_at: '2026-11-29T09:00:00.000Z',
        run_url: 'https://github.com/acme/web/actions/runs/6/attempts/1'
      }
    },
    lock: { held: false },
    lockKey: 'stretcher/web/lock',
    ...extra
  }
}

describe('dry run report', () => {
  test('a deploy: ID, archive, manifest, targets, previous release, free lock, nothing written', () => {
    assert.deepEqual(dryRunLines(plan()), [
      `dry run: would deploy ${ID} of web`,
      `archive: 4 entries, 20.5 kB as tar (1.2 kB of file data) before gzip, to s3://releases/app/web/${ID}.tgz`,
      `manifest: s3://releases/app/web/${ID}.yml (54 bytes as the event payload)`,
      'targets: 2 nodes (event "deploy"): web-1, web-2; 1 other nodes filtered out',
      `previous release: ${PREVIOUS} (latest s3://releases/app/web/${PREVIOUS}.yml), commit 1234567, published 2026-11-29T09:00:00.000Z, by https://github.com/acme/web/actions/runs/6/attempts/1`,
      'deploy lock stretcher/web/lock: free',
      'nothing was written: no S3 object, no Consul key, event or session'
    ])
    assert.equal(
      dryRunMessage(plan()),
      `dry run: deploying ${ID} could go ahead on 2 nodes; nothing written`
    )
  })

  test('a staged rollout lists each step and its nodes, in order, after the targets', () => {
    const many = Array.from({ length: 25 }, (_, i) => `web-${i + 2}`)
    const staged = plan({
      targets: ['web-1', ...many],
      steps: [
        { label: 'prepare', nodes: ['web-1', ...many] },
        { label: 'switch wave 1/2', nodes: ['web-1'] },
        { label: 'switch wave 2/2', nodes: many }
      ]
    })
    const lines = dryRunLines(staged)
    const at = lines.findIndex((l) => l.startsWith('targets: '))
    assert.deepEqual(lines.slice(at + 1, at + 4), [
      `prepare: 26 nodes: web-1, ${many.slice(0, 19).join(', ')} and 6 more`,
      'switch wave 1/2: 1 node: web-1',
      `switch wave 2/2: 25 nodes: ${many.slice(0, 20).join(', ')} and 5 more`
    ])
    assert.match(lines[at + 4] ?? '', /^previous release: /)
    assert.match(dryRunMarkdown(staged), /^\| switch wave 1\/2 \| 1 node: web-1 \|$/m)
    assert.doesNotMatch(dryRunLines(plan()).join('\n'), /wave|prepare/, 'one step: no list')
  })

  test('with backend: serf it names what Serf would have been told, not Consul', () => {
    const serf = plan({ backend: 'serf', lockKey: 's3://releases/app/web/lock' })
    const last = dryRunLines(serf).at(-1)
    assert.equal(
      last,
      'nothing was written: no S3 object (release, latest, history or lock), no Serf tag, event or query'
    )
    assert.doesNotMatch(dryRunMarkdown(serf), /Consul/)
    // Consul's payload limit is not Serf's (whose 512 bytes are checked before the send).
    const long = `s3://releases/${'x'.repeat(600)}.yml`
    const release = { srcUrl: long, manifestUrl: long }
    assert.doesNotMatch(dryRunLines({ ...serf, release }).join('\n'), /Consul/)
    assert.match(dryRunLines(plan({ release })).join('\n'), /Consul 1\.22\+ accepts/)
  })

  test('a first deploy has no previous release; a deploy-id without history says so', () => {
    assert.equal(
      dryRunLines(plan({ previous: {} }))[4],
      'previous release: none (no latest, no deploy-id yet)'
    )
    assert.equal(
      dryRunLines(plan({ previous: { deployId: PREVIOUS } }))[4],
      `previous release: ${PREVIOUS} (no latest), no history record`
    )
  })

  test('a held lock names the holding run, its deploy and session, and says a deploy would wait', () => {
    const held = plan({
      lock: {
        held: true,
        session: 'c0ffee00-0000-4000-8000-000000000001',
        node: 'runner-7',
        holder: {
          deploy_id: PREVIOUS,
          run_url: 'https://github.com/acme/web/actions/runs/6/attempts/1',
          started_at: '2026-11-30T11:00:00.000Z'
        }
      }
    })
    assert.equal(
      dryRunLines(held)[5],
      `deploy lock stretcher/web/lock: held by https://github.com/acme/web/actions/runs/6/attempts/1, deploy ${PREVIOUS}, since 2026-11-30T11:00:00.000Z (session c0ffee00-0000-4000-8000-000000000001 on runner-7); a deploy now would wait for it`
    )
    assert.match(
      dryRunMessage(held),
      /could go ahead on 2 nodes \(after the run holding the lock\)/
    )
    // A holder value that is not ours: still held, by "another run".
    assert.match(
      dryRunLines(plan({ lock: { held: true, session: 's-1' } }))[5] as string,
      /held by another run \(session s-1\)/
    )
  })

  test('a rollback shows the verified release instead of a new archive', () => {
    const rollback = plan({
      rollback: true,
      deployId: PREVIOUS,
      archive: undefined,
      release: {
        srcUrl: `s3://releases/app/web/${PREVIOUS}.tgz`,
        manifestUrl: `s3://releases/app/web/${PREVIOUS}.yml`,
        checksum: 'a'.repeat(64),
        archiveBytes: 2048
      }
    })
    const lines = dryRunLines(rollback)
    assert.equal(lines[0], `dry run: would roll back to ${PREVIOUS} of web`)
    assert.equal(
      lines[1],
      `archive: s3://releases/app/web/${PREVIOUS}.tgz, 2.0 kB, sha256 ${'a'.repeat(64)} (verified)`
    )
  })

  test('a long manifest URL is flagged; fleet text stays inert in the summary', () => {
    const long = `s3://releases/${'p'.repeat(80)}/web/${ID}.yml`
    assert.match(
      dryRunLines(plan({ release: { srcUrl: 'x', manifestUrl: long } }))[2] as string,
      /bytes as the event payload, over the 100 Consul 1\.22\+ accepts\)$/
    )
    const hostile = plan({
      lock: { held: true, session: 's', holder: { run_url: '<img src=x> [x](y) \x1b[31m' } }
    })
    const md = dryRunMarkdown(hostile)
    assert.ok(!md.includes('<img'), md)
    assert.ok(!md.includes('\x1b'), md)
    assert.match(md, /^## 🔍 Dry run: deploy `20261130-113000-abcdef0-r7\.1`/)
    assert.match(md, /Nothing was written/)
  })
})
