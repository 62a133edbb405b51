// Blocking queries: agent/http.go parseWait and agent/consul/rpc.go blockingQuery.
import { HttpError } from './errors.ts'

// features/blocking.mdx: "limited to 10 minutes. If not set, the wait time defaults to 5 minutes".
export const MAX_QUERY_TIME_MS = 600_000
export const DEFAULT_QUERY_TIME_MS = 300_000
// agent/structs: JitterFraction = 16, applied as lib.RandomStagger(timeout / 16).
const JITTER_FRACTION = 16

// Go's time.ParseDuration, shared with the action (which reads `timeout` the same way).
export { parseGoDuration } from '../../src/shared/duration.ts'
import { parseGoDuration } from '../../src/shared/duration.ts'

export interface QueryOptions {
  minIndex: bigint
  waitMs: number | undefined
}

// agent/http.go parseWait: bad values are 400 "Invalid wait time" / "Invalid index".
export function parseQueryOptions(params: URLSearchParams): QueryOptions {
  let waitMs: number | undefined
  const wait = params.get('wait')
  if (wait) {
    waitMs = parseGoDuration(wait)
    if (waitMs === undefined) throw new HttpError(400, 'Invalid wait time')
  }
  let minIndex = 0n
  const index = params.get('index')
  if (index) {
    // strconv.ParseUint(idx, 10, 64)
    if (!/^\d+$/.test(index) || BigInt(index) > 0xffffffffffffffffn)
      throw new HttpError(400, 'Invalid index')
    minIndex = BigInt(index)
  }
  return { minIndex, waitMs }
}

// rpc.go blockingQuery: cap at max_query_time, default when <= 0, then add jitter up to timeout/16.
export function queryTimeoutMs(waitMs: number | undefined): number {
  let timeout = waitMs ?? 0
  if (timeout > MAX_QUERY_TIME_MS) timeout = MAX_QUERY_TIME_MS
  else if (timeout <= 0) timeout = DEFAULT_QUERY_TIME_MS
  return timeout + Math.random() * (timeout / JITTER_FRACTION)
}

export interface BlockingSpec<T> {
  options: QueryOptions
  // Runs the query; `index` is the result index before the setIndex floor.
  run: () => T & { index: number }
  // Registers a one-shot wake-up; returns the unsubscribe function.
  watch: (wake: () => void) => () => void
  send: (result: T & { index: number }) => void
  // Fires if the client goes away or the emulator stops.
  onAbort: (abort: () => void) => void
  timeoutMs?: number
}

// Blocks while the result index <= the client's index (rpc.go: "if the index
// is ahead ... the server waits the full time"), returning on change or timeout.
export function blockingQuery<T>(spec: BlockingSpec<T>): void {
  const first = spec.run()
  if (spec.options.minIndex === 0n || BigInt(first.index) > spec.options.minIndex) {
    spec.send(first)
    return
  }
  let done = false
  let unwatch: () => void = () => {}
  const finish = (): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    unwatch()
    spec.send(spec.run())
  }
  const timer = setTimeout(finish, spec.timeoutMs ?? queryTimeoutMs(spec.options.waitMs))
  const arm = (): void => {
    // Re-run after the mutation that woke us has finished (one raft apply is atomic).
    unwatch = spec.watch(() => queueMicrotask(onWake))
  }
  const onWake = (): void => {
    {
      unwatch()
      if (done) return
      const next = spec.run()
      if (BigInt(next.index) > spec.options.minIndex) {
        done = true
        clearTimeout(timer)
        spec.send(next)
      } else {
        arm()
      }
    }
  }
  arm()
  spec.onAbort(() => {
    done = true
    clearTimeout(timer)
    unwatch()
  })
}

// agent/http.go setIndex: "It's always safe to return index=1", never 0.
export function floorIndex(index: number | bigint): string {
  const value = BigInt(index)
  return (value < 1n ? 1n : value).toString()
}
