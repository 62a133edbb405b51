// Issue #19's report cases run for real, for `npm run report:preview -- --fleet`:
// dist/index.js (and, for a cancel, dist/post.js) on the local fleet, as the
// end-to-end tests drive them (__tests__/e2e-truth-reports.test.ts, -verdicts),
// with the check run on against the GitHub API stand-in. Each yields the job
// summary as written to GITHUB_STEP_SUMMARY and the check run's last output as
// the stand-in recorded it. Nothing is asserted here: the tests do that; this is
// for looking at what a reviewer sees.
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FleetNodeSpec, LocalFleet, LocalFleetOptions } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { startLocalS3 } from '../fleet/s3.ts'
import { simulateNodes } from '../bench/simulated-nodes.ts'
import type { FakeGitHub } from '../fleet/github-api.ts'
import { startFakeGitHub } from '../fleet/github-api.ts'
import { runAction } from '../fleet/run-action.ts'
import {
  actionEnv,
  actionInputs,
  fleetNodes,
  versionedBuilds
} from '../__tests__/helpers/action-run.ts'
import type { CheckOutputText } from './report-render.ts'

const KV = 'stretcher/web'
// layout: releases needs a dest inside each node's own tree (as in e2e-releases).
const RELEASES_TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'
commands:
  post:
    - echo "restart $(readlink "$HOME/srv/app/current")" >> "$HOME/restarts"
`
const RELEASES = { layout: 'releases', manifest: 'stretcher.yml', dest: '' }

interface Context {
  work: string
  github: FakeGitHub
  attempt: number
}

/** One run of the action with the check run on; `post` runs the post step too. */
async function run(
  ctx: Context,
  fleet: LocalFleet,
  inputs: Record<string, string>,
  options: Parameters<typeof runAction>[2] = {}
) {
  ctx.github.calls.length = 0
  const result = await runAction(
    actionInputs(fleet, { 'github-token': 'ghs_preview', ...inputs }),
    {
      ...actionEnv(fleet, ctx.work, { id: '1919', attempt: ++ctx.attempt }),
      GITHUB_EVENT_NAME: 'push',
      GITHUB_API_URL: ctx.github.url,
      GITHUB_SERVER_URL: 'https://github.example.com'
    },
    { timeoutMs: 600_000, ...options }
  )
  const outputs = ctx.github.calls
    .filter((c) => c.path.includes('/check-runs') && c.body.output)
    .map((c) => c.body.output as CheckOutputText)
  if (result.code !== 0 && !inputs['deploy-id']?.startsWith('v2'))
    throw new Error(`the first deploy failed:\n${result.stdout}`)
  return { ...result, check: outputs.at(-1) }
}

/** SIGINT to the main step `afterMs` after the action's `fires`-th event fire since `from`. */
function interruptAfterFires(fleet: LocalFleet, from: number, fires: number, afterMs = 300) {
  return (child: ChildProcess) => {
    const poll = setInterval(() => {
      const count = fleet.consul.arrivals
        .slice(from)
        .filter((a) => a.method === 'PUT' && a.path.startsWith('/v1/event/fire/')).length
      if (count < fires) return
      clearInterval(poll)
      setTimeout(() => child.kill('SIGINT'), afterMs)
    }, 5)
    child.once('exit', () => clearInterval(poll))
  }
}

type Scenario = (ctx: Context) => Promise<{ summary: string; check?: CheckOutputText }>

const onFleet = (
  opts: LocalFleetOptions,
  body: (fleet: LocalFleet) => Promise<{ summary: string; check?: CheckOutputText }>
) => withLocalFleet({ kvPrefix: KV, serverRunsStretcher: false, ...opts }, body)

/** v1 everywhere, then v2 with `inputs`: the second run is the one shown. */
const twoRuns =
  (
    nodes: FleetNodeSpec[],
    inputs: Record<string, string>,
    extra: Record<string, string> = {},
    options?: (fleet: LocalFleet) => Parameters<typeof runAction>[2]
  ): Scenario =>
  (ctx) =>
    onFleet({ nodes }, async (fleet) => {
      await run(ctx, fleet, { path: 'v1', 'deploy-id': `v1-good`, ...extra })
      return run(ctx, fleet, { path: 'v2', ...inputs, ...extra }, options?.(fleet))
    })

const cancelled = (nodes: FleetNodeSpec[], waves: string, fires: number): Scenario =>
  twoRuns(nodes, { 'deploy-id': 'v2-cut', waves }, {}, (fleet) => ({
    post: true,
    onChild: interruptAfterFires(fleet, fleet.consul.arrivals.length, fires)
  }))

const crashOnSwitch = (id: string | undefined, url: string) =>
  id === 'v2-crash' && url.endsWith('.switch.yml')

/**
 * 1,000 nodes, `waves: 1, 10%, 100%`, node-50 (in wave 2: natural order puts
 * the canary node-1 first, then node-2..node-101) failing, auto-rollback on.
 * dist/index.js runs for real against the Consul emulator and s3rver; the nodes
 * are simulated (bench/simulated-nodes.ts): 1,000 stretchers with tar and rsync
 * each do not finish a deploy on a shared 2-core machine in minutes.
 */
const wave2RolledBack1000: Scenario = async (ctx) => {
  const nodes = Array.from({ length: 1000 }, (_, i) => ({
    name: `node-${i + 1}`,
    services: [{ name: 'web', tags: i === 0 ? ['canary'] : [] }]
  }))
  const emu = await startConsulEmulator({ nodes })
  const s3 = await startLocalS3()
  const sim = simulateNodes(emu, {
    kvPrefix: KV,
    nodes: nodes.map((n) => n.name),
    spreadMs: 1500,
    fails: (node, id) => node === 'node-50' && id === 'v2-bad'
  })
  const fleet = { s3, consul: { url: emu.url } } as unknown as LocalFleet
  try {
    await run(ctx, fleet, { path: 'v1', 'deploy-id': 'v1-good', timeout: '2m' })
    return await run(ctx, fleet, {
      path: 'v2',
      'deploy-id': 'v2-bad',
      waves: '1, 10%, 100%',
      'auto-rollback': 'true',
      timeout: '2m'
    })
  } finally {
    await sim.stop()
    await emu.stop()
    await s3.stop()
  }
}

/** The scenarios by name, in the order of issue #19's cases. */
const SCENARIOS: Record<string, Scenario> = {
  'case1-canary-auto-rollback': twoRuns(fleetNodes(6, 'node-5', { 'node-5': { fail: 'v2-bad' } }), {
    'deploy-id': 'v2-bad',
    waves: '1, 100%',
    'auto-rollback': 'true'
  }),
  'case2-bake-gate': twoRuns(
    fleetNodes(4, 'node-1', { 'node-1': { crashAfterDeploy: 'v2-crash', crashDelayMs: 300 } }),
    { 'deploy-id': 'v2-crash', waves: '1, 100%', 'bake-time': '2s', 'auto-rollback': 'true' }
  ),
  'case2-bake-gate-releases': twoRuns(
    fleetNodes(5, 'node-1', { 'node-1': { crashAfterDeploy: crashOnSwitch, crashDelayMs: 300 } }),
    { 'deploy-id': 'v2-crash', waves: '1, 100%', 'bake-time': '2s', 'auto-rollback': 'true' },
    RELEASES
  ),
  'case3-dc1-fails': (ctx) =>
    onFleet(
      {
        datacenters: ['dc1', 'dc2'].map((dc) => ({
          name: dc,
          nodes: [1, 2, 3].map((i) => ({
            name: `${dc}-node-${i}`,
            ...(dc === 'dc1' && i === 2 ? { fail: 'v2-bad' } : {})
          }))
        }))
      },
      (fleet) => run(ctx, fleet, { path: 'v2', 'deploy-id': 'v2-bad', datacenters: 'dc1, dc2' })
    ),
  'case4a-cancel-after-canary': cancelled(
    fleetNodes(6, 'node-5', { 'node-5': { delayMs: 3000 } }),
    '1, 50%, 100%',
    1
  ),
  'case4b-cancel-last-wave': cancelled(
    fleetNodes(
      4,
      'node-1',
      Object.fromEntries(['node-2', 'node-3', 'node-4'].map((n) => [n, { delayMs: 3000 }]))
    ),
    '1, 100%',
    2
  ),
  'case5-rollback-moves-latest': twoRuns(
    fleetNodes(3, 'node-1', { 'node-3': { fail: 'v2-bad' } }),
    { 'deploy-id': 'v2-bad', waves: '1, 100%', 'auto-rollback': 'true' }
  ),
  'case6-releases-switch-gate': twoRuns(
    fleetNodes(4, 'node-1', { 'node-1': { crashAfterDeploy: crashOnSwitch, crashDelayMs: 300 } }),
    { 'deploy-id': 'v2-crash', waves: '1, 100%', 'bake-time': '2s' },
    RELEASES
  ),
  'wave2-rolled-back-1000': wave2RolledBack1000
}

/** Runs the scenarios (those named in `only`, or all) one by one. */
export async function* runScenarios(
  only?: readonly string[]
): AsyncGenerator<[string, { summary: string; check: CheckOutputText | undefined }]> {
  const work = await mkdtemp(join(tmpdir(), 'stretcher-report-scenarios-'))
  const github = await startFakeGitHub()
  try {
    await versionedBuilds(work, { v1: 'one', v2: 'two' })
    await writeFile(join(work, 'stretcher.yml'), RELEASES_TEMPLATE)
    const ctx: Context = { work, github, attempt: 0 }
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (only && !only.includes(name)) continue
      const started = Date.now()
      const shown = await scenario(ctx)
      console.log(`${name}: ran in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      yield [name, { summary: shown.summary, check: shown.check }]
    }
  } finally {
    await github.stop()
    await rm(work, { recursive: true, force: true })
  }
}
