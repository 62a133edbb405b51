// Operating a fleet on a bad day, end to end through dist/: rollback, the deploy
// lock, cancellation mid-wait, late-joining nodes, and the CLI.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { CLI, runAction } from '../fleet/run-action.ts'

let work: string
const KV = 'stretcher/web'

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-operate-'))
  await build('v1', 'one')
  await build('v2', 'two')
})
after(() => rm(work, { recursive: true, force: true }))

async function build(name: string, version: string): Promise<string> {
  const dir = join(work, name)
  await mkdir(join(dir, 'public'), { recursive: true })
  await writeFile(join(dir, 'public/version.txt'), `${version}\n`)
  return name
}

function withFleet(nodes: number | FleetNodeSpec[], body: (fleet: LocalFleet) => Promise<void>) {
  return withLocalFleet({ nodes, kvPrefix: KV, serverRunsStretcher: false }, body)
}

let attempt = 0
function inputsFor(fleet: LocalFleet, extra: Record<string, string> = {}) {
  return {
    path: 'v1',
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

async function bucketObjects(fleet: LocalFleet): Promise<string[]> {
  const files = await readdir(join(fleet.s3.directory, fleet.s3.bucket), { recursive: true }).catch(
    () => [] as string[]
  )
  return files.filter((f) => f.endsWith('._S3rver_object')).sort()
}

const versionOn = (fleet: LocalFleet, node: string) =>
  readFile(join(fleet.nodeTree(node, '/srv/web'), 'public/version.txt'), 'utf8')

describe('operating the fleet', () => {
  test('rollback-to an earlier ID: nothing built or uploaded, nodes back on the old tree', async () => {
    await withFleet(3, async (fleet) => {
      const first = await runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet))
      assert.equal(first.code, 0, first.stdout)
      const second = await runAction(inputsFor(fleet, { path: 'v2' }), envFor(fleet))
      assert.equal(second.code, 0, second.stdout)
      assert.equal(await versionOn(fleet, 'node-1'), 'two\n')
      const objects = await bucketObjects(fleet)
      const historyBefore = fleet.consul.kv(`${KV}/history/${first.outputs['deploy-id']}`)

      const rollback = await runAction(
        inputsFor(fleet, {
          'rollback-to': first.outputs['deploy-id'] as string,
          path: 'does-not-exist'
        }),
        envFor(fleet)
      )
      assert.equal(rollback.code, 0, rollback.stdout)
      assert.equal(rollback.outputs['deploy-id'], first.outputs['deploy-id'])
      assert.equal(rollback.outputs['manifest-url'], first.outputs['manifest-url'])
      assert.equal(rollback.outputs.checksum, first.outputs.checksum)
      assert.equal(rollback.outputs['nodes-succeeded'], '3')
      assert.deepEqual(await bucketObjects(fleet), objects, 'no new object uploaded')
      for (const node of fleet.nodes.keys())
        assert.equal(await versionOn(fleet, node), 'one\n', node)
      assert.equal(
        fleet.consul.kv(`${KV}/latest`)?.value?.toString(),
        first.outputs['manifest-url']
      )
      assert.equal(
        fleet.consul.kv(`${KV}/deploy-id`)?.value?.toString(),
        first.outputs['deploy-id']
      )
      assert.equal(
        fleet.consul.kv(`${KV}/history/${first.outputs['deploy-id']}`)?.modifyIndex,
        historyBefore?.modifyIndex,
        'history not rewritten'
      )
    })
  })

  test('rollback-to an unknown ID fails listing the most recent IDs, writing nothing', async () => {
    await withFleet(1, async (fleet) => {
      const done = await runAction(inputsFor(fleet), envFor(fleet))
      assert.equal(done.code, 0, done.stdout)
      const latest = fleet.consul.kv(`${KV}/latest`)
      const run = await runAction(
        inputsFor(fleet, { 'rollback-to': '20200101-000000-0000000-r1.1' }),
        envFor(fleet)
      )
      assert.equal(run.code, 1)
      assert.equal(
        run.errors[0],
        `rollback-to "20200101-000000-0000000-r1.1" is not a release of web (no ${KV}/history/20200101-000000-0000000-r1.1); most recent: ${done.outputs['deploy-id']}`
      )
      assert.equal(fleet.consul.kv(`${KV}/latest`)?.modifyIndex, latest?.modifyIndex)
    })
  })

  test('two concurrent runs: the second waits for the lock, then deploys; latest never interleaves', async () => {
    await withFleet([{ name: 'node-1', delayMs: 1500 }, { name: 'node-2' }], async (fleet) => {
      const events: Array<[string, number]> = []
      let holding: () => void = () => {}
      const firstHolds = new Promise<void>((resolve) => (holding = resolve))
      const firstRun = runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet), {
        onStdout: (c) => {
          if (c.includes('holding the deploy lock')) holding()
          if (c.includes('fired event')) events.push(['first fired', Date.now()])
        }
      }).then((r) => {
        events.push(['first done', Date.now()])
        holding()
        return r
      })
      // The second run starts once the first holds the lock (a fixed pause raced a loaded machine).
      await firstHolds
      const second = await runAction(inputsFor(fleet, { path: 'v2' }), envFor(fleet), {
        onStdout: (c) => c.includes('fired event') && events.push(['second fired', Date.now()])
      })
      const first = await firstRun
      assert.equal(first.code, 0, first.stdout)
      assert.equal(second.code, 0, second.stdout)
      assert.match(
        second.stdout,
        /waiting for the deploy lock stretcher\/web\/lock, held by https:\/\/github\.com\/acme\/web\/actions\/runs\/777\/attempts\/\d+, deploy /
      )
      const firstDone = events.find(([w]) => w === 'first done')?.[1] ?? 0
      const secondFired = events.find(([w]) => w === 'second fired')?.[1] ?? 0
      assert.ok(
        secondFired >= firstDone - 200,
        'the second event fired only after the first run finished'
      )
      assert.equal(
        fleet.consul.kv(`${KV}/latest`)?.value?.toString(),
        second.outputs['manifest-url']
      )
      assert.equal(fleet.consul.kv(`${KV}/lock`)?.session, undefined, 'lock free at the end')
      assert.equal(await versionOn(fleet, 'node-1'), 'two\n')
    })
  })

  test('SIGINT mid-wait: the run stops within the grace period, says cancelled, the lock is free', async () => {
    await withFleet([{ name: 'node-1' }, { name: 'node-2', deaf: true }], async (fleet) => {
      let sentAt = 0
      const run = await runAction(inputsFor(fleet, { timeout: '5m' }), envFor(fleet), {
        onChild: (child) => {
          child.stdout?.on('data', (c: Buffer) => {
            if (!sentAt && c.toString().includes('fired event')) {
              sentAt = Date.now()
              setTimeout(() => child.kill('SIGINT'), 300)
            }
          })
        },
        post: true
      })
      const stopMs = Date.now() - sentAt
      assert.ok(sentAt > 0, 'the event was fired')
      assert.ok(stopMs < 7500, `stopped ${stopMs} ms after the signal`)
      assert.equal(run.code, 1)
      assert.match(run.errors[0] ?? '', /^cancelled: 1\/2 done|^cancelled: 0\/2 done/)
      assert.equal(fleet.consul.kv(`${KV}/lock`)?.session, undefined, 'lock released')
      assert.equal(run.state['lock-released'], 'true')
      assert.equal(run.post?.code, 0)
    })
  })

  test('a run killed outright leaves the lock to the post step', async () => {
    await withFleet([{ name: 'node-1', deaf: true }], async (fleet) => {
      const run = await runAction(inputsFor(fleet, { timeout: '5m' }), envFor(fleet), {
        onChild: (child) => {
          child.stdout?.on('data', (c: Buffer) => {
            if (c.toString().includes('fired event')) setTimeout(() => child.kill('SIGKILL'), 200)
          })
        },
        post: true
      })
      assert.equal(run.signal, 'SIGKILL')
      assert.ok(run.state['lock-session'], 'the main step saved its lock session')
      assert.notEqual(run.state['lock-released'], 'true')
      assert.equal(run.post?.code, 0, run.post?.stderr)
      assert.match(
        run.post?.stdout ?? '',
        /released the deploy lock stretcher\/web\/lock the main step left behind/
      )
      assert.equal(fleet.consul.kv(`${KV}/lock`)?.session, undefined)
    })
  })

  test('a node that joins during the deploy catches up from latest, reports, and is counted; one joining after boots into it', async () => {
    await withFleet([{ name: 'node-1', delayMs: 2000 }], async (fleet) => {
      let joined: Promise<unknown> | undefined
      const run = await runAction(inputsFor(fleet), envFor(fleet), {
        onStdout: (c) => {
          if (!joined && c.includes('fired event'))
            joined = fleet.addNode({ name: 'node-late', services: [{ name: 'web' }] })
        }
      })
      await joined
      assert.equal(run.code, 0, run.stdout)
      const results = JSON.parse(run.outputs.results as string) as Array<{
        node: string
        status: string
      }>
      assert.deepEqual(
        results.map((r) => [r.node, r.status]),
        [
          ['node-1', 'success'],
          ['node-late', 'success']
        ]
      )
      assert.match(run.summary, /joined during the deploy/)

      const after = await fleet.addNode({ name: 'node-asg', services: [{ name: 'web' }] })
      await after.waitForRuns(1)
      assert.equal(
        (await readFile(join(fleet.nodeTree('node-asg', '/srv/web'), 'DEPLOY_ID'), 'utf8')).trim(),
        run.outputs['deploy-id']
      )
    })
  })
})

describe('CLI (dist/cli.js)', () => {
  function cli(args: string[], env: Record<string, string>) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: work, ...env },
        cwd: work
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  }
  const flags = (fleet: LocalFleet) => [
    'deploy',
    '--app',
    'web',
    '--path',
    'v1',
    '--s3-url',
    `s3://${fleet.s3.bucket}/cli`,
    '--s3-endpoint',
    fleet.s3.endpoint,
    '--dest',
    '/srv/web',
    '--service-filter',
    '^web$',
    '--timeout',
    '20s'
  ]

  test('happy path with --json: exit 0, one JSON result on stdout, CONSUL_HTTP_ADDR honoured', async () => {
    await withFleet(2, async (fleet) => {
      const run = await cli([...flags(fleet), '--json'], {
        ...fleet.s3.env,
        CONSUL_HTTP_ADDR: fleet.consul.url.replace('http://', ''),
        CI_COMMIT_SHA: 'feedface00112233445566778899aabbccddeeff'
      })
      assert.equal(run.code, 0, run.stderr)
      const result = JSON.parse(run.stdout) as { ok: boolean; outputs: Record<string, unknown> }
      assert.equal(result.ok, true)
      assert.match(result.outputs['deploy-id'] as string, /-feedfac-x[0-9a-f]{10}$/)
      assert.equal(result.outputs['nodes-succeeded'], '2')
      assert.match(run.stderr, /▸ Pack and upload/)
    })
  })

  test('a failed deploy exits 1 naming the node; bad input exits 2 with one line', async () => {
    await withFleet([{ name: 'node-1' }, { name: 'node-2', fail: true }], async (fleet) => {
      const failed = await cli(flags(fleet), {
        ...fleet.s3.env,
        CONSUL_HTTP_ADDR: fleet.consul.url
      })
      assert.equal(failed.code, 1)
      assert.match(failed.stderr, /✖ \d\/2 nodes on \S+, more than 0 failed: failed: node-2/)
      const bad = await cli([...flags(fleet), '--timeout', '10'], {
        ...fleet.s3.env,
        CONSUL_HTTP_ADDR: fleet.consul.url
      })
      assert.equal(bad.code, 2)
      assert.equal(
        bad.stderr,
        '✖ timeout must be a Go duration such as 90s, 10m or 1h30m (got "10")\n'
      )
    })
  })
})
