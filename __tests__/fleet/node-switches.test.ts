// The simulated nodes' per-run switches: fail this release and not the next,
// and an app that crashes after a deploy (its service check turns critical
// once the node reported success), for staged-rollout tests (contract 8).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deployIdOf, startLocalFleet } from '../../fleet/index.ts'
import type { LocalFleet } from '../../fleet/index.ts'
import {
  fireEvent,
  kvText,
  manifestYaml,
  putObject,
  uploadTree
} from '../../fleet/manual-release.ts'
import { runMatches } from '../../fleet/stretcher-node.ts'
import { failureCommands, successCommands } from '../../src/publish/manifest/node-report.ts'

interface Check {
  Node: string
  CheckID: string
  Name: string
  Status: string
  Output: string
  ServiceID: string
  ServiceName: string
  ServiceTags: string[]
}
interface Instance {
  Node: { Node: string }
  Service: { ID: string; Service: string }
  Checks: Check[]
}

describe('per-run switches', () => {
  test('deployIdOf reads the action’s manifest keys', () => {
    assert.equal(deployIdOf('s3://b/app/20250101-abc-1.yml'), '20250101-abc-1')
    assert.equal(deployIdOf('s3://b/p/app/id.2.prepare.yml'), 'id.2')
    assert.equal(deployIdOf('s3://b/p/app/id.2.switch.yml'), 'id.2')
    assert.equal(deployIdOf('https://h/x.yml?v=1'), 'x')
    assert.equal(deployIdOf('s3://b/app/x.tgz'), undefined)
  })

  test('runMatches: true, false, one deploy ID, or a predicate', () => {
    const url = 's3://b/app/rel-2.yml'
    assert.equal(runMatches(undefined, url), false)
    assert.equal(runMatches(true, url), true)
    assert.equal(runMatches('rel-2', url), true)
    assert.equal(runMatches('rel-3', url), false)
    assert.equal(
      runMatches((id) => id?.endsWith('-2') ?? false, url),
      true
    )
  })
})

/** A release of `build` with the action's reporting commands, published by hand; its manifest URL. */
async function publishRelease(
  fleet: LocalFleet,
  build: string,
  kvPrefix: string,
  deployId: string
): Promise<string> {
  await writeFile(join(build, 'DEPLOY_ID'), `${deployId}\n`)
  const archive = await uploadTree(fleet, build, `app/${deployId}.tar.gz`)
  const manifest = manifestYaml({
    src: archive.url,
    checksum: archive.sha256,
    dest: '/srv/app',
    commands: {
      success: successCommands({ kvPrefix, deployId }),
      failure: failureCommands({ kvPrefix, deployId })
    }
  })
  return putObject(fleet, `app/${deployId}.yml`, manifest)
}

describe('a fleet whose app crashes after one release', () => {
  const PREFIX = 'stretcher/app'
  let fleet: LocalFleet
  let build: string
  before(async () => {
    build = await mkdtemp(join(tmpdir(), 'stretcher-health-test-'))
    fleet = await startLocalFleet({
      kvPrefix: PREFIX,
      serverRunsStretcher: false,
      nodes: [
        { name: 'node-1', crashAfterDeploy: 'bad-1' },
        { name: 'node-2', fail: (id) => id === 'bad-1' },
        { name: 'node-3', crashAfterDeploy: true }
      ]
    })
  })
  after(async () => {
    await fleet.stop()
    await rm(build, { recursive: true, force: true })
  })

  const publish = (deployId: string) => publishRelease(fleet, build, PREFIX, deployId)

  const serviceCheck = (node: string) =>
    fetch(`${fleet.consul.url}/v1/health/node/${node}`)
      .then((res) => res.json() as Promise<Check[]>)
      .then((checks) => checks.find((c) => c.CheckID === 'service:web')!)
  const passingNodes = async () =>
    (
      (await (
        await fetch(`${fleet.consul.url}/v1/health/service/web?passing`)
      ).json()) as Instance[]
    ).map((e) => e.Node.Node)
  const result = (node: string) => JSON.parse(kvText(fleet, `${PREFIX}/results/${node}`) ?? '{}')

  test('fleet nodes register `service:web` passing by default', async () => {
    assert.deepEqual(await passingNodes(), ['node-1', 'node-2', 'node-3'])
  })

  test('release bad-1: node-1 and node-3 report success, then their check goes critical; node-2 fails it', async () => {
    await fireEvent(fleet, await publish('bad-1'), { service: '^web$' })
    const runs = await Promise.all(
      ['node-1', 'node-2', 'node-3'].map((n) => fleet.nodes.get(n)!.waitForRuns(1))
    )
    assert.deepEqual(
      runs.map((r) => [r.status, r.deployId]),
      [
        ['success', 'bad-1'],
        ['failure', 'bad-1'],
        ['success', 'bad-1']
      ]
    )
    // The report came first (success in KV), then the crash: what a bake sees.
    assert.equal(result('node-1').status, 'success')
    assert.equal(result('node-2').status, 'failure')
    const check = await serviceCheck('node-1')
    assert.deepEqual(
      [check.Status, check.Output],
      ['critical', 'simulated crash after deploying bad-1']
    )
    assert.equal((await serviceCheck('node-3')).Status, 'critical')
    assert.deepEqual(await passingNodes(), ['node-2'])
  })

  test('release good-2: the next release heals node-1, node-2 no longer fails, node-3 crashes again', async () => {
    await fireEvent(fleet, await publish('good-2'), { service: '^web$' })
    const runs = await Promise.all(
      ['node-1', 'node-2', 'node-3'].map((n) => fleet.nodes.get(n)!.waitForRuns(2))
    )
    assert.deepEqual(
      runs.map((r) => [r.status, r.deployId]),
      [
        ['success', 'good-2'],
        ['success', 'good-2'],
        ['success', 'good-2']
      ]
    )
    const healed = await serviceCheck('node-1')
    assert.deepEqual([healed.Status, healed.Output], ['passing', ''])
    assert.equal((await serviceCheck('node-3')).Status, 'critical')
    assert.deepEqual(await passingNodes(), ['node-1', 'node-2'])
  })
})

describe('a crash that comes during the bake (crashDelayMs)', () => {
  const PREFIX = 'stretcher/app'
  let fleet: LocalFleet
  let build: string
  before(async () => {
    build = await mkdtemp(join(tmpdir(), 'stretcher-health-test-'))
    fleet = await startLocalFleet({
      kvPrefix: PREFIX,
      serverRunsStretcher: false,
      nodes: [{ name: 'node-1', crashAfterDeploy: true, crashDelayMs: 1000 }]
    })
  })
  after(async () => {
    await fleet.stop()
    await rm(build, { recursive: true, force: true })
  })

  test('passing at the report, critical later: a blocking health/checks query wakes for it', async () => {
    const url = `${fleet.consul.url}/v1/health/checks/web`
    await fireEvent(fleet, await publishRelease(fleet, build, PREFIX, 'slow-1'))
    const run = await fleet.nodes.get('node-1')!.waitForRuns(1)
    assert.equal(run.status, 'success')
    const first = await fetch(url)
    const index = first.headers.get('x-consul-index')!
    assert.equal(((await first.json()) as Check[])[0]!.Status, 'passing')
    const woke = await fetch(`${url}?index=${index}&wait=5s`)
    assert.ok(BigInt(woke.headers.get('x-consul-index')!) > BigInt(index))
    const [check] = (await woke.json()) as Check[]
    assert.deepEqual(
      [check!.Status, check!.Output],
      ['critical', 'simulated crash after deploying slow-1']
    )
  })
})
