// What a report is made from: the fleet, the verdict, what the run knows about
// the release (DeployFacts), failed nodes' logs and the staged rollout's waves.
// Apart from the code that reads them because every part of the report, the
// pipeline and the GitHub side share these shapes and nothing else. Types only.
import type { FleetState, Verdict } from '../fleet-state/fleet-state.ts'

/** A failed node's log, as read from `<kv-prefix>/logs/<node>` of its datacenter (untrusted). */
export interface LogExcerpt {
  node: string
  /** the node's datacenter, when the run names datacenters */
  datacenter?: string
  text: string
}

/** What the run knows about the release and how far it got, for the summary and the check run. */
export interface DeployFacts {
  /** the `app` input */
  app?: string
  /** the `environment` input */
  environment?: string
  manifestUrl?: string
  srcUrl?: string
  checksum?: string
  /** the commit of the release (a rollback's: the release's, not the run's) */
  commit?: string
  /** from the event to the verdict */
  durationMs?: number
  runUrl?: string
  /** the wait was cancelled (SIGINT/SIGTERM) */
  cancelled?: boolean
  /** the wait broke off with an error: the run fails with this message */
  error?: string
  /** epoch ms the event was fired */
  firedAt?: number
  /** when the release was published (ISO text or epoch ms) */
  publishedAt?: string | number
  /** the `timeout` input, in ms */
  timeoutMs?: number
  /** latest and deploy-id now name this release; undefined: not known */
  latestMoved?: boolean
  /** the event went out; undefined: not known */
  eventFired?: boolean
  /** what deploy-id named before this run: the release this one replaces */
  previousDeployId?: string
  /** this run re-announced an earlier release (`rollback-to`) */
  rollback?: boolean
}

/** A wave of a staged rollout, as the pipeline ran it (times in epoch ms). */
export interface WaveReport {
  /** 1-based; 0 is layout: releases' prepare, sent to every target before wave 1 */
  wave: number
  /** the datacenter it went to, when the run names datacenters (each has its own waves) */
  datacenter?: string
  /** the wave's nodes by their labels (FleetState.labelOf) */
  nodes: string[]
  startedAt?: number
  endedAt?: number
  /** the gate after it, in words (`bake 30s`, `check web critical on node-3`) */
  gate?: string
  /** undefined: not finished (or not started) */
  passed?: boolean
}

/** Everything a report is made from. */
export interface FleetReport {
  fleet: FleetState
  /** `{ done: false }` while waiting, or when the run did not wait */
  verdict: Verdict
  facts: DeployFacts
  /** failed nodes' logs (untrusted) */
  excerpts?: readonly LogExcerpt[]
  /** the run did not wait for the fleet (`wait: false`) */
  notWaiting?: boolean
  /** the staged rollout's waves, when there were any */
  waves?: readonly WaveReport[]
  /** auto-rollback's outcome in one line, when it ran (contract 8: say that it rolled back, and how) */
  rollback?: string
  /** the health checks that failed a wave's gate (node, check, output), when one did: the cause */
  gateFailure?: string
}
