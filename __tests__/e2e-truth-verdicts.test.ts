// The verdict of a staged run agrees with the fleet (issue #19, contract 8a),
// end to end through dist/index.js on the local fleet: what counts as
// succeeded, what fails the run, who is sent the release (joiners, every
// datacenter), where promote and rollback-to find a release. Each test judges
// the run from the fleet as well as from its outputs. A test marked todo fails
// on today's code for the reason it names.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet, SimulatedNode } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { actionEnv, actionInputs, fleetNodes, versionedBuilds } from './helpers/action-run.ts'
import {
  currentOf,
  deployIdAt,
  FAILED,
  firesSince,
  KV,
  kvAt,
  resultAt,
  rowOf,
  rowsOf,
  SUCCEEDED,
  versionOn
} from './helpers/fleet-truth.ts'

let work: string
let attempt = 0

// layout: releases needs a dest inside each node's own tree (see e2e-releases);
// a node with $HOME/disk-full fails its prepare.
const RELEASES_TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'
commands:
  pre:
    - test ! -e "$HOME/disk-full"
`

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-truth-verdicts-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
  await writeFile(join(work, 'stretcher.yml'), RELEASES_TEMPLATE)
})
after(() => rm(work, { recursive: true, force: true }))

const envFor = (fleet: LocalFleet, extra: Record<string, string> = {}) => ({
  ...actionEnv(fleet, work, { id: '1920', attempt: ++attempt }),
  ...extra
})
const RELEASES = { layout: 'releases', manifest: 'stretcher.yml', dest: '' }

const withFleet = (nodes: FleetNodeSpec[], body: (fleet: LocalFleet) => Promise<void>) =>
  withLocalFleet({ nodes, kvPrefix: KV, serverRunsStretcher: false }, body)

const twoDatacenters = (body: (fleet: LocalFleet) => Promise<void>) =>
  withLocalFleet(
    {
      kvPrefix: KV,
      serverRunsStretcher: false,
      datacenters: [
        { name: 'dc1', nodes: 2 },
        { name: 'dc2', nodes: 2 }
      ]
    },
    body
  )

describe('the verdict agrees with the fleet (issue #19, contract 8a)', { concurrency: 2 }, () => {
  test('case 6: layout releases, switch wave 1 fails its gate: prepared-only nodes are prepared; nodes-succeeded = nodes whose current is the new release', async () => {
    const crash = (id: string | undefined, url: string) =>
      id === 'v2-gate' && url.endsWith('.switch.yml')
    await withFleet(
      fleetNodes(4, 'node-1', { 'node-1': { crashAfterDeploy: crash, crashDelayMs: 300 } }),
      async (fleet) => {
        const first = await runAction(
          actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-rel', ...RELEASES }),
          envFor(fleet)
        )
        assert.equal(first.code, 0, first.stdout)
        const run = await runAction(
          actionInputs(fleet, {
            path: 'v2',
            'deploy-id': 'v2-gate',
            waves: '1, 100%',
            'bake-time': '2s',
            ...RELEASES
          }),
          envFor(fleet)
        )
        assert.equal(run.code, 1, run.stdout)
        const nodes = ['node-1', 'node-2', 'node-3', 'node-4']
        const onNew = nodes.filter((n) => currentOf(fleet, n) === 'releases/v2-gate')
        assert.deepEqual(onNew, ['node-1'], 'only the canary switched')
        assert.equal(run.outputs['nodes-succeeded'], String(onNew.length), run.outputs.results)
        for (const node of ['node-2', 'node-3', 'node-4']) {
          assert.equal(currentOf(fleet, node), 'releases/v1-rel', node)
          assert.equal(rowOf(run, node)?.status, 'prepared', `${node}: ${run.outputs.results}`)
        }
      }
    )
  })

  test('case 8: max-failures 1, a silent canary and a node failing in wave 2: two failures, the run fails', async () => {
    await withFleet(
      fleetNodes(3, 'node-1', { 'node-1': { deaf: true }, 'node-3': { fail: 'v2-two' } }),
      async (fleet) => {
        const run = await runAction(
          actionInputs(fleet, {
            path: 'v2',
            'deploy-id': 'v2-two',
            waves: '1, 100%',
            'max-failures': '1',
            timeout: '3s'
          }),
          envFor(fleet)
        )
        // The fleet: node-1 never ran it, node-3 failed it (if wave 2 was sent).
        assert.equal(resultAt(fleet, 'node-1'), undefined)
        const node3 = resultAt(fleet, 'node-3')
        if (node3) assert.equal(node3.status, 'failure')
        assert.equal(run.code, 1, `2 of 3 failed or silent with max-failures 1: ${run.stdout}`)
        assert.notEqual(run.outputs.conclusion, 'success')
        assert.match(run.errors[0] ?? '', /node-1/)
      }
    )
  })

  test('case 9: wait: false with datacenters dc1, dc2 fires in both, in order, and says so', async () => {
    await twoDatacenters(async (fleet) => {
      const run = await runAction(
        actionInputs(fleet, {
          path: 'v1',
          'deploy-id': 'v1-nowait',
          datacenters: 'dc1, dc2',
          wait: 'false'
        }),
        envFor(fleet)
      )
      assert.equal(run.code, 0, run.stdout)
      const fires = firesSince(fleet)
      assert.deepEqual(
        fires.map((f) => f.dc || 'dc1'),
        ['dc1', 'dc2'],
        'one event in each, dc1 first'
      )
      for (const dc of ['dc1', 'dc2']) assert.equal(deployIdAt(fleet, dc), 'v1-nowait', dc)
      for (const node of ['dc1-node-1', 'dc1-node-2', 'dc2-node-1', 'dc2-node-2']) {
        await fleet.nodes.get(node)!.waitForRuns(1, 10_000)
        assert.equal(versionOn(fleet, node), 'one', node)
      }
      assert.match(run.stdout, /dc2/, 'it says it fired in dc2')
    })
  })

  test('case 10a: a node joining during wave 1 is sent the release with the last wave', async () => {
    await withFleet(fleetNodes(3, 'node-1', { 'node-1': { delayMs: 1500 } }), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-base' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const from = fleet.consul.arrivals.length
      let joining: Promise<SimulatedNode> | undefined
      const run = await runAction(
        actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-join', waves: '1, 100%' }),
        envFor(fleet),
        {
          onChild: (child) => {
            const poll = setInterval(() => {
              if (firesSince(fleet, from).length < 1) return
              clearInterval(poll)
              joining = fleet.addNode('node-4')
            }, 5)
            child.once('exit', () => clearInterval(poll))
          }
        }
      )
      const joiner = await joining
      assert.ok(joiner, 'node-4 joined')
      assert.equal(joiner.history[0]?.deployId, 'v1-base', 'it booted the current release')
      assert.equal(run.code, 0, run.stdout)
      assert.equal(versionOn(fleet, 'node-4'), 'two', 'the joiner got the release')
      assert.equal(resultAt(fleet, 'node-4')?.deploy_id, 'v2-join')
      assert.match(rowOf(run, 'node-4')?.status ?? '', SUCCEEDED)
    })
  })

  test('case 10b: a joiner that booted the new release from latest is rolled back by auto-rollback', async () => {
    await withFleet(
      fleetNodes(3, 'node-1', { 'node-3': { fail: 'v2-boot', delayMs: 1500 } }),
      async (fleet) => {
        const first = await runAction(
          actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-base' }),
          envFor(fleet)
        )
        assert.equal(first.code, 0, first.stdout)
        let joining: Promise<SimulatedNode> | undefined
        const run = await runAction(
          actionInputs(fleet, {
            path: 'v2',
            'deploy-id': 'v2-boot',
            waves: '1, 100%',
            'auto-rollback': 'true'
          }),
          envFor(fleet),
          {
            onChild: (child) => {
              // latest moved for the last wave: a node boots now and runs it.
              const poll = setInterval(() => {
                if (deployIdAt(fleet) !== 'v2-boot') return
                clearInterval(poll)
                joining = fleet.addNode('node-4')
              }, 5)
              child.once('exit', () => clearInterval(poll))
            }
          }
        )
        const joiner = await joining
        assert.ok(joiner, 'node-4 joined')
        assert.equal(joiner.history[0]?.deployId, 'v2-boot', 'it booted the new release')
        assert.equal(run.code, 1, run.stdout)
        assert.equal(run.outputs['rolled-back'], 'true')
        assert.equal(deployIdAt(fleet), 'v1-base')
        for (const node of ['node-1', 'node-2', 'node-3'])
          assert.equal(versionOn(fleet, node), 'one', node)
        assert.equal(versionOn(fleet, 'node-4'), 'one', 'the joiner is back on v1')
        assert.equal(resultAt(fleet, 'node-4')?.deploy_id, 'v1-base')
      }
    )
  })

  test("case 11a: promote and rollback-to a release recorded only in dc2 (not the runner's datacenter)", async () => {
    await twoDatacenters(async (fleet) => {
      const dc2 = { datacenters: 'dc2' }
      const v1 = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-dc2', ...dc2 }),
        envFor(fleet)
      )
      assert.equal(v1.code, 0, v1.stdout)
      const v2 = await runAction(
        actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-dc2', waves: '1', ...dc2 }),
        envFor(fleet)
      )
      assert.equal(v2.code, 0, v2.stdout)
      assert.equal(kvAt(fleet, 'history/v2-dc2', 'dc1'), undefined, 'recorded in dc2 only')
      assert.ok(kvAt(fleet, 'history/v2-dc2', 'dc2'))
      const promote = await runAction(
        actionInputs(fleet, { promote: 'v2-dc2', ...dc2 }),
        envFor(fleet)
      )
      assert.equal(promote.code, 0, promote.stdout)
      assert.equal(deployIdAt(fleet, 'dc2'), 'v2-dc2')
      for (const node of ['dc2-node-1', 'dc2-node-2']) assert.equal(versionOn(fleet, node), 'two')
      const back = await runAction(
        actionInputs(fleet, { 'rollback-to': 'v1-dc2', ...dc2 }),
        envFor(fleet)
      )
      assert.equal(back.code, 0, back.stdout)
      assert.equal(deployIdAt(fleet, 'dc2'), 'v1-dc2')
      for (const node of ['dc2-node-1', 'dc2-node-2']) assert.equal(versionOn(fleet, node), 'one')
      for (const node of ['dc1-node-1', 'dc1-node-2'])
        assert.equal(fleet.nodes.get(node)!.runs, 0, `${node} untouched`)
    })
  })

  test('case 11b: a dry run of promote checks the release: an unknown ID fails, naming it', async () => {
    await withFleet(fleetNodes(2, undefined), async (fleet) => {
      const run = await runAction(
        actionInputs(fleet, { promote: 'v9-none', 'dry-run': 'true' }),
        envFor(fleet)
      )
      assert.equal(run.code, 1, run.stdout)
      assert.match(run.errors[0] ?? '', /v9-none/)
      assert.equal(firesSince(fleet).length, 0)
      assert.equal(deployIdAt(fleet), undefined)
    })
  })

  test('case 13: a run without waves whose bake gate fails does not succeed', async () => {
    await withFleet(
      fleetNodes(3, undefined, {
        'node-2': { crashAfterDeploy: 'v2-bake', crashDelayMs: 300 }
      }),
      async (fleet) => {
        const run = await runAction(
          actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-bake', 'bake-time': '2s' }),
          envFor(fleet)
        )
        // The fleet: node-2 reported the release, then its check went critical in the bake.
        assert.equal(resultAt(fleet, 'node-2')?.deploy_id, 'v2-bake')
        assert.equal(run.code, 1, run.stdout)
        assert.notEqual(run.outputs.conclusion, 'success')
        assert.equal(run.outputs['waves-completed'], '0')
        assert.match(run.errors[0] ?? '', /node-2: service:web/)
      }
    )
  })

  test('case 15: promote without waves sends nothing to the nodes already on the release', async () => {
    await withFleet(fleetNodes(4, 'node-1'), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-base' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const partial = await runAction(
        actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-prom', waves: '1' }),
        envFor(fleet)
      )
      assert.equal(partial.code, 0, partial.stdout)
      const canaryRuns = fleet.nodes.get('node-1')!.runs
      const canaryEvents = fleet.consul.events('node-1').length
      const run = await runAction(actionInputs(fleet, { promote: 'v2-prom' }), envFor(fleet))
      assert.equal(run.code, 0, run.stdout)
      for (const node of ['node-1', 'node-2', 'node-3', 'node-4'])
        assert.equal(versionOn(fleet, node), 'two', node)
      assert.equal(fleet.consul.events('node-1').length, canaryEvents, 'no event to the canary')
      assert.equal(fleet.nodes.get('node-1')!.runs, canaryRuns, 'the canary ran nothing again')
      assert.deepEqual(
        rowsOf(run)
          .map((r) => r.node)
          .sort(),
        ['node-2', 'node-3', 'node-4']
      )
    })
  })

  test('an empty last switch wave (its only node failed prepare, within max-failures) passes and moves latest with no event', async () => {
    await withFleet(fleetNodes(3, undefined), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-rel', ...RELEASES }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      await writeFile(join(fleet.nodes.get('node-3')!.root, 'disk-full'), '')
      const node3Events = fleet.consul.events('node-3').length
      const run = await runAction(
        actionInputs(fleet, {
          path: 'v2',
          'deploy-id': 'v2-rel',
          // 34% of 3 is node-1; 100% adds node-2 and node-3, and node-3 never prepared.
          waves: '34%, 100%',
          'max-failures': '1',
          ...RELEASES
        }),
        envFor(fleet)
      )
      // Within max-failures: the run succeeds (contract 7).
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.outputs.conclusion, 'success', run.stdout)
      // The fleet: node-1 and node-2 switched, node-3 kept the previous release.
      assert.equal(currentOf(fleet, 'node-1'), 'releases/v2-rel')
      assert.equal(currentOf(fleet, 'node-2'), 'releases/v2-rel')
      assert.equal(currentOf(fleet, 'node-3'), 'releases/v1-rel')
      assert.equal(resultAt(fleet, 'node-3')?.status, 'failure')
      // node-3 was sent the prepare only: no switch went to a node that never prepared.
      const sentToNode3 = fleet.consul.events('node-3').slice(node3Events)
      assert.equal(sentToNode3.length, 1, JSON.stringify(sentToNode3))
      // latest and deploy-id moved to the release the run rolled out (contract 8), the
      // rollout record is gone, and the history record is there.
      assert.equal(deployIdAt(fleet), 'v2-rel', run.stdout)
      assert.match(kvAt(fleet, 'latest')?.value ?? '', /\/v2-rel\.yml$/)
      assert.equal(kvAt(fleet, 'rollout'), undefined)
      assert.equal(JSON.parse(kvAt(fleet, 'history/v2-rel')?.value ?? '{}').deploy_id, 'v2-rel')
      // The outputs and the report name node-3 as failed, the others as succeeded.
      assert.match(rowOf(run, 'node-3')?.status ?? '', FAILED, run.outputs.results)
      for (const node of ['node-1', 'node-2'])
        assert.match(rowOf(run, node)?.status ?? '', SUCCEEDED, run.outputs.results)
      assert.equal(run.outputs['nodes-succeeded'], '2')
      assert.match(run.summary, /node-3/)
      assert.match(run.stdout, /nothing to send; latest moved to it with no event/)
    })
  })
})
