// Go-style durations (`90s`, `10m`, `1h30m`, `1.5h`, `250ms`), as Go's
// time.ParseDuration reads them, so the action's `timeout` and Consul's `wait`
// speak the same language.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y

/** Milliseconds, or undefined when `text` is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0
  if (text.length === 0) return undefined
  let total = 0
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex
    const match = PART.exec(text)
    if (!match || match.index !== start) return undefined
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number)
  }
  return total
}

/** The shortest Go duration text for whole milliseconds: 90000 → `1m30s`. */
export function formatGoDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`
  let rest = Math.round(ms / 1000)
  const h = Math.floor(rest / 3600)
  rest -= h * 3600
  const m = Math.floor(rest / 60)
  const s = rest - m * 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`
}
