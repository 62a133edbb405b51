// The fleet as a GitHub deployment to `environment`: created when the deploy
// starts, its status set as the fleet goes.
import type { CheckConclusion } from '../report/check-report.ts'
import type { DeployFacts } from '../report/report.ts'
import { plainText } from '../shared/text.ts'
import type { ReportTarget } from './check-run-sink.ts'
import { describe } from './client.ts'

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error'

/** A neutral check (the fleet did not finish) leaves the deployment in progress. */
export function deploymentState(conclusion: CheckConclusion): DeploymentState {
  if (conclusion === 'success') return 'success'
  if (conclusion === 'cancelled') return 'error'
  if (conclusion === 'neutral') return 'in_progress'
  return 'failure'
}

export class DeploymentSink {
  private deploymentId: number | undefined
  private readonly target: ReportTarget
  private readonly environment: string | undefined
  private readonly onCreated: ((what: 'deployment', id: number) => void) | undefined

  constructor(
    target: ReportTarget,
    environment: string | undefined,
    onCreated?: (what: 'deployment', id: number) => void
  ) {
    this.target = target
    this.environment = environment
    this.onCreated = onCreated
  }

  /** Set the deployment's status, creating it first when the deploy starts; nothing without an environment. */
  async record(
    state: DeploymentState,
    description: string,
    release: { deployId: string; facts: DeployFacts }
  ): Promise<void> {
    const { environment } = this
    if (!environment) return
    const { octokit, owner, repo } = this.target
    try {
      if (this.deploymentId === undefined) {
        if (state !== 'in_progress') return // never created: nothing to complete
        const id = await this.create(environment, release)
        if (id === undefined) return
        this.deploymentId = id
        this.onCreated?.('deployment', id)
      }
      await octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: this.deploymentId,
        state,
        environment,
        log_url: release.facts.runUrl || undefined,
        description
      })
    } catch (error) {
      this.target.log.warning(
        `could not record the GitHub deployment to ${plainText(environment, 100)}: ${describe(error)}`
      )
    }
  }

  private async create(
    environment: string,
    { deployId, facts }: { deployId: string; facts: DeployFacts }
  ): Promise<number | undefined> {
    const { octokit, owner, repo, sha, log } = this.target
    const created = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref: sha,
      task: 'deploy',
      environment,
      // GitHub would otherwise merge the default branch in, or wait for every check.
      auto_merge: false,
      required_contexts: [],
      description: plainText(`stretcher deploy ${deployId}`, 140),
      payload: {
        deploy_id: deployId,
        manifest_url: facts.manifestUrl,
        src_url: facts.srcUrl,
        checksum: facts.checksum
      }
    })
    const id = (created.data as { id?: unknown }).id
    if (typeof id === 'number') return id
    log.warning(
      `GitHub did not create the deployment: ${plainText(JSON.stringify(created.data), 200)}`
    )
    return undefined
  }
}
