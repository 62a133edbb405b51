// Contract 13 (with 8 and 8a) end to end over real Serf agents, the parts the
// other serf files leave out: a dry run (targets, waves, the checks, nothing
// written or sent; rollback-to an unknown ID refused), the bake gate by member
// status (a canary leaves, another's agent is killed, during the bake: the
// wave fails naming it, nobody else is sent the release, the rollback says it
// did not see it back), and the check run and job summary of a deploy with a
// failing node. Judged from the fleet (trees, handler runs, tags, S3 objects)
// as well as the outputs. One fleet; the tests build on each other, in order.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FakeGitHub } from '../fleet/github-api.ts'
import { startFakeGitHub } from '../fleet/github-api.ts'
import { SERF_ACTION_AGENT, startSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { runAction } from '../fleet/run-action.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import { versionedBuilds } from './helpers/action-run.ts'
import {
  ranIds,
  resultTags,
  s3Keys,
  s3Object,
  serfEnv,
  serfInputs,
  treeVersion
} from './helpers/serf-e2e.ts'

const APP = 'web'
const RUN_MS = 180_000
const LATEST = `releases/${APP}/latest`
const LOCK = `releases/${APP}/lock`
const TOKEN = 'ghs_serfGateTokenThatMustNeverBePrinted01'
let work: string
let fleet: SerfFleet
let github: FakeGitHub
let attempt = 0

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-gate-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two', v3: 'three' })
  github = await startFakeGitHub()
  fleet = await startSerfFleet({
    app: APP,
    nodes: [
      // first in every wave order (natural order among canaries); leaves during its bake
      { name: 'node-1', tags: { canary: 'true' } },
      { name: 'node-2' },
      // fails the deploy the check run reports
      { name: 'node-3', fail: ['gh-1'] },
      // the next canary once node-1 has gone; its agent is killed during its bake
      { name: 'node-4', tags: { canary: 'true' } }
    ]
  })
})
after(async () => {
  await fleet?.stop()
  await github?.stop()
  await rm(work, { recursive: true, force: true })
})

const run = (extra: Record<string, string>, options: Parameters<typeof runAction>[2] = {}) =>
  runAction(serfInputs(fleet, APP, extra), serfEnv(fleet, work, ++attempt), {
    timeoutMs: RUN_MS,
    ...options
  })

interface ResultEntry {
  node: string
  status: string
  datacenter?: string
}
const results = (outputs: Record<string, string>): Map<string, ResultEntry> =>
  new Map((JSON.parse(outputs.results ?? '[]') as ResultEntry[]).map((r) => [r.node, r]))

/** What a run could have written or sent: the bucket's keys, latest, every tag, every node's runs. */
async function fleetPicture(): Promise<string> {
  const tags = await resultTags(fleet, APP)
  const runs = await Promise.all(fleet.names.map(async (n) => [n, await ranIds(fleet, n)]))
  return JSON.stringify({
    keys: (await s3Keys(fleet)).sort(),
    latest: await s3Object(fleet, LATEST),
    tags: [...tags].sort(([a], [b]) => a.localeCompare(b)),
    runs
  })
}

/** Makes the node's agent leave the cluster (and exit), as `serf leave` on it does. */
async function leave(node: string): Promise<void> {
  const client = await connectSerf(fleet.agents.rpcAddr(node), { authKey: fleet.rpcAuth })
  try {
    await client.leave()
  } finally {
    await client.close().catch(() => undefined)
  }
}

/** The tags once `node`'s says `deployId` (gossip may take a sync round, ~30 s). */
async function tagsOnceSettled(node: string, deployId: string) {
  for (let i = 0; ; i++) {
    const tags = await resultTags(fleet, APP)
    if (tags.get(node)?.deployId === deployId || i >= 120) return tags
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/**
 * A staged run (`waves: 1, 100%`, a bake, auto-rollback) whose canary is made
 * to go (`disturb`) once its bake starts, that is once its tag said success.
 * Judged from the fleet as well as the run.
 */
async function canaryGoneDuringBake(
  c: { canary: string; deployId: string; status: string; bake?: string; mayTakeRollback?: boolean },
  disturb: (node: string) => Promise<void>
): Promise<void> {
  const before = new Map(
    await Promise.all(fleet.names.map(async (n) => [n, await ranIds(fleet, n)] as const))
  )
  const treesBefore = new Map(
    await Promise.all(fleet.names.map(async (n) => [n, await treeVersion(fleet, n)] as const))
  )
  assert.equal(treesBefore.get(c.canary), 'one')
  let disturbing: Promise<void> | undefined
  github.calls.length = 0
  const staged = await runAction(
    serfInputs(fleet, APP, {
      path: 'v2',
      'deploy-id': c.deployId,
      waves: '1, 100%',
      'bake-time': c.bake ?? '8s',
      'auto-rollback': 'true',
      'github-token': TOKEN
    }),
    { ...serfEnv(fleet, work, ++attempt), GITHUB_API_URL: github.url },
    {
      timeoutMs: RUN_MS,
      onStdout: (chunk) => {
        if (disturbing === undefined && /baking \d+s/.test(chunk)) disturbing = disturb(c.canary)
      }
    }
  )
  await disturbing
  assert.ok(disturbing, `the bake started:\n${staged.stdout}`)
  assert.equal(staged.code, 1, staged.stdout)
  // The cause first (node and member status) in the error line, the summary and the check title.
  const gate = `${c.canary}: serf:member "member status" \\((${c.status})\\)`
  const error = staged.errors[0] ?? ''
  assert.match(error, new RegExp(`^wave 1/2 failed its health gate: ${gate}`), error)
  assert.match(staged.summary, new RegExp(`^ ?### ❌ web: health gate failed: \`${gate}\``))
  const completed = github.calls.filter((call) => call.method === 'PATCH').at(-1)
  assert.equal(completed?.body.conclusion, 'failure')
  const title = (completed?.body.output as { title?: string } | undefined)?.title ?? ''
  assert.match(title, new RegExp(`^health gate failed: ${gate}`), title)
  assert.equal(staged.outputs['waves-completed'], '0')

  // The rollback could not reach the canary (gone): the run says so, and never that it is back.
  const notBack = `auto-rollback to d1 incomplete: [^\\n]*; not seen back on d1: lost: ${c.canary}`
  assert.match(error, new RegExp(`${notBack}$`), error)
  assert.match(staged.summary, new RegExp(`\\*\\*Auto-rollback:\\*\\* ${notBack}`))
  assert.doesNotMatch(staged.summary + staged.stdout, /rolled back to d1|back on it/)
  const rows = results(staged.outputs)
  assert.equal(rows.get(c.canary)?.status, 'success', 'the canary is on the release still')
  const ran = await ranIds(fleet, c.canary)
  const took = c.mayTakeRollback && ran.at(-1) === 'd1'
  // A leaving agent still runs a query that reaches it before it shuts down.
  assert.deepEqual(ran, [...before.get(c.canary)!, c.deployId, ...(took ? ['d1'] : [])])
  assert.equal(await treeVersion(fleet, c.canary), took ? 'one' : 'two', ran.join(', '))
  const tag = (await resultTags(fleet, APP)).get(c.canary)?.deployId
  assert.ok(tag === c.deployId || (took && tag === 'd1'), `the canary's last tag: ${tag}`)

  // Nobody else was sent anything: the second wave never started.
  for (const node of fleet.names.filter((n) => n !== c.canary)) {
    assert.deepEqual(await ranIds(fleet, node), before.get(node), node)
    assert.equal(await treeVersion(fleet, node), treesBefore.get(node), node)
  }
  for (const node of ['node-2', 'node-3']) assert.equal(rows.get(node)?.status, 'not sent', node)
  assert.equal((await s3Object(fleet, LATEST))?.trim(), d1Manifest, 'latest stayed on d1')
  assert.equal(await s3Object(fleet, LOCK), undefined, 'the lock is released')
}

let d1Manifest = ''

describe(
  'backend: serf, dry run, bake gate and the check run (dist/index.js, real Serf agents)',
  { concurrency: 1, timeout: 600_000 },
  () => {
    test('a dry run lists targets and waves, checks S3 and the lock, and writes or sends nothing', async () => {
      const first = await run({ 'deploy-id': 'd1' })
      assert.equal(first.code, 0, first.stdout)
      d1Manifest = first.outputs['manifest-url']!
      const picture = await fleetPicture()

      const dry = await run({
        path: 'v2',
        'deploy-id': 'dry-1',
        'dry-run': 'true',
        waves: '1, 100%',
        'node-filter': '^node-[12]$'
      })
      assert.equal(dry.code, 0, dry.stdout)
      assert.equal(dry.outputs.conclusion, 'success')
      assert.equal(dry.outputs['nodes-total'], '2', dry.stdout)
      const out = dry.stdout
      assert.match(out, /dry run: would deploy dry-1 of web/)
      // the action's own agent is a member, never a target
      assert.match(out, /^targets: 2 nodes \(event "deploy"\): node-1, node-2; /m, out)
      assert.doesNotMatch(
        out,
        new RegExp(`^targets:[^\n]*\\b(${SERF_ACTION_AGENT}|node-3)\\b`, 'm')
      )
      assert.match(out, /^deploy dry-1 of web on 2 nodes in 2 waves \(1, 1\): node-1, node-2$/m)
      assert.match(out, new RegExp(`previous release: d1 \\(latest ${d1Manifest}\\)`), out)
      assert.match(out, /lock s3:\/\/\S+\/web\/lock: free/, out)
      assert.match(out, /dry run: deploying dry-1 could go ahead on 2 nodes; nothing written/)
      assert.equal(dry.errors.length, 0, dry.errors.join('\n'))
      assert.equal(await fleetPicture(), picture, 'the dry run changed the fleet or the bucket')

      const unknown = await run({ 'dry-run': 'true', 'rollback-to': 'no-such-release' })
      assert.equal(unknown.code, 1, unknown.stdout)
      assert.equal(unknown.outputs.conclusion, 'failure')
      assert.match(
        unknown.errors[0] ?? '',
        /^rollback-to "no-such-release" is not a release of web/
      )
      assert.equal(await fleetPicture(), picture, 'the refused dry run changed the fleet')
    })

    test('the canary leaves during its bake: the wave fails naming it, nobody else is sent the release', () =>
      // left, or failed when the memberlist's dead notice outran Serf's leave intent
      canaryGoneDuringBake(
        { canary: 'node-1', deployId: 'b1', status: 'left|leaving|failed', mayTakeRollback: true },
        leave
      ))

    test('the canary fails (its agent killed) during its bake: the same, from the failure detector', () =>
      // far beyond Serf's failure detection (~8 s; 27 s once under load): the gate fires at detection
      canaryGoneDuringBake(
        { canary: 'node-4', deployId: 'b2', status: 'failed', bake: '90s' },
        (n) => fleet.agents.kill(n)
      ))

    test('the check run and the job summary of a deploy with a failing node', async () => {
      github.calls.length = 0
      const deploy = await runAction(
        serfInputs(fleet, APP, {
          path: 'v3',
          'deploy-id': 'gh-1',
          'node-filter': '^node-[23]$',
          'github-token': TOKEN
        }),
        { ...serfEnv(fleet, work, ++attempt), GITHUB_API_URL: github.url },
        { timeoutMs: RUN_MS }
      )
      assert.equal(deploy.code, 1, deploy.stdout)
      const created = github.calls.find(
        (c) => c.method === 'POST' && c.path === '/repos/acme/web/check-runs'
      )
      assert.ok(created, JSON.stringify(github.calls.map((c) => `${c.method} ${c.path}`)))
      assert.equal(created.body.status, 'in_progress')
      assert.equal(created.body.head_sha, serfEnv(fleet, work, 0).GITHUB_SHA)
      const completed = github.calls.filter((c) => c.method === 'PATCH').at(-1)
      assert.equal(completed?.path, `/repos/acme/web/check-runs/${deploy.state['check-run-id']}`)
      assert.equal(completed?.body.status, 'completed')
      assert.equal(completed?.body.conclusion, 'failure')
      const output = completed?.body.output as { title: string; summary: string }
      // node-3's failure decides the run (max-failures 0) whether or not node-2 had
      // reported by then: the title says which, as the results output does.
      const rows = results(deploy.outputs)
      assert.deepEqual([...rows.keys()].sort(), ['node-2', 'node-3'])
      assert.equal(rows.get('node-3')?.status, 'failure')
      const node2 = rows.get('node-2')?.status
      if (node2 === 'success') {
        assert.match(output.title, /^1 of 2 nodes failed \(node-3: simulated failure on node-3\)$/)
        assert.match(deploy.summary, /^\| node-2 \| \d/m, deploy.summary)
      } else {
        assert.equal(node2, 'pending', deploy.outputs.results)
        assert.match(
          output.title,
          /^1 of 2 nodes failed, 1 still deploying \(node-3: simulated failure/
        )
        assert.match(
          deploy.summary,
          /^\| ⏳ 1 \| still deploying [^|]*\| node-2 \|$/m,
          deploy.summary
        )
      }
      assert.match(deploy.summary, /^\| node-3 \| ❌ failed \|/m, deploy.summary)
      assert.equal(deploy.outputs.conclusion, 'failure')
      for (const row of rows.values()) assert.ok(!('datacenter' in row), JSON.stringify(row))

      // The fleet agrees.
      await fleet.waitForRuns('node-2', 2)
      const tags = await tagsOnceSettled('node-2', 'gh-1')
      assert.equal(tags.get('node-2')?.deployId, 'gh-1')
      assert.equal(tags.get('node-2')?.status, 'success')
      assert.equal(tags.get('node-3')?.deployId, 'gh-1')
      assert.equal(tags.get('node-3')?.status, 'failure')
      assert.equal(await treeVersion(fleet, 'node-2'), 'three')
      assert.equal(await treeVersion(fleet, 'node-3'), 'one', 'node-3 failed before its sync')
      assert.ok(deploy.stdout.includes(`::add-mask::${TOKEN}`), 'the token is masked')
      const printed = deploy.stdout.replace(/^::add-mask::.*$/gm, '')
      for (const text of [printed, deploy.summary, JSON.stringify(github.calls.map((c) => c.body))])
        assert.ok(!text.includes(TOKEN))
    })
  }
)
