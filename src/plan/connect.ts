// The S3 store and the fleet backend for one run, as the
// action and the CLI both make them: Consul (contract 5-12) or a Serf cluster
// over one agent's RPC (contract 13): the agent at serf-rpc-addr, or with
// serf-join one the action starts, joins and makes leave in `close`.
// `close` ends what the backend holds open.
import type { FleetBackend } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { consulBackend } from '../consul/backend.ts'
import { ConsulClient } from '../consul/client.ts'
import type { S3ObjectStore } from '../publish/s3-store.ts'
import { serfBackend } from '../serf/backend.ts'
import { connectAgent } from '../serf/agent-connect.ts'
import { ownAgentName, startOwnAgent } from '../serf/own-agent.ts'
import type { OwnAgent, SavedAgent } from '../serf/own-agent.ts'
import { connectSerf } from '../serf/rpc-client.ts'
import type { SerfClient } from '../serf/rpc-client.ts'
import type { Log } from '../shared/log.ts'

export interface Connection {
  store: S3ObjectStore
  backend: FleetBackend
  close(): Promise<void>
}

export interface ConnectOptions {
  /** for the own agent's name (the run ID) */
  env?: NodeJS.ProcessEnv
  /** ends the own agent's start and join early */
  signal?: AbortSignal
  /** serf-join: the agent started (the action saves it for its post step), and when it has left */
  onOwnAgent?: (agent: SavedAgent) => void
  onOwnAgentLeft?: () => void
}

export async function connect(
  config: Config,
  log: Log,
  opts: ConnectOptions = {}
): Promise<Connection> {
  // The AWS SDK is most of the bundle: load it once the inputs are known good,
  // so an input error is reported at once.
  const { createS3Store } = await import('../publish/s3-store.ts')
  const store = createS3Store(config.s3)
  const serf = config.backend
  if (serf.kind === 'consul') {
    const consul = new ConsulClient({
      addr: config.consul.addr,
      token: config.consul.token,
      onRetry: (what, attempt, delayMs) =>
        log.info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`),
      onNotice: (line) => log.info(line)
    })
    return { store, backend: consulBackend(consul, config, log), close: async () => {} }
  }
  let agent: SerfAgentLink
  try {
    agent = await serfAgent(serf, log, opts)
  } catch (error) {
    store.destroy()
    throw error
  }
  const backend = serfBackend(agent.client, store, {
    app: config.app,
    s3Prefix: config.s3.prefix,
    eventName: config.eventName,
    nodeFilter: config.filters.node,
    tags: serf.tags,
    log
  })
  return { store, backend, close: agent.close }
}

interface SerfAgentLink {
  client: SerfClient
  close(): Promise<void>
}

/**
 * A client of the agent at serf-rpc-addr, or (serf-join) of an agent started
 * and joined for this run, which `close` makes leave.
 */
export async function serfAgent(
  serf: Extract<Config['backend'], { kind: 'serf' }>,
  log: Log,
  opts: ConnectOptions = {}
): Promise<SerfAgentLink> {
  if (serf.join === undefined) {
    const client = await connectAgent(serf.rpcAddr, serf.rpcAuth)
    log.info(`serf: talking to the agent at ${serf.rpcAddr}`)
    return { client, close: () => client.close() }
  }
  const agent = await startOwnAgent({
    join: serf.join,
    name: ownAgentName(opts.env ?? process.env),
    log,
    signal: opts.signal,
    onStarted: opts.onOwnAgent
  })
  let client: SerfClient
  try {
    client = await connectSerf(agent.rpcAddr, { authKey: agent.authKey })
  } catch (error) {
    await leave(agent, log, opts)
    throw error
  }
  return {
    client,
    close: async () => {
      await client.close()
      await leave(agent, log, opts)
    }
  }
}

async function leave(agent: OwnAgent, log: Log, opts: ConnectOptions): Promise<void> {
  await agent.leave()
  opts.onOwnAgentLeft?.()
  log.info(`serf: the action's agent ${agent.name} left the cluster`)
}
