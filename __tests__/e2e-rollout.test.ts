// Staged rollouts end to end through dist/ as the runner runs it (issue #12,
// contract 8): canary first, one event per wave sent only after the wave before
// reported, latest moved just before the last wave, the health gate,
// auto-rollback, promotion after a partial rollout, and a cancel mid-rollout.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { SERVER_NODE, withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { actionEnv, actionInputs, versionedBuilds } from './helpers/action-run.ts'

const KV = 'stretcher/web'
let work: string
let attempt = 0

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-rollout-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
})
after(() => rm(work, { recursive: true, force: true }))

/** node-1..node-6, node-5 tagged canary (so the canary is not first by name) */
function sixNodes(extra: Partial<Record<string, Partial<FleetNodeSpec>>> = {}): FleetNodeSpec[] {
  return Array.from({ length: 6 }, (_, i) => {
    const name = `node-${i + 1}`
    return {
      name,
      services: [{ name: 'web', tags: name === 'node-5' ? ['canary'] : [], check: true }],
      ...extra[name]
    }
  })
}

function withFleet(nodes: FleetNodeSpec[], body: (fleet: LocalFleet) => Promise<void>) {
  return withLocalFleet({ nodes, kvPrefix: KV, serverRunsStretcher: false }, body)
}

const inputsFor = actionInputs
const envFor = (fleet: LocalFleet) => actionEnv(fleet, work, { id: '4242', attempt: ++attempt })

const versionOn = (fleet: LocalFleet, node: string) =>
  readFile(join(fleet.nodeTree(node, '/srv/web'), 'public/version.txt'), 'utf8')

function kv(fleet: LocalFleet, key: string) {
  const entry = fleet.consul.kv(`${KV}/${key}`)
  return entry && { value: entry.value?.toString(), modifyIndex: entry.modifyIndex }
}

function result(fleet: LocalFleet, node: string) {
  const entry = kv(fleet, `results/${node}`)
  return (
    entry && {
      ...(JSON.parse(entry.value ?? '{}') as { deploy_id: string; status: string }),
      modifyIndex: entry.modifyIndex
    }
  )
}

/** The action's event fires since `from`, with the node filter each carried. */
function fires(fleet: LocalFleet, from: number) {
  return fleet.consul.arrivals
    .slice(from)
    .filter(
      (a) => a.method === 'PUT' && a.path.startsWith('/v1/event/fire/') && a.agent === SERVER_NODE
    )
    .map((a) => ({ ...a, node: new URL(a.path, 'http://x').searchParams.get('node') ?? '' }))
}

const ALL = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']

describe('staged rollout (dist/index.js)', () => {
  test('waves 1, 50%, 100%: canary first; each wave sent after the one before reported; latest moves just before the last wave', async () => {
    await withFleet(sixNodes(), async (fleet) => {
      const first = await runAction(inputsFor(fleet, { path: 'v1' }), envFor(fleet))
      assert.equal(first.code, 0, first.stdout)
      const v1Latest = kv(fleet, 'latest')
      const from = fleet.consul.arrivals.length
      const run = await runAction(
        inputsFor(fleet, { path: 'v2', waves: '1, 50%, 100%' }),
        envFor(fleet)
      )
      assert.equal(run.code, 0, run.stdout + run.stderr)
      const id = run.outputs['deploy-id'] as string
      assert.equal(run.outputs['waves-completed'], '3')
      assert.equal(run.outputs['rolled-back'], 'false')
      const rows = JSON.parse(run.outputs.results as string) as Array<{
        node: string
        wave: number
        status: string
      }>
      const waveOf = Object.fromEntries(rows.map((r) => [r.node, r.wave]))
      assert.deepEqual(waveOf, {
        'node-5': 1,
        'node-1': 2,
        'node-2': 2,
        'node-3': 3,
        'node-4': 3,
        'node-6': 3
      })
      assert.ok(rows.every((r) => r.status === 'success'))

      const events = fires(fleet, from)
      assert.equal(events.length, 3, 'one event per wave')
      assert.deepEqual(
        events.map((e) => e.node),
        ['^(node-5)$', '^(node-1|node-2)$', '^(node-3|node-4|node-6)$']
      )
      const waves = [['node-5'], ['node-1', 'node-2'], ['node-3', 'node-4', 'node-6']]
      const lastResult = (nodes: string[]) =>
        Math.max(...nodes.map((n) => result(fleet, n)?.modifyIndex ?? Infinity))
      // Each wave's event only after every node of the wave before wrote its result.
      assert.ok(events[1]!.raftIndex >= lastResult(waves[0]!), 'wave 2 after wave 1 reported')
      assert.ok(events[2]!.raftIndex >= lastResult(waves[1]!), 'wave 3 after wave 2 reported')
      const latest = kv(fleet, 'latest')
      assert.notEqual(latest?.modifyIndex, v1Latest?.modifyIndex)
      assert.ok(
        (latest?.modifyIndex ?? 0) > lastResult(waves[1]!),
        'latest moved after wave 2 reported'
      )
      assert.ok(
        (latest?.modifyIndex ?? Infinity) <= events[2]!.raftIndex,
        'and before wave 3 was sent'
      )
      assert.equal(kv(fleet, 'deploy-id')?.value, id)
      assert.equal(kv(fleet, 'rollout'), undefined, 'the rollout record goes when it completes')
      for (const node of ALL) {
        assert.equal(await versionOn(fleet, node), 'two\n', node)
        assert.equal(fleet.consul.events(node).length, 2, `${node}: v1 and one v2 event`)
      }
      assert.match(run.stdout, /wave 1\/3: 1 node: node-5/)
      // The job summary lists the waves with their nodes.
      assert.match(run.summary, /\| wave \| result \| nodes \|/)
      assert.match(run.summary, /\| 1 \| [^|]+ \| 1: node-5 \|/)
      assert.match(run.summary, /\| 3 \| [^|]+ \| 3: node-3, node-4, node-6 \|/)
      assert.match(run.stdout, /6\/6 nodes on .*; 3\/3 waves passed/)
    })
  })

  test('a release failing on the canary with auto-rollback: the other waves never see it, the canary is back on v1, latest unchanged', async () => {
    await withFleet(sixNodes({ 'node-5': { fail: 'v2-bad' } }), async (fleet) => {
      const first = await runAction(
        inputsFor(fleet, { path: 'v1', 'deploy-id': 'v1-good' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const before = {
        latest: kv(fleet, 'latest'),
        deployId: kv(fleet, 'deploy-id'),
        results: Object.fromEntries(ALL.map((n) => [n, result(fleet, n)]))
      }
      const run = await runAction(
        inputsFor(fleet, {
          path: 'v2',
          'deploy-id': 'v2-bad',
          waves: '1, 50%, 100%',
          'auto-rollback': 'true'
        }),
        envFor(fleet)
      )
      assert.equal(run.code, 1, run.stdout)
      assert.equal(run.outputs['rolled-back'], 'true')
      assert.equal(run.outputs['waves-completed'], '0')
      assert.deepEqual(kv(fleet, 'latest'), before.latest, 'latest never moved')
      assert.deepEqual(kv(fleet, 'deploy-id'), before.deployId)
      assert.equal(kv(fleet, 'rollout'), undefined)
      for (const node of ALL.filter((n) => n !== 'node-5')) {
        assert.deepEqual(result(fleet, node), before.results[node], `${node}: result untouched`)
        assert.equal(fleet.consul.events(node).length, 1, `${node}: no event since v1`)
        assert.equal(await versionOn(fleet, node), 'one\n')
      }
      const canary = result(fleet, 'node-5')
      assert.equal(canary?.deploy_id, 'v1-good', 'the canary reported the previous release again')
      assert.equal(canary?.status, 'success')
      assert.ok((canary?.modifyIndex ?? 0) > (before.results['node-5']?.modifyIndex ?? Infinity))
      assert.equal(await versionOn(fleet, 'node-5'), 'one\n')
      assert.match(
        run.errors[0] ?? '',
        /failed: node-5.*stopped at wave 1\/3 failed.*rolled back to v1-good: 1\/1 nodes back on it/
      )
    })
  })

  test('bake-time 3s: a node whose check turns critical 1 s after it reported fails the wave during the bake, named with the check', async () => {
    await withFleet(
      sixNodes({ 'node-5': { crashAfterDeploy: 'v2-crash', crashDelayMs: 1000 } }),
      async (fleet) => {
        const from = fleet.consul.arrivals.length
        const run = await runAction(
          inputsFor(fleet, {
            path: 'v2',
            'deploy-id': 'v2-crash',
            waves: '1, 100%',
            'bake-time': '3s'
          }),
          envFor(fleet)
        )
        assert.equal(run.code, 1, run.stdout)
        assert.equal(run.outputs['waves-completed'], '0')
        assert.match(
          run.errors[0] ?? '',
          /^wave 1\/2 failed its health gate: node-5: service:web.*simulated crash after deploying v2-crash.*; stopped at wave 1 of 2; /
        )
        // The summary's wave table names the gate that failed.
        assert.match(run.summary, /\| 1 \| [^|]+ \| 1: node-5 \|.*node-5: service:web/)
        assert.equal(fires(fleet, from).length, 1, 'wave 2 was never sent')
        assert.equal(result(fleet, 'node-5')?.status, 'success', 'it had reported success')
        assert.equal(kv(fleet, 'latest'), undefined, 'latest never moved')
      }
    )
  })

  test('waves: 1, then promote with waves 50%, 100%: the canary is not sent it again, the rest converge, latest moves', async () => {
    await withFleet(sixNodes(), async (fleet) => {
      const first = await runAction(
        inputsFor(fleet, { path: 'v1', 'deploy-id': 'v1-base' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const canaryRun = await runAction(
        inputsFor(fleet, { path: 'v2', 'deploy-id': 'v2-new', waves: '1' }),
        envFor(fleet)
      )
      assert.equal(canaryRun.code, 0, canaryRun.stdout)
      assert.match(canaryRun.stdout, /a partial rollout: 5 targets stay on the current release/)
      assert.equal(kv(fleet, 'deploy-id')?.value, 'v1-base', 'a partial rollout leaves latest')
      assert.equal(JSON.parse(kv(fleet, 'rollout')?.value ?? '{}').deploy_id, 'v2-new')
      assert.equal(await versionOn(fleet, 'node-5'), 'two\n')
      assert.equal(await versionOn(fleet, 'node-1'), 'one\n')
      const canaryEvents = fleet.consul.events('node-5').length

      const promote = await runAction(
        inputsFor(fleet, { promote: 'v2-new', waves: '50%, 100%' }),
        envFor(fleet)
      )
      assert.equal(promote.code, 0, promote.stdout + promote.stderr)
      assert.match(promote.stdout, /promote v2-new: 1 of the 6 targets already run it/)
      assert.equal(promote.outputs['deploy-id'], 'v2-new')
      assert.equal(fleet.consul.events('node-5').length, canaryEvents, 'the canary got nothing new')
      for (const node of ALL) assert.equal(await versionOn(fleet, node), 'two\n', node)
      assert.equal(kv(fleet, 'deploy-id')?.value, 'v2-new')
      assert.equal(kv(fleet, 'latest')?.value, promote.outputs['manifest-url'])
      assert.equal(kv(fleet, 'rollout'), undefined)
      const rows = JSON.parse(promote.outputs.results as string) as Array<{ node: string }>
      assert.deepEqual(
        rows.map((r) => r.node).sort(),
        ALL.filter((n) => n !== 'node-5')
      )
    })
  })

  test('cancel during wave 2: stops, no rollback, lock free, the run says cancelled', async () => {
    await withFleet(
      sixNodes({ 'node-1': { delayMs: 4000 }, 'node-2': { delayMs: 4000 } }),
      async (fleet) => {
        const first = await runAction(
          inputsFor(fleet, { path: 'v1', 'deploy-id': 'v1-keep' }),
          envFor(fleet)
        )
        assert.equal(first.code, 0, first.stdout)
        const from = fleet.consul.arrivals.length
        const run = await runAction(
          inputsFor(fleet, {
            path: 'v2',
            'deploy-id': 'v2-cancel',
            waves: '1, 50%, 100%',
            'auto-rollback': 'true'
          }),
          envFor(fleet),
          {
            post: true,
            onChild: (child) => {
              const poll = setInterval(() => {
                if (fires(fleet, from).length < 2) return
                clearInterval(poll)
                setTimeout(() => child.kill('SIGINT'), 300)
              }, 5)
              child.once('exit', () => clearInterval(poll))
            }
          }
        )
        assert.equal(run.code, 1)
        assert.match(run.errors[0] ?? '', /^cancelled/)
        assert.equal(run.outputs.conclusion, 'cancelled')
        assert.equal(run.outputs['rolled-back'] ?? 'false', 'false')
        assert.equal(fires(fleet, from).length, 2, 'no third wave, no rollback event')
        assert.equal(fleet.consul.kv(`${KV}/lock`)?.session, undefined, 'lock free')
        assert.equal(kv(fleet, 'deploy-id')?.value, 'v1-keep')
        assert.equal(run.post?.code, 0)
      }
    )
  })

  test('a wave that cannot be sent after the canary went out fails the rollout, and auto-rollback puts the canary back', async () => {
    await withFleet(sixNodes(), async (fleet) => {
      const first = await runAction(
        inputsFor(fleet, { path: 'v1', 'deploy-id': 'v1-base' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const from = fleet.consul.arrivals.length
      const run = await runAction(
        inputsFor(fleet, {
          path: 'v2',
          'deploy-id': 'v2-stuck',
          waves: '1, 100%',
          'auto-rollback': 'true'
        }),
        envFor(fleet),
        {
          onChild: (child) => {
            // Once the canary's event is out, Consul refuses the next fire (an ACL change, say).
            const poll = setInterval(() => {
              if (fires(fleet, from).length < 1) return
              clearInterval(poll)
              fleet.consul.faults.inject({
                kind: 'error',
                status: 403,
                body: 'Permission denied',
                path: '^/v1/event/fire',
                count: 1
              })
            }, 2)
            child.once('exit', () => clearInterval(poll))
          }
        }
      )
      assert.equal(run.code, 1, run.stdout)
      assert.match(run.errors[0] ?? '', /stopped at wave 2\/2 could not be sent: .*event:write/)
      assert.equal(run.outputs['rolled-back'], 'true')
      assert.equal(run.outputs['waves-completed'], '1')
      assert.equal(await versionOn(fleet, 'node-5'), 'one\n', 'the canary is back on v1')
      assert.equal(result(fleet, 'node-5')?.deploy_id, 'v1-base')
      assert.equal(kv(fleet, 'deploy-id')?.value, 'v1-base')
    })
  })
})
