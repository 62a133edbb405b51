// GitHub calls go out one chain at a time, in order, so the final report lands
// after every progress update; progress updates are throttled.

export class ReportQueue {
  private inflight: Promise<void> = Promise.resolve()
  /** when the last update went out (epoch ms) */
  private lastUpdate = -Infinity
  /** a progress update is queued or in flight */
  private busy = false
  private readonly now: () => number
  private readonly intervalMs: number
  private readonly onError: (error: unknown) => void

  constructor(now: () => number, intervalMs: number, onError: (error: unknown) => void) {
    this.now = now
    this.intervalMs = intervalMs
    this.onError = onError
  }

  /** After everything queued; the promise settles when this task has run. */
  run(task: () => Promise<void>): Promise<void> {
    this.inflight = this.inflight.then(task).catch(this.onError)
    return this.inflight
  }

  /** An update went out now: the next progress update waits a whole interval. */
  restartInterval(): void {
    this.lastUpdate = this.now()
  }

  /** A progress update: dropped while one is pending or within the interval of the last. */
  throttled(task: () => Promise<void>): Promise<void> {
    if (this.busy || this.now() - this.lastUpdate < this.intervalMs) return Promise.resolve()
    this.lastUpdate = this.now()
    this.busy = true
    return this.run(async () => {
      try {
        await task()
      } finally {
        this.busy = false
      }
    })
  }
}
