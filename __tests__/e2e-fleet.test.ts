// dist/index.js as the runner runs it, against the local fleet: s3rver, the
// Consul emulator and simulated stretcher nodes running real tar, rsync, sh.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { describeTree, makeSampleBuild } from './helpers/trees.ts'

let work: string
const SHA = '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b'

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-fleet-'))
  await makeSampleBuild(join(work, 'build'))
  await writeFile(
    join(work, 'stretcher.yml'),
    'dest_mode: 0755\ncommands:\n  post:\n    - echo "post on $(pwd)"\n'
  )
})
after(() => rm(work, { recursive: true, force: true }))

function withFleet(
  nodes: number | FleetNodeSpec[],
  body: (fleet: LocalFleet) => Promise<void>,
  options: { serverRunsStretcher?: boolean } = {}
) {
  return withLocalFleet(
    { nodes, kvPrefix: 'stretcher/web', serverRunsStretcher: options.serverRunsStretcher ?? false },
    body
  )
}

function deploy(
  fleet: LocalFleet,
  inputs: Record<string, string> = {},
  env: Record<string, string> = {}
) {
  return runAction(
    {
      path: 'build',
      manifest: 'stretcher.yml',
      's3-url': `s3://${fleet.s3.bucket}/releases`,
      's3-endpoint': fleet.s3.endpoint,
      'consul-addr': fleet.consul.url,
      dest: '/srv/web',
      'service-filter': '^web$',
      timeout: '30s',
      ...inputs
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: SHA,
      GITHUB_RUN_ID: '5150',
      GITHUB_RUN_ATTEMPT: '1',
      ...env
    },
    { timeoutMs: 90_000 }
  )
}

describe('deploy to the local fleet (dist/index.js)', () => {
  test('every node converges and its dest tree equals the build', async () => {
    await withFleet(4, async (fleet) => {
      const run = await deploy(fleet)
      assert.equal(run.code, 0, run.stdout + run.stderr)
      const id = run.outputs['deploy-id'] as string
      assert.equal(run.outputs['nodes-total'], '4')
      assert.equal(run.outputs['nodes-succeeded'], '4')
      assert.equal(run.outputs['nodes-failed'], '0')
      assert.equal(run.outputs['nodes-pending'], '0')
      const results = JSON.parse(run.outputs.results as string) as Array<{
        node: string
        status: string
        deploy_id: string
        at: number
      }>
      assert.deepEqual(
        results.map((r) => [r.node, r.status, r.deploy_id]),
        [1, 2, 3, 4].map((i) => [`node-${i}`, 'success', id])
      )
      const expected = await describeTree(join(work, 'build'))
      for (const name of fleet.nodes.keys()) {
        const tree = await describeTree(fleet.nodeTree(name, '/srv/web'))
        assert.equal(
          await readFile(join(fleet.nodeTree(name, '/srv/web'), 'DEPLOY_ID'), 'utf8'),
          `${id}\n`
        )
        delete tree.DEPLOY_ID
        assert.deepEqual(tree, expected, name)
      }
      assert.match(run.stdout, /4\/4 nodes on /)
      assert.match(run.summary, /✅ 4 nodes succeeded/)
      assert.match(run.summary, /^\| node-1 \| [\d.]+m?s \| {2}\|$/m)
      // KV: latest/deploy-id moved together; history recorded.
      assert.equal(fleet.consul.kv('stretcher/web/deploy-id')?.value?.toString(), id)
      assert.equal(
        fleet.consul.kv('stretcher/web/latest')?.value?.toString(),
        run.outputs['manifest-url']
      )
      const history = JSON.parse(
        fleet.consul.kv(`stretcher/web/history/${id}`)?.value?.toString() ?? '{}'
      ) as Record<string, string>
      assert.equal(history.checksum, run.outputs.checksum)
      assert.equal(history.commit, SHA)
    })
  })

  test('a failing node fails the run, is named, and its log excerpt is shown; max-failures 1 lets it pass', async () => {
    await withFleet(
      [{ name: 'node-1' }, { name: 'node-2', fail: true }, { name: 'node-3' }],
      async (fleet) => {
        const run = await deploy(fleet)
        assert.equal(run.code, 1)
        assert.equal(run.errors.length, 1)
        assert.match(
          run.errors[0] as string,
          /^\d\/3 nodes on \S+, more than 0 failed: failed: node-2(; still waiting: [-\w, ]+)? \(cause: node-2: simulated failure on node-2\)$/
        )
        assert.match(run.stdout, /simulated failure on node-2/)
        assert.match(
          run.summary,
          /<details open><summary><b>node-2<\/b>: the lines that matter[\s\S]*simulated failure on node-2/
        )
        assert.equal(run.outputs['nodes-failed'], '1')

        const tolerated = await deploy(fleet, { 'max-failures': '1' }, { GITHUB_RUN_ATTEMPT: '2' })
        assert.equal(tolerated.code, 0, tolerated.stdout)
        assert.match(
          tolerated.stdout,
          /2\/3 nodes on \S+ \(tolerated, max-failures 1: failed: node-2\)/
        )
      }
    )
  })

  test('a silent node fails the run at the timeout, named', async () => {
    await withFleet([{ name: 'node-1' }, { name: 'node-2', deaf: true }], async (fleet) => {
      const started = Date.now()
      const run = await deploy(fleet, { timeout: '3s' })
      assert.equal(run.code, 1)
      assert.match(run.errors[0] as string, /^1\/2 nodes on \S+, timed out: silent: node-2$/)
      assert.equal(run.outputs['nodes-pending'], '1')
      assert.ok(Date.now() - started < 30_000)
    })
  })

  test("a re-run of the same commit gets a new deploy ID and does not count the previous run's results", async () => {
    await withFleet(3, async (fleet) => {
      const first = await deploy(fleet)
      assert.equal(first.code, 0, first.stdout)
      // node-3 stops listening: its KV result still holds the first run's ID.
      await fleet.nodes.get('node-3')?.stop()
      const rerun = await deploy(fleet, { timeout: '3s' }, { GITHUB_RUN_ATTEMPT: '2' })
      assert.notEqual(rerun.outputs['deploy-id'], first.outputs['deploy-id'])
      assert.equal(rerun.code, 1)
      assert.match(rerun.errors[0] as string, /silent: node-3$/)
      assert.equal(rerun.outputs['nodes-succeeded'], '2')
    })
  })

  test('filters: only matching nodes get the event and are waited for', async () => {
    const nodes: FleetNodeSpec[] = [
      { name: 'web-1', services: [{ name: 'web', tags: ['blue'] }] },
      { name: 'web-2', services: [{ name: 'web', tags: ['green'] }] },
      { name: 'worker-1', services: [{ name: 'worker' }] }
    ]
    await withFleet(nodes, async (fleet) => {
      const run = await deploy(fleet, { 'service-filter': '^web$', 'tag-filter': '^blue$' })
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.outputs['nodes-total'], '1')
      assert.deepEqual(
        JSON.parse(run.outputs.results as string).map((r: { node: string }) => r.node),
        ['web-1']
      )
      assert.equal(fleet.nodes.get('web-1')?.runs, 1)
      assert.equal(fleet.nodes.get('web-2')?.runs, 0)
      assert.equal(fleet.nodes.get('worker-1')?.runs, 0)
    })
  })

  test('RE2-only filters ((?i), [[:digit:]], \\z, \\pL): the nodes waited for are the nodes Consul told', async () => {
    const nodes: FleetNodeSpec[] = [
      { name: 'web-1', services: [{ name: 'Web', tags: ['canary'] }] },
      { name: 'WEB-2', services: [{ name: 'web', tags: ['blue'] }] },
      { name: 'web-10', services: [{ name: 'web', tags: ['blue'] }] },
      { name: 'web-3z', services: [{ name: 'web', tags: ['blue'] }] },
      { name: 'web-4', services: [{ name: 'web', tags: ['42'] }] }
    ]
    await withFleet(nodes, async (fleet) => {
      const run = await deploy(fleet, {
        'node-filter': '(?i)^web-[[:digit:]]\\z',
        'service-filter': '(?i)^web$',
        'tag-filter': '^\\pL+$'
      })
      assert.equal(run.code, 0, run.stdout)
      const waited = JSON.parse(run.outputs.results as string).map((r: { node: string }) => r.node)
      assert.deepEqual(waited.sort(), ['WEB-2', 'web-1'])
      for (const [name, node] of fleet.nodes)
        assert.equal(node.runs, waited.includes(name) ? 1 : 0, `${name} ran`)
    })
  })

  test('Consul answering No cluster leader right after the event: the run still succeeds', async () => {
    await withFleet(2, async (fleet) => {
      // Only the wait loop's blocking reads of results/ carry index=.
      fleet.consul.faults.inject({
        kind: 'no-leader',
        count: 3,
        path: /\/v1\/kv\/stretcher\/web\/results\/.*index=/
      })
      const run = await deploy(fleet)
      assert.equal(run.code, 0, run.stdout)
      assert.match(run.stdout, /retrying in .*No cluster leader/)
      assert.equal(run.outputs['nodes-succeeded'], '2')
    })
  })
})
