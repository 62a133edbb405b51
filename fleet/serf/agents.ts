// N real Serf agents on loopback, one per simulated node (tests and demo only):
//   const serf = await startSerfAgents({ nodes: 3, eventHandlers: ['user:deploy=stretcher'] })
//   connectSerf(serf.rpcAddr('node-1'))
//   await serf.kill('node-2'); await serf.restart('node-2')
//   await serf.stop() // every agent and handler killed, temp dirs removed
// Nodes are node-1..N, joined through node-1. Each agent's handlers get
// SERF_RPC_ADDR (and SERF_RPC_AUTH) of their own agent and FLEET_NODE_DIR, the
// node's temp dir (its log, tags file and config live there too).
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectSerf } from '../../src/serf/rpc-client.ts'
import type { SerfClient } from '../../src/serf/rpc-client.ts'
import { AgentProcess, removeOnExit } from './agent-process.ts'
import { freePort } from './free-port.ts'

type PerNode<T> = T | ((name: string) => T)

export interface SerfAgentsOptions {
  nodes: number
  /** the agents' names; default node-1..N (`nodes` of them) */
  names?: string[]
  /** rpc_auth of every agent */
  rpcAuth?: string
  /** `-event-handler` values, e.g. `user:deploy=cmd`, `query:log=cmd` */
  eventHandlers?: PerNode<string[]>
  /** tags at the first start */
  tags?: PerNode<Record<string, string>>
  /** more environment for the agents' handlers */
  env?: PerNode<Record<string, string>>
  /** memberlist timing: `lan` (Serf's default), or `local` (failures seen sooner) */
  profile?: 'lan' | 'local' | 'wan'
  /** ms for starting and for converging; default 60 s (a loaded 2-core machine needed more than 20 s once) */
  timeoutMs?: number
}

export interface SerfAgents {
  /** node-1..N */
  readonly names: string[]
  /** the temp dir holding every node's dir */
  readonly dir: string
  rpcAddr(name: string): string
  bindAddr(name: string): string
  /** the node's temp dir (FLEET_NODE_DIR of its handlers) */
  nodeDir(name: string): string
  /** the node's agent log so far */
  log(name: string): string
  running(name: string): boolean
  /** SIGKILL to the agent and its handlers */
  kill(name: string): Promise<void>
  /** SIGSTOP to the agent and its handlers: connections stay open, nothing answers */
  pause(name: string): Promise<void>
  /** SIGCONT after pause() */
  resume(name: string): Promise<void>
  /** starts a killed agent again (same ports, tags file, config), joining the running ones */
  restart(name: string): Promise<void>
  /** starts one more agent `name` (its handlers, tags and env as the options give them), joining the running ones */
  add(name: string): Promise<void>
  /** until every running agent sees every running agent alive */
  waitConverged(timeoutMs?: number): Promise<void>
  /** kills everything and removes the temp dirs; safe to call twice */
  stop(): Promise<void>
}

const ATTEMPTS = 5
const pick = <T>(value: PerNode<T> | undefined, name: string, fallback: T): T =>
  value === undefined
    ? fallback
    : typeof value === 'function'
      ? (value as (n: string) => T)(name)
      : value

export async function startSerfAgents(opts: SerfAgentsOptions): Promise<SerfAgents> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const names = opts.names
    ? [...opts.names]
    : Array.from({ length: opts.nodes }, (_, i) => `node-${i + 1}`)
  if (new Set(names).size !== names.length)
    throw new Error(`startSerfAgents: a name is listed twice (${names.join(', ')})`)
  const dir = await mkdtemp(join(tmpdir(), 'serf-agents-'))
  removeOnExit(dir)
  const agents = new Map<string, AgentProcess>()
  let stopped = false

  const agentOf = (name: string): AgentProcess => {
    const agent = agents.get(name)
    if (!agent) throw new Error(`no Serf agent ${name} (nodes: ${names.join(', ')})`)
    return agent
  }

  /** Starts `name` on fresh ports, again on fresh ones when another process took them first. */
  const startNew = async (name: string, peers: string[]): Promise<void> => {
    const nodeDir = join(dir, name)
    await mkdir(nodeDir, { recursive: true })
    for (let attempt = 1; ; attempt++) {
      const [bindPort, rpcPort] = await Promise.all([freePort(), freePort()])
      const rpcAddr = `127.0.0.1:${rpcPort}`
      const agent = new AgentProcess({
        name,
        dir: nodeDir,
        bindPort,
        rpcPort,
        rpcAuth: opts.rpcAuth,
        eventHandlers: pick(opts.eventHandlers, name, []),
        profile: opts.profile ?? 'lan',
        env: {
          ...pick(opts.env, name, {}),
          SERF_RPC_ADDR: rpcAddr,
          ...(opts.rpcAuth === undefined ? {} : { SERF_RPC_AUTH: opts.rpcAuth }),
          FLEET_NODE_DIR: nodeDir
        }
      })
      if (attempt === 1) await agent.writeConfig(pick(opts.tags, name, {}))
      agents.set(name, agent)
      try {
        await agent.start(peers, timeoutMs)
        return
      } catch (err) {
        if (attempt >= ATTEMPTS || !/address already in use/i.test(agent.log())) throw err
      }
    }
  }

  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await Promise.all([...agents.values()].map((a) => a.kill()))
    await rm(dir, { recursive: true, force: true })
    removeOnExit(dir, false)
  }

  const clients = async <T>(
    use: (client: SerfClient, name: string) => Promise<T>
  ): Promise<T[]> => {
    const running = names.filter((n) => agents.get(n)?.running)
    return Promise.all(
      running.map(async (name) => {
        const client = await connectSerf(agentOf(name).rpcAddr, { authKey: opts.rpcAuth })
        try {
          return await use(client, name)
        } finally {
          await client.close()
        }
      })
    )
  }

  const waitConverged = async (wait = timeoutMs): Promise<void> => {
    const deadline = Date.now() + wait
    for (;;) {
      const running = names.filter((n) => agents.get(n)?.running)
      const views = await clients(async (client, name) => {
        const alive = new Set(
          (await client.members()).filter((m) => m.status === 'alive').map((m) => m.name)
        )
        const missing = running.filter((n) => !alive.has(n))
        return missing.length === 0 ? '' : `${name} does not see ${missing.join(', ')} alive`
      })
      const lagging = views.filter((v) => v !== '')
      if (lagging.length === 0) return
      if (Date.now() > deadline) {
        throw new Error(`Serf agents did not converge within ${wait} ms: ${lagging.join('; ')}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  try {
    const [first, ...rest] = names
    if (first === undefined) throw new Error('startSerfAgents: nodes must be at least 1')
    await startNew(first, [])
    const seed = agentOf(first).bindAddr
    await Promise.all(rest.map((name) => startNew(name, [seed])))
    await waitConverged()
  } catch (err) {
    await stop()
    throw err
  }

  return {
    names,
    dir,
    rpcAddr: (name) => agentOf(name).rpcAddr,
    bindAddr: (name) => agentOf(name).bindAddr,
    nodeDir: (name) => join(dir, name),
    log: (name) => agentOf(name).log(),
    running: (name) => agentOf(name).running,
    kill: (name) => agentOf(name).kill(),
    pause: (name) => agentOf(name).pause(true),
    resume: (name) => agentOf(name).pause(false),
    async restart(name) {
      const agent = agentOf(name)
      if (agent.running) throw new Error(`Serf agent ${name} is running: kill it first`)
      const peers = names.filter((n) => n !== name && agents.get(n)?.running)
      await agent.start(
        peers.map((n) => agentOf(n).bindAddr),
        timeoutMs
      )
    },
    async add(name) {
      if (stopped) throw new Error('startSerfAgents: stopped')
      if (agents.has(name)) throw new Error(`Serf agent ${name} exists`)
      const peers = names.filter((n) => agents.get(n)?.running).map((n) => agentOf(n).bindAddr)
      names.push(name)
      await startNew(name, peers)
    },
    waitConverged,
    stop
  }
}
