// One scenario of the rollout matrix on a fresh local fleet: the fleet the
// scenario describes (a failing, silent, crashing or joining node), the
// releases published before the run, and the run itself, in process.
import { rmSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FleetNodeSpec, LocalFleet } from '../../fleet/index.ts'
import { startLocalFleet } from '../../fleet/index.ts'
import { actionEnv, actionInputs, versionedBuilds } from '../helpers/action-run.ts'
import { firesSince, KV } from '../helpers/fleet-truth.ts'
import type { InProcessOptions, InProcessRun } from '../helpers/inprocess-run.ts'
import { runInProcess } from '../helpers/inprocess-run.ts'
import type { Layout, Scenario } from './scenario.ts'
import { datacenterName, faultyNode, joinerOf, nameOf, nodesOf, RELEASE } from './scenario.ts'

// layout: releases needs a dest inside each node's own tree (see e2e-releases).
const RELEASES_TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'\n`
const RELEASES = { layout: 'releases', manifest: 'stretcher.yml', dest: '' }
/** Long enough for any node that is not silent, short enough to keep a silent one cheap. */
const TIMEOUT = { silent: '10s', otherwise: '60s' }
/** The first node's delay when a node joins: the join lands within the first wave. */
const JOIN_DELAY_MS = 800

let workspace: Promise<string> | undefined
/** The builds (v1: one, v2: two) and the releases template, made once per process. */
export function matrixWorkspace(): Promise<string> {
  workspace ??= (async () => {
    const work = await mkdtemp(join(tmpdir(), 'stretcher-matrix-'))
    process.once('exit', () => rmSync(work, { recursive: true, force: true }))
    await versionedBuilds(work, { v1: 'one', v2: 'two' })
    await writeFile(join(work, 'stretcher.yml'), RELEASES_TEMPLATE)
    return work
  })()
  return workspace
}

export interface ScenarioFleet {
  fleet: LocalFleet
  /** the faults act on this run's release only once armed (after the setup) */
  arm(): void
  /** the silent node (deaf), started after the setup so it holds what `latest` named */
  addSilent(): Promise<void>
}

/** `node`: the scenario's key for it (a name in both datacenters is `<dc>/<name>`). */
function nodeSpec(s: Scenario, node: string, release: () => string | undefined): FleetNodeSpec {
  const faulty = faultyNode(s) === node
  const kind = s.fault.kind
  const name = nameOf(node)
  const spec: FleetNodeSpec = { name, services: [{ name: 'web', tags: [], check: true }] }
  if (faulty && kind === 'fail') spec.fail = (id) => id !== undefined && id === release()
  if (faulty && kind === 'critical')
    spec.crashAfterDeploy = (id, url) => id === release() && !url.endsWith('.prepare.yml')
  if (kind === 'join' && node === nodesOf(s, s.fault.dc)[0]) spec.delayMs = JOIN_DELAY_MS
  return spec
}

/** The fleet of a scenario: node-1..N (dcK-node-1..N, or node-1..N in each datacenter), checked `web` services. */
export async function scenarioFleet(s: Scenario, release: string): Promise<ScenarioFleet> {
  let armed = false
  const target = () => (armed ? release : undefined)
  const silent = s.fault.kind === 'silent' ? faultyNode(s) : undefined
  const specsOf = (dc: number) =>
    nodesOf(s, dc)
      .filter((n) => n !== silent)
      .map((n) => nodeSpec(s, n, target))
  const fleet = await startLocalFleet({
    kvPrefix: KV,
    serverRunsStretcher: false,
    ...(s.datacenters === 1
      ? { nodes: specsOf(0) }
      : { datacenters: [0, 1].map((dc) => ({ name: datacenterName(dc), nodes: specsOf(dc) })) })
  })
  return {
    fleet,
    arm: () => void (armed = true),
    async addSilent() {
      if (silent === undefined) return
      await fleet.addNode({
        name: nameOf(silent),
        deaf: true,
        services: [{ name: 'web', tags: [], check: true }],
        ...(s.datacenters > 1 ? { datacenter: datacenterName(s.fault.dc) } : {})
      })
    }
  }
}

let attempts = 0

/** The inputs every run of the scenario shares: the datacenters, and a layout (the run's by default). */
function sharedInputs(
  s: Scenario,
  fleet: LocalFleet,
  layout: Layout = s.layout
): Record<string, string> {
  return actionInputs(fleet, {
    ...(layout === 'releases' ? RELEASES : {}),
    ...(s.datacenters > 1 ? { datacenters: 'dc1, dc2' } : {})
  })
}

async function setupRun(
  s: Scenario,
  fleet: LocalFleet,
  extra: Record<string, string>,
  layout: Layout = s.layout
) {
  const work = await matrixWorkspace()
  const run = await runInProcess(
    { ...sharedInputs(s, fleet, layout), ...extra },
    actionEnv(fleet, work, { id: '19', attempt: ++attempts })
  )
  if (run.code !== 0 && extra.waves === undefined)
    throw new Error(`setup run ${JSON.stringify(extra)} failed: ${run.message}`)
  return run
}

/** The releases published before the run (see scenario.ts releasesOf). */
export async function setUp(s: Scenario, fleet: LocalFleet): Promise<void> {
  if (s.mode === 'deploy' && !s.previous) return
  // the previous release, in its own layout (the other one than the run's: contract 8a case 16)
  await setupRun(s, fleet, { path: 'v1', 'deploy-id': RELEASE.a }, s.previousLayout ?? s.layout)
  if (s.mode === 'rollback-to') await setupRun(s, fleet, { path: 'v2', 'deploy-id': RELEASE.b })
  if (s.mode === 'promote') {
    const partial = await setupRun(s, fleet, { path: 'v2', 'deploy-id': RELEASE.b, waves: '1' })
    if (partial.code !== 0) throw new Error(`setup: the partial rollout failed: ${partial.message}`)
  }
}

/** The run's own inputs. */
export function runInputs(s: Scenario, fleet: LocalFleet): Record<string, string> {
  const what: Record<string, string> =
    s.mode === 'promote'
      ? { promote: RELEASE.b }
      : s.mode === 'rollback-to'
        ? { 'rollback-to': RELEASE.a }
        : { path: 'v2', 'deploy-id': RELEASE.b }
  return {
    ...sharedInputs(s, fleet),
    ...what,
    timeout: s.fault.kind === 'silent' ? TIMEOUT.silent : TIMEOUT.otherwise,
    'bake-time': s.bake ? '1s' : '0s',
    'auto-rollback': String(s.autoRollback),
    'max-failures': String(s.maxFailures),
    wait: String(s.wait),
    ...(s.waves === undefined ? {} : { waves: s.waves })
  }
}

/** Calls `then` once, at this run's first event fire. */
function onFirstFire(fleet: LocalFleet, then: () => void): () => void {
  const from = fleet.consul.arrivals.length
  const poll = setInterval(() => {
    if (firesSince(fleet, from).length === 0) return
    clearInterval(poll)
    then()
  }, 5)
  return () => clearInterval(poll)
}

/** How a run of the action is made: in process (the matrix) or through dist/ (the soak). */
export type Runner = (
  inputs: Record<string, string>,
  env: Record<string, string>,
  options?: InProcessOptions
) => Promise<InProcessRun>

/** The run under test, with the cancel or the joiner at its first event. */
export async function runScenario(
  s: Scenario,
  fleet: LocalFleet,
  runner: Runner = runInProcess
): Promise<InProcessRun> {
  const work = await matrixWorkspace()
  const cancel = new AbortController()
  let joining: Promise<unknown> | undefined
  const stop = onFirstFire(fleet, () => {
    if (s.cancel) cancel.abort(new Error('cancelled'))
    if (s.fault.kind === 'join')
      joining = fleet.addNode({
        name: nameOf(joinerOf(s)),
        services: [{ name: 'web', tags: [], check: true }],
        ...(s.datacenters > 1 ? { datacenter: datacenterName(s.fault.dc) } : {})
      })
  })
  try {
    return await runner(
      runInputs(s, fleet),
      actionEnv(fleet, work, { id: '19', attempt: ++attempts }),
      { signal: cancel.signal }
    )
  } finally {
    stop()
    await joining
  }
}

/** Waits until no node has started or finished a run for `quietMs` (nodes still applying). */
export async function settle(fleet: LocalFleet, quietMs = 400, maxMs = 20_000): Promise<void> {
  const count = () => [...fleet.nodes.values()].reduce((n, node) => n + node.runs, 0)
  const start = Date.now()
  let last = count()
  let since = Date.now()
  while (Date.now() - since < quietMs && Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 50))
    const now = count()
    if (now !== last) {
      last = now
      since = Date.now()
    }
  }
}
