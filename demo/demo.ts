// `npm run demo`: a full deploy against the embedded local fleet (s3rver, the
// Consul emulator, simulated stretcher nodes running real tar/rsync/sh), with
// the bundled action run exactly as the GitHub runner runs it.
//   npm run demo                  # 8 nodes, all converge
//   npm run demo -- --fail node-3 # node-3's deploy fails: the run fails and names it
//   npm run demo -- --nodes 20 --silent node-7
//   npm run demo -- --backend serf # real Serf agents (fleet/serf/fleet.ts) instead of Consul
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { FleetNodeSpec } from '../fleet/index.ts'
import { readFileSync } from 'node:fs'
import { startLocalFleet } from '../fleet/index.ts'
import { DIST, runAction } from '../fleet/run-action.ts'
import { startSerfFleet } from '../fleet/serf/fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '8' },
    fail: { type: 'string', multiple: true, default: [] },
    silent: { type: 'string', multiple: true, default: [] },
    timeout: { type: 'string', default: '30s' },
    backend: { type: 'string', default: 'consul' }
  }
})
if (values.backend !== 'consul' && values.backend !== 'serf')
  throw new Error('--backend must be consul or serf')
const serf = values.backend === 'serf'
if (serf && !readFileSync(DIST, 'utf8').includes('serf-rpc-auth')) {
  console.error('dist/index.js predates backend: serf: rebuild it (npm run package) first')
  process.exit(1)
}
const count = Number(values.nodes)
if (!Number.isInteger(count) || count < 1 || count > 500) throw new Error('--nodes must be 1..500')

async function buildSampleApp(root: string): Promise<void> {
  await mkdir(join(root, 'public/assets'), { recursive: true })
  await mkdir(join(root, 'bin'), { recursive: true })
  await writeFile(
    join(root, 'public/index.html'),
    `<h1>demo built at ${new Date().toISOString()}</h1>\n`
  )
  await writeFile(join(root, 'public/assets/app.js'), 'console.log("hello, fleet")\n')
  await writeFile(join(root, 'bin/start'), '#!/bin/sh\nexec echo "serving $(cat DEPLOY_ID)"\n')
  await chmod(join(root, 'bin/start'), 0o755)
}

let partial = ''
function show(chunk: string): void {
  // The runner turns workflow commands into folds; a terminal gets markers.
  const lines = (partial + chunk).split('\n')
  partial = lines.pop() ?? ''
  for (const line of lines) {
    if (line === '::endgroup::') continue
    const text = line
      .replace(/^::group::(.*)$/, '▸ $1')
      .replace(/^::error::(.*)$/, '✖ $1')
      .replace(/^::warning::(.*)$/, '⚠ $1')
    process.stdout.write(`  │ ${text}\n`)
  }
}

const specs: FleetNodeSpec[] = Array.from({ length: count }, (_, i) => {
  const name = `node-${i + 1}`
  return { name, fail: values.fail.includes(name), deaf: values.silent.includes(name) }
})
/** The fleet as the demo uses it: the action's inputs that reach it, its nodes' trees, stop(). */
interface DemoFleet {
  inputs: Record<string, string>
  env: Record<string, string>
  nodeTree(node: string, dest: string): string
  stop(): Promise<void>
}

async function startDemoFleet(): Promise<DemoFleet> {
  if (serf) {
    console.log(
      `starting the local Serf fleet: ${count} Serf agents running stretcher, one for the action, S3 (s3rver)…`
    )
    const fleet = await startSerfFleet({
      app: 'demo',
      nodes: specs.map((spec) => ({
        name: spec.name,
        ...(spec.fail === true ? { fail: true } : {}),
        ...(spec.deaf ? { deaf: true } : {})
      }))
    })
    return {
      inputs: {
        backend: 'serf',
        's3-url': fleet.s3Url,
        // S3 with conditional writes, as the action's lock needs (s3rver ignores them)
        's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
        'serf-rpc-addr': fleet.rpcAddr,
        'serf-tags': fleet.env.FLEET_SERF_TAGS!
      },
      env: fleet.s3.env,
      nodeTree: (node, dest) => fleet.nodeTree(node, dest),
      stop: () => fleet.stop()
    }
  }
  console.log(`starting the local fleet: ${count} stretcher nodes, Consul emulator, S3 (s3rver)…`)
  const fleet = await startLocalFleet({
    nodes: specs,
    kvPrefix: 'stretcher/demo',
    serverRunsStretcher: false
  })
  return {
    inputs: {
      's3-url': `s3://${fleet.s3.bucket}/releases`,
      's3-endpoint': fleet.s3.endpoint,
      'consul-addr': fleet.consul.url,
      'service-filter': '^web$'
    },
    env: fleet.s3.env,
    nodeTree: (node, dest) => fleet.nodeTree(node, dest),
    stop: () => fleet.stop()
  }
}
const fleet = await startDemoFleet()
const work = await mkdtemp(join(tmpdir(), 'stretcher-demo-'))
let code: number | null
try {
  await buildSampleApp(join(work, 'build'))
  await writeFile(
    join(work, 'stretcher.yml'),
    'dest_mode: 0755\ncommands:\n  post:\n    - ./bin/start 2>/dev/null || true\n'
  )
  console.log(`running dist/index.js as the runner would (app "demo", ${count} nodes)…\n`)
  const run = await runAction(
    {
      path: 'build',
      app: 'demo',
      manifest: 'stretcher.yml',
      dest: '/srv/demo',
      ...fleet.inputs,
      timeout: values.timeout
    },
    {
      ...fleet.env,
      GITHUB_WORKSPACE: work,
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567'
    },
    { timeoutMs: 10 * 60_000, onStdout: show }
  )
  code = run.code
  const results = JSON.parse(run.outputs.results ?? '[]') as Array<{
    node: string
    status: string
    deploy_id: string | null
  }>
  console.log(
    `\n(node trees are removed when the demo ends)\n${'node'.padEnd(10)} ${'status'.padEnd(8)} ${'release on disk'.padEnd(40)} tree`
  )
  for (const r of results) {
    const tree = fleet.nodeTree(r.node, '/srv/demo')
    const onDisk = await readFile(join(tree, 'DEPLOY_ID'), 'utf8').then(
      (s) => s.trim(),
      () => '-'
    )
    console.log(`${r.node.padEnd(10)} ${r.status.padEnd(8)} ${onDisk.padEnd(40)} ${tree}`)
  }
  console.log(
    `\n${code === 0 ? '✔ deploy succeeded' : `✖ deploy failed: ${run.errors[0] ?? 'see above'}`}`
  )
  console.log(
    `outputs: deploy-id=${run.outputs['deploy-id']} nodes ${run.outputs['nodes-succeeded']}/${run.outputs['nodes-total']} succeeded`
  )
} finally {
  await fleet.stop()
  await rm(work, { recursive: true, force: true })
}
process.exitCode = code ?? 1
