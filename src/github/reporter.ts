// The fleet on the pull request: a check run on the commit the PR shows (or a
// commit status when the token may not write checks), a deployment when an
// environment is set. Reporting never changes the verdict: every failure here
// becomes a warning, and the run fails or succeeds on the fleet alone.
import { readFileSync } from 'node:fs'
import type { FleetReport } from '../report/check-report.ts'
import { checkConclusion, statusDescription } from '../report/check-report.ts'
import type { FleetState, Verdict } from '../fleet-state/fleet-state.ts'
import type { Log } from '../shared/log.ts'
import type { DeployFacts, LogExcerpt, WaveReport } from '../report/report.ts'
import type { ReportTarget } from './check-run-sink.ts'
import { CheckRunSink } from './check-run-sink.ts'
import type { RetryOptions } from './client.ts'
import { connectGitHub, describe, sleep } from './client.ts'
import { DeploymentSink, deploymentState } from './deployment-sink.ts'
import { ReportQueue } from './report-queue.ts'

export type { RetryOptions } from './client.ts'
export { completeAbandoned } from './abandoned.ts'

/** After the event is fired: the fleet to wait for and the release's facts. */
export interface DeployInfo {
  fleet: FleetState
  facts: DeployFacts
  /** the run will not wait for the fleet (`wait: false`) */
  notWaiting?: boolean
}

export interface FleetSnapshot {
  fleet: FleetState
}

export interface FleetOutcome {
  fleet: FleetState
  /** `fleet.verdict()`; `{ done: false }` when the run did not wait */
  verdict: Verdict
  excerpts?: readonly LogExcerpt[]
  cancelled?: boolean
  /** the wait broke off with this error (the run fails with it) */
  error?: string
  /** from the event to the verdict */
  durationMs?: number
  /** a staged rollout's waves, as far as they got */
  waves?: readonly WaveReport[]
  /** auto-rollback's outcome in one line, when it ran */
  rollback?: string
  /** the health checks that failed a wave's gate, when one did */
  gateFailure?: string
}

export interface FleetReporter {
  /** Check run (or commit status) `in_progress`, and the deployment when `environment` is set. */
  started(info: DeployInfo): Promise<void>
  /** At most one API update per 10 s; calls in between are dropped (the next or the final one carries them). */
  progress(snapshot: FleetSnapshot): Promise<void>
  /** Completes the check run, the commit status and the deployment. Never throws. */
  finished(outcome: FleetOutcome): Promise<void>
  /** The check run's html_url; undefined when none was created or reporting fell back to a commit status. */
  checkRunUrl(): string | undefined
}

export interface GitHubReporterOptions {
  token?: string
  env: NodeJS.ProcessEnv
  checkName: string
  environment?: string
  log: Log
  now?: () => number
  /** the event payload; read from GITHUB_EVENT_PATH when absent */
  eventPayload?: unknown
  /** ms between progress updates */
  progressIntervalMs?: number
  retry?: Partial<RetryOptions>
  /** told the IDs it creates, so the post step can complete them if this process dies */
  onCreated?: (what: 'check-run' | 'deployment', id: number) => void
  /** a commit status (the fallback) now says pending on `sha`: left so if the run is killed */
  onStatusPending?: (sha: string, context: string) => void
}

const NO_OP: FleetReporter = {
  started: async () => {},
  progress: async () => {},
  finished: async () => {},
  checkRunUrl: () => undefined
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/

function readEventPayload(env: NodeJS.ProcessEnv): unknown {
  if (!env.GITHUB_EVENT_PATH) return undefined
  try {
    return JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * The commit the PR shows: on pull_request events GITHUB_SHA is the synthetic
 * merge commit, and a check on it never appears on the PR; the head SHA does.
 */
export function reportSha(env: NodeJS.ProcessEnv, eventPayload?: unknown): string | undefined {
  if (env.GITHUB_EVENT_NAME === 'pull_request' || env.GITHUB_EVENT_NAME === 'pull_request_target') {
    const payload = (eventPayload ?? readEventPayload(env)) as
      { pull_request?: { head?: { sha?: unknown } } } | undefined
    const head = payload?.pull_request?.head?.sha
    if (typeof head === 'string' && SHA.test(head)) return head
  }
  return env.GITHUB_SHA || undefined
}

/** The fleet on the pull request: its own state is what the run has said of the release so far. */
class GitHubFleetReporter implements FleetReporter {
  private facts: DeployFacts = {}
  private notWaiting = false
  /** the release's deploy ID, for the deployment it creates */
  private deployId = ''
  private readonly checks: CheckRunSink
  private readonly deployments: DeploymentSink
  private readonly queue: ReportQueue

  constructor(checks: CheckRunSink, deployments: DeploymentSink, queue: ReportQueue) {
    this.checks = checks
    this.deployments = deployments
    this.queue = queue
  }

  started(info: DeployInfo): Promise<void> {
    this.facts = info.facts
    this.notWaiting = info.notWaiting === true
    this.deployId = info.fleet.deployId
    this.queue.restartInterval()
    const r = this.report(info.fleet)
    return this.queue.run(async () => {
      await this.checks.report(r, 'in_progress')
      await this.deployments.record('in_progress', statusDescription(r), this.release())
    })
  }

  progress(snapshot: FleetSnapshot): Promise<void> {
    if (this.checks.mode === 'off') return Promise.resolve()
    const r = this.report(snapshot.fleet)
    return this.queue.throttled(async () => {
      // A commit status says only pending: one was posted already.
      if (this.checks.mode === 'checks') await this.checks.report(r, 'in_progress')
    })
  }

  finished(outcome: FleetOutcome): Promise<void> {
    if (this.deployId === '') this.deployId = outcome.fleet.deployId
    const r: FleetReport = {
      fleet: outcome.fleet,
      verdict: outcome.verdict,
      facts: {
        ...this.facts,
        durationMs: outcome.durationMs ?? this.facts.durationMs,
        cancelled: outcome.cancelled,
        error: outcome.error
      },
      excerpts: outcome.excerpts,
      notWaiting: this.notWaiting,
      waves: outcome.waves,
      rollback: outcome.rollback,
      gateFailure: outcome.gateFailure
    }
    const conclusion = checkConclusion(r)
    return this.queue.run(async () => {
      if (this.checks.mode !== 'off') await this.checks.report(r, conclusion)
      await this.deployments.record(
        deploymentState(conclusion),
        statusDescription(r),
        this.release()
      )
    })
  }

  checkRunUrl(): string | undefined {
    return this.checks.url()
  }

  /** The fleet while it deploys: no verdict yet. */
  private report(fleet: FleetState): FleetReport {
    return { fleet, verdict: { done: false }, facts: this.facts, notWaiting: this.notWaiting }
  }

  private release() {
    return { deployId: this.deployId, facts: this.facts }
  }
}

/** The repository and commit to report on, or why there are none (the run reports nothing then). */
function reportTarget(
  opts: GitHubReporterOptions
): { token: string; owner: string; repo: string; sha: string } | string {
  const [owner, repo] = (opts.env.GITHUB_REPOSITORY ?? '').split('/')
  if (!opts.token || !owner || !repo)
    return 'no github-token or GITHUB_REPOSITORY: the fleet is not reported to GitHub'
  const sha = reportSha(opts.env, opts.eventPayload)
  if (!sha) return 'no commit SHA (GITHUB_SHA): the fleet is not reported to GitHub'
  return { token: opts.token, owner, repo, sha }
}

export function createGitHubReporter(opts: GitHubReporterOptions): FleetReporter {
  const where = reportTarget(opts)
  if (typeof where === 'string') {
    opts.log.debug(where)
    return NO_OP
  }
  const now = opts.now ?? Date.now
  const retry: RetryOptions = {
    retries: 3,
    baseDelayMs: 1000,
    maxWaitMs: 60_000,
    timeoutMs: 30_000,
    sleep,
    ...opts.retry
  }
  const { octokit, log } = connectGitHub(where.token, opts.env, retry, opts.log, now)
  const target: ReportTarget = {
    octokit,
    owner: where.owner,
    repo: where.repo,
    sha: where.sha,
    log
  }
  const checks = new CheckRunSink(target, {
    checkName: opts.checkName,
    now,
    onCreated: opts.onCreated,
    onStatusPending: opts.onStatusPending
  })
  const deployments = new DeploymentSink(target, opts.environment, opts.onCreated)
  const queue = new ReportQueue(now, opts.progressIntervalMs ?? 10_000, (error) =>
    log.warning(`GitHub reporting failed: ${describe(error)}`)
  )
  return new GitHubFleetReporter(checks, deployments, queue)
}
