// The operator commands end to end (contract 12), through dist/cli.js against
// the local fleet, after real deploys through dist/index.js: `status` and
// `history`, text and --json. The deploys set `dashboard: dashboard`, so the
// nodes' own sh + curl also write consul-kv-dashboard entries (contract 11).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import type { LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { CLI, runAction } from '../fleet/run-action.ts'

let work: string
const KV = 'stretcher/web'
const SHA = ['1111111', '2222222'].map((s) => `${s}${'0'.repeat(33)}`)

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-status-'))
  for (const v of ['v1', 'v2']) {
    await mkdir(join(work, v), { recursive: true })
    await writeFile(join(work, v, 'version.txt'), `${v}\n`)
  }
})
after(() => rm(work, { recursive: true, force: true }))

function cli(args: string[], env: Record<string, string> = {}) {
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

let attempt = 0
function deploy(fleet: LocalFleet, extra: Record<string, string>, sha: string) {
  return runAction(
    {
      's3-url': `s3://${fleet.s3.bucket}/releases`,
      's3-endpoint': fleet.s3.endpoint,
      'consul-addr': fleet.consul.url,
      dest: '/srv/web',
      'service-filter': '^web$',
      timeout: '20s',
      dashboard: 'dashboard',
      ...extra
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: sha,
      GITHUB_RUN_ID: '900',
      GITHUB_RUN_ATTEMPT: String(++attempt)
    }
  )
}

interface Flagged {
  Key: string
  Flags: number
  Value: string
}
async function dashboardEntry(
  fleet: LocalFleet,
  node: string,
  deployId?: string
): Promise<Flagged | undefined> {
  // The dashboard entry is the node's last command, after the result the run waits
  // for: the run may be over before it is written. Wait for this deploy's (briefly).
  for (let tries = 0; ; tries++) {
    const res = await fetch(`${fleet.consul.url}/v1/kv/dashboard/deploy/${node}/web`)
    const [entry] = res.status === 404 ? [] : ((await res.json()) as Flagged[])
    const value = entry && { ...entry, Value: Buffer.from(entry.Value, 'base64').toString('utf8') }
    if (deployId === undefined || value?.Value.includes(deployId) || tries >= 50) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test('status and history after two deploys, a failed node, a node left out and a partial rollback', async (t) => {
  let first = ''
  const nodes = [
    { name: 'node-1' },
    // fails every release but the first
    { name: 'node-2', fail: (id: string | undefined) => first !== '' && id !== first },
    { name: 'node-3' },
    { name: 'node-10' }
  ]
  await withLocalFleet({ nodes, kvPrefix: KV, serverRunsStretcher: false }, async (fleet) => {
    const connection = ['--app', 'web', '--consul-addr', fleet.consul.url]

    // Nothing deployed yet: status fails saying so; history is empty.
    const empty = await cli(['status', ...connection, '--service-filter', '^web$'])
    assert.equal(empty.code, 1, empty.stderr)
    assert.equal(
      empty.stderr,
      `✖ no current release: ${KV}/deploy-id is not set (nothing published yet?)\n`
    )
    const noHistory = await cli(['history', ...connection])
    assert.equal(noHistory.code, 0, noHistory.stderr)
    assert.equal(noHistory.stdout, `web (${KV}): no release published yet; current: none\n`)

    // 1: v1 to node-1..3 (node-10 left out by the node filter: it never reports).
    const one = await deploy(fleet, { path: 'v1', 'node-filter': '^node-[1-3]$' }, SHA[0]!)
    assert.equal(one.code, 0, one.stdout)
    first = one.outputs['deploy-id']!
    const dash = await dashboardEntry(fleet, 'node-1', first)
    assert.equal(dash?.Flags !== undefined && dash.Flags % 1000, 0)
    assert.ok(Math.abs(Math.trunc(dash!.Flags / 1000) - Date.now() / 1000) < 60)
    assert.equal(dash?.Value, `deploy ${first}: success`)

    // 2: v2 to node-1 and node-2; node-2 fails, node-3 is left behind on v1.
    const two = await deploy(fleet, { path: 'v2', 'node-filter': '^node-[12]$' }, SHA[1]!)
    assert.equal(two.code, 1, two.stdout)
    const second = two.outputs['deploy-id']!
    const failedDash = await dashboardEntry(fleet, 'node-2', second)
    assert.equal(failedDash && failedDash.Flags % 1000, 2)
    assert.equal(failedDash?.Value, `deploy ${second}: failure (log in ${KV}/logs/node-2)`)
    assert.equal(await dashboardEntry(fleet, 'node-10'), undefined)

    // status, text: worst first, natural order, exit 1 with the verdict on stderr.
    const status = await cli(['status', ...connection, '--service-filter', '^web$'])
    assert.equal(status.code, 1, status.stderr)
    t.diagnostic(
      `$ stretcher-action status ... --service-filter '^web$'\n${status.stdout}${status.stderr}`
    )
    const lines = status.stdout.split('\n')
    assert.equal(
      lines[0],
      `web (${KV}): 4 nodes matching service-filter ^web$; current release ${second}`
    )
    assert.match(lines[2]!, /^NODE +STANDING +RELEASE +STATUS +REPORTED$/)
    const rows = lines.slice(3, 7).map((l) => l.split(/ {2,}/))
    assert.deepEqual(
      rows.map((r) => r.slice(0, 4)),
      [
        ['node-2', 'failed', second, 'failure'],
        ['node-10', 'silent', '-', '-'],
        ['node-3', 'behind', first, 'success'],
        ['node-1', 'current', second, 'success']
      ]
    )
    assert.match(rows[0]![4]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((\d+[hms])+ ago\)$/)
    assert.equal(rows[1]![4], 'never')
    assert.equal(
      status.stderr,
      `✖ 3 of 4 live nodes not on ${second}: 1 failed, 1 silent, 1 behind\n`
    )

    // status --json: one object on stdout, the same rows.
    const json = await cli(['status', ...connection, '--service-filter', '^web$', '--json'])
    assert.equal(json.code, 1, json.stderr)
    t.diagnostic(`$ stretcher-action status ... --json\n${json.stdout}`)
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean
      exit_code: number
      current: string
      counts: Record<string, number>
      nodes: Array<{ node: string; standing: string; deploy_id: string | null; at: number | null }>
    }
    assert.equal(parsed.ok, false)
    assert.equal(parsed.exit_code, 1)
    assert.equal(parsed.current, second)
    assert.deepEqual(
      parsed.nodes.map((n) => [n.node, n.standing, n.deploy_id]),
      [
        ['node-2', 'failed', second],
        ['node-10', 'silent', null],
        ['node-3', 'behind', first],
        ['node-1', 'current', second]
      ]
    )
    assert.deepEqual(
      { ...parsed.counts },
      { total: 4, live: 4, down: 0, failed: 1, silent: 1, behind: 1, ahead: 0, current: 1 }
    )

    // The same filters as a deploy: only node-1, which is on the current release: exit 0.
    const one1 = await cli(['status', ...connection, '--node-filter', '^node-1$'])
    assert.equal(one1.code, 0, one1.stderr)
    assert.match(one1.stdout, new RegExp(`\n✔ the 1 live node on ${second}\n$`))

    // 3: roll back to v1 on node-3 only: current is v1 again, node-1 is ahead of it.
    const back = await deploy(fleet, { 'rollback-to': first, 'node-filter': '^node-3$' }, SHA[1]!)
    assert.equal(back.code, 0, back.stdout)
    const after = JSON.parse(
      (await cli(['status', ...connection, '--service-filter', '^web$', '--json'])).stdout
    ) as typeof parsed
    assert.deepEqual(
      after.nodes.map((n) => [n.node, n.standing]),
      [
        ['node-2', 'failed'],
        ['node-10', 'silent'],
        ['node-1', 'ahead'],
        ['node-3', 'current']
      ]
    )

    // history, text: newest first, the current one (the rolled-back-to) marked.
    const history = await cli(['history', ...connection])
    assert.equal(history.code, 0, history.stderr)
    t.diagnostic(`$ stretcher-action history ...\n${history.stdout}`)
    const h = history.stdout.split('\n')
    assert.equal(h[0], `web (${KV}): 2 releases, newest first; current: ${first}`)
    assert.match(h[2]!, /^ +DEPLOY ID +COMMIT +PUBLISHED +RUN$/)
    assert.match(
      h[3]!,
      new RegExp(
        `^ {3}${second.replace(/\./g, '\\.')} +2222222 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC +https://github\\.com/acme/web/actions/runs/900/attempts/2$`
      )
    )
    assert.match(h[4]!, new RegExp(`^\\* +${first.replace(/\./g, '\\.')} +1111111 `))
    assert.equal(history.stderr, '')

    // history --json
    const hj = await cli(['history', ...connection, '--json'])
    assert.equal(hj.code, 0, hj.stderr)
    const releases = JSON.parse(hj.stdout) as {
      ok: boolean
      current: string
      releases: Array<{ deploy_id: string; current: boolean; commit: string; manifest_url: string }>
    }
    assert.equal(releases.ok, true)
    assert.equal(releases.current, first)
    assert.deepEqual(
      releases.releases.map((r) => [r.deploy_id, r.current, r.commit]),
      [
        [second, false, SHA[1]],
        [first, true, SHA[0]]
      ]
    )
    assert.equal(releases.releases[1]?.manifest_url, one.outputs['manifest-url'])
  })
})

test('bad input exits 2 with one line; Consul refusing the token exits 1 naming the permission', async () => {
  const foreign = await cli(['status', '--app', 'web', '--path', 'build'])
  assert.equal(foreign.code, 2)
  assert.match(
    foreign.stderr,
    /^✖ --path: not a flag of status, which takes --app, --kv-prefix, --consul-addr, --consul-token, --node-filter, --service-filter, --tag-filter(, --[a-z0-9-]+)* and --json\n$/
  )
  const filterOnHistory = await cli(['history', '--app', 'web', '--service-filter', 'web'])
  assert.equal(filterOnHistory.code, 2)
  assert.match(filterOnHistory.stderr, /^✖ --service-filter: not a flag of history, /)
  const noApp = await cli(['status', '--json'])
  assert.equal(noApp.code, 2)
  assert.deepEqual(JSON.parse(noApp.stdout), {
    ok: false,
    exit_code: 2,
    message: 'app is required outside GitHub Actions (no GITHUB_REPOSITORY to take the name from)'
  })
  const badRe = await cli(['status', '--app', 'web', '--node-filter', '(?=x)'])
  assert.equal(badRe.code, 2)
  assert.match(badRe.stderr, /^✖ node-filter is not a valid regular expression for Consul/)
  const consul = await startConsulEmulator({
    nodes: [{ name: 'node-1' }],
    acl: { defaultPolicy: 'deny', tokens: [{ secretId: 'sekrit-token', rules: {} }] }
  })
  try {
    for (const command of ['status', 'history']) {
      const denied = await cli([command, '--app', 'web', '--consul-addr', consul.url], {
        CONSUL_HTTP_TOKEN: 'sekrit-token'
      })
      assert.equal(denied.code, 1, denied.stderr)
      // the first refusal of the reads made at once: KV or, for status, the catalog
      assert.match(denied.stderr, /^✖ .*(key:read on "stretcher\/web\/|node:read|service:read)/m)
      assert.ok(!denied.stderr.includes('sekrit-token'))
      assert.equal(denied.stdout, '')
    }
  } finally {
    await consul.stop()
  }
  const unknown = await cli(['frobnicate'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /expected the command "deploy", "status" or "history"/)
})
