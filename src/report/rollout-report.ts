// A rollout's result as the report shows it: its waves, what failed its gate,
// what auto-rollback did, both phases of layout: releases, and the verdict line.
// Pure.
import { formatGoDuration } from '../shared/duration.ts'
import { plainText } from '../shared/text.ts'
import { nodeId } from '../fleet-state/fleet-state.ts'
import { gateFailureLine } from '../fleet-state/gate-failure.ts'
import type { RolloutResult } from '../rollout/rollout.ts'
import type { FleetReport, LogExcerpt, WaveReport } from './report-types.ts'
import { verdictMessage } from './headline.ts'

/** What the report shows of a rollout: its waves, what failed its gate, what auto-rollback did. */
export function rolloutReport(
  rollout: RolloutResult | undefined
): Pick<FleetReport, 'waves' | 'rollback' | 'gateFailure'> {
  const gated = rollout?.waves.find((w) => w.outcome === 'gate')?.gateFailures
  return {
    waves: rollout?.staged ? waveReports(rollout) : undefined,
    rollback: rollout?.rollback?.message,
    gateFailure: gated ? gateFailureLine(gated) : undefined
  }
}

/** The waves of a staged rollout, for the report. */
export function waveReports(rollout: RolloutResult): WaveReport[] {
  return rollout.waves.map((w) => ({
    wave: w.step.wave,
    ...(w.step.datacenter !== undefined ? { datacenter: w.step.datacenter } : {}),
    nodes: w.step.nodes.map((n) => rollout.fleet.labelOf(nodeId(w.step.datacenter, n))),
    startedAt: w.firedAt,
    endedAt: w.endedAt,
    gate:
      w.gateFailures && w.gateFailures.length > 0
        ? plainText(gateFailureLine(w.gateFailures), 200)
        : w.step.bakeMs > 0 && w.outcome === 'passed'
          ? `bake ${formatGoDuration(w.step.bakeMs)}`
          : undefined,
    passed:
      w.outcome === 'passed'
        ? true
        : w.outcome === 'not_started'
          ? undefined
          : w.outcome === 'cancelled'
            ? undefined
            : false
  }))
}

/** The run's verdict in one line (and whether it fails), once the rollout is over. */
export function outcome(
  rollout: RolloutResult,
  excerpts: LogExcerpt[] = []
): { failed: boolean; message: string } {
  if (!rollout.fleet || rollout.verdict.done === false)
    return { failed: false, message: rollout.message }
  return {
    failed: !rollout.verdict.ok,
    message: rolloutMessage(rollout, excerpts)
  }
}

/** layout: releases: both phases in the job summary (issue 13). */
export function phasesMarkdown(rollout: RolloutResult): string {
  const p = rollout.phases
  if (!p) return ''
  const seconds = (ms: number | undefined) =>
    ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`
  const lines = [
    '',
    '#### Two-phase release',
    '',
    p.prepared === 0
      ? '- **Prepare**: none: every target still kept the release, so this was a switch only (no download).'
      : `- **Prepare**: ${p.prepared} node${p.prepared === 1 ? '' : 's'}, ${seconds(p.prepareMs)} from the prepare event to the last node prepared.`,
    p.switched > 0
      ? `- **Switch**: ${p.switched} node${p.switched === 1 ? '' : 's'}; spread ${p.switchSpreadMs ?? 0} ms from the first node switched to the last.`
      : '- **Switch**: no node switched.',
    ''
  ]
  return lines.join('\n')
}

/** The verdict line, with what stopped a staged rollout and what its rollback did. */
function rolloutMessage(rollout: RolloutResult, excerpts: LogExcerpt[]): string {
  // A health gate that failed is the cause, first (contract 8a); then the counts.
  const gated = rollout.waves.find((w) => w.outcome === 'gate')?.step
  const c = rollout.fleet.counts()
  const parts = [
    gated
      ? `${rollout.message}; ${rollout.staged ? `stopped at wave ${gated.wave} of ${gated.waves}; ` : ''}${c.succeeded}/${c.total} nodes on ${rollout.fleet.deployId}`
      : verdictMessage({ fleet: rollout.fleet, verdict: rollout.verdict, excerpts, facts: {} })
  ]
  // A prepare is a phase, not a wave: only the `waves` input's waves are counted.
  if (rollout.staged && !gated && !rollout.ok)
    parts.push(`stopped at ${rollout.message || `wave ${rollout.wavesCompleted + 1}`}`)
  else if (rollout.ok && rollout.wavesPlanned !== undefined)
    parts.push(`${rollout.wavesCompleted}/${rollout.wavesPlanned} waves passed`)
  if (rollout.rollback) parts.push(rollout.rollback.message)
  return parts.join('; ')
}
