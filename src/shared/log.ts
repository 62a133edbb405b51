// The log the pipeline writes to: @actions/core in the action, a terminal or
// JSON lines in the CLI, an array in tests.

export interface Log {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  group<T>(name: string, body: () => Promise<T>): Promise<T>
}

/** A log that keeps every line, for tests. */
export function memoryLog(): Log & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (m) => void lines.push(m),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: (m) => void lines.push(`debug: ${m}`),
    async group(name, body) {
      lines.push(`group: ${name}`)
      try {
        return await body()
      } finally {
        lines.push('endgroup')
      }
    }
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${(bytes / 1e9).toFixed(2)} GB`
}

export function formatRate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / Math.max(ms / 1000, 0.001)).toFixed(1)} MB/s`
}

/**
 * Calls `emit` at most once per `intervalMs`, the first time one interval after
 * creation (a quick job logs only its final line); `flush` emits the last value.
 */
export function throttle<T>(
  intervalMs: number,
  emit: (value: T) => void,
  now: () => number = Date.now
) {
  let last = now()
  let pending: T | undefined
  return {
    update(value: T) {
      pending = value
      const t = now()
      if (t - last >= intervalMs) {
        last = t
        pending = undefined
        emit(value)
      }
    },
    flush() {
      if (pending !== undefined) emit(pending)
      pending = undefined
    }
  }
}

/**
 * Text from the fleet (node names, logs) printed to the job log must never be
 * read by the runner as a workflow command: it trims each line and obeys
 * `::cmd::` and `##[cmd]`, so a node could add an error, set an output or mask
 * text. Such lines get a visible `> ` in front.
 */
export function inert(text: string): string {
  return text.replace(/^([^\S\n]*)(::|##\[)/gm, '$1> $2')
}
