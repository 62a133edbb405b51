// A node's result on Serf (contract 13): its tag
// `stretcher-<app>=<deploy-id>:<success|failure>:<clock>`, where <clock> is the
// Lamport time of what delivered the deploy: `$SERF_USER_LTIME` for a user
// event, `q$SERF_QUERY_LTIME` for a query (Serf keeps the two clocks apart).
// And the mark a send leaves (Sent.baseline): the clock of its event or query,
// kind included, so a result is compared with a clock of its own kind only.
import type { ParsedResult, ResultPhase } from '../fleet-state/fleet-state.ts'

export interface Clock {
  kind: 'event' | 'query'
  time: number
}

export interface ResultTag extends ParsedResult {
  clock: Clock
}

export function resultTagName(app: string): string {
  return `stretcher-${app}`
}

// Deploy IDs are [0-9A-Za-z._-] (contract 2a): no colon. A fourth field names
// the phase of `layout: releases` when the node writes one.
const TAG = /^([^:]+):(success|failure):(q?)(\d{1,15})(?::(prepare|switch))?$/

/** A tag as the node wrote it, or why it is not a result. */
export function parseResultTag(value: string | undefined): ResultTag | string {
  if (value === undefined || value === '') return 'no result tag'
  const m = TAG.exec(value.trim())
  if (!m) return 'result tag is not <deploy-id>:<success|failure>:<clock>'
  const [, deployId = '', status, q, time, phase] = m
  return {
    deployId,
    status: status as 'success' | 'failure',
    clock: { kind: q ? 'query' : 'event', time: Number(time) },
    ...(phase ? { phase: phase as ResultPhase } : {})
  }
}

/** The tag a node sets for a result (what the reporting commands write; tests use it too). */
export function formatResultTag(
  deployId: string,
  status: 'success' | 'failure',
  clock: Clock,
  phase?: ResultPhase
): string {
  return `${deployId}:${status}:${clock.kind === 'query' ? 'q' : ''}${clock.time}${phase ? `:${phase}` : ''}`
}

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
 * query on the same clock, at or after the send's own. An older deploy of the
 * same ID (a rollback to it) has an earlier clock and does not count.
 */
export function answersMark(result: Clock, mark: Clock): boolean {
  return result.kind === mark.kind && result.time >= mark.time
}
