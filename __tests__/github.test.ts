import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, before, describe, test } from 'node:test'
import nock from 'nock'
import type { ResultEntry } from '../src/fleet-state/fleet-state.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'
import type { GitHubReporterOptions } from '../src/github/reporter.ts'
import { createGitHubReporter, reportSha } from '../src/github/reporter.ts'
import { memoryLog } from '../src/shared/log.ts'

const API = 'https://api.github.com'
const TOKEN = 'ghs_SECRETtoken0123456789'
const ID = '20261122-021441-3f9c2ab-r1.1'
const MERGE_SHA = 'a'.repeat(40)
const HEAD_SHA = 'b'.repeat(40)
const RUN_URL = 'https://github.com/octo/app/actions/runs/42/attempts/1'
const CHECKS = '/repos/octo/app/check-runs'
const STATUSES = `/repos/octo/app/statuses/${MERGE_SHA}`
const PR_PAYLOAD = { pull_request: { number: 7, head: { sha: HEAD_SHA } } }

const baseEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  GITHUB_REPOSITORY: 'octo/app',
  GITHUB_SHA: MERGE_SHA,
  GITHUB_EVENT_NAME: 'push',
  GITHUB_API_URL: API,
  ...extra
})

const result = (node: string, status: string, index: number): ResultEntry => ({
  node,
  modifyIndex: index,
  value: JSON.stringify({ deploy_id: ID, status, node, at: 1_790_000_000 })
})
function newFleet(targets = ['web-1', 'web-2']) {
  return new FleetState({ deployId: ID, baselineIndex: 1, maxFailures: 0, targets })
}
const facts = {
  manifestUrl: 's3://bucket/app/x.yml',
  checksum: 'c'.repeat(64),
  commit: MERGE_SHA,
  runUrl: RUN_URL
}

function setup(opts: Partial<GitHubReporterOptions> & { clock?: { t: number } } = {}) {
  const log = memoryLog()
  const sleeps: number[] = []
  const clock = opts.clock ?? { t: 1_000_000 }
  const reporter = createGitHubReporter({
    token: TOKEN,
    env: baseEnv(),
    checkName: 'stretcher / app',
    log,
    now: () => clock.t,
    retry: { sleep: async (ms) => void sleeps.push(ms), baseDelayMs: 1000 },
    ...opts
  })
  return { reporter, log, sleeps, clock }
}

const warnings = (lines: string[]) => lines.filter((l) => l.startsWith('warning:'))
const noTokenIn = (lines: string[]) => {
  for (const l of lines) assert.ok(!l.includes(TOKEN), `token leaked: ${l}`)
}

interface Sent {
  method: string
  path: string
  body: Record<string, unknown>
}
/** Every request a scope answered, in order, with its JSON body. */
function sentTo(scope: nock.Scope): Sent[] {
  const sent: Sent[] = []
  scope.on('request', (req: { url: string; method: string }, _i: unknown, body: string) => {
    sent.push({
      method: req.method,
      path: new URL(req.url).pathname,
      body: body ? JSON.parse(body) : {}
    })
  })
  return sent
}
const bodiesOf = (sent: Sent[], method: string, path: string) =>
  sent.filter((r) => r.method === method && r.path === path).map((r) => r.body)

before(() => {
  nock.disableNetConnect()
  nock.enableNetConnect('127.0.0.1')
})
afterEach(() => {
  nock.cleanAll()
})

describe('reportSha', () => {
  test('pull_request: the PR head SHA from the payload, not the merge commit', () => {
    assert.equal(reportSha(baseEnv({ GITHUB_EVENT_NAME: 'pull_request' }), PR_PAYLOAD), HEAD_SHA)
    assert.equal(
      reportSha(baseEnv({ GITHUB_EVENT_NAME: 'pull_request_target' }), PR_PAYLOAD),
      HEAD_SHA
    )
  })

  test('read from GITHUB_EVENT_PATH', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'event-')), 'event.json')
    writeFileSync(path, JSON.stringify(PR_PAYLOAD))
    assert.equal(
      reportSha(baseEnv({ GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path })),
      HEAD_SHA
    )
  })

  test('push: GITHUB_SHA; a malformed head SHA falls back to it', () => {
    assert.equal(reportSha(baseEnv(), PR_PAYLOAD), MERGE_SHA)
    const bad = { pull_request: { head: { sha: 'not-a-sha' } } }
    assert.equal(reportSha(baseEnv({ GITHUB_EVENT_NAME: 'pull_request' }), bad), MERGE_SHA)
  })
})

describe('check run', () => {
  test('created in_progress on the PR head SHA, with the token and details_url', async () => {
    const scope = nock(API, { reqheaders: { authorization: `token ${TOKEN}` } })
      .post(CHECKS)
      .reply(201, { id: 99 })
    const sent = sentTo(scope)
    const { reporter, log } = setup({
      env: baseEnv({ GITHUB_EVENT_NAME: 'pull_request' }),
      eventPayload: PR_PAYLOAD
    })
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone())
    const body = bodiesOf(sent, 'POST', CHECKS)[0] as Record<string, unknown> & {
      output: { title: string; summary: string }
    }
    assert.equal(body.head_sha, HEAD_SHA)
    assert.equal(body.name, 'stretcher / app')
    assert.equal(body.status, 'in_progress')
    assert.equal(body.details_url, RUN_URL)
    assert.equal(body.external_id, ID)
    assert.equal(body.conclusion, undefined)
    assert.equal(body.output.title, `0 of 2 nodes on ${ID} so far`)
    assert.match(body.output.summary, /s3:\/\/bucket\/app\/x.yml/)
    assert.deepEqual(warnings(log.lines), [])
  })

  test("checkRunUrl: the created run's html_url, undefined before", async () => {
    nock(API)
      .post(CHECKS)
      .reply(201, { id: 99, html_url: 'https://github.com/octo/app/runs/99' })
      .patch(`${CHECKS}/99`)
      .reply(200, { id: 99, html_url: 'https://github.com/octo/app/runs/99' })
    const { reporter } = setup()
    const fleet = newFleet()
    assert.equal(reporter.checkRunUrl(), undefined)
    await reporter.started({ fleet, facts })
    assert.equal(reporter.checkRunUrl(), 'https://github.com/octo/app/runs/99')
    await reporter.finished({ fleet, verdict: fleet.verdict(), cancelled: true })
    assert.equal(reporter.checkRunUrl(), 'https://github.com/octo/app/runs/99')
  })

  test('on a push: GITHUB_SHA', async () => {
    const sent = sentTo(nock(API).post(CHECKS).reply(201, { id: 1 }))
    await setup().reporter.started({ fleet: newFleet(), facts })
    assert.equal(bodiesOf(sent, 'POST', CHECKS)[0]?.head_sha, MERGE_SHA)
  })

  test('progress: at most one update per 10 s', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(201, { id: 99 })
      .patch(`${CHECKS}/99`)
      .reply(200, { id: 99 })
    const sent = sentTo(scope)
    const { reporter, clock, log } = setup()
    const fleet = newFleet()
    await reporter.started({ fleet, facts })
    clock.t += 5000
    await reporter.progress({ fleet }) // too soon: no request (nock would refuse a second PATCH)
    clock.t += 5000
    fleet.applyResults([result('web-1', 'success', 5)], 10_000)
    await reporter.progress({ fleet })
    clock.t += 9999
    await reporter.progress({ fleet })
    assert.ok(scope.isDone())
    const bodies = bodiesOf(sent, 'PATCH', `${CHECKS}/99`)
    assert.equal(bodies.length, 1)
    const body = bodies[0] as { status: string; output: { title: string } }
    assert.equal(body.status, 'in_progress')
    assert.equal(body.output.title, `1 of 2 nodes on ${ID} so far`)
    assert.deepEqual(warnings(log.lines), [])
  })

  for (const [name, outcomeOf, conclusion] of [
    [
      'success',
      (f: FleetState) => {
        f.applyResults([result('web-1', 'success', 5), result('web-2', 'success', 6)], 2000)
        return { fleet: f, verdict: f.verdict() }
      },
      'success'
    ],
    [
      'failure',
      (f: FleetState) => {
        f.applyResults([result('web-1', 'success', 5), result('web-2', 'failure', 6)], 2000)
        return {
          fleet: f,
          verdict: f.verdict(),
          excerpts: [{ node: 'web-2', text: 'E: boom on web-2' }]
        }
      },
      'failure'
    ],
    [
      'timed_out',
      (f: FleetState) => {
        f.expire()
        return { fleet: f, verdict: f.verdict() }
      },
      'timed_out'
    ],
    [
      'cancelled',
      (f: FleetState) => ({ fleet: f, verdict: f.verdict(), cancelled: true }),
      'cancelled'
    ]
  ] as const) {
    test(`completed: ${name}`, async () => {
      const scope = nock(API)
        .post(CHECKS)
        .reply(201, { id: 7 })
        .patch(`${CHECKS}/7`)
        .reply(200, { id: 7 })
      const sent = sentTo(scope)
      const { reporter, log } = setup()
      const fleet = newFleet()
      await reporter.started({ fleet, facts })
      await reporter.finished({ ...outcomeOf(fleet), durationMs: 2500 })
      assert.ok(scope.isDone())
      const body = bodiesOf(sent, 'PATCH', `${CHECKS}/7`)[0] as {
        status: string
        conclusion: string
        completed_at: string
        output: { title: string; summary: string; text?: string }
      }
      assert.equal(body.status, 'completed')
      assert.equal(body.conclusion, conclusion)
      assert.match(body.completed_at, /^\d{4}-\d\d-\d\dT/)
      assert.match(body.output.summary, /Duration:\*\* 2\.5s/)
      if (name === 'failure') {
        assert.match(body.output.title, /^1 of 2 nodes failed \(\S+: /)
        assert.match(
          body.output.text ?? '',
          /<b>web-2<\/b>: the lines that matter[\s\S]*E: boom on web-2/
        )
      }
      assert.deepEqual(warnings(log.lines), [])
    })
  }

  test('waves handed to finished() reach the check run as a table (no Mermaid)', async () => {
    const sent = sentTo(
      nock(API).post(CHECKS).reply(201, { id: 9 }).patch(`${CHECKS}/9`).reply(200, {})
    )
    const { reporter } = setup()
    const fleet = newFleet()
    await reporter.started({ fleet, facts })
    fleet.applyResults([result('web-1', 'success', 5), result('web-2', 'success', 6)])
    await reporter.finished({
      fleet,
      verdict: fleet.verdict(),
      waves: [
        { wave: 1, nodes: ['web-1'], startedAt: 0, endedAt: 1000, passed: true },
        { wave: 2, nodes: ['web-2'], startedAt: 2000, endedAt: 3500, passed: true }
      ]
    })
    const body = bodiesOf(sent, 'PATCH', `${CHECKS}/9`)[0] as { output: { summary: string } }
    assert.match(
      body.output.summary,
      /^\| 2 \| ✅ passed \| 1: web-2 \| 1 \| 0 \| 0 \| [^|]* \| 1\.5s \|/m
    )
    assert.doesNotMatch(body.output.summary, /mermaid/)
  })

  test('finished without a created run (create failed earlier) creates it completed', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(422, { message: 'No commit found for SHA' })
      .post(CHECKS)
      .reply(201, { id: 3 })
    const sent = sentTo(scope)
    const { reporter, log } = setup()
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    assert.match(
      warnings(log.lines)[0] ?? '',
      /could not create the check run "stretcher \/ app": 422 No commit found/
    )
    fleet.applyResults([result('a', 'success', 5)])
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    assert.equal(bodiesOf(sent, 'POST', CHECKS)[1]?.conclusion, 'success')
  })

  test('a huge fleet stays within 65,535 characters per field', async () => {
    const sent = sentTo(
      nock(API).post(CHECKS).reply(201, { id: 5 }).patch(`${CHECKS}/5`).reply(200, {})
    )
    const { reporter } = setup()
    const targets = Array.from({ length: 5000 }, (_, i) => `node-${'x'.repeat(60)}-${i}`)
    const fleet = newFleet(targets)
    await reporter.started({ fleet, facts })
    fleet.applyResults(targets.map((n, i) => result(n, 'failure', 10 + i)))
    const excerpts = targets
      .slice(0, 10)
      .map((node) => ({ node, text: `log line ${'x'.repeat(300)}\n`.repeat(2000) }))
    await reporter.finished({ fleet, verdict: fleet.verdict(), excerpts })
    const output = (
      bodiesOf(sent, 'PATCH', `${CHECKS}/5`)[0] as { output: { summary: string; text: string } }
    ).output
    assert.ok(output.summary.length <= 65_535 && output.text.length <= 65_535)
    // 5,000 failed nodes: the causes table names what fits, the node table is cut; both say so.
    assert.match(output.summary, /and \d+ more \|/)
    assert.match(output.summary, /more nodes left out of this table/)
    assert.match(output.text, /the lines that matter/)
  })
})

describe('fallback to a commit status', () => {
  test('403 "Resource not accessible by integration" → commit status pending, then the result', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(403, { message: 'Resource not accessible by integration' })
      .post(STATUSES)
      .reply(201, {})
      .post(STATUSES)
      .reply(201, {})
    const sent = sentTo(scope)
    const { reporter, log, sleeps } = setup()
    const fleet = newFleet(Array.from({ length: 200 }, (_, i) => `a-very-long-node-name-${i}`))
    await reporter.started({ fleet, facts })
    fleet.applyResults(fleet.list().map((s, i) => result(s.node, 'failure', 10 + i)))
    await reporter.progress({ fleet }) // statuses carry no progress
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    assert.deepEqual(sleeps, []) // a refusal is not retried
    const [pending, done] = bodiesOf(sent, 'POST', STATUSES) as Array<Record<string, string>>
    assert.equal(pending?.state, 'pending')
    assert.equal(done?.state, 'failure')
    for (const b of [pending, done]) {
      assert.equal(b?.context, 'stretcher / app')
      assert.equal(b?.target_url, RUN_URL)
      assert.ok((b?.description ?? '').length <= 140, b?.description)
    }
    assert.match(
      done?.description ?? '',
      /^200 of 200 nodes failed \(a-very-long-node-name-0 and 199 more: /
    )
    assert.equal(reporter.checkRunUrl(), undefined, 'a commit status has no check run URL')
    assert.deepEqual(warnings(log.lines), [])
    assert.ok(
      log.lines.some((l) => /reporting as the commit status "stretcher \/ app" instead/.test(l))
    )
  })

  test('the status refused too → one warning, no more requests, never throws', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(403, { message: 'Resource not accessible by integration' })
      .post(STATUSES)
      .reply(403, { message: 'Resource not accessible by integration' })
    const { reporter, log } = setup()
    const fleet = newFleet()
    await reporter.started({ fleet, facts })
    await reporter.progress({ fleet })
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    const w = warnings(log.lines)
    assert.equal(w.length, 1)
    assert.match(
      w[0] ?? '',
      /neither check runs nor commit statuses \(403 Resource not accessible by integration\)/
    )
    assert.match(w[0] ?? '', /permissions: checks: write/)
    noTokenIn(log.lines)
  })

  test('an update refused after creation falls back too', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(201, { id: 8, html_url: 'https://github.com/octo/app/runs/8' })
      .patch(`${CHECKS}/8`)
      .reply(403, { message: 'Resource not accessible by integration' })
      .post(STATUSES)
      .reply(201, {})
    const sent = sentTo(scope)
    const { reporter } = setup()
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    fleet.applyResults([result('a', 'success', 5)])
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    assert.equal(bodiesOf(sent, 'POST', STATUSES)[0]?.state, 'success')
    // The run left in_progress is not where the result is: no URL.
    assert.equal(reporter.checkRunUrl(), undefined)
  })
})

describe('retries', () => {
  test('5xx then success: retried with backoff', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(502, 'Bad Gateway')
      .post(CHECKS)
      .reply(503, { message: 'Service Unavailable' })
      .post(CHECKS)
      .reply(201, { id: 1 })
    const { reporter, log, sleeps } = setup()
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone())
    assert.deepEqual(sleeps, [1000, 2000])
    assert.deepEqual(warnings(log.lines), [])
    assert.ok(
      log.lines.some((l) => /POST \/repos\/\{owner\}\/\{repo\}\/check-runs: 502/.test(l)),
      log.lines.join('\n')
    )
  })

  test('5xx that persists: gives up after the retries with a warning', async () => {
    const scope = nock(API).post(CHECKS).times(4).reply(500, { message: 'oops' })
    const { reporter, log, sleeps } = setup()
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone())
    assert.equal(sleeps.length, 3)
    assert.match(warnings(log.lines)[0] ?? '', /could not create the check run.*500 oops/)
  })

  test('429 with retry-after: waits as asked', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(429, { message: 'Too Many Requests' }, { 'retry-after': '2' })
      .post(CHECKS)
      .reply(201, { id: 1 })
    const { reporter, sleeps, log } = setup()
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone())
    assert.deepEqual(sleeps, [2000])
    assert.deepEqual(warnings(log.lines), [])
  })

  test('secondary rate limit (403 with retry-after) is waited out, not taken for a refusal', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '3' })
      .post(CHECKS)
      .reply(201, { id: 1 })
    const { reporter, sleeps } = setup()
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone()) // no commit-status fallback
    assert.deepEqual(sleeps, [3000])
  })

  test('primary rate limit: waits until x-ratelimit-reset', async () => {
    const clock = { t: 1_000_000_000 }
    nock(API)
      .post(CHECKS)
      .reply(
        403,
        { message: 'API rate limit exceeded' },
        {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(clock.t / 1000 + 5)
        }
      )
      .post(CHECKS)
      .reply(201, { id: 1 })
    const { reporter, sleeps } = setup({ clock })
    await reporter.started({ fleet: newFleet(), facts })
    assert.deepEqual(sleeps, [5000])
  })

  test('a rate limit asking for longer than a minute is not waited for', async () => {
    nock(API).post(CHECKS).reply(429, { message: 'slow down' }, { 'retry-after': '3600' })
    const { reporter, sleeps, log } = setup()
    await reporter.started({ fleet: newFleet(), facts })
    assert.deepEqual(sleeps, [])
    assert.match(warnings(log.lines)[0] ?? '', /429 slow down/)
  })
})

describe('deployment', () => {
  test('with environment: deployment, in_progress, then success with log_url', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(201, { id: 1 })
      .post('/repos/octo/app/deployments')
      .reply(201, { id: 555 })
      .post('/repos/octo/app/deployments/555/statuses')
      .reply(201, {})
      .patch(`${CHECKS}/1`)
      .reply(200, {})
      .post('/repos/octo/app/deployments/555/statuses')
      .reply(201, {})
    const sent = sentTo(scope)
    const { reporter, log } = setup({
      environment: 'production',
      env: baseEnv({ GITHUB_EVENT_NAME: 'pull_request' }),
      eventPayload: PR_PAYLOAD
    })
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    fleet.applyResults([result('a', 'success', 5)])
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    const d = bodiesOf(sent, 'POST', '/repos/octo/app/deployments')[0] ?? {}
    assert.equal(d.ref, HEAD_SHA)
    assert.equal(d.environment, 'production')
    assert.equal(d.auto_merge, false)
    assert.deepEqual(d.required_contexts, [])
    assert.deepEqual(d.payload, {
      deploy_id: ID,
      manifest_url: facts.manifestUrl,
      checksum: facts.checksum
    })
    const [first, last] = bodiesOf(sent, 'POST', '/repos/octo/app/deployments/555/statuses')
    assert.equal(first?.state, 'in_progress')
    assert.equal(last?.state, 'success')
    assert.equal(last?.log_url, RUN_URL)
    assert.ok(String(last?.description).length <= 140)
    assert.deepEqual(warnings(log.lines), [])
  })

  test('a failed fleet marks the deployment failed', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(201, { id: 1 })
      .post('/repos/octo/app/deployments')
      .reply(201, { id: 9 })
      .post('/repos/octo/app/deployments/9/statuses')
      .times(2)
      .reply(201, {})
      .patch(`${CHECKS}/1`)
      .reply(200, {})
    const sent = sentTo(scope)
    const { reporter } = setup({ environment: 'staging' })
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    fleet.applyResults([result('a', 'failure', 5)])
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.deepEqual(
      bodiesOf(sent, 'POST', '/repos/octo/app/deployments/9/statuses').map((b) => b.state),
      ['in_progress', 'failure']
    )
  })

  test('no environment: no deployment requests', async () => {
    const scope = nock(API).post(CHECKS).reply(201, { id: 1 }).patch(`${CHECKS}/1`).reply(200, {})
    const { reporter, log } = setup()
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    assert.deepEqual(warnings(log.lines), [])
  })

  test('deployment refused: a warning, the check run still completes', async () => {
    const scope = nock(API)
      .post(CHECKS)
      .reply(201, { id: 1 })
      .post('/repos/octo/app/deployments')
      .reply(403, { message: 'Resource not accessible by integration' })
      .patch(`${CHECKS}/1`)
      .reply(200, {})
    const { reporter, log } = setup({ environment: 'production' })
    const fleet = newFleet(['a'])
    await reporter.started({ fleet, facts })
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(scope.isDone())
    assert.match(
      warnings(log.lines)[0] ?? '',
      /could not record the GitHub deployment to production: 403/
    )
  })
})

describe('environment', () => {
  test('GitHub Enterprise Server: GITHUB_API_URL is used', async () => {
    const scope = nock('https://ghe.example.com').post(`/api/v3${CHECKS}`).reply(201, { id: 1 })
    const { reporter, log } = setup({
      env: baseEnv({ GITHUB_API_URL: 'https://ghe.example.com/api/v3' })
    })
    await reporter.started({ fleet: newFleet(), facts })
    assert.ok(scope.isDone())
    assert.deepEqual(warnings(log.lines), [])
  })

  test('no token or no repository: a no-op reporter, no request', async () => {
    for (const opts of [{ token: undefined }, { env: baseEnv({ GITHUB_REPOSITORY: undefined }) }]) {
      const { reporter, log } = setup(opts)
      const fleet = newFleet()
      await reporter.started({ fleet, facts })
      await reporter.progress({ fleet })
      await reporter.finished({ fleet, verdict: fleet.verdict() })
      assert.equal(reporter.checkRunUrl(), undefined)
      assert.deepEqual(warnings(log.lines), [])
    }
    assert.deepEqual(nock.pendingMocks(), [])
  })

  test('the token never appears in a warning, even when GitHub echoes it', async () => {
    nock(API)
      .post(CHECKS)
      .reply(422, { message: `Bad credentials ${TOKEN}` })
      .post(CHECKS)
      .replyWithError(`connect ECONNREFUSED token ${TOKEN}`)
      .post(CHECKS)
      .times(3)
      .reply(500, { message: `oops ${TOKEN}` })
    const { reporter, log } = setup()
    const fleet = newFleet()
    await reporter.started({ fleet, facts })
    await reporter.finished({ fleet, verdict: fleet.verdict() })
    assert.ok(warnings(log.lines).length >= 2)
    noTokenIn(log.lines)
  })

  test('unreachable API: never throws', async () => {
    nock(API).post(CHECKS).times(4).replyWithError('socket hang up')
    const { reporter, log } = setup()
    const fleet = newFleet()
    await reporter.started({ fleet, facts })
    assert.equal(warnings(log.lines).length, 1)
  })
})
