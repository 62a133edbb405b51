// The local fleet for `backend: serf` (contract 13): s3rver plus one real Serf
// agent per node (node-1..N on loopback ports), each running the node's deploy
// handler (stretcher-handler.ts: the simulated stretcher, real tar/rsync/sh),
// plus one agent for the action (`action`, no handlers), whose RPC address
// the tests give as serf-rpc-addr. For tests, `npm run demo -- --backend serf`
// and scripts/fleet.ts. Never bundled.
//   const fleet = await startSerfFleet({ nodes: 3, app: 'web' })
//   // inputs: backend serf, serf-rpc-addr FLEET_SERF_RPC_ADDR, serf-tags FLEET_SERF_TAGS, ...
//   await fleet.stop() // no process, no temp dir left
// Each node's agent runs, as the README tells a real node to:
//   -event-handler "user:<event>=<handler>"   (unless deaf)
//   -event-handler "query:<event>=<handler>"  (staged rollouts; unless deaf)
//   -event-handler "query:stretcher-<app>-log=tail -c 900 <log>"
// with the tag role=web (and the spec's tags, e.g. canary). A node added later
// boots as the README's boot script does: `aws s3 cp <s3-url>/<app>/latest - | stretcher`.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startConditionalS3 } from '../s3-conditional.ts'
import { startLocalS3 } from '../s3.ts'
import type { LocalS3 } from '../s3.ts'
import { startSerfAgents } from './agents.ts'
import type { SerfAgents } from './agents.ts'
import { LOG_FILE, nodePaths } from './stretcher-handler.ts'
import type { SerfRunRecord } from './stretcher-handler.ts'

export type { SerfRunRecord } from './stretcher-handler.ts'

export const SERF_ACTION_AGENT = 'action'
export const SERF_FLEET_TAGS = { role: 'web' } as const

const HANDLER = fileURLToPath(new URL('./stretcher-handler.ts', import.meta.url))

export interface SerfFleetNodeSpec {
  name: string
  /** no deploy handlers: the events reach the agent, nothing runs */
  deaf?: boolean
  /** deploys fail at a simulated broken step: every one, or these deploy IDs */
  fail?: boolean | string[]
  /** the handler sleeps this long before each run */
  delayMs?: number
  /** more Serf tags (role=web is always set), e.g. { canary: 'true' } */
  tags?: Record<string, string>
  /** more environment for the node's stretcher (templates and commands) */
  env?: Record<string, string>
}

export interface SerfFleetOptions {
  /** a count (node-1..N) or explicit nodes; default 3 */
  nodes?: number | SerfFleetNodeSpec[]
  /** the application: its log query is stretcher-<app>-log, its latest <s3-url>/<app>/latest; default app */
  app?: string
  /** the user event (and query) name of the deploy handler; default deploy */
  eventName?: string
  /** rpc_auth of every agent, the action's too */
  rpcAuth?: string
  /** s3rver bucket; default releases */
  bucket?: string
  /** the prefix of the s3-url the fleet suggests (s3://<bucket>/<prefix>); default releases */
  s3Prefix?: string
  /** dest the fleet suggests in env.FLEET_DEST; default /srv/app */
  dest?: string
  /** memberlist timing; default lan (Serf's) */
  profile?: 'lan' | 'local'
}

export interface SerfFleet {
  s3: LocalS3
  agents: SerfAgents
  /** the deploy nodes, in order (the action's agent is not among them) */
  readonly names: string[]
  /** the action's agent's RPC address (serf-rpc-addr) */
  readonly rpcAddr: string
  readonly rpcAuth: string | undefined
  /** s3://<bucket>/<prefix>, the s3-url to deploy with */
  readonly s3Url: string
  /** AWS_* for s3rver, FLEET_BACKEND=serf, FLEET_S3_ENDPOINT, FLEET_S3_BUCKET, FLEET_S3_URL, FLEET_APP, FLEET_DEST, FLEET_EVENT_NAME, FLEET_SERF_RPC_ADDR, FLEET_SERF_TAGS (FLEET_SERF_RPC_AUTH) */
  env: Record<string, string>
  /** <node root><dest> */
  nodeTree(name: string, dest?: string): string
  /** the node's stretcher log (what the log query tails) */
  logFile(name: string): string
  log(name: string): Promise<string>
  /** the node's completed handler runs, in order */
  runs(name: string): Promise<SerfRunRecord[]>
  /** until the node has completed `count` runs; resolves with the last */
  waitForRuns(name: string, count: number, timeoutMs?: number): Promise<SerfRunRecord>
  /** a node that joins now: its agent starts, then it boots from <s3-url>/<app>/latest */
  addNode(spec: SerfFleetNodeSpec | string): Promise<SerfRunRecord | undefined>
  /** every agent, handler and boot run; s3rver; every temp dir */
  stop(): Promise<void>
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

export async function startSerfFleet(opts: SerfFleetOptions = {}): Promise<SerfFleet> {
  const app = opts.app ?? 'app'
  const eventName = opts.eventName ?? 'deploy'
  const dest = opts.dest ?? '/srv/app'
  const s3Prefix = opts.s3Prefix ?? 'releases'
  const specs: SerfFleetNodeSpec[] =
    typeof opts.nodes === 'object'
      ? opts.nodes
      : Array.from({ length: opts.nodes ?? 3 }, (_, i) => ({ name: `node-${i + 1}` }))
  const specOf = new Map(specs.map((s) => [s.name, s]))
  if (specOf.size !== specs.length || specOf.has(SERF_ACTION_AGENT))
    throw new Error(
      `startSerfFleet: node names must be unique and not ${SERF_ACTION_AGENT} (${specs.map((s) => s.name).join(', ')})`
    )

  const s3 = await startLocalS3(opts.bucket)
  // The action's deploy lock is a conditional write, which s3rver ignores: the
  // action talks to S3 through a proxy that honours If-None-Match, as S3 does.
  const conditional = await startConditionalS3(s3.endpoint)
  const boots = new Set<ChildProcess>()
  let agents: SerfAgents | undefined
  const stop = async (): Promise<void> => {
    for (const child of boots) if (child.pid !== undefined) killGroup(child.pid)
    await agents?.stop()
    await conditional.stop()
    await s3.stop()
  }

  // Paths under the node's dir (FLEET_NODE_DIR, which agents.ts makes): root, tmp, log, runs.
  let base = ''
  const nodeDir = (name: string): string => join(base, name)
  const paths = (name: string) => nodePaths(nodeDir(name))
  const handlerCommand = `${shellQuote(process.execPath)} ${shellQuote(HANDLER)}`
  const logQuery = `stretcher-${app}-log`

  const nodeEnv = (name: string): Record<string, string> => {
    const spec = specOf.get(name) ?? { name }
    // The node's files are under FLEET_NODE_DIR (agents.ts sets it): the handler finds them there.
    return {
      FLEET_NODE_NAME: name,
      FLEET_S3_ENDPOINT: s3.endpoint,
      FLEET_NODE_FAIL: spec.fail === undefined ? '' : JSON.stringify(spec.fail),
      FLEET_NODE_DELAY_MS: String(spec.delayMs ?? 0),
      FLEET_NODE_ENV: JSON.stringify(spec.env ?? {})
    }
  }

  try {
    agents = await startSerfAgents({
      nodes: specs.length + 1,
      names: [...specs.map((s) => s.name), SERF_ACTION_AGENT],
      ...(opts.rpcAuth === undefined ? {} : { rpcAuth: opts.rpcAuth }),
      profile: opts.profile ?? 'lan',
      eventHandlers: (name) => {
        if (name === SERF_ACTION_AGENT) return []
        const spec = specOf.get(name) ?? { name }
        const deploy = spec.deaf
          ? []
          : [`user:${eventName}=${handlerCommand}`, `query:${eventName}=${handlerCommand}`]
        // Serf runs a handler with /bin/sh -c, in the agent's environment
        return [...deploy, `query:${logQuery}=tail -c 900 "$FLEET_NODE_DIR/${LOG_FILE}"`]
      },
      tags: (name) =>
        name === SERF_ACTION_AGENT ? {} : { ...SERF_FLEET_TAGS, ...specOf.get(name)?.tags },
      env: (name) => (name === SERF_ACTION_AGENT ? {} : nodeEnv(name))
    })
  } catch (err) {
    await stop()
    throw err
  }
  const serf = agents
  base = serf.dir
  // agents.ts made each node's dir before its agent started; the handler needs the rest
  // (a handler runs only on an event, after this).
  const prepare = async (name: string): Promise<void> => {
    const p = paths(name)
    await mkdir(p.root, { recursive: true })
    await mkdir(p.tmp, { recursive: true })
    await writeFile(p.log, '', { flag: 'a' })
  }
  await Promise.all(specs.map((s) => prepare(s.name)))

  const s3Url = `s3://${s3.bucket}${s3Prefix === '' ? '' : `/${s3Prefix}`}`
  const latestUrl = `${s3Url}/${app}/latest`
  const rpcAddr = serf.rpcAddr(SERF_ACTION_AGENT)
  const names = specs.map((s) => s.name)

  const runs = async (name: string): Promise<SerfRunRecord[]> => {
    if (!specOf.has(name)) throw new Error(`no Serf fleet node ${name}`)
    const text = await readFile(paths(name).runs, 'utf8').catch(() => '')
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as SerfRunRecord)
  }

  /** `aws s3 cp <latest> - | stretcher`, with the node's environment (its agent's SERF_RPC_ADDR). */
  const boot = async (name: string): Promise<void> => {
    const child = spawn(process.execPath, [HANDLER, '--boot', latestUrl], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SERF_RPC_ADDR: serf.rpcAddr(name),
        ...(opts.rpcAuth === undefined ? {} : { SERF_RPC_AUTH: opts.rpcAuth }),
        FLEET_NODE_DIR: nodeDir(name),
        ...nodeEnv(name)
      },
      stdio: 'ignore',
      // its own group, like an agent's: stop() kills it and what it started
      detached: true
    })
    boots.add(child)
    await new Promise<void>((resolve) => {
      child.once('error', () => resolve())
      child.once('exit', () => resolve())
    })
    boots.delete(child)
  }

  return {
    s3,
    agents: serf,
    names,
    rpcAddr,
    rpcAuth: opts.rpcAuth,
    s3Url,
    env: {
      ...s3.env,
      FLEET_BACKEND: 'serf',
      FLEET_S3_ENDPOINT: conditional.endpoint,
      FLEET_S3_BUCKET: s3.bucket,
      FLEET_S3_URL: s3Url,
      FLEET_APP: app,
      FLEET_DEST: dest,
      FLEET_EVENT_NAME: eventName,
      FLEET_SERF_RPC_ADDR: rpcAddr,
      FLEET_SERF_TAGS: Object.entries(SERF_FLEET_TAGS)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      ...(opts.rpcAuth === undefined ? {} : { FLEET_SERF_RPC_AUTH: opts.rpcAuth })
    },
    nodeTree: (name, path = dest) => join(paths(name).root, path),
    logFile: (name) => paths(name).log,
    log: (name) => readFile(paths(name).log, 'utf8').catch(() => ''),
    runs,
    async waitForRuns(name, count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const done = await runs(name)
        if (done.length >= count) return done[count - 1]!
        if (Date.now() > deadline)
          throw new Error(`${name}: ${done.length} of ${count} runs after ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    async addNode(input) {
      const spec: SerfFleetNodeSpec = typeof input === 'string' ? { name: input } : input
      if (specOf.has(spec.name) || spec.name === SERF_ACTION_AGENT)
        throw new Error(`addNode: node ${spec.name} exists`)
      specOf.set(spec.name, spec)
      await mkdir(nodeDir(spec.name), { recursive: true })
      await prepare(spec.name)
      await serf.add(spec.name)
      names.push(spec.name)
      const before = (await runs(spec.name)).length
      await boot(spec.name)
      const after = await runs(spec.name)
      return after.length > before ? after[after.length - 1] : undefined
    },
    stop
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Start a Serf fleet, run `body` with it, and stop it whatever happens. */
export async function withSerfFleet<T>(
  opts: SerfFleetOptions,
  body: (fleet: SerfFleet) => Promise<T>
): Promise<T> {
  const fleet = await startSerfFleet(opts)
  try {
    return await body(fleet)
  } finally {
    await fleet.stop()
  }
}
