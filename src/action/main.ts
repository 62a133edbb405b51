// The action's entry: read inputs, run the pipeline, set outputs or the failure,
// and tell the pull request (check run, commit status, deployment).
import * as core from '@actions/core'
import type { RunConclusion } from '../report/check-report.ts'
import { runConclusion } from '../report/check-report.ts'
import type { Config } from '../config/config.ts'
import { readConfig } from '../config/config.ts'
import { connect } from '../plan/connect.ts'
import type { FleetState } from '../fleet-state/fleet-state.ts'
import type { DeployInfo, FleetOutcome, FleetReporter } from '../github/reporter.ts'
import { createGitHubReporter } from '../github/reporter.ts'
import type { PipelineDeps } from '../pipeline/pipeline.ts'
import { runPipeline } from '../pipeline/pipeline.ts'
import { rolloutReport } from '../report/rollout-report.ts'
import { coreLog } from './core-log.ts'
import { STATE } from './state.ts'

/** How long the final check-run update may take: a cancelled run has 7.5 s in all. */
const REPORT_DEADLINE_MS = { normal: 60_000, cancelled: 4_000 }

/**
 * The runner kills a step 7.5 s after SIGINT. Whatever is still running this long
 * after the signal is dropped and the process exits by itself; what it did not
 * finish (settling latest, the lock, the check run) is the post step's.
 */
const CANCEL_EXIT_MS = 6_500
/** Time kept back at the end of the grace for the failure line and the exit. */
const CANCEL_MARGIN_MS = 500

let cancelledAt: number | undefined

/** How much of a cancelled run's grace is left for cleanup, in ms. */
function cancelBudget(): number {
  return cancelledAt === undefined
    ? Infinity
    : Math.max(0, cancelledAt + CANCEL_EXIT_MS - CANCEL_MARGIN_MS - Date.now())
}

/** One line, for core.setFailed: the annotation shows the first line only. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n').find((l) => l.trim() !== '') ?? 'failed'
}

/** True when `work` finished within `ms`; false when the time ran out first. */
function within(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      coreLog.warning(`gave up updating the pull request after ${ms / 1000}s`)
      resolve(false)
    }, ms)
  })
  return Promise.race([work.then(() => true), limit]).finally(() => clearTimeout(timer))
}

/** How the run ended, for the `conclusion` and `check-run-url` outputs. */
interface RunEnd {
  conclusion: RunConclusion
  checkRunUrl: string
}

async function deploy(
  config: Config,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  end: RunEnd
): Promise<void> {
  const connection = await connect(config, coreLog, {
    env,
    signal,
    // serf-join: the post step makes the agent leave if this process dies first.
    onOwnAgent: (agent) => core.saveState(STATE.serfAgent, JSON.stringify(agent)),
    onOwnAgentLeft: () => core.saveState(STATE.serfAgentLeft, 'true')
  })
  const { store, backend } = connection
  const report = pullRequestReport(createReporter(config, env), signal)
  const verdict = verdictLine()
  try {
    const result = await runPipeline(config, {
      store,
      backend,
      log: coreLog,
      setOutput: (name, value) => core.setOutput(name, value),
      writeSummary: summaryWriter(env),
      signal,
      ...postStepState(backend.lockName),
      onAnnounced: async ({ fleet, facts }) =>
        report.started({ fleet, notWaiting: !config.wait, facts }),
      onProgress: (fleet) => report.progress(fleet),
      onVerdict: (outcome) => verdict.say(outcome)
    })
    if (result.fleet) {
      await report.finished({
        fleet: result.fleet,
        verdict: result.verdict ?? { done: false },
        excerpts: result.excerpts,
        cancelled: result.cancelled,
        ...rolloutReport(result.rollout)
      })
    }
    end.conclusion = runConclusion(result)
    // The verdict is the pipeline's alone: reporting never changes it.
    if (!verdict.said) verdict.say(result)
  } catch (error) {
    await report.failed(error)
    throw error
  } finally {
    end.checkRunUrl = report.checkRunUrl()
    store.destroy()
    await connection.close()
  }
}

/** The GitHub reporter; what it creates is saved for the post step to complete. */
function createReporter(config: Config, env: NodeJS.ProcessEnv): FleetReporter {
  return createGitHubReporter({
    token: config.github.token,
    env,
    checkName: config.github.checkName,
    environment: config.github.environment,
    log: coreLog,
    onCreated: (what, id) =>
      core.saveState(what === 'check-run' ? STATE.checkRunId : STATE.deploymentId, String(id)),
    onStatusPending: (sha, context) => {
      core.saveState(STATE.statusSha, sha)
      core.saveState(STATE.statusContext, context)
    }
  })
}

/**
 * The pull request's side of the run. The check run exists from the event on;
 * whatever happens after, it is completed (within the time a cancel leaves).
 */
function pullRequestReport(reporter: FleetReporter, signal: AbortSignal) {
  let announced: { at: number; fleet: FleetState } | undefined
  const finished = async (outcome: Omit<FleetOutcome, 'durationMs'>): Promise<void> => {
    if (!announced) return
    const done = await within(
      reporter.finished({ ...outcome, durationMs: Date.now() - announced.at }),
      signal.aborted
        ? Math.min(REPORT_DEADLINE_MS.cancelled, cancelBudget())
        : REPORT_DEADLINE_MS.normal
    )
    // Otherwise the post step completes what is left open.
    if (done) core.saveState(STATE.reported, 'true')
  }
  return {
    started(info: DeployInfo): void {
      announced = { at: Date.now(), fleet: info.fleet }
      // Not awaited: the wait (or, with wait: false, the lock release) goes on
      // meanwhile; the reporter runs its calls in order, so finished() comes after.
      void reporter.started(info)
    },
    progress: (fleet: FleetState): void => void reporter.progress({ fleet }),
    finished,
    /** The run broke off with `error`: the check run shows the fleet as far as it got. */
    async failed(error: unknown): Promise<void> {
      if (announced)
        await finished({
          fleet: announced.fleet,
          verdict: announced.fleet.verdict(),
          error: failureLine(error)
        })
    },
    checkRunUrl: (): string => reporter.checkRunUrl() ?? ''
  }
}

/**
 * The verdict line, printed the moment the pipeline knows it; the lock release,
 * the summary and the check run follow (they never change it). Said once.
 */
function verdictLine() {
  let said = false
  return {
    get said(): boolean {
      return said
    },
    say(outcome: { failed: boolean; message: string }): void {
      said = true
      if (outcome.failed) core.setFailed(outcome.message)
      else core.info(outcome.message)
    }
  }
}

/** The job summary, when the runner gives one; a failure to write it only warns. */
function summaryWriter(env: NodeJS.ProcessEnv): PipelineDeps['writeSummary'] {
  if (!env.GITHUB_STEP_SUMMARY) return undefined
  return (markdown) =>
    core.summary
      .addRaw(markdown)
      .write()
      .then(
        () => core.saveState(STATE.summarized, 'true'),
        (error: Error) => core.warning(`could not write the job summary: ${error.message}`)
      )
}

/** What the post step needs to finish the lock and the announcement if this process dies. */
function postStepState(
  lockName: string
): Pick<PipelineDeps, 'onLockSession' | 'onLockReleased' | 'onAnnounceJournal'> {
  return {
    onLockSession: (id, datacenter) => {
      core.saveState(STATE.lockSession, id)
      core.saveState(STATE.lockDatacenter, datacenter ?? '')
      core.saveState(STATE.lockKey, lockName)
    },
    onLockReleased: () => core.saveState(STATE.lockReleased, 'true'),
    onAnnounceJournal: (record) => core.saveState(STATE.announce, JSON.stringify(record))
  }
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Mask secrets before anything could print them, even an input error.
  for (const secret of [
    core.getInput('consul-token'),
    core.getInput('github-token'),
    core.getInput('serf-rpc-auth'),
    env.CONSUL_HTTP_TOKEN,
    env.SERF_RPC_AUTH
  ]) {
    if (secret) core.setSecret(secret)
  }
  const cancel = new AbortController()
  const end: RunEnd = { conclusion: 'failure', checkRunUrl: '' }
  const onSignal = () => {
    cancelledAt = Date.now()
    cancel.abort(new Error('cancelled'))
    setTimeout(() => {
      core.setOutput('conclusion', 'cancelled')
      core.setOutput('check-run-url', end.checkRunUrl)
      core.setFailed(
        `cancelled: clean-up did not finish within ${CANCEL_EXIT_MS / 1000}s of the signal; the post step finishes it`
      )
      process.exit(1)
    }, CANCEL_EXIT_MS).unref()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await deploy(
      readConfig((name) => core.getInput(name), env),
      env,
      cancel.signal,
      end
    )
  } catch (error) {
    end.conclusion = runConclusion({ failed: true, cancelled: cancel.signal.aborted })
    core.setFailed(failureLine(error))
  } finally {
    // Set on every path, bad input included, so a notification step can read them.
    core.setOutput('conclusion', end.conclusion)
    core.setOutput('check-run-url', end.checkRunUrl)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
