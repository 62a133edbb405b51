// The action's entry: read inputs, run the pipeline, set outputs or the failure.
import * as core from '@actions/core'
import { readConfig } from './config.ts'
import type { Log } from './log.ts'
import { runPipeline } from './pipeline.ts'
import { createS3Store } from './store.ts'

const coreLog: Log = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  group: (name, body) => core.group(name, body)
}

/** One line, for core.setFailed: the annotation shows the first line only. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n').find((l) => l.trim() !== '') ?? 'failed'
}

export async function run(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Mask secrets before anything could print them, even an input error.
  for (const secret of [
    core.getInput('consul-token'),
    core.getInput('github-token'),
    env.CONSUL_HTTP_TOKEN
  ]) {
    if (secret) core.setSecret(secret)
  }
  try {
    const config = readConfig((name) => core.getInput(name), env)
    const store = createS3Store(config.s3)
    try {
      await runPipeline(config, {
        store,
        log: coreLog,
        setOutput: (name, value) => core.setOutput(name, value)
      })
    } finally {
      store.destroy()
    }
  } catch (error) {
    core.setFailed(failureLine(error))
  }
}
