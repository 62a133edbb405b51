// The backend input and the Serf inputs (serf-rpc-addr, serf-rpc-auth,
// serf-join, serf-tags): which fleet backend, and how to reach a Serf cluster.
import type { BackendConfig } from './config-types.ts'
import type { Getter, InputName } from './inputs.ts'
import { InputError, quote } from '../shared/errors.ts'
import { compileFilter } from '../shared/filters.ts'

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
export function readBackend(
  get: Getter,
  env: NodeJS.ProcessEnv,
  consulOnly = CONSUL_ONLY
): BackendConfig {
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
