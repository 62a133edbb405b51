// Regions of the scenario space where the executor disagrees with the
// contract today, each named with the contract line it does not keep. The
// matrix and the soak leave them out (and say how many); the report of the
// helper that found them lists them. Node names stay distinct across
// datacenters and a scenario's releases share one layout (issue #19 cases 12
// and 16, fixed apart): the generator never draws those regions.
import { waveCounts } from './rollout-model.ts'
import type { Scenario } from './scenario.ts'

export interface KnownGap {
  name: string
  /** the contract line the executor does not keep yet */
  contract: string
  matches(s: Scenario): boolean
}

export const KNOWN_GAPS: KnownGap[] = [
  {
    // e.g. seed 7 case 77: waves 34%, 100% over 3 nodes, the last wave's only
    // node fails its prepare with max-failures 1. The executor stops the run at
    // the empty last switch wave ("more than 1 failed", with one failed) and
    // leaves latest; the contract counts 1 failure within max-failures 1.
    name: 'releases: every node of a last switch wave failed its prepare, within max-failures',
    contract:
      'CONTRACT 7 "at most max-failures did not"; 8 "they move just before the last wave\'s event"',
    matches: (s) => {
      if (s.layout !== 'releases' || s.mode !== 'deploy' || s.fault.kind !== 'fail') return false
      if (s.maxFailures < 1) return false
      const counts = waveCounts(s.waves, s.nodesPerDc) ?? []
      const from = counts.length > 1 ? counts[counts.length - 2]! : 0
      const to = counts[counts.length - 1]!
      return to - from === 1 && s.fault.position === from && to === s.nodesPerDc
    }
  }
]

export const gapOf = (s: Scenario): KnownGap | undefined => KNOWN_GAPS.find((g) => g.matches(s))
