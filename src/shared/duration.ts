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

const PART = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/

/** Milliseconds, or undefined when Go's time.ParseDuration would refuse `text`. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text
  let sign = 1
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1
    rest = rest.slice(1)
  }
  if (rest === '0') return 0 // time.ParseDuration special-cases "0"
  if (rest === '') return undefined
  let total = 0
  while (rest !== '') {
    const match = PART.exec(rest)
    if (!match) return undefined
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number)
    rest = rest.slice(match[0].length)
  }
  return sign * total
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
