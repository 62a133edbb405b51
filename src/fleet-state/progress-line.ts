// The fleet's progress in one line: the log while it waits, the check run's title mid-run.
import type { FleetCounts } from './fleet-state.ts'

export function progressLine(c: FleetCounts): string {
  const done = c.succeeded + c.failed
  return `${done}/${c.total} done, ${c.failed} failed, ${c.pending} waiting`
}
