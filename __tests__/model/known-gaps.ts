// Regions of the scenario space where the executor disagrees with the
// contract today, each named with the contract line it does not keep. The
// matrix and the soak leave them out (and say how many); the report of the
// helper that found them lists them. The generator draws names repeated across
// datacenters and previous releases in the other layout (issue #19 cases 12
// and 16) like any other region.
import type { Scenario } from './scenario.ts'

export interface KnownGap {
  name: string
  /** the contract line the executor does not keep yet */
  contract: string
  matches(s: Scenario): boolean
}

// None today. The last one (every node of a last switch wave failed its
// prepare, within max-failures: seed 7 case 77) moves latest with no event now.
export const KNOWN_GAPS: KnownGap[] = []

export const gapOf = (s: Scenario): KnownGap | undefined => KNOWN_GAPS.find((g) => g.matches(s))
