// The S3 store and the fleet backend for one run, as the
// action and the CLI both make them: Consul (contract 5-12) or a Serf cluster
// over one agent's RPC (contract 13). `close` ends what the backend holds open.
import type { FleetBackend } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { consulBackend } from '../consul/backend.ts'
import { ConsulClient } from '../consul/client.ts'
import type { S3ObjectStore } from '../publish/s3-store.ts'
import { serfBackend } from '../serf/backend.ts'
import { connectAgent } from '../serf/agent-connect.ts'
import type { Log } from '../shared/log.ts'

export interface Connection {
  store: S3ObjectStore
  backend: FleetBackend
  close(): Promise<void>
}

export async function connect(config: Config, log: Log): Promise<Connection> {
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
  const client = await connectAgent(serf.rpcAddr, serf.rpcAuth)
  log.info(`serf: talking to the agent at ${serf.rpcAddr}`)
  const backend = serfBackend(client, store, {
    app: config.app,
    s3Prefix: config.s3.prefix,
    eventName: config.eventName,
    nodeFilter: config.filters.node,
    tags: serf.tags,
    log
  })
  return { store, backend, close: () => client.close() }
}
