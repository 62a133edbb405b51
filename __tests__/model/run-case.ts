// One case of the rollout matrix, end to end: a fresh fleet, the releases
// before the run, the run in process, the fleet settled, then the model's
// prediction judged against the fleet and the outputs.
import type { InProcessRun } from '../helpers/inprocess-run.ts'
import type { Runner } from './fleet-scenario.ts'
import { runScenario, scenarioFleet, settle, setUp } from './fleet-scenario.ts'
import { fleetInvariants, watchTrees } from './fleet-invariants.ts'
import { scenarioAt } from './generate.ts'
import { judge } from './judge.ts'
import type { Prediction } from './rollout-model.ts'
import { predict } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'
import { describeScenario, releasesOf } from './scenario.ts'

/** How long the fleet may take to come to the model's state after the run (loaded machines). */
const CONVERGE_MS = 20_000

/** `check` run until it finds nothing or CONVERGE_MS pass: its last findings. */
async function converged(check: () => string[]): Promise<string[]> {
  let found = check()
  for (const until = Date.now() + CONVERGE_MS; found.length > 0 && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 200))
    found = check()
  }
  return found
}

export interface CaseOutcome {
  seed: number
  index: number
  scenario: Scenario
  prediction: Prediction
  run?: InProcessRun
  /** empty when the executor and the fleet agree with the model */
  disagreements: string[]
  /** the soak's fleet invariants broken (when asked for) */
  violations: string[]
  ms: number
}

export interface CaseOptions {
  runner?: Runner
  /** also sample the trees during the run and check the soak's fleet invariants */
  invariants?: boolean
}

export async function runCase(
  seed: number,
  index: number,
  scenario: Scenario = scenarioAt(seed, index),
  options: CaseOptions = {}
): Promise<CaseOutcome> {
  const started = Date.now()
  const prediction = predict(scenario)
  const outcome = (disagreements: string[], run?: InProcessRun, violations: string[] = []) => ({
    seed,
    index,
    scenario,
    prediction,
    ...(run ? { run } : {}),
    disagreements,
    violations,
    ms: Date.now() - started
  })
  const { fleet, arm, addSilent } = await scenarioFleet(scenario, releasesOf(scenario).release)
  try {
    await setUp(scenario, fleet)
    arm()
    await addSilent()
    const from = fleet.consul.arrivals.length
    const watch = options.invariants ? watchTrees(scenario, fleet) : undefined
    const run = await runScenario(scenario, fleet, options.runner)
    await settle(fleet, scenario.fault.kind === 'join' ? 1500 : 600)
    // Nodes sent something the run did not wait for (wait: false, a cancel) apply
    // it after the run: the fleet must come to the model's state, not at once.
    const disagreements = await converged(() => judge(scenario, prediction, run, fleet, from))
    const sampled = watch?.stop() ?? []
    // A node still applying has its tree before its report: judged once it settles.
    const atEnd = watch ? await converged(() => fleetInvariants(scenario, fleet, run.code)) : []
    return outcome(disagreements, run, [...sampled, ...atEnd])
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
    ...c.violations.map((v) => `  - invariant: ${v}`),
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
  until = Infinity,
  options: CaseOptions = {}
): Promise<CaseOutcome[]> {
  const queue = [...indexes]
  const done: CaseOutcome[] = []
  const worker = async (): Promise<void> => {
    for (let i = queue.shift(); i !== undefined && Date.now() < until; i = queue.shift()) {
      const c = await runCase(seed, i, scenarioAt(seed, i), options)
      done.push(c)
      onCase?.(c)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return done.sort((a, b) => a.index - b.index)
}
