// Contract 13, `serf-join`, end to end: dist/index.js starts its own serf agent,
// joins the local Serf fleet through one node's gossip address, deploys through
// it, and makes it leave: judged from the nodes' trees and tags, the process
// list (no agent of the action left running) and the cluster's own view (the
// action's member is `left`). A cancelled run and a killed one (the agent's
// watchdog's turn, the post step's after it) leave no agent either; a bad or unreachable serf-join uploads nothing.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { withSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { runAction } from '../fleet/run-action.ts'
import type { ActionRun } from '../fleet/run-action.ts'
import { serfResultTagName } from '../src/shared/serf-result-tag.ts'
import { readSerfResult } from './helpers/serf-e2e.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import type { Member } from '../src/serf/rpc-types.ts'
import { versionedBuilds } from './helpers/action-run.ts'

const APP = 'web'
let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-serf-join-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
})
after(() => rm(work, { recursive: true, force: true }))

function inputs(fleet: SerfFleet, extra: Record<string, string> = {}): Record<string, string> {
  return {
    path: 'v1',
    app: APP,
    backend: 'serf',
    's3-url': fleet.s3Url,
    's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
    'serf-join': fleet.agents.bindAddr('node-1'),
    // Also matches the action's own agent (stretcher-action-…): only its
    // runner tag keeps it out of the targets. `^node-` alone would hide that.
    'node-filter': '^(?:node-|stretcher-action-)',
    dest: '/srv/app',
    // a tag update gossip misses arrives with the next push-pull sync (30 s)
    timeout: '90s',
    ...extra
  }
}

function env(fleet: SerfFleet, attempt: number): Record<string, string> {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_RUN_ID: '88',
    GITHUB_RUN_ATTEMPT: String(attempt)
  }
}

/** Every member as node-1's agent sees it (not through the action's agent: that one is gone). */
async function members(fleet: SerfFleet): Promise<Member[]> {
  const client = await connectSerf(fleet.agents.rpcAddr('node-1'))
  try {
    return await client.members()
  } finally {
    await client.close()
  }
}

/** The action's agents as the cluster sees them: members carrying the runner tag. */
async function runnerMembers(fleet: SerfFleet): Promise<Member[]> {
  return (await members(fleet)).filter((m) => m.tags['stretcher-action'] !== undefined)
}

/** `serf agent` processes whose command line names `needle` (the run's config dir), zombies aside. */
function serfProcesses(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' })
  return ps
    .split('\n')
    .filter((line) => line.includes('serf agent') && line.includes(needle))
    .filter((line) => !/^\s*\d+\s+Z/.test(line))
}

/** The agent the run saved for its post step: pid and temp dir. */
function savedAgent(run: ActionRun): { pid: number; dir: string } {
  const saved = run.state['serf-agent']
  assert.ok(saved, `the run saved its agent for the post step:\n${run.stdout}`)
  return JSON.parse(saved) as { pid: number; dir: string }
}

/** Judged from outside: no process of the run's agent, its temp dir gone, the cluster saw it leave. */
async function assertAgentLeft(fleet: SerfFleet, run: ActionRun, runners: number): Promise<void> {
  const agent = savedAgent(run)
  assert.deepEqual(serfProcesses(agent.dir), [], `no serf agent of the run is left running`)
  await assert.rejects(readdir(agent.dir), /ENOENT/, 'its temp dir (config with the key) is gone')
  // A leave intent reaches every member within a few gossip rounds.
  const deadline = Date.now() + 20_000
  let seen: Member[] = []
  while (Date.now() < deadline) {
    seen = await runnerMembers(fleet)
    if (seen.length === runners && seen.every((m) => m.status === 'left')) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.fail(`the action's members: ${seen.map((m) => `${m.name} ${m.status}`).join(', ')}`)
}

/** Files s3rver holds in the fleet's bucket. */
async function bucketFiles(fleet: SerfFleet): Promise<string[]> {
  const dir = join(fleet.s3.directory, fleet.s3.bucket)
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    .filter((e) => e.isFile())
    .map((e) => e.name)
}

const version = (fleet: SerfFleet, node: string) =>
  readFile(join(fleet.nodeTree(node), 'public/version.txt'), 'utf8').then(
    (t) => t.trim(),
    () => ''
  )

describe(
  'serf-join (dist/index.js, real Serf agents)',
  { concurrency: 1, timeout: 240_000 },
  () => {
    test('bad or unreachable serf-join: one line naming it, nothing uploaded; then a deploy joins, converges and leaves', async () => {
      await withSerfFleet({ app: APP, nodes: 3 }, async (fleet) => {
        const bad = await runAction(inputs(fleet, { 'serf-join': 'tcp://10.0.0.1' }), env(fleet, 1))
        assert.equal(bad.code, 1)
        assert.match(bad.errors[0] ?? '', /^serf-join must be comma-separated member addresses/)
        assert.equal(bad.state['serf-agent'], undefined, 'no agent was started')
        const closed = await runAction(inputs(fleet, { 'serf-join': '127.0.0.1:1' }), env(fleet, 2))
        assert.equal(closed.code, 1, closed.stdout)
        assert.match(closed.errors[0] ?? '', /^serf-join: could not join 127\.0\.0\.1:1: .*refused/)
        const tried = savedAgent(closed)
        assert.deepEqual(serfProcesses(tried.dir), [], 'the agent that could not join is gone')
        await assert.rejects(readdir(tried.dir), /ENOENT/)
        assert.deepEqual(await bucketFiles(fleet), [], 'nothing was uploaded')

        const run = await runAction(inputs(fleet, { 'deploy-id': 'v1-join' }), env(fleet, 3))
        assert.equal(run.code, 0, run.stdout)
        assert.match(run.stdout, /of web on 3 nodes: node-1, node-2, node-3\n/, 'not its own agent')
        assert.equal(run.outputs['nodes-succeeded'], '3', run.stdout)
        for (const node of fleet.names) assert.equal(await version(fleet, node), 'one', node)
        const tagOf = new Map(
          (await members(fleet)).map((m) => [m.name, m.tags[serfResultTagName(APP)]])
        )
        for (const node of fleet.names) {
          const result = readSerfResult(tagOf.get(node))
          assert.equal(result?.deployId, 'v1-join', `${node}: ${tagOf.get(node)}`)
          assert.equal(result?.status, 'success')
        }
        assert.match(run.stdout, /serf: the action's agent stretcher-action-88-3-[0-9a-f]{6} left/)
        assert.equal(run.state['serf-agent-left'], 'true')
        await assertAgentLeft(fleet, run, 1)
      })
    })

    test('a run cancelled mid-wait (SIGTERM) makes its agent leave; one killed outright has its watchdog make it leave, with or without a post step', async () => {
      // Every deploy takes a while on the nodes: the runs are still waiting when stopped.
      const nodes = ['node-1', 'node-2'].map((name) => ({ name, delayMs: 60_000 }))
      await withSerfFleet({ app: APP, nodes }, async (fleet) => {
        const stopWhenWaiting = (signal: NodeJS.Signals) => {
          let child: ChildProcess | undefined
          let out = ''
          return {
            onChild: (c: ChildProcess) => (child = c),
            onStdout: (chunk: string) => {
              out += chunk
              // the event went out: the run waits for the nodes' tags
              if (/fired the Serf event/.test(out) && child?.exitCode === null) {
                out = ''
                child.kill(signal)
              }
            }
          }
        }
        const cancelled = await runAction(inputs(fleet), env(fleet, 1), {
          ...stopWhenWaiting('SIGTERM'),
          post: true
        })
        assert.notEqual(cancelled.code, 0, cancelled.stdout)
        assert.equal(cancelled.outputs.conclusion, 'cancelled', cancelled.stdout)
        assert.equal(cancelled.state['serf-agent-left'], 'true', 'the main step made it leave')
        await assertAgentLeft(fleet, cancelled, 1)

        const killed = await runAction(inputs(fleet), env(fleet, 2), {
          ...stopWhenWaiting('SIGKILL'),
          post: true
        })
        assert.equal(killed.signal, 'SIGKILL')
        assert.equal(killed.state['serf-agent-left'], undefined, 'the main step died first')
        // The agent's watchdog makes it leave; the post step waits for that (a
        // second SIGINT would cut Serf's graceful leave short) and cleans up.
        assert.equal(killed.post?.code, 0, killed.post?.stdout)
        assert.doesNotMatch(killed.post?.stdout ?? '', /could not make the serf agent/)
        await assertAgentLeft(fleet, killed, 2)

        // No post step at all (a CLI killed outright, a runner that skips it): the
        // watchdog alone makes the agent leave and removes its key.
        const alone = await runAction(inputs(fleet), env(fleet, 3), stopWhenWaiting('SIGKILL'))
        assert.equal(alone.signal, 'SIGKILL')
        assert.equal(alone.post, undefined)
        // the watchdog looks once a second, and Serf's leave takes a few gossip rounds
        const { dir } = savedAgent(alone)
        for (const until = Date.now() + 30_000; Date.now() < until;)
          if (serfProcesses(dir).length === 0 && !existsSync(dir)) break
          else await new Promise((resolve) => setTimeout(resolve, 200))
        await assertAgentLeft(fleet, alone, 3)
      })
    })
  }
)
