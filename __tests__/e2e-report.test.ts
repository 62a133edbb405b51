// Every run that published leaves a job summary, end to end through dist/ against
// the local fleet: a failure with its cause in the headline, wait: false, a
// cancel after the event, and an error after announcing.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { startLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-report-'))
  await mkdir(join(work, 'build'))
  await writeFile(join(work, 'build/index.html'), 'hello\n')
})
after(() => rm(work, { recursive: true, force: true }))

type RunOptions = Parameters<typeof runAction>[2]

async function deploy(
  nodes: FleetNodeSpec[],
  inputs: Record<string, string> = {},
  options: (fleet: LocalFleet) => RunOptions = () => ({})
) {
  const fleet = await startLocalFleet({
    nodes,
    kvPrefix: 'stretcher/web',
    serverRunsStretcher: false
  })
  try {
    return await runAction(
      {
        path: 'build',
        app: 'web',
        environment: 'staging',
        's3-url': `s3://${fleet.s3.bucket}/releases`,
        's3-endpoint': fleet.s3.endpoint,
        'consul-addr': fleet.consul.url,
        dest: '/srv/web',
        'service-filter': '^web$',
        timeout: '20s',
        ...inputs
      },
      {
        ...fleet.s3.env,
        GITHUB_WORKSPACE: work,
        GITHUB_REPOSITORY: 'acme/web',
        GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
        GITHUB_RUN_ID: '99',
        GITHUB_RUN_ATTEMPT: '1'
      },
      { timeoutMs: 90_000, ...options(fleet) }
    )
  } finally {
    await fleet.stop()
  }
}

describe('every run leaves a job summary (dist/index.js)', { concurrency: 2 }, () => {
  test('a failed node: the verdict and its cause first, the failed node named with it', async () => {
    const run = await deploy([{ name: 'node-1' }, { name: 'node-2', fail: true, delayMs: 1500 }])
    assert.equal(run.code, 1, run.stdout)
    assert.match(
      run.summary,
      /^### ❌ web → staging: 1 of 2 nodes failed &#40;node-2: `simulated failure on node-2`&#41;$/m
    )
    assert.match(run.summary, /^\| ❌ 1 \| `simulated failure on node-2` \| node-2 \|$/m)
    assert.match(run.summary, /<details open><summary><b>node-2<\/b>: the lines that matter/)
    assert.match(run.summary, /event fired \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)
  })

  test('wait: false: what was published and that nodes may still be applying it', async () => {
    const run = await deploy([{ name: 'node-1', delayMs: 2000 }], { wait: 'false' })
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.summary, /^### 📣 web → staging: \S+ announced to 1 node; not waiting/m)
    assert.match(run.summary, /\*\*Published:\*\* yes: `s3:\/\//)
    assert.match(run.summary, /\*\*`latest` moved:\*\* yes: it names `/)
    assert.match(run.summary, /\*\*Event fired:\*\* yes, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)
    assert.match(run.summary, /\*\*Still applying:\*\* yes: 1 node had not reported/)
    assert.match(run.summary, /\*\*To roll back:\*\* no earlier release is recorded/)
  })

  test('cancelled after the event', async () => {
    const run = await deploy([{ name: 'node-1', deaf: true }], { timeout: '5m' }, () => ({
      onChild: (child) =>
        child.stdout?.on('data', (c: Buffer) => {
          if (c.toString().includes('fired event')) setTimeout(() => child.kill('SIGINT'), 300)
        })
    }))
    assert.equal(run.code, 1, run.stdout)
    assert.match(
      run.summary,
      /^### ⛔ web → staging: cancelled after the event: 0 of 1 nodes on (\S+), 1 may still be applying it; latest names \1$/m
    )
    assert.match(run.summary, /\*\*Event fired:\*\* yes/)
    assert.match(run.summary, /\*\*Nodes then:\*\* 0 succeeded, 0 failed, 1 not reported \(of 1\)/)
  })

  test('killed mid-wait: the post step writes what it knows', async () => {
    const run = await deploy([{ name: 'node-1', deaf: true }], { timeout: '5m' }, () => ({
      post: true,
      onChild: (child) =>
        child.stdout?.on('data', (c: Buffer) => {
          if (c.toString().includes('fired event')) setTimeout(() => child.kill('SIGKILL'), 300)
        })
    }))
    assert.equal(run.signal, 'SIGKILL')
    assert.equal(run.post?.code, 0, run.post?.stderr)
    assert.match(
      run.summary,
      /^### ⛔ web → staging: the deploy step stopped before its verdict &#40;cancelled or killed&#41;$/m
    )
    assert.match(run.summary, /\*\*`latest` moved:\*\* yes: it names `/)
    assert.match(run.summary, /\*\*Event fired:\*\* yes/)
  })

  test('an error after announcing', async () => {
    let injected = false
    const run = await deploy([{ name: 'node-1', deaf: true }], { timeout: '30s' }, (fleet) => ({
      onStdout: (c) => {
        if (injected || !c.includes('fired event')) return
        injected = true
        fleet.consul.faults.inject({
          kind: 'error',
          status: 403,
          body: 'Permission denied',
          method: 'GET',
          path: /^\/v1\/kv\/stretcher\/web\/results\//
        })
      }
    }))
    assert.equal(run.code, 1, run.stdout)
    assert.match(run.summary, /^### ❌ web → staging: stopped: Consul refused GET .*key:read/m)
    assert.match(run.summary, /\*\*`latest` moved:\*\* yes/)
    assert.match(run.summary, /\*\*Still applying:\*\* yes: 1 node had not reported/)
  })
})
