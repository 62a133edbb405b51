// The fleet on the pull request, end to end: dist/index.js against the local
// fleet and a stand-in GitHub API, as a pull_request workflow runs it.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FakeGitHub } from '../fleet/github-api.ts'
import { HTML_URL, startFakeGitHub } from '../fleet/github-api.ts'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { startLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'

const HEAD_SHA = '1111111111111111111111111111111111111111'
const MERGE_SHA = '2222222222222222222222222222222222222222'
const TOKEN = 'ghs_e2eTokenThatMustNeverBePrinted0001'
let work: string
let github: FakeGitHub

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-github-'))
  await mkdir(join(work, 'build'))
  await writeFile(join(work, 'build/index.html'), 'hello\n')
  await writeFile(
    join(work, 'event.json'),
    JSON.stringify({ pull_request: { number: 7, head: { sha: HEAD_SHA } } })
  )
  github = await startFakeGitHub()
})
after(async () => {
  await github.stop()
  await rm(work, { recursive: true, force: true })
})

async function deployOnPr(
  nodes: FleetNodeSpec[],
  inputs: Record<string, string> = {},
  options: RunOptions | ((fleet: LocalFleet) => RunOptions) = {}
) {
  const fleet: LocalFleet = await startLocalFleet({
    nodes,
    kvPrefix: 'stretcher/web',
    serverRunsStretcher: false
  })
  github.calls.length = 0
  try {
    return await runAction(
      {
        path: 'build',
        's3-url': `s3://${fleet.s3.bucket}/releases`,
        's3-endpoint': fleet.s3.endpoint,
        'consul-addr': fleet.consul.url,
        dest: '/srv/web',
        'service-filter': '^web$',
        timeout: '20s',
        'github-token': TOKEN,
        ...inputs
      },
      {
        ...fleet.s3.env,
        GITHUB_WORKSPACE: work,
        GITHUB_REPOSITORY: 'acme/web',
        GITHUB_SHA: MERGE_SHA,
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: join(work, 'event.json'),
        GITHUB_RUN_ID: '99',
        GITHUB_RUN_ATTEMPT: '1',
        GITHUB_API_URL: github.url,
        GITHUB_SERVER_URL: 'https://github.example.com'
      },
      { timeoutMs: 90_000, ...(typeof options === 'function' ? options(fleet) : options) }
    )
  } finally {
    await fleet.stop()
  }
}

type RunOptions = Parameters<typeof runAction>[2]

/** The check run's html_url as the stand-in API answers it, from the PATCHes the run sent. */
function checkRunUrlOf(run: { state: Record<string, string> }): string {
  const id = run.state['check-run-id']
  assert.ok(id, 'the run saved its check run ID')
  return `${HTML_URL}/acme/web/runs/${id}`
}

/** A deaf node keeps the run waiting; SIGKILL 300 ms after the event, then the post step runs. */
async function deployKilledMidWait(inputs: Record<string, string>) {
  const run = await deployOnPr(
    [{ name: 'node-1', deaf: true }],
    { timeout: '5m', ...inputs },
    {
      post: true,
      onChild: (child) =>
        child.stdout?.on('data', (c: Buffer) => {
          if (c.toString().includes('fired event')) setTimeout(() => child.kill('SIGKILL'), 300)
        })
    }
  )
  assert.equal(run.signal, 'SIGKILL')
  assert.equal(run.post?.code, 0, run.post?.stderr)
  return run
}

describe('the fleet on the pull request (dist/index.js)', () => {
  test('the check run lands on the PR head SHA, completes failure, and carries the failed node excerpt', async () => {
    const run = await deployOnPr([{ name: 'node-1' }, { name: 'node-2', fail: true }], {
      'max-failures': '0'
    })
    assert.equal(run.code, 1)
    const created = github.calls.find(
      (c) => c.method === 'POST' && c.path === '/repos/acme/web/check-runs'
    )
    assert.ok(created, JSON.stringify(github.calls.map((c) => `${c.method} ${c.path}`)))
    assert.equal(created.body.head_sha, HEAD_SHA, 'the PR head, not the merge commit')
    assert.equal(created.body.name, 'stretcher / web')
    assert.equal(created.body.status, 'in_progress')
    assert.equal(
      created.body.details_url,
      'https://github.example.com/acme/web/actions/runs/99/attempts/1'
    )
    assert.equal(created.authorization, `token ${TOKEN}`)
    const completed = github.calls.filter((c) => c.method === 'PATCH').at(-1)
    assert.equal(completed?.body.conclusion, 'failure')
    assert.equal(run.outputs.conclusion, 'failure')
    assert.equal(run.outputs['check-run-url'], checkRunUrlOf(run))
    assert.equal(completed?.path, `/repos/acme/web/check-runs/${run.state['check-run-id']}`)
    const output = completed?.body.output as { title: string; summary: string; text: string }
    // node-2's failure decides the run (max-failures 0) whether or not node-1 had
    // reported by then: the title says which, as the results output does.
    const rows = JSON.parse(run.outputs.results as string) as Array<{
      node: string
      status: string
    }>
    const node1 = rows.find((r) => r.node === 'node-1')?.status
    if (node1 === 'success')
      assert.match(output.title, /^1 of 2 nodes failed \(node-2: simulated failure on node-2\)$/)
    else
      assert.match(
        output.title,
        /^1 of 2 nodes failed, 1 still deploying \(node-2: simulated failure on node-2[;)]/
      )
    assert.match(output.text, /simulated failure on node-2/)
    // The job summary carries the picture and the log.
    assert.match(run.summary, /```mermaid/)
    assert.match(run.summary, /simulated failure on node-2/)
    // `::add-mask::` is how a secret is handed to the runner to mask; it never reaches the log.
    assert.ok(run.stdout.includes(`::add-mask::${TOKEN}`), 'the token is masked')
    const printed = run.stdout.replace(/^::add-mask::.*$/gm, '')
    const sent = JSON.stringify(github.calls.map((c) => c.body))
    for (const text of [printed, run.stderr, run.summary, JSON.stringify(run.outputs), sent])
      assert.ok(!text.includes(TOKEN))
  })

  test('a token that may not write checks falls back to a commit status; the verdict stands', async () => {
    github.refuseChecks = true
    try {
      const run = await deployOnPr([{ name: 'node-1' }])
      assert.equal(run.code, 0, run.stdout)
      const status = github.calls
        .filter((c) => c.method === 'POST' && c.path === `/repos/acme/web/statuses/${HEAD_SHA}`)
        .at(-1)
      assert.ok(status, JSON.stringify(github.calls.map((c) => `${c.method} ${c.path}`)))
      assert.equal(status.body.state, 'success')
      assert.equal(run.outputs.conclusion, 'success')
      assert.equal(run.outputs['check-run-url'], '', 'a commit status, not a check run')
      assert.equal(status.body.context, 'stretcher / web')
      assert.ok(String(status.body.description).length <= 140)
      assert.equal(
        status.body.target_url,
        'https://github.example.com/acme/web/actions/runs/99/attempts/1'
      )
    } finally {
      github.refuseChecks = false
    }
  })

  test('a main step killed mid-wait: the post step completes its check run and deployment as cancelled', async () => {
    const run = await deployKilledMidWait({ environment: 'staging' })
    const checkRunId = run.state['check-run-id']
    assert.ok(checkRunId, 'the main step saved its check run')
    const closing = github.calls
      .filter((c) => c.method === 'PATCH' && c.path === `/repos/acme/web/check-runs/${checkRunId}`)
      .at(-1)
    assert.equal(closing?.body.status, 'completed')
    assert.equal(closing?.body.conclusion, 'cancelled')
    const states = github.calls
      .filter((c) => /\/deployments\/\d+\/statuses$/.test(c.path))
      .map((c) => c.body.state)
    assert.deepEqual(states, ['in_progress', 'error'])
  })

  test('a main step killed mid-wait with checks refused: the post step turns its pending commit status to error', async () => {
    github.refuseChecks = true
    try {
      const run = await deployKilledMidWait({})
      const statuses = github.calls
        .filter((c) => c.method === 'POST' && c.path === `/repos/acme/web/statuses/${HEAD_SHA}`)
        .map((c) => `${c.body.context}: ${c.body.state}`)
      assert.deepEqual(statuses, ['stretcher / web: pending', 'stretcher / web: error'])
      assert.match(run.post?.stdout ?? '', /completed the commit status left pending/)
    } finally {
      github.refuseChecks = false
    }
  })

  test('with environment: a deployment (auto_merge false, no required contexts) and its statuses', async () => {
    const run = await deployOnPr([{ name: 'node-1' }], { environment: 'production' })
    assert.equal(run.code, 0, run.stdout)
    assert.equal(run.outputs.conclusion, 'success')
    assert.equal(run.outputs['check-run-url'], checkRunUrlOf(run))
    const deployment = github.calls.find(
      (c) => c.method === 'POST' && c.path === '/repos/acme/web/deployments'
    )
    assert.ok(deployment)
    assert.equal(deployment.body.environment, 'production')
    assert.equal(deployment.body.auto_merge, false)
    assert.deepEqual(deployment.body.required_contexts, [])
    assert.equal(
      (deployment.body.payload as Record<string, string>).deploy_id,
      run.outputs['deploy-id']
    )
    const states = github.calls
      .filter((c) => /\/deployments\/\d+\/statuses$/.test(c.path))
      .map((c) => c.body.state)
    assert.deepEqual(states, ['in_progress', 'success'])
  })
})

describe('the conclusion and check-run-url outputs (dist/index.js)', () => {
  /** The check run's last conclusion, as the run itself sent it. */
  const lastConclusion = () =>
    github.calls.filter((c) => c.method === 'PATCH' && c.body.conclusion).at(-1)?.body.conclusion

  test('SIGTERM mid-wait: cancelled, like the check run the step completed itself', async () => {
    const run = await deployOnPr(
      [{ name: 'node-1', deaf: true }],
      { timeout: '5m' },
      {
        onChild: (child) =>
          child.stdout?.on('data', (c: Buffer) => {
            if (c.toString().includes('fired event')) setTimeout(() => child.kill('SIGTERM'), 300)
          })
      }
    )
    assert.equal(run.code, 1, run.stdout)
    assert.equal(run.outputs.conclusion, 'cancelled')
    assert.equal(lastConclusion(), 'cancelled')
    assert.equal(run.outputs['check-run-url'], checkRunUrlOf(run))
  })

  test('silent nodes at the timeout: timed_out', async () => {
    const run = await deployOnPr([{ name: 'node-1' }, { name: 'node-2', deaf: true }], {
      timeout: '2s'
    })
    assert.equal(run.code, 1, run.stdout)
    assert.equal(run.outputs.conclusion, 'timed_out')
    assert.equal(lastConclusion(), 'timed_out')
    assert.equal(run.outputs['check-run-url'], checkRunUrlOf(run))
  })

  test('an error after announcing: failure, the check run completed with it', async () => {
    let injected = false
    const run = await deployOnPr(
      [
        { name: 'node-1', delayMs: 500 },
        { name: 'node-2', deaf: true }
      ],
      { timeout: '30s' },
      (fleet) => ({
        onStdout: (c) => {
          // Once the event is out, reading results/ is refused: the wait breaks off.
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
      })
    )
    assert.equal(run.code, 1, run.stdout)
    assert.match(run.errors[0] ?? '', /403|Permission denied|key:read/)
    assert.equal(run.outputs.conclusion, 'failure')
    assert.equal(lastConclusion(), 'failure')
    assert.equal(run.outputs['check-run-url'], checkRunUrlOf(run))
  })

  test('bad input and dry run: set too, with no check run', async () => {
    const bad = await deployOnPr([{ name: 'node-1' }], { timeout: '10' })
    assert.equal(bad.code, 1)
    assert.equal(bad.outputs.conclusion, 'failure')
    assert.equal(bad.outputs['check-run-url'], '')
    const dry = await deployOnPr([{ name: 'node-1' }], { 'dry-run': 'true' })
    assert.equal(dry.code, 0, dry.stdout)
    assert.equal(dry.outputs.conclusion, 'success')
    assert.equal(dry.outputs['check-run-url'], '')
    assert.deepEqual(github.calls, [], 'a dry run tells GitHub nothing')
  })
})
