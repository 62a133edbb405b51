// Several Consul datacenters end to end through dist/ (issue #15, contract 10):
// the action talks to one agent in dc1; the release is published once, then
// rolled out datacenter by datacenter, each with its own latest, deploy-id,
// history, event and results; a failing datacenter stops the run.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet, LocalFleetOptions } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { actionEnv, actionInputs, versionedBuilds } from './helpers/action-run.ts'

const KV = 'stretcher/web'
let work: string
let attempt = 0

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-dc-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
})
after(() => rm(work, { recursive: true, force: true }))

const nodes = (dc: string, extra: Partial<Record<string, Partial<FleetNodeSpec>>> = {}) =>
  [1, 2, 3].map((i) => ({ name: `${dc}-node-${i}`, ...extra[`${dc}-node-${i}`] }))

function withFleet(
  extra: Partial<Record<string, Partial<FleetNodeSpec>>>,
  body: (fleet: LocalFleet) => Promise<void>,
  options: Partial<LocalFleetOptions> = {}
) {
  return withLocalFleet(
    {
      kvPrefix: KV,
      serverRunsStretcher: false,
      datacenters: [
        { name: 'dc1', nodes: nodes('dc1', extra) },
        { name: 'dc2', nodes: nodes('dc2', extra) }
      ],
      ...options
    },
    body
  )
}

const inputsFor = actionInputs
const envFor = (fleet: LocalFleet) => actionEnv(fleet, work, { id: '5151', attempt: ++attempt })

const kv = (fleet: LocalFleet, dc: string, key: string) => {
  const entry = fleet.consul.datacenter(dc).kv(`${KV}/${key}`)
  return entry && { value: entry.value?.toString(), modifyIndex: entry.modifyIndex }
}
const versionOn = (fleet: LocalFleet, node: string) =>
  readFile(join(fleet.nodeTree(node, '/srv/web'), 'public/version.txt'), 'utf8')

const DC1 = ['dc1-node-1', 'dc1-node-2', 'dc1-node-3']
const DC2 = ['dc2-node-1', 'dc2-node-2', 'dc2-node-3']

describe('several datacenters (dist/index.js)', () => {
  test('dc1 then dc2: every node converges; each datacenter has latest, deploy-id and history; dc2 is sent it after dc1 reported', async () => {
    await withFleet({}, async (fleet) => {
      const run = await runAction(inputsFor(fleet, { datacenters: 'dc1, dc2' }), envFor(fleet))
      assert.equal(run.code, 0, run.stdout + run.stderr)
      const id = run.outputs['deploy-id'] as string
      for (const dc of ['dc1', 'dc2']) {
        assert.equal(kv(fleet, dc, 'latest')?.value, run.outputs['manifest-url'], dc)
        assert.equal(kv(fleet, dc, 'deploy-id')?.value, id, dc)
        assert.ok(kv(fleet, dc, `history/${id}`), `${dc}: history/<id>`)
      }
      for (const node of [...DC1, ...DC2]) assert.equal(await versionOn(fleet, node), 'one\n')
      const rows = JSON.parse(run.outputs.results as string) as Array<{
        node: string
        datacenter: string
        status: string
      }>
      assert.deepEqual(rows.map((r) => [r.node, r.datacenter, r.status]).sort(), [
        ...DC1.map((n) => [n, 'dc1', 'success']),
        ...DC2.map((n) => [n, 'dc2', 'success'])
      ])
      // dc2's event reached Consul only after the last dc1 result was written (dc1's raft
      // log: the arrival is logged with the index of the agent's datacenter, dc1).
      const dc2Fire = fleet.consul.arrivals.find(
        (a) =>
          a.method === 'PUT' && a.path.startsWith('/v1/event/fire/') && a.path.includes('dc=dc2')
      )
      assert.ok(dc2Fire, 'dc2 was sent its event through the dc1 agent')
      const lastDc1 = Math.max(
        ...DC1.map((n) => kv(fleet, 'dc1', `results/${n}`)?.modifyIndex ?? Infinity)
      )
      assert.ok(dc2Fire.raftIndex >= lastDc1, "dc2's event after dc1's last result")
      for (const node of DC2) assert.equal(fleet.consul.datacenter('dc2').events(node).length, 1)
      // The summary breaks the fleet down by datacenter, in rollout order.
      assert.match(
        run.summary,
        /\| dc1 \| 3 \| 3 \| 0 \| 0 \| 0 \|\n\| dc2 \| 3 \| 3 \| 0 \| 0 \| 0 \|/
      )
    })
  })

  test('a node failing in dc1: dc2 gets no event and its KV is unchanged; with auto-rollback dc1 is back on the previous release', async () => {
    await withFleet({ 'dc1-node-2': { fail: 'v2-bad' } }, async (fleet) => {
      const first = await runAction(
        inputsFor(fleet, { datacenters: 'dc1, dc2', 'deploy-id': 'v1-good' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const dc2Before = {
        latest: kv(fleet, 'dc2', 'latest'),
        deployId: kv(fleet, 'dc2', 'deploy-id'),
        events: DC2.map((n) => fleet.consul.datacenter('dc2').events(n).length)
      }
      const run = await runAction(
        inputsFor(fleet, {
          path: 'v2',
          datacenters: 'dc1, dc2',
          'deploy-id': 'v2-bad',
          'auto-rollback': 'true'
        }),
        envFor(fleet)
      )
      assert.equal(run.code, 1, run.stdout)
      assert.match(run.errors[0] ?? '', /failed: dc1-node-2/)
      assert.deepEqual(
        {
          latest: kv(fleet, 'dc2', 'latest'),
          deployId: kv(fleet, 'dc2', 'deploy-id'),
          events: DC2.map((n) => fleet.consul.datacenter('dc2').events(n).length)
        },
        dc2Before,
        'dc2 never saw v2'
      )
      assert.equal(kv(fleet, 'dc2', 'history/v2-bad'), undefined)
      assert.equal(run.outputs['rolled-back'], 'true')
      assert.equal(kv(fleet, 'dc1', 'deploy-id')?.value, 'v1-good', 'dc1 back on v1')
      for (const node of [...DC1, ...DC2]) assert.equal(await versionOn(fleet, node), 'one\n', node)
    })
  })

  test('datacenters: all rolls out to both; an unknown datacenter fails in the plan stage with nothing written in either', async () => {
    await withFleet({}, async (fleet) => {
      const bad = await runAction(inputsFor(fleet, { datacenters: 'dc1, dc9' }), envFor(fleet))
      assert.equal(bad.code, 1)
      assert.equal(
        bad.errors[0],
        'datacenters names a datacenter Consul does not know: "dc9" (it knows dc1, dc2)'
      )
      for (const dc of ['dc1', 'dc2']) {
        assert.equal(kv(fleet, dc, 'latest'), undefined)
        assert.equal(kv(fleet, dc, 'lock'), undefined)
      }
      assert.equal(
        fleet.consul.arrivals.filter((a) => a.method !== 'GET').length,
        0,
        'no write reached Consul'
      )
      const all = await runAction(inputsFor(fleet, { datacenters: 'all' }), envFor(fleet))
      assert.equal(all.code, 0, all.stdout)
      assert.match(all.stdout, /on 6 nodes in dc1, dc2/)
      for (const dc of ['dc1', 'dc2'])
        assert.equal(kv(fleet, dc, 'deploy-id')?.value, all.outputs['deploy-id'])
    })
  })

  test('ACLs on, with one token valid in both datacenters', async () => {
    await withFleet(
      {},
      async (fleet) => {
        const token = fleet.tokens?.action as string
        const run = await runAction(
          inputsFor(fleet, { datacenters: 'dc1, dc2', 'consul-token': token }),
          envFor(fleet)
        )
        assert.equal(run.code, 0, run.stdout + run.stderr)
        for (const dc of ['dc1', 'dc2'])
          assert.equal(kv(fleet, dc, 'deploy-id')?.value, run.outputs['deploy-id'])
        // `::add-mask::` hands the secret to the runner to mask; anything else is a leak.
        const printed = run.stdout.replace(/^::add-mask::.*$/gm, '') + run.stderr
        assert.ok(run.stdout.includes(`::add-mask::${token}`), 'masked')
        assert.ok(!printed.includes(token), 'token never printed')
      },
      { acl: {} }
    )
  })
})
