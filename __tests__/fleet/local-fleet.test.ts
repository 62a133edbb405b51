// startLocalFleet: one call starts s3rver, the Consul emulator and the nodes; one
// stop() leaves no temp dir, listener, socket, timer or child process behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { startLocalFleet } from '../../fleet/index.ts'
import { fireEvent, manifestYaml, putObject } from '../../fleet/manual-release.ts'
import { successCommands } from '../../src/publish/manifest/node-report.ts'

const ours = async (): Promise<string[]> =>
  (await readdir(tmpdir())).filter((n) => /^stretcher-(node|s3|release)-/.test(n)).sort()

// Handles that outlive a leak: sockets, servers, timers, child processes.
const LEAKS = new Set(['TCPWrap', 'TCPServerWrap', 'Timeout', 'ProcessWrap', 'PipeWrap'])
const resources = (): string[] =>
  process
    .getActiveResourcesInfo()
    .filter((r) => LEAKS.has(r))
    .sort()

const refused = async (url: string): Promise<boolean> =>
  fetch(url).then(
    () => false,
    () => true
  )

test('defaults: node-1..3 with service web, the server runs stretcher too; a no-filter event converges on all four', async () => {
  const fleet = await startLocalFleet({ kvPrefix: 'stretcher/app' })
  try {
    assert.deepEqual([...fleet.nodes.keys()], ['node-1', 'node-2', 'node-3'])
    assert.equal(fleet.server?.name, 'consul-server-1')
    for (const key of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_REGION',
      'FLEET_S3_ENDPOINT',
      'FLEET_CONSUL_ADDR',
      'FLEET_DEST',
      'FLEET_KV_PREFIX'
    ])
      assert.ok(fleet.env[key], key)
    assert.equal(fleet.env.FLEET_CONSUL_ADDR, fleet.consul.url)
    const catalog = (await (
      await fetch(`${fleet.consul.url}/v1/catalog/service/web`)
    ).json()) as Array<{ Node: string }>
    assert.deepEqual(catalog.map((e) => e.Node).sort(), ['node-1', 'node-2', 'node-3'])
    const url = await putObject(
      fleet,
      'app/cmd.yml',
      manifestYaml({
        commands: {
          post: ['mkdir -p "$HOME${FLEET_DEST_ON_NODE:-/srv/app}" && echo ok > "$HOME/srv/app/ok"'],
          success: successCommands({ kvPrefix: 'stretcher/app', deployId: 'd1' })
        }
      })
    )
    await fireEvent(fleet, url)
    for (const node of [fleet.server!, ...fleet.nodes.values()]) {
      const run = await node.waitForRuns(1)
      assert.equal(run.status, 'success', run.log)
      assert.match(fleet.consul.kv(`stretcher/app/results/${node.name}`)!.value!.toString(), /"d1"/)
    }
    assert.equal(fleet.nodeTree('consul-server-1'), fleet.server!.path('/srv/app'))
  } finally {
    await fleet.stop()
  }
})

test('stop() leaves nothing behind, even with a deploy and a long poll under way', async () => {
  const dirsBefore = await ours()
  const resourcesBefore = resources()
  const fleet = await startLocalFleet({
    nodes: [{ name: 'node-1' }, { name: 'slow-1', delayMs: 60_000 }],
    kvPrefix: 'stretcher/app'
  })
  // Other test files may run at the same time: follow only this fleet's dirs.
  const created = (await ours()).filter((d) => !dirsBefore.includes(d))
  assert.ok(created.length >= 3, 'three nodes and s3rver each have a temp dir')
  const agent = fleet.consul.agentUrl('node-1')
  const url = await putObject(
    fleet,
    'app/sleep.yml',
    manifestYaml({ commands: { pre: ['sleep 1'] } })
  )
  await fireEvent(fleet, url)
  // node-1 is inside `sleep 1`, slow-1 in its delay; stop waits for the one, aborts the other.
  await new Promise((r) => setTimeout(r, 300))
  const started = Date.now()
  await fleet.stop()
  assert.ok(Date.now() - started < 5000, 'stop does not wait for a delay')
  assert.equal(fleet.nodes.get('node-1')!.lastRun?.status, 'success')
  assert.deepEqual(
    (await ours()).filter((d) => created.includes(d)),
    []
  )
  assert.ok(await refused(`${agent}/v1/agent/self`))
  assert.ok(await refused(`${fleet.s3.endpoint}/`))
  // Let closed handles finish closing before comparing.
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(resources(), resourcesBefore)
  // A second stop is harmless.
  await fleet.stop()
})

test('a fleet that fails to start cleans up what it started', async () => {
  const dirsBefore = await ours()
  const resourcesBefore = resources()
  await assert.rejects(startLocalFleet({ nodes: [{ name: 'a' }, { name: 'a' }] }), /twice/)
  // The emulator and s3rver are up before the nodes: a node name that cannot be a
  // temp dir name fails late, and everything started so far must be stopped.
  await assert.rejects(startLocalFleet({ nodes: [{ name: 'ok' }, { name: 'no/such/dir' }] }))
  await new Promise((r) => setTimeout(r, 100))
  assert.deepEqual(resources(), resourcesBefore)
  // s3rver's dir and the good node's dir were made and removed: none of ours is named 'ok'.
  assert.deepEqual(
    (await ours()).filter((d) => !dirsBefore.includes(d) && d.startsWith('stretcher-node-ok-')),
    []
  )
})
