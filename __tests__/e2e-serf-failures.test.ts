// Contract 13 end to end, nodes that do not report: a node whose agent is
// killed during the wait is lost (named as lost, the verdict coming from Serf's
// failure detector, not from the deadline), and a node whose agent never runs
// the handler is named silent at the timeout. Judged from the fleet (trees,
// handler runs, tags, latest, lock) as well as the outputs. One fleet.
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
  ranIds,
  resultTags,
  s3Object,
  serfEnv,
  serfInputs,
  treeVersion
} from './helpers/serf-e2e.ts'

const APP = 'web'
const RUN_MS = 240_000
let work: string
let fleet: SerfFleet

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-failures-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
  fleet = await startSerfFleet({
    app: APP,
    nodes: [
      { name: 'node-1' },
      { name: 'node-2' },
      // still deploying when its agent is killed
      { name: 'node-3', delayMs: 600_000 },
      // its agent hears the event and runs nothing
      { name: 'node-4', deaf: true }
    ]
  })
})
after(async () => {
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

interface ResultEntry {
  node: string
  status: string
  deploy_id?: string
}
const results = (outputs: Record<string, string>): Map<string, ResultEntry> =>
  new Map((JSON.parse(outputs.results ?? '[]') as ResultEntry[]).map((r) => [r.node, r]))

describe(
  'backend: serf, nodes that do not report (dist/index.js, real Serf agents)',
  {
    concurrency: 1,
    timeout: 600_000
  },
  () => {
    test('a node whose agent is killed during the wait is named lost, not silent at the deadline', async () => {
      let killing: Promise<void> | undefined
      const run = await runAction(
        serfInputs(fleet, APP, {
          'deploy-id': 'kill-1',
          'node-filter': '^node-[123]$',
          // far beyond Serf's failure detection (~8 s; 27 s once under load)
          timeout: '3m'
        }),
        serfEnv(fleet, work, 1),
        {
          timeoutMs: RUN_MS,
          onStdout: (chunk) => {
            if (killing === undefined && chunk.includes('fired the Serf event'))
              killing = fleet.agents.kill('node-3')
          }
        }
      )
      await killing
      assert.ok(killing, `the event was fired:\n${run.stdout}`)
      assert.equal(run.code, 1, run.stdout)
      const error = run.errors[0] ?? ''
      assert.match(error, /lost: node-3/, error)
      // the cause is the lost node, not the deadline
      assert.doesNotMatch(error, /silent|timed out|timeout/i, error)
      assert.equal(results(run.outputs).get('node-3')?.status, 'lost', run.outputs.results)
      assert.equal(run.outputs['nodes-succeeded'], '2')
      assert.equal(run.outputs['nodes-failed'], '1')

      for (const node of ['node-1', 'node-2']) {
        assert.equal(await treeVersion(fleet, node), 'one', node)
        assert.equal((await resultTags(fleet, APP)).get(node)?.deployId, 'kill-1', node)
      }
      assert.equal(await treeVersion(fleet, 'node-3'), '', 'node-3 died before its sync')
      assert.deepEqual(await ranIds(fleet, 'node-3'), [], 'node-3 completed no run')
      assert.equal(
        (await s3Object(fleet, `releases/${APP}/latest`))?.trim(),
        run.outputs['manifest-url'],
        'latest moved before the event'
      )
      assert.equal(await s3Object(fleet, `releases/${APP}/lock`), undefined, 'the lock is released')
    })

    test('a node whose handler never runs is named silent at the timeout', async () => {
      const run = await runAction(
        serfInputs(fleet, APP, {
          path: 'v2',
          'deploy-id': 'deaf-1',
          'node-filter': '^node-[124]$',
          // node-4 never reports; were the event to miss node-2 too, it is sent
          // the deploy as a query at half of this (nudge-silent.ts)
          timeout: '20s'
        }),
        serfEnv(fleet, work, 2),
        { timeoutMs: RUN_MS }
      )
      assert.equal(run.code, 1, run.stdout)
      const error = run.errors[0] ?? ''
      assert.match(
        error,
        /silent: node-4/,
        `${error}\n${run.stdout}\nnode-2 ran: ${JSON.stringify(await ranIds(fleet, 'node-2'))}`
      )
      assert.match(error, /timed out|timeout/i, error)
      assert.doesNotMatch(error, /lost|failed: /, error)
      assert.equal(results(run.outputs).get('node-4')?.status, 'silent', run.outputs.results)
      assert.equal(run.outputs['nodes-succeeded'], '2')

      for (const node of ['node-1', 'node-2']) {
        assert.equal(await treeVersion(fleet, node), 'two', node)
        // a node the event missed is sent the deploy as a query; the event may still reach it later
        const [before, ...runs] = await ranIds(fleet, node)
        assert.equal(before, 'kill-1', node)
        assert.ok(runs.length > 0 && runs.every((id) => id === 'deaf-1'), `${node}: ${runs}`)
      }
      assert.equal(await treeVersion(fleet, 'node-4'), '', 'node-4 never deployed')
      assert.equal(
        (await resultTags(fleet, APP)).get('node-4'),
        undefined,
        'node-4 has no result tag'
      )
      assert.equal(await s3Object(fleet, `releases/${APP}/lock`), undefined, 'the lock is released')
    })
  }
)
