// A staged rollout's waves in the summary: a table (nodes, how they did, when,
// the gate) and a row of boxes coloured by result (Mermaid). Apart because
// only a staged rollout has waves, and a wave's state (running, stopped, not
// started) is read here from the run's facts. Pure; names are escaped.
import type { NodeState } from '../fleet-state/fleet-state.ts'
import type { WaveBox } from './charts.ts'
import { wavesChart } from './charts.ts'
import type { FleetReport, WaveReport } from './report-types.ts'
import { outcomeOf, statesByLabel } from './fleet-analysis.ts'
import { namesWithin } from './names-within.ts'
import { formatDuration, markdownText, plainText, plural, utcTime } from '../shared/text.ts'
import { compareNatural } from '../shared/natural-order.ts'

/** A wave that went out and has no outcome is running, or stopped when the run was cancelled or broke off. */
function waveState(w: WaveReport, r: FleetReport): WaveBox['state'] {
  if (w.passed === true) return 'passed'
  if (w.passed === false) return 'failed'
  if (w.startedAt === undefined) return 'not started'
  return r.facts.cancelled || r.facts.error ? 'stopped' : 'running'
}

const WAVE_MARK: Record<WaveBox['state'], string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  running: '⏳ running',
  stopped: '⛔ stopped',
  'not started': '⚪ not started'
}

/** `wave 2`, `prepare`, `dc2 wave 1`: the wave 0 of layout: releases is its prepare. */
function waveName(w: WaveReport): string {
  const name = w.wave === 0 ? 'prepare' : `wave ${w.wave}`
  return w.datacenter ? `${plainText(w.datacenter, 40)} ${name}` : name
}

function waveCounts(w: WaveReport, states: Map<string, NodeState>) {
  let ok = 0
  let bad = 0
  let unsent = 0
  for (const node of w.nodes) {
    const s = outcomeOf(states.get(node))
    // A prepare's node that is left prepared did what the prepare asked.
    if (s === 'success' || (w.wave === 0 && s === 'prepared')) ok++
    else if (s === 'failure' || s === 'lost') bad++
    // Never sent this wave's event (or only prepared for it): nothing to report.
    else if (s === 'not_sent' || s === 'prepared') unsent++
  }
  return { ok, bad, quiet: w.nodes.length - ok - bad - unsent }
}

function sinceEvent(at: number | undefined, r: FleetReport): string {
  if (at === undefined) return ''
  const base = r.facts.firedAt ?? r.waves?.[0]?.startedAt
  return base === undefined ? utcTime(at) : `+${formatDuration(at - base)}`
}

/** The waves as a table: nodes, how they did, when, the gate. */
export function wavesTableMarkdown(r: FleetReport, budget: number): string {
  const waves = r.waves ?? []
  if (waves.length === 0) return ''
  const states = statesByLabel(r.fleet)
  const lines = [
    '| wave | result | nodes | succeeded | failed | not reported | started | took | gate |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  let size = 200
  for (const [i, w] of waves.entries()) {
    const c = waveCounts(w, states)
    const names = namesWithin([...w.nodes].sort(compareNatural), 160)
    const took =
      w.startedAt !== undefined && w.endedAt !== undefined
        ? formatDuration(w.endedAt - w.startedAt)
        : ''
    const wave = w.wave === 0 || w.datacenter ? markdownText(waveName(w), 60) : String(w.wave)
    const row = `| ${wave} | ${WAVE_MARK[waveState(w, r)]} | ${w.nodes.length}: ${names.text} | ${c.ok} | ${c.bad} | ${c.quiet} | ${sinceEvent(w.startedAt, r)} | ${took} | ${w.gate ? markdownText(w.gate, 120) : ''} |`
    if (size + row.length > budget) {
      lines.push('', `… ${plural(waves.length - i, 'more wave')} left out (size limit).`)
      break
    }
    lines.push(row)
    size += row.length + 1
  }
  return `${lines.join('\n')}\n`
}

/** The waves as boxes in a row, coloured by result (Mermaid). */
export function wavesPicture(r: FleetReport): string {
  const states = statesByLabel(r.fleet)
  return wavesChart(
    (r.waves ?? []).map((w) => {
      const c = waveCounts(w, states)
      const state = waveState(w, r)
      const took =
        w.startedAt !== undefined && w.endedAt !== undefined
          ? `${sinceEvent(w.startedAt, r)} → ${sinceEvent(w.endedAt, r)}`
          : w.startedAt !== undefined
            ? `from ${sinceEvent(w.startedAt, r)}`
            : ''
      return {
        wave: w.wave,
        state,
        lines: [
          `${waveName(w)}: ${plural(w.nodes.length, 'node')}`,
          `${state === 'passed' ? '✔ ' : state === 'failed' ? '✘ ' : ''}${state} · ${c.ok} ok${c.bad ? `, ${c.bad} failed` : ''}`,
          ...(took ? [took] : []),
          ...(w.gate ? [`gate: ${w.gate}`] : [])
        ]
      }
    })
  )
}
