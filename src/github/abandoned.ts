// The post step's part: the main step was killed before its verdict, and left a
// check run, a commit status or a deployment saying the deploy is under way.
import type { Log } from '../shared/log.ts'
import type { RetryOptions } from './client.ts'
import { connectGitHub, describe, sleep } from './client.ts'

const CANCELLED = 'cancelled before the fleet converged'

const SUMMARY =
  'The deploy step stopped before the fleet gave its verdict (cancelled or killed). The fleet may be part-way through this release: see the run log.'

// The post step has little time: a few short retries, no long rate-limit waits.
const RETRY: RetryOptions = {
  retries: 2,
  baseDelayMs: 500,
  maxWaitMs: 5000,
  timeoutMs: 10_000,
  sleep
}

export interface AbandonedReports {
  token?: string
  env: NodeJS.ProcessEnv
  checkRunId?: number
  deploymentId?: number
  /** a commit status the main step left pending (the fallback when checks were refused) */
  pendingStatus?: { sha: string; context: string }
  log: Log
}

/**
 * For the post step: complete a check run and a deployment the main step left
 * open (it was killed before its verdict). Never throws.
 */
export async function completeAbandoned(opts: AbandonedReports): Promise<void> {
  const [owner, repo] = (opts.env.GITHUB_REPOSITORY ?? '').split('/')
  if (
    !opts.token ||
    !owner ||
    !repo ||
    (!opts.checkRunId && !opts.deploymentId && !opts.pendingStatus)
  )
    return
  const { octokit, log } = connectGitHub(opts.token, opts.env, RETRY, opts.log, Date.now)
  const cancelled = { owner, repo, state: 'error', description: CANCELLED } as const
  try {
    if (opts.checkRunId) {
      await octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: opts.checkRunId,
        status: 'completed',
        conclusion: 'cancelled',
        completed_at: new Date().toISOString(),
        output: { title: CANCELLED, summary: SUMMARY }
      })
      opts.log.info(`completed the check run left open as cancelled`)
    }
    if (opts.pendingStatus) {
      const { sha, context } = opts.pendingStatus
      await octokit.rest.repos.createCommitStatus({ ...cancelled, sha, context })
      opts.log.info(`completed the commit status left pending as error (cancelled)`)
    }
    if (opts.deploymentId)
      await octokit.rest.repos.createDeploymentStatus({
        ...cancelled,
        deployment_id: opts.deploymentId
      })
  } catch (error) {
    log.warning(
      `could not complete the check run, commit status or deployment left open: ${describe(error)}`
    )
  }
}
