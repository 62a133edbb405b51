// Two-phase releases end to end through dist/ (issue 13, contract 9): prepare on
// every node, then one switch event; a failed prepare switches nobody; rollback
// to a release the nodes keep is a switch only; a booting node runs latest.
//
// The simulated nodes' commands run with `sh -c` on this machine, in the
// node's root, with HOME set to it: the template's dest is
// '{{ env "HOME" }}/srv/app', expanded by each node as stretcher v2 does, so
// the switch command renames a real symlink inside each node's own tree.
import assert from 'node:assert/strict'
import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { SERVER_NODE, withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import type { S3FaultProxy } from '../fleet/s3-faults.ts'
import { startS3FaultProxy } from '../fleet/s3-faults.ts'

const KV = 'stretcher/web'
const NODES = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']
let work: string
let attempt = 0

const TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'
dest_mode: 0755
commands:
  pre:
    - test ! -e "$HOME/disk-full"
  post:
    - echo "restart $(readlink "$HOME/srv/app/current")" >> "$HOME/restarts"
`

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-releases-'))
  for (const version of ['v1', 'v2', 'v3']) {
    await mkdir(join(work, version, 'public'), { recursive: true })
    await writeFile(join(work, version, 'public/version.txt'), `${version}\n`)
  }
  await writeFile(join(work, 'stretcher.yml'), TEMPLATE)
})
after(() => rm(work, { recursive: true, force: true }))

function withFleet(
  body: (fleet: LocalFleet, s3: { requests: S3FaultProxy['requests'] }) => Promise<void>,
  crashAfterDeploy?: FleetNodeSpec['crashAfterDeploy']
) {
  let proxy: S3FaultProxy | undefined
  return withLocalFleet(
    {
      nodes: NODES.map((name) => ({
        name,
        ...(crashAfterDeploy ? { services: [{ name: 'web', check: true }], crashAfterDeploy } : {})
      })),
      kvPrefix: KV,
      serverRunsStretcher: false,
      // Every GET the nodes make, logged.
      nodeS3Endpoint: async (upstream) => {
        proxy = await startS3FaultProxy(upstream)
        return proxy.endpoint
      }
    },
    async (fleet) => {
      try {
        await body(fleet, { requests: proxy!.requests })
      } finally {
        await proxy?.stop()
      }
    }
  )
}

function inputsFor(fleet: LocalFleet, extra: Record<string, string> = {}) {
  return {
    path: 'v1',
    manifest: 'stretcher.yml',
    's3-url': `s3://${fleet.s3.bucket}/releases`,
    's3-endpoint': fleet.s3.endpoint,
    'consul-addr': fleet.consul.url,
    'service-filter': '^web$',
    layout: 'releases',
    'keep-releases': '2',
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
    GITHUB_RUN_ID: '4343',
    GITHUB_RUN_ATTEMPT: String(++attempt)
  }
}

const app = (fleet: LocalFleet, node: string) => join(fleet.nodes.get(node)!.root, 'srv/app')
const current = (fleet: LocalFleet, node: string) => readlinkSync(join(app(fleet, node), 'current'))
const kept = (fleet: LocalFleet, node: string) =>
  readdirSync(join(app(fleet, node), 'releases')).sort()
const kv = (fleet: LocalFleet, key: string) => fleet.consul.kv(`${KV}/${key}`)?.value?.toString()

/** The action's event fires since `from`, with their payload (manifest URL). */
function fires(fleet: LocalFleet, from: number) {
  return fleet.consul.arrivals
    .slice(from)
    .filter(
      (a) => a.method === 'PUT' && a.path.startsWith('/v1/event/fire/') && a.agent === SERVER_NODE
    )
}

/** Runs of a node for one manifest kind of a release. */
function runsOf(fleet: LocalFleet, node: string, url: (u: string) => boolean) {
  return fleet.nodes.get(node)!.history.filter((r) => url(r.manifestUrl))
}

describe('layout: releases (dist/index.js)', { timeout: 240_000 }, () => {
  test('three deploys, keep-releases 2: prepare everywhere, then one switch; current on the third, two releases kept; rollback-to the second is a switch only', async () => {
    await withFleet(async (fleet, s3) => {
      const ids: string[] = []
      const stdouts: string[] = []
      const summaries: string[] = []
      // A reader on node-1 loops on readlink current through every switch.
      let reads = 0
      let missing = 0
      let reading = true
      const reader = (async () => {
        while (reading) {
          try {
            readlinkSync(join(app(fleet, 'node-1'), 'current'))
            reads++
          } catch {
            if (ids.length > 0) missing++ // before the first switch there is no current yet
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
      })()
      try {
        for (const version of ['v1', 'v2', 'v3']) {
          const run = await runAction(inputsFor(fleet, { path: version }), envFor(fleet))
          assert.equal(run.code, 0, run.stdout + run.stderr)
          // The prepare is a phase, not a wave: a run without waves has one, and it passed.
          assert.doesNotMatch(run.stdout, /\d+\/\d+ waves passed/, run.stdout)
          assert.equal(run.outputs['waves-completed'], '1')
          ids.push(run.outputs['deploy-id'] as string)
          stdouts.push(run.stdout)
          summaries.push(run.summary)
        }
      } finally {
        reading = false
        await reader
      }
      const [first, second, third] = ids as [string, string, string]
      assert.match(summaries[2]!, /\*\*Prepare\*\*: 5 nodes, [\d.]+ s from the prepare event/)
      assert.match(summaries[2]!, /\*\*Switch\*\*: 5 nodes; spread \d+ ms/)
      for (const node of NODES) {
        assert.equal(current(fleet, node), `releases/${third}`, node)
        assert.ok(lstatSync(join(app(fleet, node), 'current')).isSymbolicLink())
        assert.deepEqual(kept(fleet, node), [second, third].sort(), node)
        assert.equal(
          await readFile(join(app(fleet, node), 'current/public/version.txt'), 'utf8'),
          'v3\n'
        )
      }
      assert.equal(missing, 0, `current missing in ${missing} of ${reads + missing} reads`)
      assert.ok(reads > 0)
      // The switch waits for the fleet: every switch run of a release starts after
      // the last node's prepare run (results written inside those runs) ended.
      for (const id of ids) {
        const prepared = NODES.flatMap((n) =>
          runsOf(fleet, n, (u) => u.endsWith(`${id}.prepare.yml`))
        )
        const switched = NODES.flatMap((n) =>
          runsOf(fleet, n, (u) => u.endsWith(`${id}.switch.yml`))
        )
        assert.equal(prepared.length, 5, id)
        assert.equal(switched.length, 5, id)
        const lastPrepare = Math.max(...prepared.map((r) => r.endedAt.getTime()))
        const firstSwitch = Math.min(...switched.map((r) => r.startedAt.getTime()))
        assert.ok(
          firstSwitch >= lastPrepare,
          `${id}: a switch started before the last prepare ended`
        )
      }
      // latest names the combined manifest; the figures are printed.
      assert.match(kv(fleet, 'latest') ?? '', new RegExp(`/${third}\\.yml$`))
      const spread = /switch: 5 nodes switched to \S+; spread (\d+) ms/.exec(stdouts[2]!)
      assert.ok(spread, stdouts[2])
      const prepare = /prepare: 5\/5 nodes prepared \S+ in ([\d.]+)s/.exec(stdouts[2]!)
      assert.ok(prepare, stdouts[2])
      const ended = NODES.flatMap((n) =>
        runsOf(fleet, n, (u) => u.endsWith(`${third}.switch.yml`)).map((r) => r.endedAt.getTime())
      )
      console.log(
        `switch spread ${spread[1]} ms as the action noticed it (${Math.max(...ended) - Math.min(...ended)} ms between the nodes' switch runs ending); prepare ${prepare[1]} s (5 nodes)`
      )
      void first

      // rollback-to the second release, which every node keeps: a switch only.
      const getsBefore = s3.requests.length
      const from = fleet.consul.arrivals.length
      const back = await runAction(inputsFor(fleet, { 'rollback-to': second }), envFor(fleet))
      assert.equal(back.code, 0, back.stdout + back.stderr)
      assert.match(back.stdout, /5 of 5 targets still keep it \(switch only, no download\)/)
      assert.match(
        back.stdout,
        /a switch only: every node still kept the release, nothing was downloaded/
      )
      assert.match(back.summary, /### Two-phase release/)
      assert.match(back.summary, /this was a switch only \(no download\)/)
      assert.match(back.summary, /\*\*Switch\*\*: 5 nodes; spread \d+ ms/)
      const events = fires(fleet, from)
      assert.equal(events.length, 1, 'one switch event')
      const gets = s3.requests.slice(getsBefore).filter((r) => r.method === 'GET')
      assert.deepEqual(
        gets.map((r) => r.key.split('/').pop()),
        NODES.map(() => `${second}.switch.yml`),
        'the nodes fetched the switch manifest and no archive'
      )
      for (const node of NODES) {
        assert.equal(current(fleet, node), `releases/${second}`, node)
        assert.deepEqual(kept(fleet, node), [second, third].sort(), node)
      }
      assert.match(kv(fleet, 'latest') ?? '', new RegExp(`/${second}\\.yml$`))
      // The same release in place would send its combined manifest: refused, naming layout.
      const inPlace = await runAction(
        inputsFor(fleet, { 'rollback-to': third, layout: 'in-place' }),
        envFor(fleet)
      )
      assert.notEqual(inPlace.code, 0)
      assert.match(
        inPlace.stdout + inPlace.stderr,
        /was published with layout: releases; set layout: releases to roll back to it/
      )

      // A node that boots now runs latest (the combined manifest) and ends on it.
      const late = await fleet.addNode('node-6')
      assert.equal(late.lastRun?.trigger, 'boot')
      assert.equal(late.lastRun?.status, 'success', late.lastRun?.log)
      assert.equal(readlinkSync(join(late.root, 'srv/app/current')), `releases/${second}`)
      assert.equal(
        await readFile(join(late.root, 'srv/app/current/public/version.txt'), 'utf8'),
        'v2\n'
      )
    })
  })

  test('a node whose prepare fails (a failing pre): nobody switches, current and latest unchanged, auto-rollback has nothing to do', async () => {
    await withFleet(async (fleet) => {
      const first = await runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet))
      assert.equal(first.code, 0, first.stdout + first.stderr)
      const id1 = first.outputs['deploy-id'] as string
      const latest = kv(fleet, 'latest')
      // "Disk full" on node-3: its pre fails.
      await writeFile(join(fleet.nodes.get('node-3')!.root, 'disk-full'), '')
      const from = fleet.consul.arrivals.length
      const run = await runAction(
        inputsFor(fleet, { path: 'v2', 'max-failures': '0', 'auto-rollback': 'true' }),
        envFor(fleet)
      )
      assert.notEqual(run.code, 0, run.stdout)
      const id2 = run.outputs['deploy-id'] as string
      const events = fires(fleet, from)
      assert.equal(events.length, 1, 'the prepare event only: no switch, nothing to switch back')
      assert.equal(run.outputs['rolled-back'], 'false')
      assert.match(run.stdout, /no node was switched to this release: nothing to roll back/)
      for (const node of NODES) {
        assert.equal(current(fleet, node), `releases/${id1}`, node)
        assert.equal(runsOf(fleet, node, (u) => u.endsWith(`${id2}.switch.yml`)).length, 0)
      }
      assert.equal(kv(fleet, 'latest'), latest)
      assert.equal(kv(fleet, 'deploy-id'), id1)
      const rows = JSON.parse(run.outputs.results as string) as Array<{
        node: string
        status: string
        phase?: string
      }>
      assert.equal(rows.find((r) => r.node === 'node-3')?.status, 'failure')
      // The results output says which phase a node's result was of (contract 9).
      assert.equal(rows.find((r) => r.node === 'node-3')?.phase, 'prepare')
      assert.match(run.stdout + run.stderr, /node-3/)
    })
  })

  test('waves with a bake: prepare everywhere, switch the canary wave; its health fails, auto-rollback switches it back without a download', async () => {
    let firstId = ''
    await withFleet(
      async (fleet, s3) => {
        const first = await runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet))
        assert.equal(first.code, 0, first.stdout + first.stderr)
        firstId = first.outputs['deploy-id'] as string
        const latest = kv(fleet, 'latest')
        const from = fleet.consul.arrivals.length
        const getsBefore = s3.requests.length
        const run = await runAction(
          inputsFor(fleet, {
            path: 'v2',
            waves: '1, 100%',
            'bake-time': '2s',
            'auto-rollback': 'true'
          }),
          envFor(fleet)
        )
        assert.notEqual(run.code, 0, run.stdout)
        const id2 = run.outputs['deploy-id'] as string
        assert.equal(run.outputs['rolled-back'], 'true', run.stdout)
        assert.equal(run.outputs['waves-completed'], '0')
        const events = fires(fleet, from)
        // prepare (all), switch wave 1 (node-1), the switch back (node-1)
        assert.deepEqual(
          events.map((e) => new URL(e.path, 'http://x').searchParams.get('node')),
          ['^(node-1|node-2|node-3|node-4|node-5)$', '^(node-1)$', '^(node-1)$']
        )
        for (const node of NODES) {
          assert.equal(current(fleet, node), `releases/${firstId}`, node)
          assert.deepEqual(kept(fleet, node), [firstId, id2].sort(), node)
        }
        const gets = s3.requests
          .slice(getsBefore)
          .filter((r) => r.method === 'GET')
          .map((r) => r.key.split('/').pop())
        assert.equal(gets.filter((k) => k === `${firstId}.tgz`).length, 0, 'no download of v1')
        assert.equal(gets.filter((k) => k === `${firstId}.switch.yml`).length, 1)
        assert.equal(kv(fleet, 'latest'), latest)
      },
      (id, url) => id !== firstId && url.endsWith('.switch.yml')
    )
  })

  test('a partial rollout prepares every target and switches the canary; promote is then a switch only for the rest', async () => {
    await withFleet(async (fleet, s3) => {
      const first = await runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet))
      assert.equal(first.code, 0, first.stdout + first.stderr)
      const id1 = first.outputs['deploy-id'] as string
      const partial = await runAction(inputsFor(fleet, { path: 'v2', waves: '1' }), envFor(fleet))
      assert.equal(partial.code, 0, partial.stdout + partial.stderr)
      const id2 = partial.outputs['deploy-id'] as string
      assert.equal(current(fleet, 'node-1'), `releases/${id2}`)
      for (const node of NODES.slice(1)) {
        assert.equal(current(fleet, node), `releases/${id1}`, node)
        assert.ok(kept(fleet, node).includes(id2), `${node} prepared ${id2}`)
      }
      assert.equal(kv(fleet, 'deploy-id'), id1, 'a partial rollout leaves latest')
      const getsBefore = s3.requests.length
      const promote = await runAction(inputsFor(fleet, { promote: id2 }), envFor(fleet))
      assert.equal(promote.code, 0, promote.stdout + promote.stderr)
      assert.match(promote.stdout, /4 of 4 targets still keep it \(switch only, no download\)/)
      for (const node of NODES) assert.equal(current(fleet, node), `releases/${id2}`, node)
      const gets = s3.requests
        .slice(getsBefore)
        .filter((r) => r.method === 'GET')
        .map((r) => r.key.split('/').pop())
      assert.deepEqual(
        gets,
        NODES.slice(1).map(() => `${id2}.switch.yml`)
      )
      assert.equal(kv(fleet, 'deploy-id'), id2)
    })
  })
})
