// dry-run end to end through dist/: the plan stage and what a deploy would do,
// with nothing written anywhere: the bucket's objects, every KV key's
// ModifyIndex, the sessions and the events are the same after as before.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { CLI, runAction } from '../fleet/run-action.ts'

let work: string
const KV = 'stretcher/web'

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-dry-run-'))
  await mkdir(join(work, 'build/public'), { recursive: true })
  await writeFile(join(work, 'build/public/version.txt'), 'one\n')
  await writeFile(join(work, 'build/index.html'), '<h1>hello</h1>\n')
})
after(() => rm(work, { recursive: true, force: true }))

let attempt = 0
function inputsFor(fleet: LocalFleet, extra: Record<string, string> = {}) {
  return {
    path: 'build',
    's3-url': `s3://${fleet.s3.bucket}/releases`,
    's3-endpoint': fleet.s3.endpoint,
    'consul-addr': fleet.consul.url,
    dest: '/srv/web',
    'service-filter': '^web$',
    timeout: '30s',
    ...extra
  }
}
function envFor(fleet: LocalFleet) {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_RUN_ID: '777',
    GITHUB_RUN_ATTEMPT: String(++attempt)
  }
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const res = await fetch(url)
  if (res.status === 404) return undefined
  assert.equal(res.status, 200, url)
  return (await res.json()) as T
}

/** Everything a deploy writes, as Consul's and S3's own APIs show it. */
async function worldOf(fleet: LocalFleet) {
  const objects = (
    await readdir(join(fleet.s3.directory, fleet.s3.bucket), { recursive: true }).catch(
      () => [] as string[]
    )
  )
    .filter((f) => f.endsWith('._S3rver_object'))
    .sort()
  const kv =
    (await getJson<Array<{ Key: string; ModifyIndex: number }>>(
      `${fleet.consul.url}/v1/kv/?recurse`
    )) ?? []
  const sessions =
    (await getJson<Array<{ ID: string }>>(`${fleet.consul.url}/v1/session/list`)) ?? []
  const events: string[] = []
  for (const agent of [fleet.consul.url, fleet.consul.agentUrl('node-1')]) {
    const list = (await getJson<Array<{ ID: string }>>(`${agent}/v1/event/list`)) ?? []
    events.push(...list.map((e) => e.ID))
  }
  return {
    objects,
    kv: Object.fromEntries(kv.map((e) => [e.Key, e.ModifyIndex])),
    sessions: sessions.map((s) => s.ID).sort(),
    events
  }
}

/** Runs `body` and checks that Consul and S3 look exactly as before, and that Consul saw only reads. */
async function writesNothing<T>(fleet: LocalFleet, body: () => Promise<T>): Promise<T> {
  const before = await worldOf(fleet)
  const seen = fleet.consul.requests.length
  const result = await body()
  const writes = fleet.consul.requests
    .slice(seen)
    .filter((r) => r.method !== 'GET')
    .map((r) => `${r.method} ${r.path}`)
  assert.deepEqual(writes, [], 'no write request reached Consul')
  assert.deepEqual(await worldOf(fleet), before)
  return result
}

function withFleet(body: (fleet: LocalFleet) => Promise<void>) {
  return withLocalFleet({ nodes: 3, kvPrefix: KV, serverRunsStretcher: false }, body)
}

describe('dry-run (dist/index.js)', () => {
  test('after a deploy: says ID, archive, targets, previous release and free lock; writes nothing', async () => {
    await withFleet(async (fleet) => {
      const first = await runAction(inputsFor(fleet), envFor(fleet))
      assert.equal(first.code, 0, first.stdout)
      const previous = first.outputs['deploy-id'] as string
      assert.ok(fleet.consul.events('node-1').length > 0, 'the real deploy fired an event')

      const dry = await writesNothing(fleet, () =>
        runAction(inputsFor(fleet, { 'dry-run': 'true' }), envFor(fleet))
      )
      assert.equal(dry.code, 0, dry.stdout)
      const id = dry.outputs['deploy-id'] as string
      assert.notEqual(id, previous)
      assert.equal(dry.outputs['nodes-total'], '3')
      assert.equal(dry.outputs.conclusion, 'success')
      assert.equal(dry.outputs['check-run-url'], '')
      assert.equal(dry.outputs['manifest-url'], undefined, 'no URL of an object that is not there')
      const out = dry.stdout
      assert.match(out, new RegExp(`dry run: would deploy ${id} of web`))
      // What the real deploy packed (same tree, a deploy ID of the same length).
      const packed = /packing (\d+) entries, (\S+ \S+), from/.exec(first.stdout)
      assert.ok(packed, first.stdout)
      assert.match(
        out,
        new RegExp(
          `archive: ${packed[1]} entries, ${packed[2]} as tar \\(19 B of file data\\) before gzip`
        )
      )
      assert.match(
        out,
        new RegExp(`manifest: s3://releases/releases/web/${id}\\.yml \\(\\d+ bytes`)
      )
      assert.match(out, /targets: 3 nodes \(event "deploy"\): node-1, node-2, node-3/)
      assert.match(
        out,
        new RegExp(
          `previous release: ${previous} \\(latest s3://releases/releases/web/${previous}\\.yml\\), commit abcdef0, published \\S+, by https://github.com/acme/web/actions/runs/777/attempts/1`
        )
      )
      assert.match(out, /deploy lock stretcher\/web\/lock: free/)
      assert.match(
        out,
        new RegExp(`dry run: deploying ${id} could go ahead on 3 nodes; nothing written`)
      )
      assert.equal(dry.errors.length, 0, dry.errors.join('\n'))
      assert.match(dry.summary, /## 🔍 Dry run: deploy/)
      assert.equal(dry.state['lock-session'], undefined, 'no lock session to clean up')
    })
  })

  test('a staged rollout with layout: releases: each step and its nodes in order; writes nothing', async () => {
    await withFleet(async (fleet) => {
      const dry = await writesNothing(fleet, () =>
        runAction(
          inputsFor(fleet, {
            'dry-run': 'true',
            layout: 'releases',
            waves: '1, 100%',
            'node-filter': '^node-[23]$'
          }),
          envFor(fleet)
        )
      )
      assert.equal(dry.code, 0, dry.stdout)
      const steps = dry.stdout
        .split('\n')
        .filter((l) => /(prepare|switch[^:]*): \d+ nodes?: /.test(l))
      assert.deepEqual(
        steps.map((l) => l.replace(/^.*?((prepare|switch)[^:]*: )/, '$1')),
        [
          'prepare: 2 nodes: node-2, node-3',
          'switch wave 1/2: 1 node: node-2',
          'switch wave 2/2: 1 node: node-3'
        ],
        dry.stdout
      )
      assert.match(dry.summary, /\| switch wave 2\/2 \| 1 node: node-3 \|/)
    })
  })

  test('with the lock held by another run: names the holder, exits 0, takes no session; rollback-to is verified, not announced', async () => {
    await withFleet(async (fleet) => {
      const first = await runAction(inputsFor(fleet), envFor(fleet))
      assert.equal(first.code, 0, first.stdout)
      const firstId = first.outputs['deploy-id'] as string
      await writeFile(join(work, 'build/public/version.txt'), 'two\n')
      const second = await runAction(inputsFor(fleet), envFor(fleet))
      assert.equal(second.code, 0, second.stdout)

      // Another run holds the lock, as acquireLock leaves it.
      const session = (await (
        await fetch(`${fleet.consul.url}/v1/session/create`, {
          method: 'PUT',
          body: JSON.stringify({ Name: 'stretcher-action stretcher/web/lock', TTL: '60s' })
        })
      ).json()) as { ID: string }
      const holder = {
        deploy_id: 'held-by-someone-else',
        run_url: 'https://github.com/acme/web/actions/runs/555/attempts/1',
        started_at: '2026-11-30T11:00:00.000Z'
      }
      const acquired = await fetch(`${fleet.consul.url}/v1/kv/${KV}/lock?acquire=${session.ID}`, {
        method: 'PUT',
        body: JSON.stringify(holder)
      })
      assert.equal(await acquired.text(), 'true')

      const dry = await writesNothing(fleet, () =>
        runAction(inputsFor(fleet, { 'dry-run': 'true' }), envFor(fleet))
      )
      assert.equal(dry.code, 0, dry.stdout)
      assert.match(
        dry.stdout,
        new RegExp(
          `deploy lock stretcher/web/lock: held by https://github.com/acme/web/actions/runs/555/attempts/1, deploy held-by-someone-else, since 2026-11-30T11:00:00.000Z \\(session ${session.ID} on consul-server-1\\); a deploy now would wait for it`
        )
      )
      assert.match(dry.stdout, /could go ahead on 3 nodes \(after the run holding the lock\)/)

      const rollback = await writesNothing(fleet, () =>
        runAction(inputsFor(fleet, { 'dry-run': 'true', 'rollback-to': firstId }), envFor(fleet))
      )
      assert.equal(rollback.code, 0, rollback.stdout)
      assert.equal(rollback.outputs['deploy-id'], firstId)
      assert.equal(rollback.outputs['manifest-url'], first.outputs['manifest-url'])
      assert.equal(rollback.outputs.checksum, first.outputs.checksum)
      assert.match(rollback.stdout, new RegExp(`dry run: would roll back to ${firstId} of web`))
      assert.match(rollback.stdout, new RegExp(`sha256 ${first.outputs.checksum} \\(verified\\)`))
      assert.match(rollback.stdout, new RegExp(`previous release: ${second.outputs['deploy-id']} `))

      // The plan stage fails as it does without dry-run: non-zero, the reason, nothing written.
      const unknown = await writesNothing(fleet, () =>
        runAction(
          inputsFor(fleet, { 'dry-run': 'true', 'rollback-to': '20200101-000000-0000000-r1.1' }),
          envFor(fleet)
        )
      )
      assert.equal(unknown.code, 1)
      assert.equal(unknown.outputs.conclusion, 'failure')
      assert.match(
        unknown.errors[0] ?? '',
        /^rollback-to "20200101-000000-0000000-r1\.1" is not a release of web/
      )
      const missing = await writesNothing(fleet, () =>
        runAction(inputsFor(fleet, { 'dry-run': 'true', path: 'nope' }), envFor(fleet))
      )
      assert.equal(missing.code, 1)
      assert.match(missing.errors[0] ?? '', /^path /)
    })
  })

  test('CLI --dry-run --json: exit 0, the plan as JSON, nothing written', async () => {
    await withFleet(async (fleet) => {
      const run = await writesNothing(
        fleet,
        () =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(
              process.execPath,
              [
                CLI,
                'deploy',
                '--app',
                'web',
                '--path',
                'build',
                '--s3-url',
                `s3://${fleet.s3.bucket}/cli`,
                '--s3-endpoint',
                fleet.s3.endpoint,
                '--dest',
                '/srv/web',
                '--service-filter',
                '^web$',
                '--dry-run',
                '--json'
              ],
              {
                env: {
                  PATH: process.env.PATH ?? '',
                  HOME: work,
                  ...fleet.s3.env,
                  CONSUL_HTTP_ADDR: fleet.consul.url,
                  CI_COMMIT_SHA: 'feedface00112233445566778899aabbccddeeff'
                },
                cwd: work
              }
            )
            let stdout = ''
            let stderr = ''
            child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
            child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
            child.on('close', (code) => resolve({ code, stdout, stderr }))
          })
      )
      assert.equal(run.code, 0, run.stderr)
      const result = JSON.parse(run.stdout) as {
        ok: boolean
        message: string
        outputs: Record<string, string>
        dry_run: { targets: string[]; archive: { files: number }; previous: object; lock: object }
      }
      assert.equal(result.ok, true)
      assert.match(result.message, /^dry run: deploying \S+-feedfac-\S+ could go ahead on 3 nodes/)
      assert.equal(result.outputs.conclusion, 'success')
      assert.deepEqual(result.dry_run.targets, ['node-1', 'node-2', 'node-3'])
      assert.equal(
        result.dry_run.archive.files,
        4,
        'public/, public/version.txt, index.html, DEPLOY_ID'
      )
      assert.deepEqual(result.dry_run.previous, {})
      assert.deepEqual(result.dry_run.lock, { held: false })
      assert.match(run.stderr, /previous release: none/)
    })
  })
})
