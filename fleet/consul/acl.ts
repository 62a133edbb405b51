// A small ACL model: tokens with prefix/exact rules per resource, resolved as
// Consul's policy authorizer chained to the default policy (acl/policy_authorizer.go).
import { HttpError } from './errors.ts'

export type AclAccess = 'read' | 'write' | 'deny'
export type AclResource = 'key' | 'event' | 'session' | 'node' | 'service' | 'agent'
// e.g. { key_prefix: { 'stretcher/app/': 'write' }, event: { deploy: 'write' } }
export type AclRules = { [R in AclResource as R | `${R}_prefix`]?: Record<string, AclAccess> } & {
  management?: boolean
}

export interface AclToken {
  secretId: string
  accessorId?: string
  rules: AclRules
  /**
   * A local token (Consul's `Local: true`) created in this datacenter: it is not
   * replicated, so any other datacenter answers "ACL not found". Unset: a global
   * token, replicated from the primary datacenter and valid in every one
   * (docs/reference/acl/token, Local: "false to replicate globally across all
   * reachable datacenters", true: "functional in the local datacenter only").
   */
  local?: string
}

export interface AclConfig {
  defaultPolicy: 'allow' | 'deny'
  tokens: AclToken[]
}

// acl/acl.go: the well-known anonymous token's AccessorID.
export const ANONYMOUS_ACCESSOR_ID = '00000000-0000-0000-0000-000000000002'

export interface Authorizer {
  readonly enabled: boolean
  readonly accessorId: string
  readonly tokenSent: boolean
  allowed(resource: AclResource, name: string, need: 'read' | 'write'): boolean
  // Throws the 403 that acl/errors.go PermissionDeniedError formats.
  require(resource: AclResource, name: string, need: 'read' | 'write'): void
}

const ALLOW_ALL: Authorizer = {
  enabled: false,
  accessorId: '',
  tokenSent: false,
  allowed: () => true,
  require: () => {}
}

export class AclSystem {
  private readonly bySecret = new Map<string, Required<AclToken>>()
  private readonly anonymous: Required<AclToken>
  readonly config: AclConfig | undefined

  constructor(config: AclConfig | undefined) {
    this.config = config
    let anonymous: Required<AclToken> = {
      secretId: 'anonymous',
      accessorId: ANONYMOUS_ACCESSOR_ID,
      rules: {},
      local: ''
    }
    for (const token of config?.tokens ?? []) {
      const full = {
        accessorId: token.accessorId ?? accessorFor(token.secretId),
        local: '',
        ...token
      } as Required<AclToken>
      // A token with secretId "anonymous" sets the rules of the anonymous token.
      if (token.secretId === 'anonymous') anonymous = { ...full, accessorId: ANONYMOUS_ACCESSOR_ID }
      else this.bySecret.set(token.secretId, full)
    }
    this.anonymous = anonymous
  }

  get defaultPolicy(): 'allow' | 'deny' {
    return this.config?.defaultPolicy ?? 'allow'
  }

  // agent/http.go parseTokenInternal: ?token= first, then X-Consul-Token,
  // then "Authorization: Bearer" (scheme case-insensitive); none → anonymous.
  static tokenFrom(
    params: URLSearchParams,
    headers: Record<string, string | string[] | undefined>
  ): string {
    const query = params.get('token')
    if (query) return query
    const header = headers['x-consul-token']
    if (typeof header === 'string' && header !== '') return header
    const auth = headers['authorization']
    if (typeof auth === 'string') {
      const match = /^bearer\s+(.+)$/i.exec(auth.trim())
      if (match) return match[1]!.trim()
    }
    return ''
  }

  /** The token as the servers of `datacenter` resolve it (the request is forwarded there first). */
  resolve(secret: string, datacenter?: string): Authorizer {
    if (!this.config) return ALLOW_ALL
    const token = secret === '' ? this.anonymous : this.bySecret.get(secret)
    // acl/errors.go ErrNotFound: "ACL not found" → 403 (agent/http.go isForbidden);
    // a local token is only known where it was created.
    const elsewhere = token?.local && datacenter !== undefined && token.local !== datacenter
    if (!token || elsewhere) throw new HttpError(403, 'ACL not found')
    const defaultAllow = this.config.defaultPolicy === 'allow'
    const allowed = (resource: AclResource, name: string, need: 'read' | 'write'): boolean => {
      if (token.rules.management) return true
      const access = lookup(token.rules, resource, name)
      if (access === undefined) return defaultAllow
      if (access === 'deny') return false
      return access === 'write' || need === 'read'
    }
    return {
      enabled: true,
      accessorId: token.accessorId,
      tokenSent: secret !== '',
      allowed,
      require(resource, name, need) {
        if (!allowed(resource, name, need))
          throw permissionDenied(token.accessorId, resource, name, need)
      }
    }
  }
}

// acl/policy_authorizer.go: an exact rule beats prefix rules; the longest prefix wins.
function lookup(rules: AclRules, resource: AclResource, name: string): AclAccess | undefined {
  const exact = rules[resource]?.[name]
  if (exact) return exact
  let best: string | undefined
  for (const prefix of Object.keys(rules[`${resource}_prefix`] ?? {})) {
    if (name.startsWith(prefix) && (best === undefined || prefix.length > best.length))
      best = prefix
  }
  return best === undefined ? undefined : rules[`${resource}_prefix`]?.[best]
}

// acl/errors.go PermissionDeniedError.Error()
export function permissionDenied(
  accessorId: string,
  resource: AclResource,
  name: string,
  need: 'read' | 'write'
): HttpError {
  let message = `Permission denied: token with AccessorID '${accessorId}' lacks permission '${resource}:${need}' on ${JSON.stringify(name)}`
  if (accessorId === ANONYMOUS_ACCESSOR_ID) {
    message += '. The anonymous token is used implicitly when a request does not specify a token.'
  }
  return new HttpError(403, message)
}

// A stable made-up AccessorID when a test gives none.
function accessorFor(secret: string): string {
  let hash = 0
  for (const ch of secret) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0
  const hex = hash.toString(16).padStart(8, '0')
  return `${hex}-0000-4000-8000-${hex}0000`
}
