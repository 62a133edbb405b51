// The S3 store, the Consul client and the fleet backend over it for one run, as
// the action and the CLI both make them.
import type { FleetBackend } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { consulBackend } from '../consul/backend.ts'
import { ConsulClient } from '../consul/client.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'
import type { Log } from '../shared/log.ts'

export async function connect(
  config: Config,
  log: Log
): Promise<{ store: ReleaseStore; consul: ConsulClient; backend: FleetBackend }> {
  // The AWS SDK is most of the bundle: load it once the inputs are known good,
  // so an input error is reported at once.
  const { createS3Store } = await import('../publish/s3-store.ts')
  const store = createS3Store(config.s3)
  const consul = new ConsulClient({
    addr: config.consul.addr,
    token: config.consul.token,
    onRetry: (what, attempt, delayMs) =>
      log.info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`),
    onNotice: (line) => log.info(line)
  })
  return { store, consul, backend: consulBackend(consul, config, log) }
}
