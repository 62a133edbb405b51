// The `waves` and `bake-time` inputs (contract 8) parsed into sizes, and the
// sizes turned into node counts for a number of targets. Pure.
import { parseGoDuration } from '../shared/duration.ts'
import { InputError, quote } from '../shared/errors.ts'

/** One entry of `waves`: a cumulative size, as nodes or as a percentage of the targets. */
export type WaveSpec = { kind: 'count'; count: number } | { kind: 'percent'; percent: number }

/**
 * `waves` (contract 8): `N` or `P%` entries, comma- or newline-separated, kinds
 * mixed. Blank entries (a trailing comma, an empty line of a YAML block) are
 * skipped. An empty input is `undefined`: no staged rollout, one wave.
 */
export function parseWaves(text: string): WaveSpec[] | undefined {
  const entries = text
    .split(/[,\r\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  if (entries.length === 0) return undefined
  return entries.map((entry) => {
    const percent = /^(\d+)\s*%$/.exec(entry)
    if (percent) {
      const value = Number(percent[1])
      if (value < 1 || value > 100)
        throw new InputError(
          'waves',
          `entry ${quote(entry)} is out of range: a percentage must be from 1% to 100% (got ${quote(text)})`
        )
      return { kind: 'percent', percent: value }
    }
    if (/^\d+$/.test(entry)) {
      const value = Number(entry)
      if (value < 1 || !Number.isSafeInteger(value))
        throw new InputError(
          'waves',
          `entry ${quote(entry)} is out of range: a node count must be 1 or more (got ${quote(text)})`
        )
      return { kind: 'count', count: value }
    }
    throw new InputError(
      'waves',
      `entry ${quote(entry)} is neither N (nodes) nor P% (percent of the targets), e.g. "1, 25%, 100%" (got ${quote(text)})`
    )
  })
}

/** `bake-time` (contract 8): a Go duration, `0s` by default; milliseconds. */
export function parseBakeTime(text: string): number {
  const trimmed = text.trim()
  if (trimmed === '') return 0
  const ms = parseGoDuration(trimmed)
  if (ms === undefined)
    throw new InputError(
      'bake-time',
      `must be a Go duration such as 30s, 5m or 1h30m (got ${quote(text)})`
    )
  if (ms < 0) throw new InputError('bake-time', `must not be negative (got ${quote(text)})`)
  return ms
}

function describeWaves(waves: readonly WaveSpec[]): string {
  return waves.map((w) => (w.kind === 'count' ? `${w.count}` : `${w.percent}%`)).join(', ')
}

/**
 * Cumulative node counts of each wave against `targets` nodes: `P%` rounded up
 * and at least 1, every count capped at `targets`. Each must be larger than
 * the one before, else an InputError naming `waves` (contract 8). No targets:
 * no waves.
 */
export function waveCounts(waves: readonly WaveSpec[], targets: number): number[] {
  if (targets <= 0) return []
  const counts = waves.map((wave) =>
    Math.min(
      targets,
      wave.kind === 'count' ? wave.count : Math.max(1, Math.ceil((wave.percent * targets) / 100))
    )
  )
  for (let i = 1; i < counts.length; i += 1) {
    if (counts[i]! <= counts[i - 1]!)
      throw new InputError(
        'waves',
        `"${describeWaves(waves)}" gives ${counts.join(', ')} of ${targets} target node${targets === 1 ? '' : 's'}: wave ${i + 1} must be larger than wave ${i}`
      )
  }
  return counts
}
