// Contract 13 end to end: dist/index.js with backend: serf against real Serf
// agents (one per node, each running the simulated stretcher as its handler),
// judged from the fleet: every node's tree and its stretcher-<app> tag, and the
// S3 objects latest and history; a failing node is named with its log tail.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { withSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { httpGet } from '../fleet/http-get.ts'
import { runAction } from '../fleet/run-action.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import { parseSerfResult, serfResultTagName } from '../src/shared/serf-result-tag.ts'
import { versionedBuilds } from './helpers/action-run.ts'
import { nudgedNodes } from './helpers/serf-e2e.ts'

const APP = 'web'
let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
})
after(() => rm(work, { recursive: true, force: true }))

function inputs(fleet: SerfFleet, extra: Record<string, string> = {}): Record<string, string> {
  return {
    path: 'v1',
    app: APP,
    backend: 'serf',
    's3-url': fleet.s3Url,
    's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
    'serf-rpc-addr': fleet.rpcAddr,
    'serf-tags': fleet.env.FLEET_SERF_TAGS!,
    dest: '/srv/app',
    // a tag update gossip misses arrives with the next push-pull sync (30 s)
    timeout: '90s',
    ...extra
  }
}

function env(fleet: SerfFleet, attempt: number): Record<string, string> {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_RUN_ID: '77',
    GITHUB_RUN_ATTEMPT: String(attempt)
  }
}

/** Every deploy node's stretcher-<app> tag, as the action's agent sees it. */
async function tags(fleet: SerfFleet): Promise<Map<string, string | undefined>> {
  const client = await connectSerf(fleet.rpcAddr)
  try {
    const members = await client.members()
    return new Map(
      members
        .filter((m) => fleet.names.includes(m.name))
        .map((m) => [m.name, m.tags[serfResultTagName(APP)]])
    )
  } finally {
    await client.close()
  }
}

/** An object of the fleet's bucket, or undefined when there is none. */
async function object(fleet: SerfFleet, key: string): Promise<string | undefined> {
  const res = await httpGet(`${fleet.s3.endpoint}/${fleet.s3.bucket}/${key}`)
  return res.status === 200 ? res.body.toString('utf8') : undefined
}

const version = (fleet: SerfFleet, node: string) =>
  readFile(join(fleet.nodeTree(node), 'public/version.txt'), 'utf8').then(
    (t) => t.trim(),
    () => ''
  )

describe(
  'backend: serf (dist/index.js, real Serf agents)',
  { concurrency: 1, timeout: 300_000 },
  () => {
    test('a 5-node deploy: every tree, every tag, latest and history in S3; a redeploy moves them all', async () => {
      await withSerfFleet({ app: APP, nodes: 5 }, async (fleet) => {
        const run = await runAction(inputs(fleet, { 'deploy-id': 'v1-serf' }), env(fleet, 1))
        assert.equal(run.code, 0, run.stdout)
        assert.equal(run.outputs['nodes-succeeded'], '5', run.stdout)
        for (const node of fleet.names) assert.equal(await version(fleet, node), 'one', node)
        // Delivered by the user event; a node gossip missed is sent it as a query
        // once most reported (nudge-silent.ts), and the run's log names it.
        const nudged = nudgedNodes(run.stdout)
        let byEvent = 0
        for (const [node, tag] of await tags(fleet)) {
          const result = parseSerfResult(tag)
          assert.ok(typeof result !== 'string', `${node}: ${tag}`)
          assert.equal(result.deployId, 'v1-serf', `${node}: ${tag}`)
          assert.equal(result.status, 'success')
          if (result.clock.kind === 'event') byEvent++
          else assert.ok(nudged.has(node), `${node} ran it by ${result.clock.kind}:\n${run.stdout}`)
        }
        assert.ok(byEvent >= 3, `most nodes got the user event: ${byEvent} of 5`)
        assert.equal(
          (await object(fleet, `releases/${APP}/latest`))?.trim(),
          run.outputs['manifest-url']
        )
        const history = JSON.parse(
          (await object(fleet, `releases/${APP}/history/v1-serf.json`)) ?? '{}'
        )
        assert.equal(history.manifest_url, run.outputs['manifest-url'])
        assert.equal(await object(fleet, `releases/${APP}/lock`), undefined, 'the lock is released')

        const second = await runAction(
          inputs(fleet, { path: 'v2', 'deploy-id': 'v2-serf' }),
          env(fleet, 2)
        )
        assert.equal(second.code, 0, second.stdout)
        for (const node of fleet.names) assert.equal(await version(fleet, node), 'two', node)
        assert.equal(
          (await object(fleet, `releases/${APP}/latest`))?.trim(),
          second.outputs['manifest-url']
        )
      })
    })

    test('a failing node is named with the tail of its log from the log query; the others still deploy', async () => {
      await withSerfFleet(
        {
          app: APP,
          nodes: [{ name: 'node-1' }, { name: 'node-2', fail: true }, { name: 'node-3' }]
        },
        async (fleet) => {
          const run = await runAction(inputs(fleet, { 'deploy-id': 'v1-fail' }), env(fleet, 1))
          assert.equal(run.code, 1, run.stdout)
          assert.match(run.errors[0] ?? '', /failed: node-2/)
          assert.equal(run.outputs['nodes-failed'], '1')
          assert.match(run.stdout, /--- node-2 \(last 40 lines of its log\) ---/)
          const tag = parseSerfResult((await tags(fleet)).get('node-2'))
          assert.equal(
            typeof tag !== 'string' && tag.status,
            'failure',
            'node-2 tagged its failure'
          )
          // the verdict (node-2 over max-failures) can come before node-1's run ended
          assert.equal((await fleet.waitForRuns('node-1', 1)).status, 'success')
          assert.equal(await version(fleet, 'node-1'), 'one')
          assert.equal(await version(fleet, 'node-2'), '', 'node-2 was not synced')
        }
      )
    })
  }
)
