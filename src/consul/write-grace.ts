// How writes in flight are timed: what a cancel allows a write already sent (the
// txn, the fire) to answer in and to still take effect in, and the clock both
// are kept on (a stand-in in tests).

/**
 * How long after a cancel a write already sent (the txn, the fire) may still
 * take to answer before it is cut short: letting it answer is what makes its
 * outcome known. The runner allows 7.5 s from SIGINT in all.
 */
export const CANCEL_GRACE_MS = 1_500

/**
 * How long a write cut short may still take effect inside Consul: a server holds
 * an RPC through a leader election for up to rpc_hold_timeout (7 s, Consul's
 * agent configuration docs), plus a margin. Only after it is a read conclusive.
 */
export const WRITE_SETTLES_MS = 8_000

export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
}

/** A signal that aborts `ms` after `signal` does: writes in flight get that long to answer. */
export function graceAfter(signal: AbortSignal | undefined, ms: number): AbortSignal | undefined {
  if (!signal) return undefined
  const grace = new AbortController()
  const start = () => setTimeout(() => grace.abort(signal.reason), ms).unref()
  if (signal.aborted) start()
  else signal.addEventListener('abort', start, { once: true })
  return grace.signal
}
