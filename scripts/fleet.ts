// Runs a local fleet (s3rver + Consul emulator + simulated stretcher nodes) until
// SIGINT/SIGTERM. Used by .github/workflows/ci.yml and by hand:
//   node scripts/fleet.ts --nodes 4 --write-env fleet.env [--kv-prefix stretcher/app] [--acl]
// `--env-file F` is accepted as a synonym, but Node itself reads a script argument
// named --env-file and exits when F does not exist yet (nodejs/node#54232): create
// F first (`: > F`) or use --write-env.
// The env file (KEY=value lines, written at once when the fleet is up) holds the
// AWS_* variables for s3rver and FLEET_S3_ENDPOINT, FLEET_CONSUL_ADDR, FLEET_DEST, ...
// `--backend serf [--app web] [--rpc-auth KEY]`: real Serf agents instead
// (fleet/serf/fleet.ts), the env file then with FLEET_SERF_RPC_ADDR, FLEET_SERF_TAGS, FLEET_S3_URL, ...
import { rename, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { startLocalFleet } from '../fleet/index.ts'
import { SERF_ACTION_AGENT, startSerfFleet } from '../fleet/serf/fleet.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'write-env': { type: 'string' },
    'env-file': { type: 'string' },
    'kv-prefix': { type: 'string' },
    service: { type: 'string', default: 'web' },
    'event-name': { type: 'string', default: 'deploy' },
    acl: { type: 'boolean', default: false },
    'no-server-stretcher': { type: 'boolean', default: false },
    backend: { type: 'string', default: 'consul' },
    app: { type: 'string', default: 'app' },
    'rpc-auth': { type: 'string' }
  }
})

const count = Number(values.nodes)
if (!Number.isInteger(count) || count < 1) {
  console.error(`--nodes must be a positive integer, got ${values.nodes}`)
  process.exit(2)
}
if (values.backend !== 'consul' && values.backend !== 'serf') {
  console.error(`--backend must be consul or serf, got ${values.backend}`)
  process.exit(2)
}
const kvPrefix = values['kv-prefix']
if (values.acl && kvPrefix === undefined) {
  console.error('--acl needs --kv-prefix (node tokens are scoped to it)')
  process.exit(2)
}

/** The fleet, as this script uses it: its env, its nodes' names, a summary, stop(). */
interface Running {
  env: Record<string, string>
  names: string[]
  summary(): Promise<string[]>
  stop(): Promise<void>
}

async function startConsul(): Promise<Running> {
  const fleet = await startLocalFleet({
    nodes: count,
    service: values.service,
    eventName: values['event-name'],
    serverRunsStretcher: !values['no-server-stretcher'],
    ...(kvPrefix === undefined ? {} : { kvPrefix }),
    ...(values.acl ? { acl: {} } : {})
  })
  const nodes = [...(fleet.server ? [fleet.server] : []), ...fleet.nodes.values()]
  return {
    env: fleet.env,
    names: [...(fleet.server ? [fleet.server.name] : []), ...fleet.nodes.keys()],
    summary: async () =>
      nodes.map(
        (node) => `  ${node.name}: ${node.runs} run(s), last ${node.lastRun?.status ?? 'none'}`
      ),
    stop: () => fleet.stop()
  }
}

async function startSerf(): Promise<Running> {
  const fleet = await startSerfFleet({
    nodes: count,
    app: values.app,
    eventName: values['event-name'],
    ...(values['rpc-auth'] === undefined ? {} : { rpcAuth: values['rpc-auth'] })
  })
  return {
    env: fleet.env,
    names: [...fleet.names, `(${SERF_ACTION_AGENT}: the action's agent, ${fleet.rpcAddr})`],
    summary: () =>
      Promise.all(
        fleet.names.map(async (name) => {
          const runs = await fleet.runs(name)
          return `  ${name}: ${runs.length} run(s), last ${runs.at(-1)?.status ?? 'none'}`
        })
      ),
    stop: () => fleet.stop()
  }
}

const fleet = values.backend === 'serf' ? await startSerf() : await startConsul()

const lines = Object.entries(fleet.env).map(([key, value]) => `${key}=${value}`)
const envFile = values['write-env'] ?? values['env-file']
if (envFile) {
  // Readers poll for a non-empty file: it must appear whole.
  await writeFile(`${envFile}.tmp`, lines.join('\n') + '\n')
  await rename(`${envFile}.tmp`, envFile)
}
console.log(`local fleet up: ${fleet.names.join(', ')}`)
for (const line of lines) console.log(`  ${line}`)

let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  console.log(`${signal}: stopping the local fleet`)
  fleet
    .summary()
    .then((summary) => console.log(summary.join('\n')))
    .then(() => fleet.stop())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      }
    )
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
