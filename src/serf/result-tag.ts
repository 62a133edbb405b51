// The mark a send leaves (Sent.baseline): the clock of its event or query,
// kind included, so a result is compared with a clock of its own kind only.
// The result tag itself (its format, build and parse) is shared with the
// node's reporting commands: shared/serf-result-tag.ts.
import type { Clock, SerfResultClock } from '../shared/serf-result-tag.ts'
import { answersClock } from '../shared/serf-result-tag.ts'

export type { Clock }

/**
 * A send's mark as one number (Sent.baseline): the clock's time, doubled, plus
 * one for the query clock. Marks of one kind keep their order.
 */
export function encodeMark(clock: Clock): number {
  return clock.time * 2 + (clock.kind === 'query' ? 1 : 0)
}

export function decodeMark(mark: number): Clock {
  const time = Math.floor(mark / 2)
  return { kind: mark % 2 === 1 ? 'query' : 'event', time }
}

/**
 * Whether a result answers the send that left `mark`: written for an event or
 * query on the same clock, at or after the send's own, or a boot report whose
 * clock of that kind is (the node joined after the send and booted `latest`).
 * An older deploy of the same ID (a rollback to it) has an earlier clock and
 * does not count.
 */
export function answersMark(result: SerfResultClock, mark: Clock): boolean {
  return answersClock(result, mark)
}
