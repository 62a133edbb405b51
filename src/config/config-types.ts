// The typed Config every input is read into, and its parts: where the release
// goes in S3, which datacenters, which fleet backend.
import type { WaveSpec } from './waves.ts'
import type { EventFilters } from '../shared/filters.ts'

export interface S3Location {
  bucket: string
  /** key prefix without leading or trailing slash; may be empty */
  prefix: string
  region: string
  /** S3-compatible endpoint; path-style addressing is used with it */
  endpoint?: string
}

/**
 * The `datacenters` input (contract 10), checked but not yet resolved against
 * what Consul lists (plan stage: resolveDatacenters in datacenters.ts).
 * `agent`: unset, the agent's own datacenter, requests without `?dc` (as before);
 * `all`: every datacenter /v1/catalog/datacenters lists, in its order;
 * `named`: these, in this order.
 */
export type DatacenterSelection =
  { kind: 'agent' } | { kind: 'all' } | { kind: 'named'; names: string[] }

/**
 * The fleet backend (contract 13): Consul (events, KV, catalog), or a Serf
 * cluster reached over one agent's RPC at `rpcAddr`, or (`join`, from
 * `serf-join`) over an agent the action starts itself and joins to these
 * member addresses. `tags`: Serf tag → RE2 regex, each anchored as `serf
 * members -tag` anchors it (`^<regex>$`).
 */
export type BackendConfig =
  | { kind: 'consul' }
  | ({ kind: 'serf'; tags: Record<string, string> } & (
      | {
          /** host:port of the agent's RPC (normalised) */
          rpcAddr: string
          /** the agent's rpc_auth key: a secret, never printed */
          rpcAuth?: string
          join?: undefined
        }
      | {
          /** `serf-join`: members' addresses (host:port) the action's own agent joins */
          join: string[]
          rpcAddr?: undefined
          rpcAuth?: undefined
        }
    ))

export interface Config {
  /** absolute directory to package */
  path: string
  app: string
  s3: S3Location
  /** absolute path of the manifest template, if any */
  manifestFile?: string
  /** the manifest input as given, for messages */
  manifestName?: string
  dest?: string
  exclude: string[]
  deployIdFile: string
  deployId: string
  /** true when the deploy ID came from the `deploy-id` input */
  deployIdGiven: boolean
  compressionLevel: number
  consul: { addr: string; token?: string }
  kvPrefix: string
  eventName: string
  filters: EventFilters
  datacenters: DatacenterSelection
  wait: boolean
  timeoutMs: number
  maxFailures: number
  rollbackTo?: string
  /** staged rollout (contract 8): cumulative wave sizes; undefined: one wave, today's event */
  waves?: WaveSpec[]
  /** how long a wave's health checks must stay passing before the next (ms; 0: no gate) */
  bakeMs: number
  autoRollback: boolean
  /** deploy ID of a published release to roll out to the targets not yet on it */
  promote?: string
  /** contract 9: `in-place` syncs into dest; `releases` prepares <dest>/releases/<id>, then switches <dest>/current */
  layout: 'in-place' | 'releases'
  /** releases each node keeps with `layout: releases` (at least 2) */
  keepReleases: number
  /** plan stage only: say what a deploy would do, write nothing */
  dryRun: boolean
  github: { token?: string; checkName: string; environment?: string }
  /** consul-kv-dashboard namespace the nodes also report to (contract 11); off when undefined */
  dashboard?: string
  /** facts about the run, from the runner's environment */
  run: { sha?: string; repository?: string; runUrl?: string }
  /** consul (default) or serf (contract 13) */
  backend: BackendConfig
}
