// The same shape as runInProcess, through dist/index.js as the runner starts it
// (for the soak): an aborted signal is a SIGINT to the action's process.
import type { ChildProcess } from 'node:child_process'
import { runAction } from '../../fleet/run-action.ts'
import type { InProcessOptions, InProcessRun } from './inprocess-run.ts'

export async function runThroughDist(
  inputs: Record<string, string>,
  env: Record<string, string>,
  options: InProcessOptions = {}
): Promise<InProcessRun> {
  const onChild = (child: ChildProcess) => {
    const interrupt = () => child.kill('SIGINT')
    if (options.signal?.aborted) interrupt()
    else options.signal?.addEventListener('abort', interrupt, { once: true })
    child.once('exit', () => options.signal?.removeEventListener('abort', interrupt))
  }
  const run = await runAction(inputs, env, { onChild })
  const lines = run.stdout.split('\n')
  return {
    code: run.code === 0 ? 0 : 1,
    conclusion: run.outputs.conclusion ?? '',
    outputs: run.outputs,
    message: run.errors[0] ?? lines.filter((l) => l.trim() !== '').at(-1) ?? '',
    log: lines
  }
}
