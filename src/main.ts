// The action's entry: read inputs, run the pipeline, set outputs or the failure.
import * as core from '@actions/core'
import { readConfig } from './config.ts'
import { ConsulClient } from './consul.ts'
import type { Log } from './log.ts'
import { kvKeys } from './announce.ts'
import { runPipeline } from './pipeline.ts'
import { STATE } from './post.ts'
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
  const cancel = new AbortController()
  const onSignal = () => cancel.abort(new Error('cancelled'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const config = readConfig((name) => core.getInput(name), env)
    const store = createS3Store(config.s3)
    const consul = new ConsulClient({
      addr: config.consul.addr,
      token: config.consul.token,
      onRetry: (what, attempt, delayMs) =>
        core.info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`)
    })
    try {
      const result = await runPipeline(config, {
        store,
        consul,
        log: coreLog,
        setOutput: (name, value) => core.setOutput(name, value),
        writeSummary: env.GITHUB_STEP_SUMMARY
          ? async (markdown) => void (await core.summary.addRaw(markdown).write())
          : undefined,
        signal: cancel.signal,
        onLockSession: (id) => {
          core.saveState(STATE.lockSession, id)
          core.saveState(STATE.lockKey, kvKeys(config.kvPrefix).lock)
        },
        onLockReleased: () => core.saveState(STATE.lockReleased, 'true')
      })
      if (result.failed) core.setFailed(result.message)
      else core.info(result.message)
    } finally {
      store.destroy()
    }
  } catch (error) {
    core.setFailed(failureLine(error))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
