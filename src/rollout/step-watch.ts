// Watching a step: the backend feeds the step's fleet until its verdict, the
// deadline or a cancel; each change goes into the run's fleet and the log.
import type { Sent } from '../backend/fleet-backend.ts'
import type { NodeState } from '../fleet-state/fleet-state.ts'
import { progressLine } from '../fleet-state/progress-line.ts'
import { inert, throttle } from '../shared/log.ts'
import { plainText } from '../shared/text.ts'
import type { RolloutContext } from './context.ts'
import { absorbStep, stepLabel } from './context.ts'
import type { WaveRun } from './types.ts'

export async function watchStep(ctx: RolloutContext, run: WaveRun, sent: Sent): Promise<void> {
  const { config, log, backend, signal } = ctx.deps
  const label = stepLabel(ctx, run.step)
  const progress = throttle<string>(5000, (line) => log.info(line))
  const fleet = run.fleet!
  await backend.at(run.step.datacenter).watch({
    sent,
    fleet,
    deadline: sent.firedAt + config.timeoutMs,
    signal,
    // Joiners go with the last wave (contract 8); they boot from latest, moved just before it.
    admitJoiners: run.step.takesJoiners,
    onChange: (changed) => {
      logChanges(ctx, changed)
      absorbStep(ctx, run)
      progress.update(`${label ? `${label}: ` : ''}${progressLine(fleet.counts())}`)
      ctx.deps.onProgress?.(ctx.fleet)
    }
  })
  progress.flush()
  absorbStep(ctx, run)
}

function logChanges(ctx: RolloutContext, changed: readonly NodeState[]): void {
  for (const s of changed) {
    if (s.status === 'failure' || s.status === 'lost')
      ctx.deps.log.info(inert(`${plainText(ctx.fleet.labelOf(s), 80)}: ${s.status}`))
    else if (s.note)
      ctx.deps.log.info(
        inert(`${plainText(ctx.fleet.labelOf(s), 80)}: not counted (${plainText(s.note, 120)})`)
      )
  }
}
