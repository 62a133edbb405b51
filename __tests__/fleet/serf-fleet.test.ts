// startSerfFleet (contract 13): real Serf agents, one per node, each running the
// deploy handler (the simulated stretcher: real tar, rsync, sh) and the log
// query; an agent for the action. A release published by hand deploys on a
// `serf event` fired over RPC without coalescing, each node tags its result,
// a late node boots from <s3-url>/<app>/latest, and stop() leaves nothing.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { manifestYaml, putObject, uploadTree } from '../../fleet/manual-release.ts'
import { SERF_ACTION_AGENT, startSerfFleet } from '../../fleet/serf/fleet.ts'
import type { SerfFleet } from '../../fleet/serf/fleet.ts'
import { serfFailureCommands, serfSuccessCommands } from '../../src/publish/manifest/node-report.ts'
import { connectSerf } from '../../src/serf/rpc-client.ts'
import type { SerfClient } from '../../src/serf/rpc-client.ts'
import type { UserEventRecord } from '../../src/serf/rpc-types.ts'
import { parseSerfResult, serfResultTagName } from '../../src/shared/serf-result-tag.ts'

const APP = 'web'
const AUTH = 'fleet-rpc-key-93c1'
const DEST = '/srv/app'
const TAG = serfResultTagName(APP)

let fleet: SerfFleet
let client: SerfClient
let work: string

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'serf-fleet-test-'))
  fleet = await startSerfFleet({
    app: APP,
    rpcAuth: AUTH,
    nodes: [
      { name: 'node-1' },
      { name: 'node-2', tags: { canary: 'true' } },
      { name: 'node-3', fail: ['r2'] }
    ]
  })
  client = await connectSerf(fleet.rpcAddr, { authKey: AUTH })
})
after(async () => {
  await client?.close()
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

let published = 0

/** Publishes release `id` (index.html and DEPLOY_ID holding it) as the action would: archive, manifest, latest. */
async function publish(id: string): Promise<string> {
  const build = join(work, id)
  await mkdir(build, { recursive: true })
  await writeFile(join(build, 'index.html'), `${id}\n`)
  await writeFile(join(build, 'DEPLOY_ID'), `${id}\n`)
  // r1 and r2 are the same size and these tests publish them within one second:
  // rsync's quick check (size and mtime, as stretcher runs it) would skip the
  // file. Each release's files get an mtime of their own, as real builds have.
  const mtime = new Date(Date.now() - 3_600_000 + ++published * 10_000)
  for (const file of ['index.html', 'DEPLOY_ID']) await utimes(join(build, file), mtime, mtime)
  const prefix = `releases/${APP}`
  const archive = await uploadTree(fleet, build, `${prefix}/${id}.tgz`)
  const manifestUrl = await putObject(
    fleet,
    `${prefix}/${id}.yml`,
    manifestYaml({
      src: archive.url,
      checksum: archive.sha256,
      dest: DEST,
      commands: {
        success: serfSuccessCommands({ app: APP, deployId: id }),
        failure: serfFailureCommands({ app: APP, deployId: id })
      }
    })
  )
  await putObject(fleet, `${prefix}/latest`, `${manifestUrl}\n`)
  return manifestUrl
}

/** Fires the deploy event as the action does ({Coalesce: false}); resolves with its LTime. */
async function fire(manifestUrl: string): Promise<number> {
  let seen: (r: UserEventRecord) => void = () => {}
  const record = new Promise<UserEventRecord>((resolve) => (seen = resolve))
  const stream = await client.stream('user:deploy', (r) => {
    if (r.event === 'user' && new TextDecoder().decode(r.payload) === manifestUrl) seen(r)
  })
  try {
    await client.event('deploy', manifestUrl)
    return (await record).ltime
  } finally {
    await stream.stop()
  }
}

/** Every member's stretcher-web tag, once `done` holds for them (from the action's agent). */
async function tagsWhen(
  done: (tags: Map<string, string | undefined>) => boolean,
  ms = 40_000
): Promise<Map<string, string | undefined>> {
  const deadline = Date.now() + ms
  for (;;) {
    const members = await client.members()
    const tags = new Map(members.map((m) => [m.name, m.tags[TAG]]))
    if (done(tags)) return tags
    if (Date.now() > deadline)
      throw new Error(`waited ${ms} ms; tags: ${JSON.stringify(Object.fromEntries(tags))}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const tree = (node: string) => readFile(join(fleet.nodeTree(node), 'index.html'), 'utf8')

describe('the local Serf fleet', { timeout: 120_000 }, () => {
  test('members: node-1..3 tagged role=web (node-2 canary) and the action’s agent, untagged', async () => {
    const members = await client.members()
    assert.deepEqual(members.map((m) => m.name).sort(), ['action', 'node-1', 'node-2', 'node-3'])
    const tags = Object.fromEntries(members.map((m) => [m.name, m.tags]))
    assert.deepEqual(tags[SERF_ACTION_AGENT], {})
    assert.deepEqual(tags['node-1'], { role: 'web' })
    assert.deepEqual(tags['node-2'], { role: 'web', canary: 'true' })
    assert.equal(fleet.env.FLEET_SERF_RPC_ADDR, fleet.rpcAddr)
    assert.equal(fleet.env.FLEET_SERF_TAGS, 'role=web')
    assert.equal(fleet.env.FLEET_S3_URL, `s3://${fleet.s3.bucket}/releases`)
  })

  test('a serf event deploys every node; each tags <id>:success:<the event’s LTime>', async () => {
    const url = await publish('r1')
    const ltime = await fire(url)
    const want = `r1:success:${ltime}`
    const tags = await tagsWhen((t) => fleet.names.every((n) => t.get(n) === want))
    assert.equal(tags.get(SERF_ACTION_AGENT), undefined, 'the action’s agent runs nothing')
    for (const node of fleet.names) {
      assert.equal(await tree(node), 'r1\n', node)
      const [run] = await fleet.runs(node)
      assert.equal(run?.trigger, 'event')
      assert.equal(run?.ltime, ltime)
      assert.equal(run?.status, 'success')
      assert.match(await fleet.log(node), /Deploy manifest succeeded\./)
    }
  })

  test('a failing node tags failure and keeps its tree; the log query answers with the log’s end', async () => {
    const ltime = await fire(await publish('r2'))
    const tags = await tagsWhen((t) => fleet.names.every((n) => t.get(n)?.startsWith('r2:')))
    assert.equal(tags.get('node-1'), `r2:success:${ltime}`)
    assert.equal(tags.get('node-3'), `r2:failure:${ltime}`)
    assert.equal(await tree('node-1'), 'r2\n')
    assert.equal(await tree('node-3'), 'r1\n', 'the failed deploy left the tree alone')
    const answer = await client.query({
      name: `stretcher-${APP}-log`,
      filterNodes: ['node-3'],
      timeoutMs: 5000
    })
    assert.deepEqual(answer.unanswered, [])
    const text = new TextDecoder().decode(answer.responses[0]?.payload)
    assert.ok(text.length > 0 && text.length <= 900, `${text.length} bytes`)
    assert.match(text, /simulated failure on node-3/)
    assert.match(text, /Deploy manifest failed/)
  })

  test('a query named deploy with FilterNodes deploys only those nodes; the tag carries q<LTime>', async () => {
    const url = await publish('r3')
    const result = await client.query({
      name: 'deploy',
      payload: url,
      filterNodes: ['node-2'],
      requestAck: true,
      until: 'acks',
      timeoutMs: 5000
    })
    assert.deepEqual(result.acks, ['node-2'])
    const tags = await tagsWhen((t) => t.get('node-2')?.startsWith('r3:') === true)
    const parsed = parseSerfResult(tags.get('node-2'))
    assert.ok(typeof parsed !== 'string', tags.get('node-2'))
    assert.equal(parsed.status, 'success')
    assert.equal(parsed.clock.kind, 'query')
    assert.equal(await tree('node-2'), 'r3\n')
    assert.equal(await tree('node-1'), 'r2\n', 'not in the wave')
    assert.ok(tags.get('node-1')?.startsWith('r2:'))
  })

  test('a node that joins later boots from <s3-url>/<app>/latest through the handler', async () => {
    const run = await fleet.addNode({ name: 'node-4', tags: { canary: 'true' } })
    assert.equal(run?.trigger, 'boot')
    assert.equal(run?.status, 'success')
    assert.equal(run?.deployId, 'r3')
    assert.equal(await tree('node-4'), 'r3\n')
    // no event delivered it: it reports its agent's clocks, which the join brought up to the cluster's
    const tags = await tagsWhen((t) => /^r3:success:\d+q\d+$/.test(t.get('node-4') ?? ''))
    const boot = parseSerfResult(tags.get('node-4'))
    const wave = parseSerfResult(tags.get('node-2'))
    assert.ok(typeof boot !== 'string' && boot.clock.kind === 'boot', tags.get('node-4'))
    assert.ok(typeof wave !== 'string' && wave.clock.kind === 'query', tags.get('node-2'))
    assert.ok(boot.clock.query >= wave.clock.time, `${tags.get('node-4')} vs ${tags.get('node-2')}`)
    assert.deepEqual(fleet.names, ['node-1', 'node-2', 'node-3', 'node-4'])
  })

  test('stop() leaves no process and no temp dir', async () => {
    const dir = fleet.agents.dir
    const s3dir = fleet.s3.directory
    await client.close()
    await fleet.stop()
    assert.ok(!existsSync(dir), dir)
    assert.ok(!existsSync(s3dir), s3dir)
    const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    const left = ps.split('\n').filter((line) => line.includes(dir))
    assert.deepEqual(left, [])
    await fleet.stop() // twice is fine
  })
})
