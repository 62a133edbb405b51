// The fleet on the pull request: a check run on the commit the PR shows (or a
// commit status when the token may not write checks), a deployment when an
// environment is set. Reporting never changes the verdict: every failure here
// becomes a warning, and the run fails or succeeds on the fleet alone.
import { readFileSync } from 'node:fs'
import { getOctokit } from '@actions/github'
import type { CheckConclusion, FleetReport } from '../report/check-report.ts'
import {
  checkConclusion,
  checkOutput,
  commitState,
  statusDescription
} from '../report/check-report.ts'
import type { FleetState, Verdict } from '../fleet-state/fleet-state.ts'
import type { Log } from '../shared/log.ts'
import type { DeployFacts, LogExcerpt, WaveReport } from '../report/report.ts'
import { plainText } from '../shared/text.ts'

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

export interface RetryOptions {
  /** retries after the first attempt */
  retries: number
  /** first backoff for 5xx and network errors; doubles each retry */
  baseDelayMs: number
  /** a rate limit asking to wait longer than this is not waited for */
  maxWaitMs: number
  /** per request */
  timeoutMs: number
  sleep: (ms: number) => Promise<void>
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

interface ApiError {
  status?: number
  message?: string
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
}

function header(error: ApiError, name: string): string | undefined {
  const value = error.response?.headers?.[name]
  return value === undefined ? undefined : String(value)
}

/** A rate limit (primary or secondary): 429, or 403 saying so. */
function isRateLimit(error: ApiError): boolean {
  if (error.status === 429) return true
  if (error.status !== 403) return false
  return (
    header(error, 'retry-after') !== undefined ||
    header(error, 'x-ratelimit-remaining') === '0' ||
    /rate limit/i.test(error.message ?? '')
  )
}

/** The token may not do this: checks or statuses not writable, repository not visible. */
function isRefused(error: unknown): boolean {
  const e = error as ApiError
  return (e.status === 403 && !isRateLimit(e)) || e.status === 404
}

/** How long GitHub asks us to wait before retrying, or undefined when not retryable. */
function retryDelay(
  error: ApiError,
  attempt: number,
  opts: RetryOptions,
  now: number
): number | undefined {
  if (isRateLimit(error)) {
    const after = Number(header(error, 'retry-after'))
    if (Number.isFinite(after) && after >= 0) return after * 1000
    const reset = Number(header(error, 'x-ratelimit-reset'))
    if (header(error, 'x-ratelimit-remaining') === '0' && Number.isFinite(reset))
      return Math.max(0, reset * 1000 - now)
    // Secondary limit without a hint: GitHub says to wait at least a minute.
    return 60_000
  }
  // Network errors reach us as status 500 from @octokit/request.
  if (error.status === undefined || error.status >= 500)
    return opts.baseDelayMs * 2 ** (attempt - 1)
  return undefined
}

type Octokit = ReturnType<typeof getOctokit>

function createClient(
  token: string,
  baseUrl: string,
  opts: RetryOptions,
  log: Pick<Log, 'info'>,
  now: () => number
): Octokit {
  // @actions/github 9 bundles no retry or throttling plugin: retries live here.
  const octokit = getOctokit(token, {
    baseUrl,
    log: { debug() {}, info() {}, warn() {}, error() {} }
  })
  octokit.hook.wrap('request', async (request, options) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request({
          ...options,
          request: { ...options.request, signal: AbortSignal.timeout(opts.timeoutMs) }
        })
      } catch (error) {
        const delay =
          attempt <= opts.retries ? retryDelay(error as ApiError, attempt, opts, now()) : undefined
        if (delay === undefined || delay > opts.maxWaitMs) throw error
        log.info(
          `GitHub API ${options.method} ${options.url}: ${describe(error)}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${attempt + 1})`
        )
        await opts.sleep(delay)
      }
    }
  })
  return octokit
}

/** One line about an API error: status and GitHub's message, bounded. */
function describe(error: unknown): string {
  const e = error as ApiError
  const message = plainText(String(e.message ?? error).split('\n')[0] ?? '', 200)
  return e.status ? `${e.status} ${message}` : message
}

type Mode = 'checks' | 'status' | 'off'

export function createGitHubReporter(opts: GitHubReporterOptions): FleetReporter {
  const { env, token } = opts
  const repository = env.GITHUB_REPOSITORY ?? ''
  const [owner, repo] = repository.split('/')
  if (!token || !owner || !repo) {
    opts.log.debug('no github-token or GITHUB_REPOSITORY: the fleet is not reported to GitHub')
    return NO_OP
  }
  const sha = reportSha(env, opts.eventPayload)
  if (!sha) {
    opts.log.debug('no commit SHA (GITHUB_SHA): the fleet is not reported to GitHub')
    return NO_OP
  }
  const now = opts.now ?? Date.now
  const retry: RetryOptions = {
    retries: 3,
    baseDelayMs: 1000,
    maxWaitMs: 60_000,
    timeoutMs: 30_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...opts.retry
  }
  // Whatever reaches the log, the token does not.
  const scrub = (message: string) => message.split(token).join('***')
  const log = {
    info: (m: string) => opts.log.info(scrub(m)),
    warning: (m: string) => opts.log.warning(scrub(m))
  }
  const baseUrl = (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '')
  const octokit = createClient(token, baseUrl, retry, log, now)
  const interval = opts.progressIntervalMs ?? 10_000

  let mode: Mode = 'checks'
  let checkRunId: number | undefined
  let checkRunHtmlUrl: string | undefined
  let deploymentId: number | undefined
  let facts: DeployFacts = {}
  let notWaiting = false
  let lastUpdate = -Infinity
  let inflight: Promise<void> = Promise.resolve()
  let busy = false

  const detailsUrl = () => facts.runUrl || undefined

  let pendingPosted = false
  async function postStatus(report: FleetReport, state: ReturnType<typeof commitState>) {
    try {
      await octokit.rest.repos.createCommitStatus({
        owner: owner as string,
        repo: repo as string,
        sha: sha as string,
        state,
        context: opts.checkName,
        description: statusDescription(report),
        target_url: detailsUrl()
      })
      if (state === 'pending' && !pendingPosted) {
        pendingPosted = true
        opts.onStatusPending?.(sha as string, opts.checkName)
      }
    } catch (error) {
      mode = 'off'
      log.warning(
        `could not report the fleet to GitHub: the token may write neither check runs nor commit statuses (${describe(error)}). Give the job \`permissions: checks: write\` (or \`statuses: write\`); fork PRs get a read-only token. The fleet's result is in this job's log and summary.`
      )
    }
  }

  /** Check run create/update; on refusal falls back to a commit status. */
  async function report(report: FleetReport, conclusion: CheckConclusion | 'in_progress') {
    if (mode === 'checks') {
      const output = checkOutput(report)
      const completed =
        conclusion === 'in_progress'
          ? { status: 'in_progress' as const }
          : {
              status: 'completed' as const,
              conclusion,
              completed_at: new Date(now()).toISOString()
            }
      try {
        if (checkRunId === undefined) {
          const created = await octokit.rest.checks.create({
            owner: owner as string,
            repo: repo as string,
            name: opts.checkName,
            head_sha: sha as string,
            details_url: detailsUrl(),
            external_id: report.fleet.deployId,
            started_at: new Date(now()).toISOString(),
            output,
            ...completed
          })
          checkRunId = created.data.id
          checkRunHtmlUrl = created.data.html_url ?? undefined
          opts.onCreated?.('check-run', checkRunId)
        } else {
          await octokit.rest.checks.update({
            owner: owner as string,
            repo: repo as string,
            check_run_id: checkRunId,
            output,
            ...completed
          })
        }
        return
      } catch (error) {
        if (!isRefused(error)) {
          log.warning(
            `could not ${checkRunId === undefined ? 'create' : 'update'} the check run "${opts.checkName}": ${describe(error)}`
          )
          return
        }
        mode = 'status'
        log.info(
          `the token may not write check runs (${describe(error)}); reporting as the commit status "${opts.checkName}" instead`
        )
      }
    }
    if (mode === 'status') await postStatus(report, commitState(conclusion))
  }

  async function deployment(
    state: 'in_progress' | 'success' | 'failure' | 'error',
    description: string
  ) {
    if (!opts.environment) return
    try {
      if (deploymentId === undefined) {
        if (state !== 'in_progress') return // never created: nothing to complete
        const created = await octokit.rest.repos.createDeployment({
          owner: owner as string,
          repo: repo as string,
          ref: sha as string,
          task: 'deploy',
          environment: opts.environment,
          // GitHub would otherwise merge the default branch in, or wait for every check.
          auto_merge: false,
          required_contexts: [],
          description: plainText(`stretcher deploy ${deployIdOf()}`, 140),
          payload: {
            deploy_id: deployIdOf(),
            manifest_url: facts.manifestUrl,
            src_url: facts.srcUrl,
            checksum: facts.checksum
          }
        })
        const id = (created.data as { id?: unknown }).id
        if (typeof id !== 'number') {
          log.warning(
            `GitHub did not create the deployment: ${plainText(JSON.stringify(created.data), 200)}`
          )
          return
        }
        deploymentId = id
        opts.onCreated?.('deployment', id)
      }
      await octokit.rest.repos.createDeploymentStatus({
        owner: owner as string,
        repo: repo as string,
        deployment_id: deploymentId,
        state,
        environment: opts.environment,
        log_url: detailsUrl(),
        description
      })
    } catch (error) {
      log.warning(
        `could not record the GitHub deployment to ${plainText(opts.environment, 100)}: ${describe(error)}`
      )
    }
  }

  let deployIdOf = () => ''

  /** One request chain at a time, in order; the final one waits for the rest. */
  function enqueue(task: () => Promise<void>): Promise<void> {
    inflight = inflight
      .then(task)
      .catch((error: unknown) => log.warning(`GitHub reporting failed: ${describe(error)}`))
    return inflight
  }

  return {
    started(info) {
      facts = info.facts
      notWaiting = info.notWaiting === true
      deployIdOf = () => info.fleet.deployId
      lastUpdate = now()
      const r: FleetReport = { fleet: info.fleet, verdict: { done: false }, facts, notWaiting }
      return enqueue(async () => {
        await report(r, 'in_progress')
        await deployment('in_progress', statusDescription(r))
      })
    },

    progress(snapshot) {
      if (mode === 'off' || busy || now() - lastUpdate < interval) return Promise.resolve()
      lastUpdate = now()
      busy = true
      const r: FleetReport = { fleet: snapshot.fleet, verdict: { done: false }, facts, notWaiting }
      return enqueue(async () => {
        try {
          // A commit status says only pending: one was posted already.
          if (mode === 'checks') await report(r, 'in_progress')
        } finally {
          busy = false
        }
      })
    },

    finished(outcome) {
      if (deployIdOf() === '') deployIdOf = () => outcome.fleet.deployId
      const r: FleetReport = {
        fleet: outcome.fleet,
        verdict: outcome.verdict,
        facts: {
          ...facts,
          durationMs: outcome.durationMs ?? facts.durationMs,
          cancelled: outcome.cancelled,
          error: outcome.error
        },
        excerpts: outcome.excerpts,
        notWaiting,
        waves: outcome.waves
      }
      const conclusion = checkConclusion(r)
      return enqueue(async () => {
        if (mode !== 'off') await report(r, conclusion)
        const state =
          conclusion === 'success'
            ? 'success'
            : conclusion === 'cancelled'
              ? 'error'
              : conclusion === 'neutral'
                ? 'in_progress'
                : 'failure'
        await deployment(state, statusDescription(r))
      })
    },

    checkRunUrl() {
      return mode === 'checks' && checkRunId !== undefined ? checkRunHtmlUrl : undefined
    }
  }
}

/**
 * For the post step: complete a check run and a deployment the main step left
 * open (it was killed before its verdict). Never throws.
 */
export async function completeAbandoned(opts: {
  token?: string
  env: NodeJS.ProcessEnv
  checkRunId?: number
  deploymentId?: number
  /** a commit status the main step left pending (the fallback when checks were refused) */
  pendingStatus?: { sha: string; context: string }
  log: Log
}): Promise<void> {
  const [owner, repo] = (opts.env.GITHUB_REPOSITORY ?? '').split('/')
  if (
    !opts.token ||
    !owner ||
    !repo ||
    (!opts.checkRunId && !opts.deploymentId && !opts.pendingStatus)
  )
    return
  const token = opts.token
  const scrub = (m: string) => m.split(token).join('***')
  const baseUrl = (opts.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '')
  const retry: RetryOptions = {
    retries: 2,
    baseDelayMs: 500,
    maxWaitMs: 5000,
    timeoutMs: 10_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  }
  const octokit = createClient(
    token,
    baseUrl,
    retry,
    { info: (m) => opts.log.info(scrub(m)) },
    Date.now
  )
  const summary =
    'The deploy step stopped before the fleet gave its verdict (cancelled or killed). The fleet may be part-way through this release: see the run log.'
  try {
    if (opts.checkRunId) {
      await octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: opts.checkRunId,
        status: 'completed',
        conclusion: 'cancelled',
        completed_at: new Date().toISOString(),
        output: { title: 'cancelled before the fleet converged', summary }
      })
      opts.log.info(`completed the check run left open as cancelled`)
    }
    if (opts.pendingStatus) {
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: opts.pendingStatus.sha,
        context: opts.pendingStatus.context,
        state: 'error',
        description: 'cancelled before the fleet converged'
      })
      opts.log.info(`completed the commit status left pending as error (cancelled)`)
    }
    if (opts.deploymentId) {
      await octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: opts.deploymentId,
        state: 'error',
        description: 'cancelled before the fleet converged'
      })
    }
  } catch (error) {
    opts.log.warning(
      scrub(
        `could not complete the check run, commit status or deployment left open: ${describe(error)}`
      )
    )
  }
}
