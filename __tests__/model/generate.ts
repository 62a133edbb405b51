// Seeded scenarios for the rollout matrix and the soak: scenario K of seed S
// depends on (S, K) only, so one is replayed with MATRIX_SEED=S MATRIX_CASE=K.
import { openQuestion } from './rollout-model.ts'
import type { FaultKind, Mode, Scenario } from './scenario.ts'

export type Rng = () => number

/** mulberry32: a small seeded PRNG (the soak's). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One of `choices`, by weight. */
function weighted<T>(rng: Rng, choices: ReadonlyArray<readonly [T, number]>): T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0)
  let at = rng() * total
  for (const [value, weight] of choices) {
    at -= weight
    if (at < 0) return value
  }
  return choices[choices.length - 1]![0]
}

// Over 3 nodes a datacenter (2 promote targets): one wave, two or three
// waves, percentages, partial rollouts, and one invalid list (a refusal).
const WAVES: ReadonlyArray<readonly [string | undefined, number]> = [
  [undefined, 3],
  ['1, 100%', 4],
  ['1, 2, 3', 2],
  ['34%, 100%', 2],
  ['1', 1],
  ['1, 2', 1],
  ['2, 1', 0.3]
]
const FAULTS: ReadonlyArray<readonly [FaultKind, number]> = [
  ['none', 3],
  ['fail', 3],
  ['silent', 1],
  ['critical', 2],
  ['join', 1]
]
const MODES: ReadonlyArray<readonly [Mode, number]> = [
  ['deploy', 6],
  ['promote', 2],
  ['rollback-to', 2]
]

function draw(rng: Rng): Scenario {
  const datacenters = rng() < 0.3 ? 2 : 1
  const mode = weighted(rng, MODES)
  const kind = weighted(rng, FAULTS)
  const nodesPerDc = 3
  const first = mode === 'promote' ? 1 : 0
  const wait = rng() >= 0.08
  const s: Scenario = {
    datacenters,
    nodesPerDc,
    waves: weighted(rng, WAVES),
    bake: kind === 'critical' ? rng() < 0.8 : rng() < 0.1,
    layout: rng() < 0.3 ? 'releases' : 'in-place',
    autoRollback: rng() < 0.5,
    maxFailures: rng() < 0.7 ? 0 : 1,
    wait,
    mode,
    previous: mode !== 'deploy' || rng() < 0.85,
    fault: {
      kind,
      dc: Math.floor(rng() * datacenters),
      position: first + Math.floor(rng() * (nodesPerDc - first))
    },
    cancel: rng() < 0.08
  }
  // Drawn last, so the fields above stay those of the same (seed, index) before they were added.
  // Two datacenters: half of them with node-1..N in each (contract 8a: a node is a (datacenter, name) pair).
  if (datacenters === 2 && rng() < 0.5) s.repeatNames = true
  // A deploy over a previous release published in the other layout: auto-rollback must
  // bring it back in the run's (contract 8a, 9; issue #19 case 16).
  if (s.previousLayout === undefined && mode === 'deploy' && s.previous && rng() < 0.4) {
    s.previousLayout = s.layout === 'releases' ? 'in-place' : 'releases'
    // mostly with auto-rollback, the part of the contract this region is about
    if (wait && !s.autoRollback) s.autoRollback = rng() < 0.6
  }
  return s
}

/** Scenario `index` of `seed`: drawn again while it falls in an open question of the contract. */
export function scenarioAt(seed: number, index: number): Scenario {
  const rng = mulberry32((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0)
  for (;;) {
    const s = draw(rng)
    if (openQuestion(s) === undefined) return s
  }
}
