// Consul on a bad day, end to end through dist/index.js against an ACL-enabled
// local fleet: every fault is survived or reported, the run never claims a node
// it did not see, `latest` never names an incomplete release, and no secret leaks.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { SERVER_NODE } from '../fleet/index.ts'
import {
  KV,
  allObjects,
  assertLatestComplete,
  assertNoSecrets,
  consulWrites,
  deploy,
  startConsulProxy,
  withHostileFleet
} from './helpers/hostile.ts'
import { makeSampleBuild } from './helpers/trees.ts'

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-faults-consul-'))
  await makeSampleBuild(join(work, 'build'))
})
after(() => rm(work, { recursive: true, force: true }))

const RESULTS_BLOCKING = new RegExp(`^/v1/kv/${KV}/results/\\?recurse.*index=`)

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('Consul faults (dist/index.js, ACLs on)', { concurrency: 2, timeout: 120_000 }, () => {
  test('the address unreachable from the start: one line naming it, nothing uploaded or written', async () => {
    await withHostileFleet(1, async (fleet) => {
      const addr = `http://127.0.0.1:${await closedPort()}`
      const started = Date.now()
      const run = await deploy(fleet, work, { 'consul-addr': addr })
      assert.equal(run.code, 1)
      assert.equal(run.errors.length, 1, run.stdout)
      assert.match(
        run.errors[0] as string,
        new RegExp(`^Consul at ${addr} did not answer GET /v1/catalog/nodes: ECONNREFUSED$`)
      )
      // the plan stage retries for 15 s, then says so: bounded
      assert.ok(Date.now() - started < 40_000)
      assert.equal((await allObjects(fleet)).size, 0, 'nothing uploaded')
      assert.deepEqual(consulWrites(fleet), [])
      await assertNoSecrets(run, fleet)
    })
  })

  test('No cluster leader, 500 and 429 bursts at every stage are retried; the run converges', async () => {
    await withHostileFleet(2, async (fleet) => {
      const f = fleet.consul.faults
      const handles = [
        f.inject({ kind: 'no-leader', count: 2, path: /^\/v1\/catalog\/nodes/ }),
        f.inject({
          kind: 'error',
          status: 500,
          body: 'rpc error: EOF',
          count: 2,
          path: /^\/v1\/txn/
        }),
        f.inject({ kind: 'rate-limit', count: 2, path: /^\/v1\/event\/fire\// }),
        f.inject({ kind: 'rate-limit', count: 2, path: /^\/v1\/health\/state\/critical/ }),
        f.inject({ kind: 'no-leader', viaClient: true, count: 3, path: RESULTS_BLOCKING })
      ]
      const run = await deploy(fleet, work)
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.deepEqual(
        handles.map((h) => h.remaining),
        [0, 0, 0, 0, 0],
        'every fault was met'
      )
      assert.equal(run.outputs['nodes-succeeded'], '2')
      assert.match(run.stdout, /retrying in .*No cluster leader/)
      assert.match(run.stdout, /retrying in .*with 429/)
      // the event was fired once: retried 429s never reached the event ring twice
      assert.equal(fleet.consul.events('node-1').filter((e) => e.name === 'deploy').length, 1)
      await assertLatestComplete(fleet, run.outputs['manifest-url'])
      await assertNoSecrets(run, fleet)
    })
  })

  test('connections reset mid-request are retried; the run converges', async () => {
    await withHostileFleet(2, async (fleet) => {
      const f = fleet.consul.faults
      const handles = [
        f.inject({ kind: 'drop', count: 2, path: /^\/v1\/catalog\/services/ }),
        f.inject({ kind: 'drop', count: 1, path: /^\/v1\/txn/ }),
        f.inject({ kind: 'drop', count: 3, path: RESULTS_BLOCKING, agent: SERVER_NODE })
      ]
      const run = await deploy(fleet, work)
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.deepEqual(
        handles.map((h) => h.remaining),
        [0, 0, 0]
      )
      assert.equal(run.outputs['nodes-succeeded'], '2')
      assert.match(run.stdout, /retrying in .*did not answer/)
      await assertLatestComplete(fleet, run.outputs['manifest-url'])
      await assertNoSecrets(run, fleet)
    })
  })

  test('answers lost after Consul handled the request: the txn is replayed safely, the event is not fired twice', async () => {
    await withHostileFleet(2, async (fleet) => {
      // The agent addressed must receive the event to list it: a web node's own agent
      // does (the server agent runs no web service, so the filter keeps it from it)
      const proxy = await startConsulProxy(fleet.consul.agentUrl('node-1'))
      try {
        const lost = { txn: 1, fire: 1 }
        proxy.loseAnswer = (method, target) => {
          if (method === 'PUT' && target.startsWith('/v1/txn') && lost.txn > 0) return !!lost.txn--
          if (method === 'PUT' && target.startsWith('/v1/event/fire/') && lost.fire > 0)
            return !!lost.fire--
          return false
        }
        const run = await deploy(fleet, work, { 'consul-addr': proxy.url })
        assert.equal(run.code, 0, run.stdout + run.stderr)
        assert.deepEqual(lost, { txn: 0, fire: 0 }, 'both answers were lost')
        assert.equal(proxy.targets.filter((t) => t.startsWith('PUT /v1/event/fire/')).length, 1)
        assert.match(
          run.stdout,
          /the event was fired after all \([0-9a-f-]{36} is in the agent's event list\)/
        )
        for (const node of ['node-1', 'node-2'])
          assert.equal(fleet.consul.events(node).filter((e) => e.name === 'deploy').length, 1, node)
        assert.equal(run.outputs['nodes-succeeded'], '2')
        await assertLatestComplete(fleet, run.outputs['manifest-url'])
        await assertNoSecrets(run, fleet)
      } finally {
        await proxy.stop()
      }
    })
  })

  test('answers slower than the wait: the run fails at its timeout and claims no node', async () => {
    await withHostileFleet(2, async (fleet) => {
      const proxy = await startConsulProxy(fleet.consul.url)
      try {
        // The nodes deploy and report; the action's reads of their results hang past the deadline.
        proxy.delay = (target) => (RESULTS_BLOCKING.test(target) ? 30_000 : 0)
        const started = Date.now()
        const run = await deploy(fleet, work, { 'consul-addr': proxy.url, timeout: '3s' })
        assert.equal(run.code, 1, run.stdout)
        assert.ok(Date.now() - started < 20_000, 'bounded by the timeout')
        assert.match(
          run.errors[0] as string,
          /^0\/2 nodes on \S+, timed out: silent: node-1, node-2$/
        )
        assert.equal(run.outputs['nodes-succeeded'], '0')
        assert.equal(run.outputs['nodes-pending'], '2')
        // they did deploy: only the action could not see it, and it says so
        assert.equal(fleet.nodes.get('node-1')?.runs, 1)
        await assertLatestComplete(fleet, run.outputs['manifest-url'])
        await assertNoSecrets(run, fleet)
      } finally {
        await proxy.stop()
      }
    })
  })

  test('slow answers within the wait are waited for; the run converges', async () => {
    await withHostileFleet(2, async (fleet) => {
      const handle = fleet.consul.faults.inject({
        kind: 'latency',
        latencyMs: 1500,
        count: 1,
        path: RESULTS_BLOCKING
      })
      const run = await deploy(fleet, work, { timeout: '15s' })
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.equal(handle.remaining, 0)
      assert.equal(run.outputs['nodes-succeeded'], '2')
    })
  })

  test('an agent restart mid-wait drops the blocking reads; the run converges', async () => {
    await withHostileFleet(
      [{ name: 'node-1' }, { name: 'node-2', delayMs: 2500 }],
      async (fleet) => {
        let restarted = false
        let out = ''
        const run = await deploy(
          fleet,
          work,
          {},
          {
            // The restart must land while the action waits for node-2.
            onStdout: (chunk) => {
              out += chunk
              if (restarted || !/fired event/.test(out)) return
              restarted = true
              setTimeout(() => fleet.consul.restartAgent(SERVER_NODE), 700)
            }
          }
        )
        assert.ok(restarted)
        assert.match(run.stdout, /retrying in .*did not answer GET \/v1\/(kv|health)\//)
        assert.equal(run.code, 0, run.stdout)
        assert.equal(run.outputs['nodes-succeeded'], '2')
        await assertLatestComplete(fleet, run.outputs['manifest-url'])
        await assertNoSecrets(run, fleet)
      }
    )
  })

  test('the index going backwards resets the blocking read; a pre-event result with this ID never counts', async () => {
    await withHostileFleet([{ name: 'node-1' }, { name: 'node-2', deaf: true }], async (fleet) => {
      const id = 'stale-result-test-1'
      // node-2 "reported" this very ID before the event (an earlier attempt, a forged write).
      const res = await fetch(`${fleet.consul.url}/v1/kv/${KV}/results/node-2`, {
        method: 'PUT',
        headers: { 'X-Consul-Token': fleet.tokens!.management },
        body: JSON.stringify({ deploy_id: id, status: 'success', node: 'node-2', at: 1 })
      })
      assert.equal(res.status, 200)
      const proxy = await startConsulProxy(fleet.consul.url)
      try {
        let backwards = 0
        // A restored snapshot: the first two blocking answers carry a lower index.
        proxy.rewriteIndex = (target) =>
          RESULTS_BLOCKING.test(target) && backwards++ < 2 ? 1 : undefined
        const run = await deploy(fleet, work, {
          'consul-addr': proxy.url,
          'deploy-id': id,
          timeout: '4s'
        })
        assert.equal(run.code, 1, run.stdout)
        assert.match(
          run.errors[0] as string,
          /^1\/2 nodes on stale-result-test-1, timed out: silent: node-2$/
        )
        assert.ok(backwards >= 1, 'a blocking read was answered with a lower index')
        // After a backwards index the next read starts over without an index (Consul's rule).
        const reads = proxy.targets.filter((t) => t.startsWith(`GET /v1/kv/${KV}/results/?recurse`))
        const firstRewritten = reads.findIndex((t) => /index=/.test(t))
        assert.ok(firstRewritten >= 0)
        assert.doesNotMatch(reads[firstRewritten + 1] ?? '', /index=/, reads.join('\n'))
        assert.ok(!reads.some((t) => /[?&]index=1(&|$)/.test(t)), 'never blocks on the lower index')
        await assertNoSecrets(run, fleet)
      } finally {
        await proxy.stop()
      }
    })
  })

  test('Consul unreachable during the wait: the run fails naming Consul and claims no node', async () => {
    await withHostileFleet(2, async (fleet) => {
      // Every read of results or health after the event is reset.
      const f = fleet.consul.faults
      f.inject({ kind: 'drop', path: RESULTS_BLOCKING, agent: SERVER_NODE })
      f.inject({ kind: 'drop', path: /^\/v1\/health\/state\/critical/, agent: SERVER_NODE })
      const run = await deploy(fleet, work, { timeout: '3s' })
      assert.equal(run.code, 1, run.stdout)
      assert.equal(run.errors.length, 1)
      // Consul, not the nodes, is blamed: they did deploy, the action could not see it.
      // Whichever of the two dropped reads gives up first names itself.
      assert.match(
        run.errors[0] as string,
        new RegExp(
          `^Consul at ${fleet.consul.url} did not answer GET /v1/(kv/${KV}/results/|health/state/critical): (UND_ERR_SOCKET|ECONNRESET)$`
        )
      )
      assert.match(run.stdout, /retrying in .*did not answer GET \/v1\/kv\//)
      assert.equal(run.outputs['nodes-succeeded'], '0')
      await assertLatestComplete(fleet, run.outputs['manifest-url'])
      await assertNoSecrets(run, fleet)
    })
  })
})
