// The fleet as a check run on the commit; when the token may not write checks,
// as a commit status of the same name instead; when it may write neither, not
// at all (a warning says why).
import type { CheckConclusion, FleetReport } from '../report/check-report.ts'
import { checkOutput, commitState, statusDescription } from '../report/check-report.ts'
import type { GitHubLog, Octokit } from './client.ts'
import { describe, isRefused } from './client.ts'

/** Where reports go: the check run, its fallback the commit status, or nowhere. */
export type SinkMode = 'checks' | 'status' | 'off'

/** The commit reports are about, and how to reach its repository. */
export interface ReportTarget {
  octokit: Octokit
  owner: string
  repo: string
  sha: string
  log: GitHubLog
}

export interface CheckRunSinkOptions {
  checkName: string
  now: () => number
  onCreated?: (what: 'check-run', id: number) => void
  onStatusPending?: (sha: string, context: string) => void
}

export class CheckRunSink {
  mode: SinkMode = 'checks'
  private checkRunId: number | undefined
  private htmlUrl: string | undefined
  private pendingPosted = false
  private readonly target: ReportTarget
  private readonly opts: CheckRunSinkOptions

  constructor(target: ReportTarget, opts: CheckRunSinkOptions) {
    this.target = target
    this.opts = opts
  }

  /** The check run's html_url; undefined when none was created or reporting fell back. */
  url(): string | undefined {
    return this.mode === 'checks' && this.checkRunId !== undefined ? this.htmlUrl : undefined
  }

  /** Check run create/update; on refusal falls back to a commit status. */
  async report(report: FleetReport, conclusion: CheckConclusion | 'in_progress'): Promise<void> {
    if (this.mode === 'checks') await this.writeCheckRun(report, conclusion)
    if (this.mode === 'status') await this.postStatus(report, commitState(conclusion))
  }

  private async writeCheckRun(report: FleetReport, conclusion: CheckConclusion | 'in_progress') {
    const { octokit, owner, repo, sha, log } = this.target
    const output = checkOutput(report)
    const completed =
      conclusion === 'in_progress'
        ? { status: 'in_progress' as const }
        : {
            status: 'completed' as const,
            conclusion,
            completed_at: new Date(this.opts.now()).toISOString()
          }
    try {
      if (this.checkRunId === undefined) {
        const created = await octokit.rest.checks.create({
          owner,
          repo,
          name: this.opts.checkName,
          head_sha: sha,
          details_url: report.facts.runUrl || undefined,
          external_id: report.fleet.deployId,
          started_at: new Date(this.opts.now()).toISOString(),
          output,
          ...completed
        })
        this.checkRunId = created.data.id
        this.htmlUrl = created.data.html_url ?? undefined
        this.opts.onCreated?.('check-run', this.checkRunId)
      } else {
        await octokit.rest.checks.update({
          owner,
          repo,
          check_run_id: this.checkRunId,
          output,
          ...completed
        })
      }
    } catch (error) {
      if (!isRefused(error)) {
        log.warning(
          `could not ${this.checkRunId === undefined ? 'create' : 'update'} the check run "${this.opts.checkName}": ${describe(error)}`
        )
        return
      }
      this.mode = 'status'
      log.info(
        `the token may not write check runs (${describe(error)}); reporting as the commit status "${this.opts.checkName}" instead`
      )
    }
  }

  private async postStatus(report: FleetReport, state: ReturnType<typeof commitState>) {
    const { octokit, owner, repo, sha, log } = this.target
    try {
      await octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha,
        state,
        context: this.opts.checkName,
        description: statusDescription(report),
        target_url: report.facts.runUrl || undefined
      })
      if (state === 'pending' && !this.pendingPosted) {
        this.pendingPosted = true
        this.opts.onStatusPending?.(sha, this.opts.checkName)
      }
    } catch (error) {
      this.mode = 'off'
      log.warning(
        `could not report the fleet to GitHub: the token may write neither check runs nor commit statuses (${describe(error)}). Give the job \`permissions: checks: write\` (or \`statuses: write\`); fork PRs get a read-only token. The fleet's result is in this job's log and summary.`
      )
    }
  }
}
