// Contract 13 (with 8) end to end over real Serf agents: `rollback-to` an ID
// some nodes still hold a tag of (from its first deploy) waits for their new
// run, the event's LTime being the mark; a node that joins later boots from the
// S3 `latest` and ends on the release; `waves: 1, 100%` with auto-rollback
// whose canary fails sends the release to the canary only and brings it back.
// Judged from the fleet: trees, the handlers' runs, the tags, latest, the lock.
// One fleet for the file; the tests build on each other, in order.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { runAction } from '../fleet/run-action.ts'
import { versionedBuilds } from './helpers/action-run.ts'
import {
  nudgedNodes,
  ranIds,
  resultTags,
  s3Object,
  serfEnv,
  serfInputs,
  treeVersion
} from './helpers/serf-e2e.ts'

const APP = 'web'
const RUN_MS = 180_000
const LATEST = `releases/${APP}/latest`
let work: string
let fleet: SerfFleet
let attempt = 0

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-rollout-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
  fleet = await startSerfFleet({
    app: APP,
    nodes: [
      // first in every wave order; fails the release r3
      { name: 'node-1', tags: { canary: 'true' }, fail: ['r3'] },
      { name: 'node-2' },
      // reports seconds after the others: an old tag of its would count first
      { name: 'node-3', delayMs: 5000 }
    ]
  })
})
after(async () => {
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

const run = (extra: Record<string, string>) =>
  runAction(serfInputs(fleet, APP, extra), serfEnv(fleet, work, ++attempt), { timeoutMs: RUN_MS })

let r1Manifest = ''

describe(
  'backend: serf, rollback-to, joiners and canaries (dist/index.js, real Serf agents)',
  {
    concurrency: 1,
    timeout: 600_000
  },
  () => {
    test('rollback-to an ID a node still holds a tag of: that old tag does not count, its new run does', async () => {
      const first = await run({ 'deploy-id': 'r1' })
      assert.equal(first.code, 0, first.stdout)
      r1Manifest = first.outputs['manifest-url']!
      // A partial rollout (queries to node-1 and node-2): a user event would reach node-3 too.
      const second = await run({ path: 'v2', 'deploy-id': 'r2', waves: '2' })
      assert.equal(second.code, 0, second.stdout)
      assert.deepEqual(await ranIds(fleet, 'node-3'), ['r1'])
      // node-3 stayed on r1 and still says so, with the LTime of r1's event
      const oldTag = (await resultTags(fleet, APP)).get('node-3')
      assert.equal(oldTag?.deployId, 'r1')
      assert.equal(oldTag?.status, 'success')

      const back = await run({ 'rollback-to': 'r1' })
      assert.equal(back.code, 0, back.stdout)
      assert.equal(back.outputs['deploy-id'], 'r1')
      assert.equal(back.outputs['nodes-succeeded'], '3')
      // The verdict waited for node-3's run of the rollback (5 s late), not its old tag.
      // A node still silent 8 s after the event is also sent it as a query
      // (nudge-silent.ts; the log names it), which it runs after: a run more.
      const nudged = nudgedNodes(back.stdout)
      let node3Runs = await ranIds(fleet, 'node-3')
      if (nudged.has('node-3')) {
        // its run of the query ends before the next test counts runs
        for (const until = Date.now() + 30_000; node3Runs.length < 3 && Date.now() < until;) {
          await new Promise((resolve) => setTimeout(resolve, 200))
          node3Runs = await ranIds(fleet, 'node-3')
        }
        assert.deepEqual(node3Runs, ['r1', 'r1', 'r1'])
      } else assert.deepEqual(node3Runs, ['r1', 'r1'])
      const tags = await resultTags(fleet, APP)
      for (const node of fleet.names) {
        assert.equal(await treeVersion(fleet, node), 'one', node)
        assert.equal(tags.get(node)?.deployId, 'r1', node)
        if (!nudged.has(node)) assert.equal(tags.get(node)?.clock.kind, 'event', node)
      }
      const newClock = tags.get('node-3')!.clock
      const oldClock = oldTag!.clock
      assert.equal(oldClock.kind, 'event')
      assert.ok(
        (newClock.kind === 'event' && newClock.time > oldClock.time) ||
          (newClock.kind === 'query' && nudged.has('node-3')),
        `node-3's tag is newer than r1's first event (${JSON.stringify(oldClock)} → ${JSON.stringify(newClock)})`
      )
      assert.equal((await s3Object(fleet, LATEST))?.trim(), r1Manifest, 'latest names r1 again')
    })

    test('a node that joins later boots from the S3 latest and ends on that release', async () => {
      const boot = await fleet.addNode('node-4')
      assert.equal(boot?.trigger, 'boot')
      assert.equal(boot?.manifestUrl, r1Manifest)
      assert.equal(boot?.status, 'success')
      assert.equal(await treeVersion(fleet, 'node-4'), 'one')
      assert.deepEqual(await ranIds(fleet, 'node-4'), ['r1'])
    })

    test('waves 1, 100% with auto-rollback: the failing canary alone ran the release, and is back', async () => {
      const before = new Map(
        await Promise.all(fleet.names.map(async (n) => [n, await ranIds(fleet, n)] as const))
      )
      const staged = await run({
        path: 'v2',
        'deploy-id': 'r3',
        waves: '1, 100%',
        'auto-rollback': 'true'
      })
      assert.equal(staged.code, 1, staged.stdout)
      assert.match(staged.errors[0] ?? '', /failed: node-1/, staged.stdout)
      assert.equal(staged.outputs['rolled-back'], 'true')
      assert.equal(staged.outputs['waves-completed'], '0')

      // The canary ran r3 (and failed), then the rollback to r1.
      assert.deepEqual(await ranIds(fleet, 'node-1'), [...before.get('node-1')!, 'r3', 'r1'])
      assert.equal(await treeVersion(fleet, 'node-1'), 'one')
      const tags = await resultTags(fleet, APP)
      assert.equal(tags.get('node-1')?.deployId, 'r1')
      assert.equal(tags.get('node-1')?.status, 'success')
      // Nobody else was sent anything: the second wave never started.
      for (const node of ['node-2', 'node-3', 'node-4']) {
        assert.deepEqual(await ranIds(fleet, node), before.get(node), node)
        assert.equal(await treeVersion(fleet, node), 'one', node)
        assert.notEqual(tags.get(node)?.deployId, 'r3', node)
      }
      assert.equal((await s3Object(fleet, LATEST))?.trim(), r1Manifest, 'latest stayed on r1')
      assert.equal(await s3Object(fleet, `releases/${APP}/lock`), undefined, 'the lock is released')
    })

    test('a node that joins during a staged rollout boots from latest and gets the release with the last wave', async () => {
      let joining: Promise<unknown> | undefined
      const staged = await runAction(
        serfInputs(fleet, APP, {
          path: 'v2',
          'deploy-id': 'r4',
          waves: '1, 100%',
          // the canary's bake: the window in which node-5 joins
          'bake-time': '8s'
        }),
        serfEnv(fleet, work, ++attempt),
        {
          timeoutMs: RUN_MS,
          onStdout: (chunk) => {
            if (joining === undefined && /sent the Serf query \S+ to 1 node/.test(chunk))
              joining = fleet.addNode('node-5')
          }
        }
      )
      await joining
      assert.ok(joining, `the canary's query was sent:\n${staged.stdout}`)
      assert.equal(staged.code, 0, staged.stdout)
      // node-5 booted on r1 (latest had not moved yet), then the last wave sent it r4.
      assert.deepEqual(await ranIds(fleet, 'node-5'), ['r1', 'r4'], staged.stdout)
      const tags = await resultTags(fleet, APP)
      for (const node of fleet.names) {
        assert.equal(await treeVersion(fleet, node), 'two', node)
        assert.equal(tags.get(node)?.deployId, 'r4', node)
      }
      assert.equal(staged.outputs['nodes-succeeded'], '5', staged.outputs.results)
      assert.equal(
        (await s3Object(fleet, LATEST))?.trim(),
        staged.outputs['manifest-url'],
        'latest moved to r4 with the last wave'
      )
    })
  }
)
