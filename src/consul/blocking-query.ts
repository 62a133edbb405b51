// Blocking queries (Consul's `?index=&wait=`): the X-Consul-Index kept exact,
// and the wait and timeout that keep a held read under fetch's header timeout.
import { ConsulError } from './consul-error.ts'

/**
 * X-Consul-Index is a decimal uint64. An event list's is a hash of the last
 * event's ID (agent/event_endpoint.go uuidToUint64), so usually above 2^53:
 * as a Number it would be rounded (18446744073709551557 → …552000), sent back
 * as another `?index=`, and the list would answer at once, forever. Kept exact.
 */
export function parseIndex(header: string | null): bigint {
  return header !== null && /^\d{1,20}$/.test(header) ? BigInt(header) : 0n
}

/**
 * A KV index as a number, to compare with the ModifyIndex values that
 * JSON.parse reads from KV bodies (FleetState). KV, catalog and health indexes
 * are Raft log indexes, one per committed write: 2^53 is 285 years away even
 * at a million writes a second, so a number holds them exactly. (Only the event
 * list's hash index goes above; it never comes here.) Refuses rather than round.
 */
export function raftIndex(index: bigint): number {
  if (index > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ConsulError(`Consul sent a KV index above 2^53 (${index})`, undefined, false)
  return Number(index)
}

/**
 * Node's fetch (undici) fails a request whose response headers take longer than
 * this (headersTimeout, UND_ERR_HEADERS_TIMEOUT); bodyTimeout is the same.
 */
export const FETCH_HEADERS_TIMEOUT_MS = 300_000
/** rpc.go blockingQuery: a blocking read is held up to wait + wait/16 (lib.RandomStagger). */
const JITTER_FRACTION = 16

/**
 * The `wait` to ask for and the per-attempt timeout of a blocking read. Consul
 * holds the read for wait plus up to wait/16 of jitter, so a 5-minute wait could
 * last 318.75 s, past fetch's 300 s header timeout: every idle read of a long
 * deploy failed and was retried. The wait is capped so that the longest hold
 * stays a tenth under the header timeout (254 s of 300 s), and the client's own
 * timeout falls between the longest hold and the header timeout.
 */
export function blockingBudget(
  requestedMs: number | undefined,
  headersTimeoutMs = FETCH_HEADERS_TIMEOUT_MS
): { waitMs: number; timeoutMs: number } {
  // undici keeps its header timer on a half-second tick, so it may fire up to
  // that much early: a tenth of the timeout, and never under a second.
  const margin = Math.max(headersTimeoutMs / 10, 1000)
  const cap = Math.floor(((headersTimeoutMs - margin) * JITTER_FRACTION) / (JITTER_FRACTION + 1))
  // No wait would be Consul's default of 5 minutes: ask for the cap instead.
  const waitMs = Math.max(1, Math.floor(Math.min(requestedMs ?? cap, cap)))
  return { waitMs, timeoutMs: Math.ceil(waitMs + waitMs / JITTER_FRACTION + margin / 2) }
}

/** A Go duration for `?wait=` (time.ParseDuration reads `254117ms`). */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
