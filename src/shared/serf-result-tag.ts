// A node's result on Serf (contract 13), the one place its format lives: the
// tag `stretcher-<app>` = `<deploy-id>:<success|failure>:<clock>[:<phase>]`.
// The node's reporting commands write it (publish/manifest/node-report.ts) and
// the Serf backend reads it (serf/). Pure.
//
// <clock> says when the node took the deploy, on Serf's Lamport clocks (Serf
// keeps one for user events and one for queries):
// - `N`: a user event delivered it, `$SERF_USER_LTIME`;
// - `qN`: a query delivered it, `$SERF_QUERY_LTIME`;
// - `NqM`: nothing delivered it (a node booting from `latest`, or a run by
//   hand): its agent's event clock N and query clock M when it reported. A
//   joining agent takes the cluster's clocks in its first full sync, so a node
//   that joined after a send and then booted the release reports clocks at or
//   above that send's. (Before this form, such a report wrote `0`.)
// <phase> is there with `layout: releases` (contract 9) only.

export type SerfResultPhase = 'prepare' | 'switch'

/** A send's clock: the user event's LTime, or the query clock read before the queries. */
export interface Clock {
  kind: 'event' | 'query'
  time: number
}

/** A boot report's clock: both of the agent's clocks when it reported. */
export interface BootClock {
  kind: 'boot'
  event: number
  query: number
}

export type SerfResultClock = Clock | BootClock

export interface SerfResult {
  deployId: string
  status: 'success' | 'failure'
  clock: SerfResultClock
  phase?: SerfResultPhase
}

/** The tag an app's result is in. */
export function serfResultTagName(app: string): string {
  return `stretcher-${app}`
}

// Deploy IDs are [0-9A-Za-z._-] (contract 2a): no colon.
const TAG =
  /^([0-9A-Za-z._-]+):(success|failure):(?:(\d{1,15})q(\d{1,15})|q(\d{1,15})|(\d{1,15}))(?::(prepare|switch))?$/

/** A tag as a node wrote it, or why it is not a result. */
export function parseSerfResult(value: string | undefined): SerfResult | string {
  if (value === undefined || value === '') return 'no result tag'
  const m = TAG.exec(value.trim())
  if (!m) return 'result tag is not <deploy-id>:<success|failure>:<clock>[:<phase>]'
  const [, deployId = '', status, bootEvent, bootQuery, query, event, phase] = m
  const clock: SerfResultClock =
    bootEvent !== undefined
      ? { kind: 'boot', event: Number(bootEvent), query: Number(bootQuery) }
      : query !== undefined
        ? { kind: 'query', time: Number(query) }
        : { kind: 'event', time: Number(event) }
  return {
    deployId,
    status: status as SerfResult['status'],
    clock,
    ...(phase ? { phase: phase as SerfResultPhase } : {})
  }
}

export function formatSerfClock(clock: SerfResultClock): string {
  if (clock.kind === 'boot') return `${clock.event}q${clock.query}`
  return `${clock.kind === 'query' ? 'q' : ''}${clock.time}`
}

/**
 * The tag's value with `clock` as given: formatSerfClock's text, or a shell
 * expansion that the reporting command splices in on the node.
 */
export function serfResultValue(
  deployId: string,
  status: SerfResult['status'],
  clock: string,
  phase?: SerfResultPhase
): string {
  return `${deployId}:${status}:${clock}${phase ? `:${phase}` : ''}`
}

export function formatSerfResult(result: SerfResult): string {
  return serfResultValue(
    result.deployId,
    result.status,
    formatSerfClock(result.clock),
    result.phase
  )
}

/**
 * Whether a result's clock answers a send's: on the same clock, at or after
 * the send's own (a boot report's clock of the send's kind). An older deploy
 * of the same ID (a rollback to it) has an earlier clock and does not count.
 */
export function answersClock(result: SerfResultClock, sent: Clock): boolean {
  if (result.kind === 'boot')
    return (sent.kind === 'event' ? result.event : result.query) >= sent.time
  return result.kind === sent.kind && result.time >= sent.time
}
