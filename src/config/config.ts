// Every input is read and checked here, once, into one typed Config, before the
// run touches S3 or Consul. Each error is one line naming the input (contract 2b).
import { normalize, resolve } from 'node:path'
import { parseDeployIdFile } from './deploy-id-file.ts'
import { DEPLOY_ID_PATTERN, deployIdProblem, generateDeployId } from './deploy-id.ts'
import type { WaveSpec } from './waves.ts'
import { parseBakeTime, parseWaves } from './waves.ts'
import { formatGoDuration, parseGoDuration } from '../shared/duration.ts'
import { InputError, quote } from '../shared/errors.ts'
import type { EventFilters } from '../shared/filters.ts'
import { compileFilter } from '../shared/filters.ts'

/** Every input of action.yml; a test keeps this list and action.yml identical. */
export const INPUT_NAMES = [
  'path',
  'app',
  's3-url',
  'aws-region',
  's3-endpoint',
  'manifest',
  'dest',
  'exclude',
  'deploy-id-file',
  'deploy-id',
  'compression-level',
  'consul-addr',
  'consul-token',
  'kv-prefix',
  'event-name',
  'node-filter',
  'service-filter',
  'tag-filter',
  'datacenters',
  'wait',
  'timeout',
  'max-failures',
  'rollback-to',
  'waves',
  'bake-time',
  'auto-rollback',
  'promote',
  'layout',
  'keep-releases',
  'dry-run',
  'github-token',
  'check-name',
  'environment',
  'dashboard',
  'backend',
  'serf-rpc-addr',
  'serf-rpc-auth',
  'serf-join',
  'serf-tags'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

/** Defaults applied when an input is empty (the runner applies action.yml's; the CLI does not). */
export const INPUT_DEFAULTS: Partial<Record<InputName, string>> = {
  path: '.',
  'deploy-id-file': 'DEPLOY_ID',
  'compression-level': '1',
  'event-name': 'deploy',
  wait: 'true',
  timeout: '10m',
  'max-failures': '0',
  'bake-time': '0s',
  'auto-rollback': 'false',
  layout: 'in-place',
  'keep-releases': '5',
  'dry-run': 'false',
  backend: 'consul'
}

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

export type InputReader = (name: InputName) => string

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const KEY_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/
const APP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/
// agent/config/builder.go: validateBasicName("datacenter", ...) with reBasicName
// `^[a-z0-9_-]+$` ("datacenter can only contain lowercase alphanumeric, - or _
// characters."), after the builder lowercased the setting (strings.ToLower): a
// datacenter is always named in lower case, and `?dc=DC1` finds no route.
const DATACENTER = /^[a-z0-9_-]+$/

function parseS3Url(raw: string): { bucket: string; prefix: string } {
  const bad = () =>
    new InputError('s3-url', `must look like s3://bucket/prefix (got ${quote(raw)})`)
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(raw)
  if (!match) throw bad()
  const bucket = match[1] as string
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw new InputError(
      's3-url',
      `has an invalid bucket name ${quote(bucket)} (3-63 lower-case letters, digits, dots, hyphens)`
    )
  const prefix = (match[2] ?? '').replace(/\/+$/, '')
  if (prefix !== '') {
    for (const segment of prefix.split('/')) {
      // stretcher URL-decodes the key and the event payload must stay small:
      // keep keys to characters that need no escaping anywhere.
      if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..')
        throw new InputError(
          's3-url',
          `prefix must be path segments of letters, digits and !_.*'()- (got ${quote(raw)})`
        )
    }
  }
  return { bucket, prefix }
}

function parseConsulAddr(raw: string): string {
  // The Consul CLI accepts a bare host:port and reads it as http (contract 1).
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new InputError(
      'consul-addr',
      `must be http://host:port, https://host:port or host:port (got ${quote(raw)})`
    )
  }
  if (url.username || url.password)
    throw new InputError('consul-addr', 'must not carry credentials; use consul-token')
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InputError('consul-addr', `must use http or https (got ${quote(raw)})`)
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
    // Consul reads ?token= too: never quote a query or fragment, which may carry one.
    throw new InputError(
      'consul-addr',
      `must be only scheme, host and port (got ${quote(`${url.protocol}//${url.host}${url.pathname}${url.search || url.hash ? '?…' : ''}`)})`
    )
  return `${url.protocol}//${url.host}`
}

function parseRegexFilter(name: InputName, raw: string): string | undefined {
  if (raw === '') return undefined
  // Consul compiles filters with Go's RE2 and refuses the event otherwise: say so
  // here, in Go's words, before anything is written (contract 2b).
  try {
    compileFilter(raw)
  } catch (error) {
    const why = (error as Error).message
    const perlOnly =
      /unsupported Perl syntax|invalid named capture: `\(\?<[=!]|invalid escape sequence: `\\[1-9]/.test(
        why
      )
    throw new InputError(
      name,
      `is not a valid regular expression for Consul (Go's RE2): ${why}${perlOnly ? ' (RE2 has no lookaround or backreferences)' : ''}`
    )
  }
  return raw
}

/** `datacenters`: comma- (or newline-) separated Consul datacenter names, or `all`. */
export function parseDatacenters(raw: string): DatacenterSelection {
  const names = raw
    .split(/[,\r\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== '')
  if (names.length === 0) return { kind: 'agent' }
  if (names.includes('all')) {
    if (names.length > 1)
      throw new InputError(
        'datacenters',
        `is either all or a list of datacenter names, not both (got ${quote(raw)})`
      )
    return { kind: 'all' }
  }
  for (const name of names) {
    if (DATACENTER.test(name)) continue
    const lower = name.toLowerCase()
    throw new InputError(
      'datacenters',
      DATACENTER.test(lower)
        ? `names ${quote(name)}: Consul datacenter names are lower case (did you mean ${quote(lower)}?)`
        : `names ${quote(name)}: a Consul datacenter name is lower-case letters, digits, - and _`
    )
  }
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice !== undefined) throw new InputError('datacenters', `names ${quote(twice)} twice`)
  return { kind: 'named', names }
}

function parseBoolean(name: InputName, raw: string): boolean {
  // The YAML 1.2 core schema booleans, as core.getBooleanInput accepts them.
  if (['true', 'True', 'TRUE'].includes(raw)) return true
  if (['false', 'False', 'FALSE'].includes(raw)) return false
  throw new InputError(name, `must be true or false (got ${quote(raw)})`)
}

function parseInteger(name: InputName, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new InputError(name, `must be a whole number from ${min} to ${max} (got ${quote(raw)})`)
  return Number(raw)
}

function parseKvPrefix(raw: string): string {
  const prefix = raw.replace(/^\/+|\/+$/g, '')
  if (
    prefix === '' ||
    prefix
      .split('/')
      .some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s))
  )
    throw new InputError(
      'kv-prefix',
      `must be path segments of letters, digits and ._- (got ${quote(raw)})`
    )
  return prefix
}

// consul-kv-dashboard splits a key on "/" and reads the part after the namespace
// as the category (dashboard.go NewItem): the namespace must be one segment.
function parseDashboard(raw: string, kvPrefix: string): string | undefined {
  if (raw === '') return undefined
  if (!/^[A-Za-z0-9._-]+$/.test(raw) || raw === '.' || raw === '..')
    throw new InputError(
      'dashboard',
      `must be one KV path segment (the consul-kv-dashboard namespace, e.g. dashboard) of letters, digits and ._- (got ${quote(raw)})`
    )
  // consul-kv-dashboard shows every key under its namespace as a category: the
  // app's own keys must not be among them, nor the dashboard's among the app's.
  if (`${kvPrefix}/`.startsWith(`${raw}/`))
    throw new InputError(
      'dashboard',
      `must be a namespace apart from kv-prefix ${quote(kvPrefix)}: the dashboard would show every key under it (got ${quote(raw)})`
    )
  return raw
}

function parseDest(raw: string): string | undefined {
  if (raw === '') return undefined
  if (!raw.startsWith('/') || /[\0\r\n]/.test(raw))
    throw new InputError('dest', `must be an absolute directory on the nodes (got ${quote(raw)})`)
  if (raw.includes('{{'))
    throw new InputError(
      'dest',
      `must not contain "{{": stretcher would evaluate it as a template (got ${quote(raw)})`
    )
  if (normalize(raw) === '/')
    throw new InputError('dest', 'must not be "/": rsync --delete would empty the root')
  return raw
}

type Getter = (name: InputName) => string

function readApp(get: Getter, env: NodeJS.ProcessEnv): string {
  const app = get('app') || env.GITHUB_REPOSITORY?.split('/')[1] || ''
  if (app === '')
    throw new InputError(
      'app',
      'is required outside GitHub Actions (no GITHUB_REPOSITORY to take the name from)'
    )
  if (!APP.test(app))
    throw new InputError(
      'app',
      `must be letters, digits and ._- (at most 64, starting with a letter or digit; got ${quote(app)})`
    )
  return app
}

function readConsul(get: Getter, env: NodeJS.ProcessEnv): Config['consul'] {
  const addr = parseConsulAddr(
    get('consul-addr') || env.CONSUL_HTTP_ADDR || 'http://127.0.0.1:8500'
  )
  const token = get('consul-token') || env.CONSUL_HTTP_TOKEN || undefined
  if (token !== undefined && /[\r\n]/.test(token))
    // Never quote a token's value, not even in an error.
    throw new InputError('consul-token', 'must be a single line')
  return { addr, token }
}

function readFilters(get: Getter): EventFilters {
  const filters: EventFilters = {
    node: parseRegexFilter('node-filter', get('node-filter')),
    service: parseRegexFilter('service-filter', get('service-filter')),
    tag: parseRegexFilter('tag-filter', get('tag-filter'))
  }
  if (filters.tag !== undefined && filters.service === undefined)
    // Consul refuses it: "Cannot provide tag filter without service filter".
    throw new InputError(
      'tag-filter',
      'needs service-filter (Consul filters tags within a service)'
    )
  return filters
}

/** The Serf inputs (contract 13): given with backend consul, each is refused. */
const SERF_INPUTS = [
  'serf-rpc-addr',
  'serf-rpc-auth',
  'serf-join',
  'serf-tags'
] as const satisfies readonly InputName[]

/** Consul-only inputs that would change what a Serf run does if quietly ignored. */
const CONSUL_ONLY: ReadonlyArray<[InputName, string]> = [
  ['service-filter', 'Serf members have no services: pick them with serf-tags (and node-filter)'],
  ['tag-filter', 'Serf members have no services: pick them with serf-tags (and node-filter)'],
  ['datacenters', 'a Serf cluster is one gossip pool'],
  ['dashboard', 'consul-kv-dashboard reads Consul KV']
]

/** A Serf tag name in `serf-tags`: what `-tag key=value` and SERF_TAG_<KEY> carry safely. */
const SERF_TAG_KEY = /^[A-Za-z0-9._:/-]+$/

function parseBackendKind(raw: string): 'consul' | 'serf' {
  if (raw !== 'consul' && raw !== 'serf')
    throw new InputError('backend', `must be consul or serf (got ${quote(raw)})`)
  return raw
}

/** `host`, `host:port` or `[v6]:port`, as serf's CLI and `serf join` take an address. */
const SERF_ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/

function parseSerfAddress(raw: string, defaultPort: number): string | undefined {
  const m = SERF_ADDRESS.exec(raw)
  const port = m?.[3] === undefined ? defaultPort : Number(m[3])
  if (!m || !(port > 0 && port < 65536)) return undefined
  return m[1] === undefined ? `${m[2]}:${port}` : `[${m[1]}]:${port}`
}

/** host:port (IPv6 in brackets) of a Serf agent's RPC; the port defaults to 7373 as the serf CLI's. */
function parseSerfRpcAddr(raw: string): string {
  const addr = parseSerfAddress(raw, 7373)
  if (addr === undefined)
    throw new InputError(
      'serf-rpc-addr',
      `must be host:port of a Serf agent's RPC, e.g. 127.0.0.1:7373 (got ${quote(raw)})`
    )
  return addr
}

/** `serf-join`: comma- (or newline-) separated member addresses, host or host:port, as `serf join` takes them. */
function parseSerfJoin(raw: string): string[] | undefined {
  const addrs = raw
    .split(/[,\r\n]/)
    .map((addr) => addr.trim())
    .filter((addr) => addr !== '')
  if (addrs.length === 0) return undefined
  return addrs.map((addr) => {
    const normalised = parseSerfAddress(addr, 7946)
    if (normalised === undefined)
      throw new InputError(
        'serf-join',
        `must be comma-separated member addresses, host or host:port (got ${quote(addr)})`
      )
    return normalised
  })
}

/**
 * `serf-tags`: comma- (or newline-) separated `key=regex` pairs. A regex may
 * hold a comma itself (`a{1,3}`): a piece that does not start with `key=`
 * continues the one before. Each regex is checked as Serf compiles it for
 * `serf members -tag`: Go's RE2, anchored as `^<regex>$`.
 */
export function parseSerfTags(raw: string): Record<string, string> {
  const pairs: string[] = []
  for (const line of raw.split(/\r?\n/)) {
    const lineStart = pairs.length
    for (const piece of line.split(',')) {
      // Within a line, a piece that is not `key=...` continues the regex before it.
      if (pairs.length > lineStart && !/^\s*[^\s=,]+=/.test(piece) && piece.trim() !== '')
        pairs[pairs.length - 1] += `,${piece}`
      else pairs.push(piece)
    }
  }
  const tags: Record<string, string> = {}
  for (const pair of pairs.map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq).trim()
    if (eq < 0 || !SERF_TAG_KEY.test(key))
      throw new InputError(
        'serf-tags',
        `must be comma-separated key=regex pairs, the key letters, digits and ._:/- (got ${quote(pair)})`
      )
    const regex = pair.slice(eq + 1).trim()
    if (regex === '')
      throw new InputError(
        'serf-tags',
        `has no regular expression for ${quote(key)} (.* takes any value of the tag)`
      )
    if (Object.hasOwn(tags, key))
      throw new InputError('serf-tags', `names the tag ${quote(key)} twice`)
    try {
      compileFilter(`^${regex}$`)
    } catch (error) {
      throw new InputError(
        'serf-tags',
        `has an invalid regular expression for ${quote(key)} (Go's RE2, as Serf compiles it): ${(error as Error).message}`
      )
    }
    tags[key] = regex
  }
  return tags
}

/**
 * `backend` and the Serf inputs. Inputs of the other backend are refused, one
 * line naming the input: quietly ignored, they would pick other nodes than
 * the workflow says. The environment (SERF_RPC_ADDR, SERF_RPC_AUTH) is only
 * read with backend serf.
 */
function readBackend(get: Getter, env: NodeJS.ProcessEnv, consulOnly = CONSUL_ONLY): BackendConfig {
  const kind = parseBackendKind(get('backend') || 'consul')
  if (kind === 'consul') {
    for (const name of SERF_INPUTS)
      if (get(name) !== '')
        throw new InputError(name, 'is only read with backend: serf (backend is consul)')
    return { kind }
  }
  for (const [name, why] of consulOnly)
    if (get(name) !== '')
      throw new InputError(name, `is Consul-only and cannot be used with backend: serf (${why})`)
  const join = parseSerfJoin(get('serf-join'))
  if (join && get('serf-rpc-addr') !== '')
    throw new InputError(
      'serf-rpc-addr',
      'cannot be combined with serf-join: with serf-join the action talks to its own agent'
    )
  if (join && get('serf-rpc-auth') !== '')
    throw new InputError(
      'serf-rpc-auth',
      'cannot be combined with serf-join: the action gives its own agent a key of its own'
    )
  if (join) return { kind, join, tags: parseSerfTags(get('serf-tags')) }
  const rpcAddr = parseSerfRpcAddr(get('serf-rpc-addr') || env.SERF_RPC_ADDR || '127.0.0.1:7373')
  const rpcAuth = get('serf-rpc-auth') || env.SERF_RPC_AUTH || undefined
  if (rpcAuth !== undefined && /[\r\n]/.test(rpcAuth))
    // Never quote the key, not even in an error.
    throw new InputError('serf-rpc-auth', 'must be a single line')
  return {
    kind,
    rpcAddr,
    ...(rpcAuth === undefined ? {} : { rpcAuth }),
    tags: parseSerfTags(get('serf-tags'))
  }
}

const getter =
  (input: InputReader): Getter =>
  (name) => {
    const value = input(name).trim()
    return value === '' ? (INPUT_DEFAULTS[name] ?? '') : value
  }

/** The inputs the operator commands take (contract 12): where the fleet is, and which nodes. */
export const OPERATE_INPUTS = [
  'app',
  'kv-prefix',
  'consul-addr',
  'consul-token',
  'node-filter',
  'service-filter',
  'tag-filter',
  'backend',
  'serf-rpc-addr',
  'serf-rpc-auth',
  'serf-join',
  'serf-tags',
  's3-url',
  's3-endpoint',
  'aws-region'
] as const satisfies readonly InputName[]
export type OperateInputName = (typeof OPERATE_INPUTS)[number]

/**
 * What `status` and `history` need: the app, its KV prefix, Consul, the
 * filters, the backend; with backend serf the releases are in S3 (`s3`).
 */
export type OperateConfig = Pick<Config, 'app' | 'kvPrefix' | 'consul' | 'filters' | 'backend'> & {
  s3?: S3Location
}

const S3_INPUTS = ['s3-url', 's3-endpoint', 'aws-region'] as const satisfies readonly InputName[]

/** Read the operator commands' inputs, with the same rules and messages as a deploy's. */
export function readOperateConfig(
  input: (name: OperateInputName) => string,
  env: NodeJS.ProcessEnv
): OperateConfig {
  const only = new Set<InputName>(OPERATE_INPUTS)
  const get = getter((name) => (only.has(name) ? input(name as OperateInputName) : ''))
  const app = readApp(get, env)
  const consul = readConsul(get, env)
  const backend = readBackend(get, env)
  const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`)
  const filters = readFilters(get)
  if (backend.kind === 'consul') {
    for (const name of S3_INPUTS)
      if (get(name) !== '')
        throw new InputError(
          name,
          'is only read with backend: serf (with Consul the releases are read from KV)'
        )
    return { app, kvPrefix, consul, filters, backend }
  }
  if (get('s3-url') === '')
    throw new InputError('s3-url', 'is required with backend: serf (the releases are listed in S3)')
  const s3 = readS3(get, env)
  return { app, kvPrefix, consul, filters, backend, s3 }
}

function parseS3Endpoint(raw: string): string | undefined {
  if (raw === '') return undefined
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  // The endpoint appears in error messages: it must not carry a secret.
  if (url && (url.username || url.password))
    throw new InputError(
      's3-endpoint',
      'must not carry credentials; the AWS SDK takes them from the environment'
    )
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new InputError('s3-endpoint', `must be an http:// or https:// URL (got ${quote(raw)})`)
  if (url.search || url.hash)
    throw new InputError(
      's3-endpoint',
      `must be only scheme, host, port and path (got ${quote(`${url.protocol}//${url.host}${url.pathname}?…`)})`
    )
  return raw.replace(/\/+$/, '')
}

function readS3(get: Getter, env: NodeJS.ProcessEnv): S3Location {
  const s3Url = get('s3-url')
  if (s3Url === '') throw new InputError('s3-url', 'is required (s3://bucket/prefix)')
  const { bucket, prefix } = parseS3Url(s3Url)
  const endpoint = parseS3Endpoint(get('s3-endpoint'))
  const region =
    get('aws-region') || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : '')
  if (region === '')
    throw new InputError(
      'aws-region',
      'is required (set the input, AWS_REGION or AWS_DEFAULT_REGION)'
    )
  if (!REGION.test(region))
    throw new InputError('aws-region', `must look like us-east-1 (got ${quote(region)})`)
  return { bucket, prefix, region, endpoint }
}

function checkDeployId(name: InputName, raw: string): void {
  const problem = deployIdProblem(raw)
  if (problem) throw new InputError(name, `${problem} (got ${quote(raw)})`)
}

/** Which release the run deploys: a new one (its ID given or made), or a published one. */
function readRelease(
  get: Getter,
  env: NodeJS.ProcessEnv,
  now: Date
): Pick<Config, 'deployId' | 'deployIdGiven' | 'rollbackTo' | 'promote'> {
  const deployIdRaw = get('deploy-id')
  if (deployIdRaw !== '') checkDeployId('deploy-id', deployIdRaw)
  const rollbackRaw = get('rollback-to')
  if (rollbackRaw !== '') {
    checkDeployId('rollback-to', rollbackRaw)
    if (deployIdRaw !== '' && deployIdRaw !== rollbackRaw)
      throw new InputError('rollback-to', 'cannot be combined with a different deploy-id')
  }
  const promoteRaw = get('promote')
  if (promoteRaw !== '') {
    checkDeployId('promote', promoteRaw)
    if (rollbackRaw !== '')
      throw new InputError('promote', 'cannot be combined with rollback-to: choose one release')
    if (deployIdRaw !== '' && deployIdRaw !== promoteRaw)
      throw new InputError('promote', 'cannot be combined with a different deploy-id')
  }
  const deployId =
    rollbackRaw ||
    promoteRaw ||
    deployIdRaw ||
    generateDeployId({
      now,
      sha: env.GITHUB_SHA || undefined,
      runId: env.GITHUB_RUN_ID,
      runAttempt: env.GITHUB_RUN_ATTEMPT
    })
  if (!DEPLOY_ID_PATTERN.test(deployId))
    throw new Error(`generated deploy ID ${quote(deployId)} is malformed`)
  return {
    deployId,
    deployIdGiven: deployIdRaw !== '',
    rollbackTo: rollbackRaw || undefined,
    promote: promoteRaw || undefined
  }
}

function parseEventName(raw: string): string {
  if (!EVENT_NAME.test(raw))
    throw new InputError(
      'event-name',
      `must be letters, digits and ._- (at most 64, not starting with "_"; got ${quote(raw)})`
    )
  return raw
}

function parseTimeout(raw: string): number {
  const timeoutMs = parseGoDuration(raw)
  if (timeoutMs === undefined)
    throw new InputError(
      'timeout',
      `must be a Go duration such as 90s, 10m or 1h30m (got ${quote(raw)})`
    )
  if (timeoutMs < 1000 || timeoutMs > 24 * 3_600_000)
    throw new InputError(
      'timeout',
      `must be between 1s and 24h (got ${quote(raw)} = ${formatGoDuration(timeoutMs)})`
    )
  return timeoutMs
}

/** Waves, their gate and the releases layout: how the fleet takes the release. */
function readRollout(
  get: Getter,
  wait: boolean
): Pick<Config, 'waves' | 'bakeMs' | 'autoRollback' | 'layout' | 'keepReleases'> {
  const waves = parseWaves(get('waves'))
  const bakeMs = parseBakeTime(get('bake-time'))
  const autoRollback = parseBoolean('auto-rollback', get('auto-rollback'))
  const layout = get('layout') || 'in-place'
  if (layout !== 'in-place' && layout !== 'releases')
    throw new InputError('layout', `must be in-place or releases (got ${quote(layout)})`)
  const keepReleases = parseInteger('keep-releases', get('keep-releases') || '5', 2, 1000)
  // A wave starts when the one before has reported: nothing of it works without waiting.
  if (!wait)
    for (const [name, used] of [
      ['waves', waves !== undefined],
      ['bake-time', bakeMs > 0],
      ['auto-rollback', autoRollback],
      ['layout', layout === 'releases']
    ] as const)
      if (used) throw new InputError(name, 'needs wait: true (it acts on what the nodes report)')
  return { waves, bakeMs, autoRollback, layout, keepReleases }
}

function readGitHub(get: Getter, app: string): Config['github'] {
  const token = get('github-token') || undefined
  const checkName = get('check-name') || `stretcher / ${app}`
  if (checkName.length > 100 || /[\r\n]/.test(checkName))
    throw new InputError(
      'check-name',
      `must be one line of at most 100 characters (got ${quote(checkName)})`
    )
  return { token, checkName, environment: get('environment') || undefined }
}

/** Facts about the run, from the runner's environment. */
function runFacts(env: NodeJS.ProcessEnv): Config['run'] {
  const repository = env.GITHUB_REPOSITORY
  const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com'
  const runUrl =
    repository && env.GITHUB_RUN_ID
      ? `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
      : undefined
  return { sha: env.GITHUB_SHA || undefined, repository, runUrl }
}

/**
 * Read every input once. `input` returns '' for an unset input (as core.getInput
 * does); `env` is the process environment (GITHUB_*, AWS_*, CONSUL_HTTP_*).
 * Inputs are read in this order, so of several bad ones the first is named.
 */
export function readConfig(input: InputReader, env: NodeJS.ProcessEnv, now = new Date()): Config {
  const get = getter(input)
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const path = resolve(workspace, get('path'))
  const app = readApp(get, env)
  const s3 = readS3(get, env)
  const manifestName = get('manifest') || undefined
  const manifestFile = manifestName === undefined ? undefined : resolve(workspace, manifestName)
  const exclude = get('exclude')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const deployIdFile = parseDeployIdFile(get('deploy-id-file'))
  const release = readRelease(get, env, now)
  const compressionLevel = parseInteger('compression-level', get('compression-level'), 1, 9)
  const consul = readConsul(get, env)
  const backend = readBackend(get, env)
  const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`)
  const eventName = parseEventName(get('event-name'))
  const filters = readFilters(get)
  const datacenters = parseDatacenters(get('datacenters'))
  const wait = parseBoolean('wait', get('wait'))
  const timeoutMs = parseTimeout(get('timeout'))
  const maxFailures = parseInteger('max-failures', get('max-failures'), 0, 1_000_000)
  const rollout = readRollout(get, wait)
  const dryRun = parseBoolean('dry-run', get('dry-run'))
  const github = readGitHub(get, app)
  return {
    path,
    app,
    s3,
    manifestFile,
    manifestName,
    dest: parseDest(get('dest')),
    exclude,
    deployIdFile,
    ...release,
    compressionLevel,
    consul,
    kvPrefix,
    eventName,
    filters,
    datacenters,
    wait,
    timeoutMs,
    maxFailures,
    ...rollout,
    dryRun,
    github,
    dashboard: parseDashboard(get('dashboard'), kvPrefix),
    run: runFacts(env),
    backend
  }
}

/** S3 key of a release object: `<prefix>/<app>/<deploy-id>.<ext>`. Short, so the manifest URL stays a small event payload. */
export function releaseKey(
  config: Pick<Config, 's3' | 'app'>,
  deployId: string,
  ext: 'tgz' | 'yml' | 'prepare.yml' | 'switch.yml'
): string {
  return [config.s3.prefix, config.app, `${deployId}.${ext}`].filter((s) => s !== '').join('/')
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`
}
