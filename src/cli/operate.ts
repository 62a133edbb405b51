// The operator commands' reads (contract 12): a few Consul calls, then the pure
// modules (fleet-status.ts, release-history.ts) make rows of them. Nothing is written.
import { readCatalog } from '../consul/await.ts'
import { kvKeys } from '../consul/kv-keys.ts'
import type { OperateConfig } from '../config/config.ts'
import { ConsulClient } from '../consul/client.ts'
import type { FleetStatus } from './fleet-status.ts'
import { fleetStatus } from './fleet-status.ts'
import type { ReleaseHistory } from './release-history.ts'
import { releaseHistory } from './release-history.ts'

/** How long an unreachable Consul is retried before the command says so. */
const OPERATE_RETRY_MS = 15_000

export function operateConsul(config: OperateConfig, info: (line: string) => void): ConsulClient {
  return new ConsulClient({
    addr: config.consul.addr,
    token: config.consul.token,
    retryForMs: OPERATE_RETRY_MS,
    onRetry: (what, attempt, delayMs) =>
      info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`),
    onNotice: info
  })
}

/** `<kv-prefix>/deploy-id`, or undefined when unset or empty. */
async function currentDeployId(
  consul: ConsulClient,
  kvPrefix: string
): Promise<string | undefined> {
  const read = await consul.kvGet(kvKeys(kvPrefix).deployId)
  return read.entries[0]?.value?.trim() || undefined
}

/** The direct children of a prefix (`<prefix><name>`), by name. */
async function children(
  consul: ConsulClient,
  prefix: string
): Promise<Array<{ name: string; value: string | null }>> {
  const read = await consul.kvGet(prefix, { recurse: true })
  return read.entries
    .map((e) => ({ name: e.key.slice(prefix.length), value: e.value }))
    .filter((e) => e.name !== '' && !e.name.includes('/'))
}

export async function readFleetStatus(
  consul: ConsulClient,
  config: OperateConfig
): Promise<FleetStatus> {
  const keys = kvKeys(config.kvPrefix)
  const [current, catalog, results] = await Promise.all([
    currentDeployId(consul, config.kvPrefix),
    readCatalog(consul, config.filters),
    children(consul, keys.results)
  ])
  return fleetStatus({
    app: config.app,
    kvPrefix: config.kvPrefix,
    filters: config.filters,
    current,
    catalog,
    results: results.map((r) => ({ node: r.name, value: r.value }))
  })
}

export async function readReleaseHistory(
  consul: ConsulClient,
  config: OperateConfig
): Promise<ReleaseHistory> {
  const [current, entries] = await Promise.all([
    currentDeployId(consul, config.kvPrefix),
    children(consul, `${config.kvPrefix}/history/`)
  ])
  return releaseHistory({
    app: config.app,
    kvPrefix: config.kvPrefix,
    current,
    entries: entries.map((e) => ({ deployId: e.name, value: e.value }))
  })
}
