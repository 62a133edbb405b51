// What a failed Consul call says: the error the client throws, and how a
// status or a network failure is described and judged transient (retried) or not.

export class ConsulError extends Error {
  readonly status: number | undefined
  readonly transient: boolean
  /** set when Consul has no route to the datacenter the request named (`No path to datacenter`) */
  readonly noPathTo: string | undefined
  constructor(message: string, status: number | undefined, transient: boolean, noPathTo?: string) {
    super(message)
    this.name = 'ConsulError'
    this.status = status
    this.transient = transient
    this.noPathTo = noPathTo
  }
}

// agent/structs/errors.go errNoDCPath / errDCNotAvailable: what agent/consul/rpc.go
// forwardDC answers for a datacenter it has no route to / none of whose servers
// it can reach. agent/http.go sends either as a 500 with the text, which a
// client agent's RPC pool prefixes ("rpc error making call: "): matched by
// substring, as Consul's own structs.IsErrNoDCPath does.
const NO_DC_PATH = 'No path to datacenter'
const DC_NOT_AVAILABLE = 'Remote DC has no server currently reachable'
// agent/consul/state/catalog.go ErrMissingNode, e.g. for a session whose node is not registered.
const MISSING_NODE = 'Missing node registration'

/** Node's fetch wraps socket errors as `TypeError: fetch failed` with the code in `cause`. */
export function networkCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause
  return cause?.code ?? (error as { code?: string }).code
}

export const TRANSIENT_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ENOTFOUND'
])

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300)
}

/** A status Consul answered, as an error: what it means, and whether retrying may help. */
export function statusError(
  what: string,
  status: number,
  body: string,
  permission: string,
  dc: string | undefined
): ConsulError {
  const text = firstLine(body)
  if (status === 500 && text.includes(NO_DC_PATH)) {
    // Retrying does not help: the agent's servers know no such datacenter.
    return new ConsulError(
      `Consul has no path to datacenter "${dc ?? '?'}" (${what.replace(/ in datacenter ".*"$/, '')}): it is not one of the datacenters its servers know over the WAN (GET /v1/catalog/datacenters lists them)`,
      status,
      false,
      dc
    )
  }
  if (status === 500 && text.includes(MISSING_NODE) && what.startsWith('PUT /v1/session/create')) {
    // Not transient either: a session belongs to a node of the datacenter it is
    // created in, and Node defaults to the agent's own (session_endpoint.go),
    // which another datacenter's catalog does not have.
    return new ConsulError(
      `Consul refused ${what}: ${text}${dc === undefined ? '' : ` (a session in datacenter "${dc}" must name one of its nodes: Node defaults to the agent's own)`}`,
      status,
      false
    )
  }
  if (status === 500 && text.includes(DC_NOT_AVAILABLE)) {
    // Known, its servers unreachable for now: worth retrying.
    return new ConsulError(
      `Consul cannot reach any server of datacenter "${dc ?? '?'}" (${what}): ${text}`,
      status,
      true
    )
  }
  if (status === 403) {
    // "Permission denied" or "ACL not found" (acl/errors.go): not worth retrying.
    const reason = /ACL not found/i.test(text)
      ? 'the token is unknown to Consul (ACL not found)'
      : `the token lacks ${permission}`
    return new ConsulError(`Consul refused ${what}: ${reason}`, status, false)
  }
  const transient = status >= 500 || status === 429
  return new ConsulError(
    `Consul answered ${what} with ${status}${text ? `: ${text}` : ''}`,
    status,
    transient
  )
}
