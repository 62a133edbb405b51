// The operator commands on a Serf cluster (contracts 12, 13) end to end:
// dist/cli.js `status` and `history` with --backend serf against real Serf
// agents, after real deploys through dist/index.js. status reads the members'
// stretcher-<app> tags (through serf-rpc-addr's agent, or one it starts for
// serf-join) and latest from S3; history reads <s3-url>/<app>/history/.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { withSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { CLI, runAction } from '../fleet/run-action.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import { versionedBuilds } from './helpers/action-run.ts'

const APP = 'web'
const SHA = ['1111111', '2222222'].map((s) => `${s}${'0'.repeat(33)}`)
let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-status-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
})
after(() => rm(work, { recursive: true, force: true }))

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

let attempt = 0
function deploy(fleet: SerfFleet, inputs: Record<string, string>, sha: string) {
  return runAction(
    {
      app: APP,
      backend: 'serf',
      's3-url': fleet.s3Url,
      's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
      'serf-rpc-addr': fleet.rpcAddr,
      'serf-tags': 'role=web',
      dest: '/srv/app',
      timeout: '90s',
      ...inputs
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: sha,
      GITHUB_RUN_ID: '901',
      GITHUB_RUN_ATTEMPT: String(++attempt)
    }
  )
}

/** The table's rows under its header, split on the column gaps. */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split('\n')
  const header = lines.findIndex((l) => /^NODE +STANDING +RELEASE +STATUS +REPORTED$/.test(l))
  assert.ok(header > 0, stdout)
  return lines
    .slice(header + 1)
    .filter((l) => l !== '')
    .map((l) => l.split(/ {2,}/))
}

/** Whether `pid` is a running process (a zombie waiting for its reaper counts as gone). */
const running = (pid: number): boolean => {
  try {
    return !/Z/.test(execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }))
  } catch {
    return false // ps exits 1: no such process
  }
}

/** The verdict: the last line on stderr (lines before it say which agent was used). */
const verdict = (stderr: string) => stderr.trimEnd().split('\n').pop()

test('status and history --backend serf: tags and S3, as with Consul; through serf-join too', async (t) => {
  const nodes = [
    { name: 'node-1' },
    { name: 'node-2', fail: ['v2-st'] },
    { name: 'node-3' },
    // no deploy handler: never reports
    { name: 'node-10', deaf: true }
  ]
  await withSerfFleet({ app: APP, nodes }, async (fleet) => {
    const where = `${fleet.s3Url}/${APP}`
    const s3 = ['--s3-url', fleet.s3Url, '--s3-endpoint', fleet.s3.endpoint]
    const viaAgent = ['--app', APP, '--backend', 'serf', '--serf-rpc-addr', fleet.rpcAddr, ...s3]
    const env = fleet.s3.env

    // Nothing deployed yet: status fails saying so; history is empty.
    const empty = await cli(['status', ...viaAgent, '--serf-tags', 'role=web'], env)
    assert.equal(empty.code, 1, empty.stderr)
    assert.equal(
      verdict(empty.stderr),
      `✖ no current release: ${where}/latest is not set (nothing published yet?)`
    )
    const noHistory = await cli(['history', ...viaAgent], env)
    assert.equal(noHistory.code, 0, noHistory.stderr)
    assert.equal(noHistory.stdout, `${APP} (${where}): no release published yet; current: none\n`)

    // 1: v1 to node-1..3 (node-10 hears the event but has no handler); 2: v2 in
    // waves (queries to the wave's nodes only) to node-1 and node-2, which fails:
    // node-3 stays on v1.
    const one = await deploy(
      fleet,
      { path: 'v1', 'deploy-id': 'v1-st', 'node-filter': '^node-[1-3]$' },
      SHA[0]!
    )
    assert.equal(one.code, 0, one.stdout)
    const two = await deploy(
      fleet,
      { path: 'v2', 'deploy-id': 'v2-st', 'node-filter': '^node-[12]$', waves: '1, 100%' },
      SHA[1]!
    )
    assert.equal(two.code, 1, two.stdout)

    const status = await cli(['status', ...viaAgent, '--serf-tags', 'role=web'], env)
    t.diagnostic(`$ stretcher-action status --backend serf ...\n${status.stdout}${status.stderr}`)
    assert.equal(status.code, 1, status.stderr)
    assert.equal(
      status.stdout.split('\n')[0],
      `${APP} (${where}): 4 nodes matching serf-tags role=web; current release v2-st`
    )
    const expected = [
      ['node-2', 'failed', 'v2-st', 'failure', '-'],
      ['node-10', 'silent', '-', '-', 'never'],
      ['node-3', 'behind', 'v1-st', 'success', '-'],
      ['node-1', 'current', 'v2-st', 'success', '-']
    ]
    assert.deepEqual(tableRows(status.stdout), expected)
    assert.equal(
      verdict(status.stderr),
      '✖ 3 of 4 live nodes not on v2-st: 1 failed, 1 silent, 1 behind'
    )

    const json = await cli(['status', ...viaAgent, '--serf-tags', 'role=web', '--json'], env)
    assert.equal(json.code, 1, json.stderr)
    const parsed = JSON.parse(json.stdout) as {
      s3_url: string
      current: string
      counts: Record<string, number>
      nodes: Array<{ node: string; standing: string; deploy_id: string | null }>
    }
    assert.equal(parsed.s3_url, where)
    assert.equal(parsed.current, 'v2-st')
    assert.deepEqual(
      parsed.nodes.map((n) => [n.node, n.standing, n.deploy_id]),
      expected.map(([node, standing, id]) => [node, standing, id === '-' ? null : id])
    )
    assert.deepEqual(
      { ...parsed.counts },
      { total: 4, live: 4, down: 0, failed: 1, silent: 1, behind: 1, ahead: 0, current: 1 }
    )

    // Through an agent of its own (serf-join, no tag filter: node-filter picks the
    // nodes and would match the command's own agent too): the same rows, and the agent leaves.
    const joined = await cli(
      [
        'status',
        '--app',
        APP,
        '--backend',
        'serf',
        '--serf-join',
        fleet.agents.bindAddr('node-3'),
        '--node-filter',
        '^(node|stretcher-action)-',
        ...s3
      ],
      env
    )
    assert.equal(joined.code, 1, joined.stderr)
    assert.deepEqual(tableRows(joined.stdout), expected)
    const pid = Number(
      /agent stretcher-action-\d+-[0-9a-f]{6} \(pid (\d+)\) joined/.exec(joined.stderr)?.[1]
    )
    assert.ok(pid > 0, joined.stderr)
    assert.match(joined.stderr, /serf: the action's agent stretcher-action-\d+-[0-9a-f]{6} left/)
    assert.equal(running(pid), false, 'the agent of the command is not left running')
    const client = await connectSerf(fleet.agents.rpcAddr('node-1'))
    try {
      const runners = (await client.members()).filter((m) => m.tags['stretcher-action'])
      assert.equal(runners.length, 1)
    } finally {
      await client.close()
    }

    // history: newest first, the current one starred; --json the same releases.
    const history = await cli(['history', ...viaAgent], env)
    t.diagnostic(`$ stretcher-action history --backend serf ...\n${history.stdout}`)
    assert.equal(history.code, 0, history.stderr)
    const lines = history.stdout.split('\n')
    assert.equal(lines[0], `${APP} (${where}): 2 releases, newest first; current: v2-st`)
    assert.match(lines[3]!, /^\* +v2-st +2222222 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)
    assert.match(lines[4]!, /^ +v1-st +1111111 /)
    const historyJson = JSON.parse((await cli(['history', ...viaAgent, '--json'], env)).stdout) as {
      s3_url: string
      releases: Array<{ deploy_id: string; current: boolean; manifest_url: string }>
    }
    assert.equal(historyJson.s3_url, where)
    assert.deepEqual(
      historyJson.releases.map((r) => [r.deploy_id, r.current]),
      [
        ['v2-st', true],
        ['v1-st', false]
      ]
    )
    assert.equal(historyJson.releases[0]?.manifest_url, two.outputs['manifest-url'])
  })
})
