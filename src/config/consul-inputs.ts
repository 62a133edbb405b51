// The Consul inputs: consul-addr and consul-token (the agent the action talks
// to), kv-prefix (where the app's keys live) and dashboard.
import type { Config } from './config-types.ts'
import type { Getter } from './inputs.ts'
import { InputError, quote } from '../shared/errors.ts'

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

export function parseKvPrefix(raw: string): string {
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
export function parseDashboard(raw: string, kvPrefix: string): string | undefined {
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

export function readConsul(get: Getter, env: NodeJS.ProcessEnv): Config['consul'] {
  const addr = parseConsulAddr(
    get('consul-addr') || env.CONSUL_HTTP_ADDR || 'http://127.0.0.1:8500'
  )
  const token = get('consul-token') || env.CONSUL_HTTP_TOKEN || undefined
  if (token !== undefined && /[\r\n]/.test(token))
    // Never quote a token's value, not even in an error.
    throw new InputError('consul-token', 'must be a single line')
  return { addr, token }
}
