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
export const NO_DC_PATH = 'No path to datacenter'
export const DC_NOT_AVAILABLE = 'Remote DC has no server currently reachable'
// agent/consul/state/catalog.go ErrMissingNode, e.g. for a session whose node is not registered.
export const MISSING_NODE = 'Missing node registration'

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

export function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300)
}
