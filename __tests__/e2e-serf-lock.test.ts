// Contract 13 end to end, the edges before and around a Serf rollout: bad
// inputs are refused with one line naming the input before anything reaches S3
// (the bucket stays empty) and the RPC key is never printed; two runs at once
// take turns on the S3 lock (the second says who holds it); an S3 endpoint that
// ignores If-None-Match (s3rver itself, without the fleet's conditional-write
// proxy) is detected and nothing is published. Judged from the bucket, the
// nodes' trees, runs and tags. One fleet for the file, its agents with rpc_auth.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { runAction } from '../fleet/run-action.ts'
import type { ActionRun } from '../fleet/run-action.ts'
import { versionedBuilds } from './helpers/action-run.ts'
import {
  nudgedNodes,
  ranIds,
  resultTags,
  s3Keys,
  s3Object,
  serfEnv,
  serfInputs,
  treeVersion
} from './helpers/serf-e2e.ts'

const APP = 'web'
const AUTH = 'fleet-rpc-key-5f1c0e'
const WRONG_AUTH = 'not-the-key-93ab7d'
const RUN_MS = 150_000
let work: string
let fleet: SerfFleet

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-lock-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two', v3: 'three' })
  // node-2 is slow, so that the first of two runs holds the lock a while
  fleet = await startSerfFleet({
    app: APP,
    rpcAuth: AUTH,
    nodes: [{ name: 'node-1' }, { name: 'node-2', delayMs: 3000 }]
  })
})
after(async () => {
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

const inputs = (extra: Record<string, string> = {}) => serfInputs(fleet, APP, extra)
const run = (extra: Record<string, string>, attempt: number, env: Record<string, string> = {}) =>
  runAction(inputs(extra), { ...serfEnv(fleet, work, attempt), ...env }, { timeoutMs: RUN_MS })

function assertRefused(result: ActionRun, input: string): void {
  assert.equal(result.code, 1, result.stdout)
  assert.equal(result.errors.length, 1, `one error line:\n${result.stdout}`)
  assert.match(result.errors[0]!, new RegExp(`\\b${input}\\b`), result.errors[0])
  // ::add-mask:: hands a secret to the runner, which then hides it everywhere
  const printed = [result.stdout, result.stderr, result.summary]
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
  for (const key of [AUTH, WRONG_AUTH])
    assert.ok(!printed.some((line) => line.includes(key)), 'no RPC key printed')
}

describe(
  'backend: serf, inputs and the S3 lock (dist/index.js, real Serf agents)',
  {
    concurrency: 1,
    timeout: 600_000
  },
  () => {
    test('bad inputs are refused with one line naming the input; nothing reaches S3; no key printed', async () => {
      const cases: [string, Record<string, string>, Record<string, string>?][] = [
        ['serf-rpc-addr', { 'serf-rpc-addr': 'http://127.0.0.1:notaport' }],
        ['serf-rpc-addr', { 'serf-rpc-addr': '127.0.0.1:7373\n10.0.0.1:7373' }],
        ['datacenters', { datacenters: 'dc1, dc2' }],
        // no serf-rpc-addr, no SERF_RPC_ADDR: the default 127.0.0.1:7373, where no agent listens
        ['serf-rpc-addr', { 'serf-rpc-addr': '' }],
        ['serf-rpc-auth', { 'serf-rpc-auth': WRONG_AUTH }],
        ['serf-rpc-auth', { 'serf-rpc-auth': '' }]
      ]
      let attempt = 0
      for (const [input, extra, env] of cases) {
        const result = await run({ 'deploy-id': `bad-${++attempt}`, ...extra }, attempt, env)
        assertRefused(result, input)
        assert.deepEqual(await s3Keys(fleet), [], `${input}: nothing uploaded`)
      }
      for (const node of fleet.names) assert.deepEqual(await ranIds(fleet, node), [], node)
    })

    test('two runs at once: the second waits for the S3 lock, naming its holder, then deploys', async () => {
      let second: Promise<ActionRun> | undefined
      let startSecond: () => void = () => {}
      const secondStarted = new Promise<void>((resolve) => (startSecond = resolve))
      const first = runAction(inputs({ 'deploy-id': 'lock-a' }), serfEnv(fleet, work, 11), {
        timeoutMs: RUN_MS,
        onStdout: (chunk) => {
          if (second === undefined && chunk.includes('holding the deploy lock')) {
            second = run({ path: 'v2', 'deploy-id': 'lock-b' }, 12)
            startSecond()
          }
        }
      })
      const a = await first
      await secondStarted
      const b = await second!
      assert.equal(a.code, 0, a.stdout)
      assert.equal(b.code, 0, b.stdout)
      assert.match(
        b.stdout,
        /waiting for the deploy lock s3:\/\/releases\/releases\/web\/lock, held by [^\n]*deploy lock-a/
      )
      // Taken in turn: every node ran lock-a, then lock-b, and holds lock-b. A node
      // gossip missed (or a slow one) is sent the deploy again as a query, 8 s on
      // (the run's log names it); the late event may run it once more.
      const nudged = nudgedNodes(a.stdout, b.stdout)
      for (const node of fleet.names) {
        const runs = await ranIds(fleet, node)
        const inTurn = runs.filter((id, i) => id !== runs[i - 1])
        assert.deepEqual(nudged.has(node) ? inTurn : runs, ['lock-a', 'lock-b'], node)
        assert.equal(await treeVersion(fleet, node), 'two', node)
      }
      const tags = await resultTags(fleet, APP)
      for (const node of fleet.names) assert.equal(tags.get(node)?.deployId, 'lock-b', node)
      assert.equal(
        (await s3Object(fleet, `releases/${APP}/latest`))?.trim(),
        b.outputs['manifest-url']
      )
      for (const id of ['lock-a', 'lock-b'])
        assert.ok(await s3Object(fleet, `releases/${APP}/history/${id}.json`), id)
      assert.equal(await s3Object(fleet, `releases/${APP}/lock`), undefined, 'the lock is gone')
    })

    test('an S3 endpoint that ignores If-None-Match is detected: the run fails saying so, nothing is published', async () => {
      const keysBefore = await s3Keys(fleet)
      const latestBefore = await s3Object(fleet, `releases/${APP}/latest`)
      const runsBefore = new Map(
        await Promise.all(fleet.names.map(async (n) => [n, await ranIds(fleet, n)] as const))
      )
      assert.ok([...runsBefore.values()].every((runs) => runs.at(-1) === 'lock-b'))
      const result = await run(
        { path: 'v3', 'deploy-id': 'no-cond', 's3-endpoint': fleet.s3.endpoint },
        21
      )
      assert.equal(result.code, 1, result.stdout)
      assert.match(result.errors[0] ?? '', /ignores If-None-Match/, result.stdout)
      assert.deepEqual(await s3Keys(fleet), keysBefore, 'no object added, the lock removed')
      assert.equal(await s3Object(fleet, `releases/${APP}/latest`), latestBefore)
      for (const node of fleet.names) {
        assert.deepEqual(await ranIds(fleet, node), runsBefore.get(node), node)
        assert.equal(await treeVersion(fleet, node), 'two', node)
      }
    })
  }
)
