// Simulated stretcher nodes against the real Consul emulator and s3rver: releases
// published by hand (tar czf, PUT, event fire) with the action's own reporting
// commands, checked on the nodes' filesystems and in Consul KV.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalFleet } from '../../fleet/index.ts'
import type { LocalFleet } from '../../fleet/index.ts'
import {
  fireEvent,
  kvText,
  manifestYaml,
  putObject,
  uploadTree
} from '../../fleet/manual-release.ts'
import type { ManifestFields } from '../../fleet/manual-release.ts'
import {
  failureCommands,
  LOG_TAIL_BYTES,
  successCommands
} from '../../src/publish/manifest/node-report.ts'
import { describeTree, makeSampleBuild, untar } from '../helpers/trees.ts'

const PREFIX = 'stretcher/app'
const DEST = '/srv/app'

let scratch: string
let build: string
let expected: Awaited<ReturnType<typeof describeTree>>
let releaseCount = 0

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'stretcher-node-test-'))
  build = join(scratch, 'build')
  await makeSampleBuild(build)
})
after(() => rm(scratch, { recursive: true, force: true }))

interface Release {
  deployId: string
  manifestUrl: string
}

/** Packs `build` (with a DEPLOY_ID file), uploads it and a manifest with the reporting commands. */
async function publish(
  fleet: LocalFleet,
  fields: Partial<ManifestFields> = {},
  opts: { kvPrefix?: string; checksum?: string } = {}
): Promise<Release> {
  releaseCount += 1
  const deployId = `20250101T000000Z-abc1234-${releaseCount}`
  const kvPrefix = opts.kvPrefix ?? PREFIX
  await writeFile(join(build, 'DEPLOY_ID'), `${deployId}\n`)
  const archive = await uploadTree(fleet, build, `app/${deployId}.tar.gz`)
  if (!expected) {
    const unpacked = join(scratch, 'expected')
    await writeFile(join(scratch, 'a.tar.gz'), archive.bytes)
    await untar(join(scratch, 'a.tar.gz'), unpacked)
    expected = await describeTree(unpacked)
    delete expected['DEPLOY_ID']
  }
  const manifest = manifestYaml({
    src: archive.url,
    checksum: opts.checksum ?? archive.sha256,
    dest: DEST,
    ...fields,
    commands: {
      ...fields.commands,
      success: [...(fields.commands?.success ?? []), ...successCommands({ kvPrefix, deployId })],
      failure: [...(fields.commands?.failure ?? []), ...failureCommands({ kvPrefix, deployId })]
    }
  })
  const manifestUrl = await putObject(fleet, `app/${deployId}.yml`, manifest)
  return { deployId, manifestUrl }
}

function result(fleet: LocalFleet, node: string, kvPrefix = PREFIX) {
  const text = kvText(fleet, `${kvPrefix}/results/${node}`)
  return text === undefined
    ? undefined
    : (JSON.parse(text) as { deploy_id: string; status: string; node: string; at: number })
}

async function tree(fleet: LocalFleet, node: string) {
  const described = await describeTree(fleet.nodeTree(node, DEST))
  delete described['DEPLOY_ID']
  return described
}

describe('a fleet of three web nodes', () => {
  let fleet: LocalFleet
  before(async () => {
    fleet = await startLocalFleet({
      nodes: [
        { name: 'node-1' },
        { name: 'node-2', fail: true },
        { name: 'node-3', deaf: true },
        { name: 'node-4' }
      ]
    })
  })
  after(() => fleet.stop())

  test('healthy nodes get the archive tree and report success; fail reports failure with its log; deaf writes nothing', async () => {
    const release = await publish(fleet)
    await fireEvent(fleet, release.manifestUrl, { service: '^web$' })
    const [one, two, four] = await Promise.all(
      ['node-1', 'node-2', 'node-4'].map((n) => fleet.nodes.get(n)!.waitForRuns(1))
    )
    assert.equal(one!.status, 'success', one!.log)
    assert.equal(four!.status, 'success', four!.log)
    assert.equal(two!.status, 'failure')
    for (const node of ['node-1', 'node-4']) {
      assert.deepEqual(await tree(fleet, node), expected)
      const res = result(fleet, node)
      assert.equal(res?.deploy_id, release.deployId)
      assert.equal(res?.status, 'success')
      assert.equal(res?.node, node)
      // stretcher's chmod dest_mode on the temp dir, which rsync -a carries to dest.
      assert.equal((await stat(fleet.nodeTree(node, DEST))).mode & 0o7777, 0o755)
    }
    const failed = result(fleet, 'node-2')
    assert.equal(failed?.status, 'failure')
    assert.equal(failed?.deploy_id, release.deployId)
    const log = kvText(fleet, `${PREFIX}/logs/node-2`)!
    assert.match(log, /simulated failure on node-2/)
    assert.match(log, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Starting up/)
    assert.ok(Buffer.byteLength(log) <= LOG_TAIL_BYTES)
    assert.equal(kvText(fleet, `${PREFIX}/logs/node-1`), undefined)
    // The deaf node and the server (no web service, so no event) did nothing.
    assert.equal(result(fleet, 'node-3'), undefined)
    assert.equal(fleet.nodes.get('node-3')!.runs, 0)
    assert.equal(fleet.server!.runs, 0)
  })

  test('a manifest that cannot be fetched, rendered or parsed runs no command', async () => {
    const node = fleet.nodes.get('node-1')!
    const before = node.runs
    const marker = 'touch "$HOME/ran"'
    const cases = [
      `s3://${fleet.s3.bucket}/app/missing.yml`,
      await putObject(
        fleet,
        'app/must-env.yml',
        manifestYaml({
          dest: '/x',
          commands: { pre: [marker], success: [marker], failure: [marker] }
        }) + 'x: {{ must_env "NOT_SET_ANYWHERE" }}\n'
      ),
      await putObject(
        fleet,
        'app/bad-func.yml',
        manifestYaml({ commands: { pre: [marker], failure: [marker] } }) + 'x: {{ .ID }}\n'
      ),
      await putObject(
        fleet,
        'app/bad-yaml.yml',
        `commands:\n  pre: [${JSON.stringify(marker)}]\n  failure: [ "x" \n`
      ),
      await putObject(
        fleet,
        'app/no-dest.yml',
        manifestYaml({
          src: 's3://releases/x.tgz',
          checksum: 'a'.repeat(64),
          commands: { failure: [marker] }
        })
      )
    ]
    // The payload is used untrimmed: a trailing newline is a URL parse error.
    cases.push(cases[1]!.replace('must-env', 'bad-func') + '\n')
    for (const url of cases) await fireEvent(fleet, url, { node: '^node-1$' })
    // Coalescing may fold some of them together: wait for the last one.
    const deadline = Date.now() + 10_000
    while (node.lastRun?.manifestUrl !== cases[cases.length - 1] && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50))
    const runs = node.history.slice(before)
    assert.ok(runs.length >= 1)
    for (const run of runs) assert.equal(run.status, 'error', run.log)
    assert.match(runs[runs.length - 1]!.error!, /invalid control character/)
    await assert.rejects(stat(join(node.root, 'ran')))
  })

  test('each failure case, one node at a time', async () => {
    const node = fleet.nodes.get('node-4')!
    let runs = node.runs
    const deploy = async (fields: Partial<ManifestFields>, opts: { checksum?: string } = {}) => {
      const release = await publish(fleet, fields, opts)
      await fireEvent(fleet, release.manifestUrl, { node: '^node-4$' })
      runs += 1
      return { release, run: await node.waitForRuns(runs) }
    }
    const wrong = 'f'.repeat(64)
    const bad = await deploy({}, { checksum: wrong })
    assert.equal(bad.run.status, 'failure')
    assert.equal(result(fleet, 'node-4')?.status, 'failure')
    assert.equal(result(fleet, 'node-4')?.deploy_id, bad.release.deployId)
    assert.match(
      kvText(fleet, `${PREFIX}/logs/node-4`)!,
      /checksum mismatch\. expected:f{64} got:[0-9a-f]{64}/
    )

    const pre = await deploy({
      dest: '/srv/pre-failed',
      commands: { pre: ['echo preparing', 'exit 3', 'touch "$HOME/second-pre"'] }
    })
    assert.equal(pre.run.status, 'failure')
    assert.equal(result(fleet, 'node-4')?.deploy_id, pre.release.deployId)
    assert.equal(result(fleet, 'node-4')?.status, 'failure')
    const preLog = kvText(fleet, `${PREFIX}/logs/node-4`)!
    assert.match(preLog, /preparing/)
    assert.match(preLog, /exit 3/)
    await assert.rejects(stat(join(node.root, 'second-pre')))
    await assert.rejects(stat(node.path('/srv/pre-failed')))

    const strategy = await deploy({ syncStrategy: 'copy' })
    assert.equal(strategy.run.status, 'failure')
    assert.match(strategy.run.error!, /sync strategy/)

    // A failing success command stops its list but the outcome stays success.
    const ok = await deploy({
      destMode: 0o750,
      commands: { post: ['test -x "$HOME/srv/app/bin/start"'], success: ['exit 1'] }
    })
    assert.equal(ok.run.status, 'success', ok.run.log)
    // The result is still the previous deploy's failure: the success list stopped at `exit 1`.
    assert.deepEqual(
      [result(fleet, 'node-4')?.deploy_id, result(fleet, 'node-4')?.status],
      [strategy.release.deployId, 'failure']
    )
    assert.equal((await stat(node.path(DEST))).mode & 0o7777, 0o750)
  })
})

describe('serialized runs', () => {
  test('events fired during a run coalesce: the next run takes the newest', async () => {
    const fleet = await startLocalFleet({ nodes: [{ name: 'slow-1', delayMs: 800 }] })
    try {
      const node = fleet.nodes.get('slow-1')!
      const a = await publish(fleet)
      const b = await publish(fleet)
      const c = await publish(fleet)
      await fireEvent(fleet, a.manifestUrl)
      await new Promise((r) => setTimeout(r, 200))
      await fireEvent(fleet, b.manifestUrl)
      await fireEvent(fleet, c.manifestUrl)
      await node.waitForRuns(2)
      await new Promise((r) => setTimeout(r, 1200))
      assert.deepEqual(
        node.history.map((run) => run.manifestUrl),
        [a.manifestUrl, c.manifestUrl]
      )
      assert.ok(node.history[1]!.startedAt >= node.history[0]!.endedAt)
      assert.equal(result(fleet, 'slow-1')?.deploy_id, c.deployId)
      assert.match(node.history[1]!.index!, /^\d+$/)
    } finally {
      await fleet.stop()
    }
  })
})

describe('late joiners', () => {
  test('a node added later boots from <prefix>/latest and reports', async () => {
    const fleet = await startLocalFleet({ nodes: 1, kvPrefix: PREFIX })
    try {
      const release = await publish(fleet)
      await fireEvent(fleet, release.manifestUrl, { service: '^web$' })
      await fleet.nodes.get('node-1')!.waitForRuns(1)
      const put = await fetch(`${fleet.consul.url}/v1/kv/${PREFIX}/latest`, {
        method: 'PUT',
        body: release.manifestUrl
      })
      assert.equal(await put.json(), true)
      const late = await fleet.addNode('node-9')
      const run = await late.waitForRuns(1)
      assert.equal(run.trigger, 'boot')
      assert.equal(run.status, 'success', run.log)
      assert.equal(result(fleet, 'node-9')?.deploy_id, release.deployId)
      assert.deepEqual(await tree(fleet, 'node-9'), expected)
      // It has no old events: the event that deployed node-1 does not re-run on it.
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(late.runs, 1)
    } finally {
      await fleet.stop()
    }
  })

  test('with ACLs on, nodes report with their own tokens and boot from latest', async () => {
    const fleet = await startLocalFleet({
      nodes: 2,
      kvPrefix: PREFIX,
      acl: { lateNodes: ['node-5'] }
    })
    try {
      const tokens = fleet.tokens!
      const release = await publish(fleet)
      // Anonymous fire is refused; the action's token may fire.
      await assert.rejects(fireEvent(fleet, release.manifestUrl), /403/)
      await fireEvent(fleet, release.manifestUrl, { service: '^web$', token: tokens.action })
      for (const name of ['node-1', 'node-2']) {
        const run = await fleet.nodes.get(name)!.waitForRuns(1)
        assert.equal(run.status, 'success', run.log + run.reportOutput)
        assert.equal(result(fleet, name)?.deploy_id, release.deployId)
      }
      const put = await fetch(`${fleet.consul.url}/v1/kv/${PREFIX}/latest`, {
        method: 'PUT',
        body: release.manifestUrl,
        headers: { 'X-Consul-Token': tokens.action }
      })
      assert.equal(await put.json(), true)
      const late = await fleet.addNode('node-5')
      const run = await late.waitForRuns(1)
      assert.equal(run.status, 'success', run.log + run.reportOutput)
      assert.equal(result(fleet, 'node-5')?.status, 'success')
    } finally {
      await fleet.stop()
    }
  })

  test('with ACLs on, a node token without key:write on results/ writes nothing', async () => {
    const fleet = await startLocalFleet({ nodes: 1, kvPrefix: 'stretcher/other', acl: {} })
    try {
      const release = await publish(fleet)
      await fireEvent(fleet, release.manifestUrl, { token: fleet.tokens!.management })
      const run = await fleet.nodes.get('node-1')!.waitForRuns(1)
      assert.equal(run.status, 'success')
      assert.match(run.reportOutput, /403/)
      assert.equal(result(fleet, 'node-1'), undefined)
    } finally {
      await fleet.stop()
    }
  })
})

describe('event watch index', () => {
  test('the watch parks on the uint64 list index (above 2^53): no spin, each event run once', async () => {
    const fleet = await startLocalFleet({ nodes: 1 })
    try {
      const [name, node] = [...fleet.nodes][0]!
      // an event list's index is a hash of the last event's ID: above 2^53 15 times in 16
      let runs = 0
      do {
        await fireEvent(fleet, `s3://nowhere/${runs}.yml`)
        await node.waitForRuns(++runs)
      } while (BigInt(node.lastRun!.index!) <= 2n ** 53n)
      const lists = () =>
        fleet.consul.requests.filter((r) => r.agent === name && r.path.startsWith('/v1/event/list'))
          .length
      const before = lists()
      await new Promise((r) => setTimeout(r, 500))
      assert.ok(lists() - before <= 1, `${lists() - before} list reads while idle`)
      assert.equal(node.runs, runs, 'one run per event')
      await fireEvent(fleet, 's3://nowhere/last.yml')
      await node.waitForRuns(runs + 1)
      assert.equal(node.lastRun!.manifestUrl, 's3://nowhere/last.yml')
    } finally {
      await fleet.stop()
    }
  })
})
