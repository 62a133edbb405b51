// The pictures of the job summary, as Mermaid (GitHub renders it there, not in
// a check run). Colours are fixed and mean one thing each: green succeeded, red
// failed, grey not reported, blue rolled back, purple prepared, light grey not
// sent; each reads on GitHub's light and dark backgrounds,
// and labels on them are white. Time is a numeric axis in seconds from the
// event: no dates, no time zone. Pure; every label is reduced to a safe alphabet.
import { mermaidLabel } from '../shared/text.ts'

/** Contrast of at least 3:1 with both #ffffff and #0d1117 (WCAG's bar for graphics). */
export const COLOURS = {
  success: '#2da44e',
  failure: '#cf222e',
  pending: '#6e7781',
  rolledBack: '#0969da',
  prepared: '#8250df',
  notSent: '#8c959f'
} as const

/** Each slice's colour: its meaning (contract 8a's node states). */
const SLICE_COLOUR: Record<Slice['label'], string> = {
  succeeded: COLOURS.success,
  failed: COLOURS.failure,
  'not reported': COLOURS.pending,
  'rolled back': COLOURS.rolledBack,
  prepared: COLOURS.prepared,
  'not sent': COLOURS.notSent
}

/** Text inside a quoted Mermaid label: letters, digits and a few harmless marks. */
export function mermaidText(text: string, max = 60): string {
  // Quotes become typographic ones (Mermaid's own quote ends a label); the rest of the unsafe, _.
  const clean = text
    .replace(/'/g, '’')
    .replace(/"([^"]*)"/g, '“$1”')
    .replace(/"/g, '”')
    .replace(/[^A-Za-z0-9 ._:,%/()+→✔✘·’“”-]/g, '_')
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

function init(themeVariables: Record<string, unknown>): string {
  // Only themeVariables: GitHub picks the theme (light or dark) and its text colours.
  return `%%{init: ${JSON.stringify({ themeVariables })}}%%`
}

export interface Slice {
  label: 'succeeded' | 'failed' | 'not reported' | 'rolled back' | 'prepared' | 'not sent'
  count: number
}

/** Outcomes as a pie; each slice's colour is its meaning, whatever slices are present. */
export function outcomePie(slices: readonly Slice[], title: string): string {
  const shown = slices.filter((s) => s.count > 0)
  if (shown.length === 0) return ''
  const colour = (s: Slice) => SLICE_COLOUR[s.label]
  const vars: Record<string, string> = {
    pieOpacity: '1',
    pieSectionTextColor: '#ffffff',
    pieStrokeColor: '#ffffff',
    pieOuterStrokeColor: '#8c959f'
  }
  shown.forEach((s, i) => (vars[`pie${i + 1}`] = colour(s)))
  return [
    '```mermaid',
    init(vars),
    `pie showData title ${mermaidText(title, 80)}`,
    ...shown.map((s) => `  "${s.label}" : ${s.count}`),
    '```',
    ''
  ].join('\n')
}

export interface Reported {
  node: string
  ok: boolean
  /** ms from the event to the report */
  ms: number
}

/** At most this many bars, one per node; above it the cumulative curve says more. */
export const BARS_MAX = 30

/** Seconds with one decimal, as Mermaid reads numbers. */
const sec = (ms: number) => Math.round(ms / 100) / 10

function axisMax(ms: number): number {
  const s = Math.max(1, Math.ceil(ms / 1000))
  const step = s <= 10 ? 1 : s <= 60 ? 5 : s <= 600 ? 30 : 300
  return Math.ceil(s / step) * step
}

/**
 * When the nodes reported, in seconds after the event. Up to BARS_MAX nodes: a
 * bar per node (green succeeded, red failed), slowest last. More: how many had
 * reported by each second, one green line for successes and a red one for failures.
 */
export function reportTimeChart(reported: readonly Reported[]): string {
  if (reported.length === 0) return ''
  const sorted = [...reported].sort((a, b) => a.ms - b.ms)
  const max = axisMax(sorted.at(-1)?.ms ?? 0)
  const anyFailed = sorted.some((r) => !r.ok)
  const palette = anyFailed ? `${COLOURS.success}, ${COLOURS.failure}` : COLOURS.success
  const head = ['```mermaid', init({ xyChart: { plotColorPalette: palette } })]
  if (sorted.length <= BARS_MAX) {
    // Each node's bar is in one series; in the other it is below the axis (which
    // starts at 0), so nothing is drawn for it, not even the sliver a 0 gets.
    const ok = sorted.map((r) => (r.ok ? sec(r.ms) : -max))
    const bad = sorted.map((r) => (r.ok ? -max : sec(r.ms)))
    return [
      ...head,
      'xychart-beta horizontal',
      `  title "Seconds from the event to each node's report"`,
      `  x-axis [${sorted.map((r) => `"${mermaidLabel(r.node, 30)}"`).join(', ')}]`,
      `  y-axis "seconds after the event" 0 --> ${max}`,
      `  bar [${ok.join(', ')}]`,
      ...(anyFailed ? [`  bar [${bad.join(', ')}]`] : []),
      '```',
      ''
    ].join('\n')
  }
  // Cumulative counts at POINTS evenly spaced instants from 0 to max seconds.
  const POINTS = 31
  const okAt: number[] = []
  const badAt: number[] = []
  let i = 0
  let okN = 0
  let badN = 0
  for (let p = 0; p < POINTS; p++) {
    const t = (max * 1000 * p) / (POINTS - 1)
    while (i < sorted.length && (sorted[i] as Reported).ms <= t) {
      if ((sorted[i] as Reported).ok) okN++
      else badN++
      i++
    }
    okAt.push(okN)
    badAt.push(badN)
  }
  return [
    ...head,
    'xychart-beta',
    `  title "Nodes reported by each second after the event"`,
    `  x-axis "seconds after the event" 0 --> ${max}`,
    `  y-axis "nodes" 0 --> ${Math.max(1, okN, badN)}`,
    `  line [${okAt.join(', ')}]`,
    ...(anyFailed ? [`  line [${badAt.join(', ')}]`] : []),
    '```',
    ''
  ].join('\n')
}

export interface WaveBox {
  wave: number
  /** shown one under the other */
  lines: string[]
  state: 'passed' | 'failed' | 'running' | 'stopped' | 'not started'
}

/** At most this many waves drawn; the table lists all. */
export const WAVES_DRAWN_MAX = 20

/** The staged rollout: one box per wave, in order, coloured by how it went. */
export function wavesChart(waves: readonly WaveBox[]): string {
  if (waves.length === 0) return ''
  const shown = waves.slice(0, WAVES_DRAWN_MAX)
  // By position: the same wave number recurs (each datacenter has its waves).
  const id = (i: number) => `w${i}`
  const cls = (w: WaveBox) =>
    w.state === 'passed' ? 'passed' : w.state === 'failed' ? 'failed' : 'waiting'
  const boxes = shown.map(
    (w, i) => `  ${id(i)}["${w.lines.map((l) => mermaidText(l, 60)).join('<br/>')}"]:::${cls(w)}`
  )
  const arrows = shown.slice(1).map((_, i) => `  ${id(i)} --> ${id(i + 1)}`)
  return [
    '```mermaid',
    'flowchart LR',
    ...boxes,
    ...arrows,
    `  classDef passed fill:${COLOURS.success},stroke:${COLOURS.success},color:#ffffff`,
    `  classDef failed fill:${COLOURS.failure},stroke:${COLOURS.failure},color:#ffffff`,
    `  classDef waiting fill:${COLOURS.pending},stroke:${COLOURS.pending},color:#ffffff`,
    '```',
    ''
  ].join('\n')
}
