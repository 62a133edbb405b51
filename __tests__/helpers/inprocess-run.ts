// Runs the action's pipeline inside the test process against the local fleet:
// the same config reader, connection and pipeline as src/action/main.ts, minus
// the GitHub reporting and the process around it (no spawn, no bundle), so a
// matrix of hundreds of rollouts fits in a test's time. The exit code and the
// conclusion are derived as main.ts derives them.
import { runConclusion } from '../../src/report/check-report.ts'
import type { InputName } from '../../src/config/config.ts'
import { readConfig } from '../../src/config/config.ts'
import { connect } from '../../src/plan/connect.ts'
import type { PipelineResult } from '../../src/pipeline/pipeline.ts'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { memoryLog } from '../../src/shared/log.ts'

export interface InProcessRun {
  code: 0 | 1
  conclusion: string
  outputs: Record<string, string>
  /** the failure line (core.setFailed's) or the success message */
  message: string
  log: string[]
  result?: PipelineResult
}

export interface InProcessOptions {
  /** aborted = SIGINT to the action */
  signal?: AbortSignal
}

/** One run of the action with `inputs` (kebab-case) and the runner's `env`. */
export async function runInProcess(
  inputs: Record<string, string>,
  env: Record<string, string>,
  options: InProcessOptions = {}
): Promise<InProcessRun> {
  const log = memoryLog()
  const outputs: Record<string, string> = {}
  const signal = options.signal ?? new AbortController().signal
  // The AWS SDK reads its credentials from the process environment.
  for (const [name, value] of Object.entries(env))
    if (name.startsWith('AWS_')) process.env[name] = value
  let config: ReturnType<typeof readConfig>
  try {
    config = readConfig((name: InputName) => inputs[name] ?? '', { ...env })
  } catch (error) {
    // Bad input: one line naming the input, before anything is written.
    const message = error instanceof Error ? error.message : String(error)
    outputs.conclusion = 'failure'
    return { code: 1, conclusion: 'failure', outputs, message, log: log.lines }
  }
  const connection = await connect(config, log)
  let result: PipelineResult | undefined
  try {
    result = await runPipeline(config, {
      store: connection.store,
      backend: connection.backend,
      log,
      setOutput: (name, value) => void (outputs[name] = value),
      signal
    })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    outputs.conclusion = runConclusion({ failed: true, cancelled: signal.aborted })
    return { code: 1, conclusion: outputs.conclusion, outputs, message, log: log.lines }
  } finally {
    connection.store.destroy()
    await connection.close()
  }
  const conclusion = runConclusion(result)
  outputs.conclusion = conclusion
  return {
    code: result.failed || result.cancelled ? 1 : 0,
    conclusion,
    outputs,
    message: result.message,
    log: log.lines,
    result
  }
}
