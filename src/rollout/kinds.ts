// The step kinds in one table (contract 8, 9): the manifest each sends, the
// phase whose results count, whether it is a wave of the rollout, and how it
// is named. The executor asks the table; it never tests a kind itself.
import type { ResultPhase } from '../fleet-state/fleet-state.ts'
import { labelsOfSteps } from '../fleet-state/fleet-state.ts'
import type { Step, StepKind } from './plan/plan.ts'
import type { RolloutRelease } from './types.ts'

export interface Kind {
  /** the manifest the step's event carries */
  url(release: RolloutRelease): string | undefined
  /** layout: releases: only results of this phase finish the step */
  phase?: ResultPhase
  /** a wave of the rollout (counted in waves-completed, rolled back); a prepare is not */
  isWave: boolean
  /** nodes that fail it are left out of their datacenter's later steps */
  gatesLaterSteps: boolean
  /**
   * without `waves`, its event carries the configured filters (today's one-wave
   * event) rather than a list of node names
   */
  byFiltersAsOneWave: boolean
  /**
   * as the last wave, the manifest it sends to nodes that joined the targets
   * meanwhile (contract 8, 8a); undefined: none. A joiner has not prepared the
   * release, so a switch sends it the combined manifest (prepare and switch in
   * one run, reported as a switch).
   */
  joinerUrl(release: RolloutRelease): string | undefined
  label(step: Step): string
  /** why a node of a step that never started was not sent anything */
  notStarted(step: Step): string
}

const where = (step: Step) => (step.datacenter ? `${step.datacenter} ` : '')
const wave = (step: Step) => `wave ${step.wave}/${step.waves}`

export const KINDS: Record<StepKind, Kind> = {
  deploy: {
    url: (release) => release.manifestUrl,
    isWave: true,
    gatesLaterSteps: false,
    byFiltersAsOneWave: true,
    joinerUrl: (release) => release.manifestUrl,
    label: (step) => `${where(step)}${wave(step)}`,
    notStarted: (step) => `not sent: ${where(step)}wave ${step.wave} did not start`
  },
  prepare: {
    url: (release) => release.prepareUrl,
    phase: 'prepare',
    isWave: false,
    gatesLaterSteps: true,
    byFiltersAsOneWave: false,
    joinerUrl: () => undefined,
    label: (step) => `${where(step)}prepare`,
    notStarted: () => 'not sent: the prepare did not start'
  },
  switch: {
    url: (release) => release.switchUrl,
    phase: 'switch',
    isWave: true,
    gatesLaterSteps: false,
    byFiltersAsOneWave: false,
    joinerUrl: (release) => release.manifestUrl,
    label: (step) => `${where(step)}${step.waves > 1 ? `switch ${wave(step)}` : 'switch'}`,
    notStarted: (step) => `not switched: ${KINDS.switch.label(step)} did not start`
  }
}

/** The manifest a step sends; a release without that manifest cannot run the step. */
export function stepUrl(step: Step, release: RolloutRelease): string {
  const url = KINDS[step.kind].url(release)
  if (!url) throw new Error(`release ${release.deployId} has no ${step.kind} manifest`)
  return url
}

/** Each step by its label, with its nodes' labels (a repeated name with its datacenter). */
export function labelledSteps(steps: readonly Step[]): Array<{ label: string; nodes: string[] }> {
  const labels = labelsOfSteps(steps)
  let at = 0
  return steps.map((step) => {
    const nodes = labels.slice(at, (at += step.nodes.length))
    return { label: KINDS[step.kind].label(step), nodes }
  })
}
