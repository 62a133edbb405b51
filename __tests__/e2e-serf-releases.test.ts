// Two-phase releases on a Serf cluster end to end (contract 9 and 13):
// dist/index.js with backend: serf and layout: releases against real Serf
// agents, each running the simulated stretcher as its handler. Judged from
// the fleet: each node's releases/ and current, its stretcher-<app> tag (the
// phase is its fourth field), the handler runs it recorded, and latest in S3.
//
// The template's dest is '{{ env "HOME" "" }}/srv/app', expanded by each node
// (HOME is the node's root), so the switch renames a real symlink inside each
// node's own tree.
import assert from 'node:assert/strict'
import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { httpGet } from '../fleet/http-get.ts'
import { runAction } from '../fleet/run-action.ts'
import { startSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { answersMark } from '../src/serf/result-tag.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import type { Clock, SerfResult } from '../src/shared/serf-result-tag.ts'
import { parseSerfResult, serfResultTagName } from '../src/shared/serf-result-tag.ts'
import { versionedBuilds } from './helpers/action-run.ts'

const APP = 'web'
const NODES = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']
const TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'
dest_mode: 0755
commands:
  pre:
    - test ! -e "$HOME/disk-full"
`

let work: string
let fleet: SerfFleet
let attempt = 0

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-releases-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two', v3: 'three' })
  await writeFile(join(work, 'stretcher.yml'), TEMPLATE)
  fleet = await startSerfFleet({ app: APP, nodes: NODES.length })
})
after(async () => {
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

async function deploy(path: string, extra: Record<string, string> = {}) {
  return runAction(
    {
      path,
      app: APP,
      manifest: 'stretcher.yml',
      backend: 'serf',
      's3-url': fleet.s3Url,
      's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
      'serf-rpc-addr': fleet.rpcAddr,
      'serf-tags': fleet.env.FLEET_SERF_TAGS!,
      layout: 'releases',
      'keep-releases': '2',
      // a tag update gossip misses arrives with the next push-pull sync (30 s)
      timeout: '90s',
      ...extra
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
      GITHUB_RUN_ID: '2020',
      GITHUB_RUN_ATTEMPT: String(++attempt)
    }
  )
}

const root = (node: string) => fleet.nodeTree(node, '/')
const app = (node: string) => fleet.nodeTree(node, 'srv/app')
const current = (node: string) => readlinkSync(join(app(node), 'current'))
const kept = (node: string) => readdirSync(join(app(node), 'releases')).sort()

/** Each node's result tag, parsed, as the action's agent sees it. */
async function results(): Promise<Map<string, SerfResult | string>> {
  const client = await connectSerf(fleet.rpcAddr)
  try {
    const members = await client.members()
    return new Map(members.map((m) => [m.name, parseSerfResult(m.tags[serfResultTagName(APP)])]))
  } finally {
    await client.close()
  }
}

/** results(), once `done` holds of them (60 s at most: then the last read). */
async function resultsWhen(
  done: (tags: Map<string, SerfResult | string>) => boolean
): Promise<Map<string, SerfResult | string>> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const tags = await results()
    if (done(tags) || Date.now() >= deadline) return tags
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * Waits (60 s at most) until every node that ran the release's prepare has its
 * tag on it; resolves with the tags and the nodes that ran it.
 */
async function preparesSettled(id: string) {
  const deadline = Date.now() + 60_000
  for (;;) {
    const ran = new Set<string>()
    for (const node of NODES) if ((await runsOf(node, id, 'prepare')).length > 0) ran.add(node)
    const tags = await results()
    const reported = (n: string) => {
      const tag = tags.get(n)
      return typeof tag === 'object' && tag.deployId === id
    }
    if ([...ran].every(reported) || Date.now() >= deadline) return { tags, ran }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function latest(): Promise<string | undefined> {
  const res = await httpGet(`${fleet.s3.endpoint}/${fleet.s3.bucket}/releases/${APP}/latest`)
  return res.status === 200 ? res.body.toString('utf8').trim() : undefined
}

/** A node's handler runs of one manifest of a release. */
async function runsOf(node: string, id: string, kind: 'prepare' | 'switch' | 'combined') {
  const file = kind === 'combined' ? `${id}.yml` : `${id}.${kind}.yml`
  return (await fleet.runs(node)).filter((r) => r.manifestUrl.endsWith(`/${file}`))
}

/**
 * The clocks of the action's sends, in order, from its log: a user event's
 * LTime, or the query clock read before a step's queries (each step of
 * layout: releases names its nodes, so it goes out as queries).
 */
const sends = (stdout: string): Clock[] =>
  [
    ...stdout.matchAll(
      /fired the Serf event deploy \(LTime (\d+)\)|sent the Serf query deploy to \d+ node\(s\) \(query clock (\d+)\)/g
    )
  ].map((m) =>
    m[1] !== undefined
      ? { kind: 'event', time: Number(m[1]) }
      : { kind: 'query', time: Number(m[2]) }
  )

describe(
  'layout: releases with backend: serf (dist/index.js, real Serf agents)',
  {
    concurrency: 1,
    timeout: 300_000
  },
  () => {
    const ids: string[] = []
    /** the clock of the last deploy's switch send */
    let switchSent: Clock | undefined

    test('two deploys on 5 nodes: prepare everywhere, then one switch; current on the second, both kept; each tag says switch', async () => {
      for (const version of ['v1', 'v2']) {
        const run = await deploy(version)
        assert.equal(run.code, 0, run.stdout + run.stderr)
        assert.equal(run.outputs['nodes-succeeded'], '5', run.stdout)
        ids.push(run.outputs['deploy-id']!)
        // two sends: the prepare, then the switch
        const sent = sends(run.stdout)
        assert.equal(sent.length, 2, run.stdout)
        switchSent = sent[1]
        assert.match(run.stdout, /prepare: 5\/5 nodes prepared \S+ in [\d.]+s/)
      }
      const [first, second] = ids as [string, string]
      for (const node of NODES) {
        assert.equal(current(node), `releases/${second}`, node)
        assert.ok(lstatSync(join(app(node), 'current')).isSymbolicLink(), node)
        assert.deepEqual(kept(node), [first, second].sort(), node)
        assert.equal(await readFile(join(app(node), 'current/public/version.txt'), 'utf8'), 'two\n')
        // the switch waits for the fleet: it started on no node before the last prepare ended
        const prepared = (await Promise.all(NODES.map((n) => runsOf(n, second, 'prepare')))).flat()
        const switched = await runsOf(node, second, 'switch')
        assert.equal(prepared.length, 5)
        assert.equal(switched.length, 1, node)
        assert.ok(
          Date.parse(switched[0]!.startedAt) >=
            Math.max(...prepared.map((r) => Date.parse(r.endedAt))),
          `${node}: switched before the last prepare ended`
        )
      }
      const tags = await results()
      for (const node of NODES) {
        const tag = tags.get(node)
        assert.ok(typeof tag !== 'string', `${node}: ${tag}`)
        assert.deepEqual(
          { id: tag?.deployId, status: tag?.status, phase: tag?.phase, kind: tag?.clock.kind },
          { id: second, status: 'success', phase: 'switch', kind: switchSent?.kind },
          node
        )
      }
      assert.match(
        (await latest()) ?? '',
        new RegExp(`/${second}\\.yml$`),
        'latest names the combined manifest'
      )
    })

    test('a node that joins later boots latest: current on the release, and its boot report counts for that run', async () => {
      const second = ids[1]
      assert.ok(second, 'the first test deployed')
      const boot = await fleet.addNode('node-6')
      assert.equal(boot?.status, 'success')
      assert.equal(boot?.trigger, 'boot')
      assert.equal(current('node-6'), `releases/${second}`)
      // The boot report carries its agent's clocks, which the join brought up to
      // the cluster's: at or above the switch send's, so it answers that send.
      const tag = (
        await resultsWhen((t) => {
          const boot = t.get('node-6')
          return typeof boot === 'object' && boot.deployId === second
        })
      ).get('node-6')
      assert.ok(typeof tag === 'object' && tag.clock.kind === 'boot', JSON.stringify(tag))
      assert.equal(tag.phase, 'switch', 'the combined manifest reports as a switch')
      assert.ok(switchSent)
      assert.ok(
        answersMark(tag.clock, switchSent),
        `boot clocks ${JSON.stringify(tag.clock)}, the switch sent at ${JSON.stringify(switchSent)}`
      )
    })

    test('a node fails its prepare (over max-failures): nobody switches; current, releases and latest unchanged', async () => {
      const [, second] = ids as [string, string]
      const latestBefore = await latest()
      await writeFile(join(root('node-3'), 'disk-full'), '')
      const run = await deploy('v3', { 'max-failures': '0' })
      assert.equal(run.code, 1, run.stdout)
      assert.match(run.errors[0] ?? '', /node-3/)
      const third = run.outputs['deploy-id']!
      assert.equal(sends(run.stdout).length, 1, 'the prepare only')
      // The verdict (node-3 over max-failures) can come before the others' prepares
      // ended, and it ends the run's re-sends: a node whose query gossip missed never
      // runs the prepare, which is harmless. Each node that ran it must report it.
      const { tags, ran } = await preparesSettled(third)
      assert.ok(ran.has('node-3'), 'node-3 ran the prepare')
      for (const node of NODES) {
        assert.equal(current(node), `releases/${second}`, node)
        assert.equal(await readFile(join(app(node), 'current/public/version.txt'), 'utf8'), 'two\n')
        assert.equal((await runsOf(node, third, 'switch')).length, 0, `${node} was not switched`)
        const tag = tags.get(node)
        assert.ok(typeof tag !== 'string', `${node}: ${tag}`)
        // A node whose prepare had not ended (or never came) is judged by its tree above.
        if (!ran.has(node)) continue
        assert.equal(tag?.deployId, third, node)
        assert.equal(tag?.phase, 'prepare', node)
        assert.equal(tag?.status, node === 'node-3' ? 'failure' : 'success', node)
      }
      assert.equal(await latest(), latestBefore)
    })

    test("the last wave's only node fails its prepare (within max-failures): the run passes and latest moves with no send", async () => {
      const [, second] = ids as [string, string]
      await rm(join(root('node-3'), 'disk-full'), { force: true })
      await writeFile(join(root('node-6'), 'disk-full'), '')
      // waves 5, 100%: node-1..5, then node-6 alone, which never prepared.
      const run = await deploy('v3', { waves: '5, 100%', 'max-failures': '1' })
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.outputs.conclusion, 'success', run.stdout)
      const fourth = run.outputs['deploy-id']!
      assert.equal(sends(run.stdout).length, 2, 'the prepare and the first wave only')
      assert.match(run.stdout, /nothing to send; latest moved to it with no event/)
      for (const node of NODES) {
        assert.equal(current(node), `releases/${fourth}`, node)
        assert.equal(
          await readFile(join(app(node), 'current/public/version.txt'), 'utf8'),
          'three\n'
        )
      }
      assert.equal(current('node-6'), `releases/${second}`)
      assert.equal((await runsOf('node-6', fourth, 'switch')).length, 0, 'node-6 was not switched')
      const row = (
        JSON.parse(run.outputs.results ?? '[]') as Array<{ node: string; status: string }>
      ).find((r) => r.node === 'node-6')
      assert.match(row?.status ?? '', /^(failed|failure)$/, run.outputs.results)
      // latest names the release rolled out (contract 8), the rollout record is gone.
      assert.match((await latest()) ?? '', new RegExp(`/${fourth}\\.yml$`), run.stdout)
      const rollout = await httpGet(
        `${fleet.s3.endpoint}/${fleet.s3.bucket}/releases/${APP}/rollout`
      )
      assert.equal(rollout.status, 404, rollout.body.toString('utf8'))
    })
  }
)
