// Runs dist/index.js the way the GitHub runner does: inputs as INPUT_<NAME> env
// vars (upper-cased, hyphens kept), outputs and the job summary through the
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
export const POST = fileURLToPath(new URL('../dist/post.js', import.meta.url))
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

export interface ActionRun {
  code: number | null
  /** the signal that ended the main step, if one did */
  signal: NodeJS.Signals | null
  /** what the main step saved with core.saveState */
  state: Record<string, string>
  /** the post step's run, when asked for */
  post?: { code: number | null; stdout: string; stderr: string }
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** the ::error:: lines the run printed, without the prefix */
  errors: string[]
}

/** Parse the GITHUB_OUTPUT file: `name<<DELIM\nvalue\nDELIM` blocks (what @actions/core writes). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] as string)
    if (!match) continue
    const [, name, delimiter] = match as unknown as [string, string, string]
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string)
    outputs[name] = value.join('\n')
  }
  return outputs
}

/** One node process of a step: `entry` with the step's environment, output collected. */
async function runStep(
  entry: string,
  env: Record<string, string>,
  options: {
    timeoutMs?: number
    onStdout?: (chunk: string) => void
    onChild?: (child: ChildProcess) => void
    user?: { uid: number; gid: number }
  }
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [entry], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user ?? {})
  })
  options.onChild?.(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c
    options.onStdout?.(c)
  })
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  try {
    // 'error' without 'close' when Node cannot be started at all (EACCES as another user)
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
      (resolve, reject) => {
        child.on('error', reject)
        child.on('close', (c, s) => resolve([c, s]))
      }
    )
    return { code, signal, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}

export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  options: {
    timeoutMs?: number
    onStdout?: (chunk: string) => void
    onChild?: (child: ChildProcess) => void
    /** then run the post step (runs.post) as the runner does, with the saved state */
    post?: boolean
    /** run the steps as this user (root only): a runner's user, who cannot read everything */
    user?: { uid: number; gid: number }
  } = {}
): Promise<ActionRun> {
  const dir = await mkdtemp(join(tmpdir(), 'stretcher-runner-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  const stateFile = join(dir, 'state')
  for (const file of [outputFile, summaryFile, stateFile]) await writeFile(file, '')
  if (options.user) {
    await chmod(dir, 0o777)
    for (const file of [outputFile, summaryFile, stateFile]) await chmod(file, 0o666)
  }
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])
  )
  // A clean environment, as on a runner: nothing of the developer's leaks in.
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    RUNNER_TEMP: dir
  }
  const main = await runStep(DIST, { ...base, ...inputEnv, ...env }, options)
  const state = parseOutputFile(await readFile(stateFile, 'utf8'))
  let post: ActionRun['post']
  if (options.post) {
    // The runner hands saved state to the post step as STATE_<name>.
    const stateEnv = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]))
    post = await runStep(
      POST,
      { ...base, ...inputEnv, ...env, ...stateEnv },
      { timeoutMs: options.timeoutMs, user: options.user }
    )
  }
  const outputs = parseOutputFile(await readFile(outputFile, 'utf8'))
  const summary = await readFile(summaryFile, 'utf8')
  await rm(dir, { recursive: true, force: true })
  const errors = main.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => l.slice('::error::'.length))
  return { ...main, outputs, summary, errors, state, post }
}
