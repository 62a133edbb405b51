// One case of the rollout matrix, end to end: a fresh fleet, the releases
// before the run, the run in process, the fleet settled, then the model's
// prediction judged against the fleet and the outputs.
import type { InProcessRun } from '../helpers/inprocess-run.ts'
import { runScenario, scenarioFleet, settle, setUp } from './fleet-scenario.ts'
import { scenarioAt } from './generate.ts'
import { judge } from './judge.ts'
import type { Prediction } from './rollout-model.ts'
import { predict } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'
import { describeScenario, releasesOf } from './scenario.ts'

export interface CaseOutcome {
  seed: number
  index: number
  scenario: Scenario
  prediction: Prediction
  run?: InProcessRun
  /** empty when the executor and the fleet agree with the model */
  disagreements: string[]
  ms: number
}

export async function runCase(
  seed: number,
  index: number,
  scenario: Scenario = scenarioAt(seed, index)
): Promise<CaseOutcome> {
  const started = Date.now()
  const prediction = predict(scenario)
  const outcome = (disagreements: string[], run?: InProcessRun): CaseOutcome => ({
    seed,
    index,
    scenario,
    prediction,
    ...(run ? { run } : {}),
    disagreements,
    ms: Date.now() - started
  })
  const { fleet, arm, addSilent } = await scenarioFleet(scenario, releasesOf(scenario).release)
  try {
    await setUp(scenario, fleet)
    arm()
    await addSilent()
    const from = fleet.consul.arrivals.length
    const run = await runScenario(scenario, fleet)
    await settle(fleet, scenario.fault.kind === 'join' ? 1500 : 600)
    return outcome(judge(scenario, prediction, run, fleet, from), run)
  } catch (error) {
    return outcome([`the case broke off: ${(error as Error).stack ?? String(error)}`])
  } finally {
    await fleet.stop()
  }
}

/** What a failing case prints: enough to replay it and to see why. */
export function formatCase(c: CaseOutcome): string {
  return [
    `case ${c.index} of seed ${c.seed}: ${describeScenario(c.scenario)}`,
    `  replay: MATRIX_SEED=${c.seed} MATRIX_CASE=${c.index} npx node --test __tests__/rollout-matrix.test.ts`,
    `  scenario: ${JSON.stringify(c.scenario)}`,
    ...c.disagreements.map((d) => `  - ${d}`),
    ...(c.run
      ? [
          `  failure line: ${c.run.message.split('\n')[0]}`,
          `  results: ${c.run.outputs.results ?? '-'}`
        ]
      : [])
  ].join('\n')
}

/** Runs `indexes` with at most `concurrency` cases at once (each its own fleet). */
export async function runCases(
  seed: number,
  indexes: number[],
  concurrency: number,
  onCase?: (c: CaseOutcome) => void,
  until = Infinity
): Promise<CaseOutcome[]> {
  const queue = [...indexes]
  const done: CaseOutcome[] = []
  const worker = async (): Promise<void> => {
    for (let i = queue.shift(); i !== undefined && Date.now() < until; i = queue.shift()) {
      const c = await runCase(seed, i)
      done.push(c)
      onCase?.(c)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return done.sort((a, b) => a.index - b.index)
}
