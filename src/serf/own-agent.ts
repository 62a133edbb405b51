// The action's own Serf agent (`serf-join`, contract 13): a `serf agent` on the
// runner with no event handler (it must never run a deploy), RPC on a free
// loopback port behind a random key, the marker tag RUNNER_TAG (so no run
// counts it, or another run's, as a target). It joins the given members without
// replay, and leaves gracefully at the end: `leave` over RPC, then the process
// exits. Its own process group: a signal to the action's group does not reach
// it, the action (or its post step, by the saved pid) makes it leave.
//   const agent = await startOwnAgent({ join: ['10.0.0.1:7946'], name, log })
//   const client = await connectSerf(agent.rpcAddr, { authKey: agent.authKey })
//   await agent.leave()
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Log } from '../shared/log.ts'
import { RUNNER_TAG } from './member-targets.ts'
import { connectSerf } from './rpc-client.ts'
import type { SerfClient } from './rpc-client.ts'
import { SerfRpcError } from './rpc-error.ts'
import { sleep } from '../shared/sleep.ts'
import { WATCHDOG_LEAVE_S, watchAgent } from './agent-watchdog.ts'

/** What the post step needs to make an agent leave that the main step left running. */
export interface SavedAgent {
  pid: number
  /** the agent's temp dir: its config file path, in its command line, proves the pid is still it */
  dir: string
}

export interface OwnAgent extends SavedAgent {
  name: string
  rpcAddr: string
  /** the agent's rpc_auth: a secret, never printed */
  authKey: string
  /** `leave` over RPC, then until the process exited (killed if it does not); safe to call twice */
  leave(): Promise<void>
}

export interface OwnAgentOptions {
  /** members' addresses, host:port */
  join: readonly string[]
  name: string
  log: Log
  /** the serf binary; default `serf` on the PATH */
  binary?: string
  /** ms to start, join and see the cluster; default 30 s */
  timeoutMs?: number
  signal?: AbortSignal
  /** the process started (before the join): what the post step needs if the action dies */
  onStarted?: (agent: SavedAgent) => void
}

const START_ATTEMPTS = 3
const LEAVE_MS = 15_000
const EXIT_MS = 10_000

/** `stretcher-action-<run id>-<random>`: unique even for two jobs of one run. */
export function ownAgentName(env: NodeJS.ProcessEnv): string {
  const run = [env.GITHUB_RUN_ID, env.GITHUB_RUN_ATTEMPT].filter(Boolean).join('-')
  return `stretcher-action-${run || process.pid}-${randomBytes(3).toString('hex')}`
}

export async function startOwnAgent(opts: OwnAgentOptions): Promise<OwnAgent> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  for (let attempt = 1; ; attempt++) {
    const agent = await spawnAgent(opts)
    if (agent.handle.pid > 0) {
      watchAgent(agent.handle)
      opts.onStarted?.({ pid: agent.handle.pid, dir: agent.handle.dir })
    }
    try {
      await untilRpcAnswers(agent, deadline, opts.signal)
    } catch (error) {
      await agent.stop()
      // Another process took a port between choosing and binding it: choose again.
      if (attempt < START_ATTEMPTS && /address already in use/.test(agent.logTail())) continue
      throw error
    }
    try {
      await joinCluster(agent, opts, deadline)
      return agent.handle
    } catch (error) {
      await agent.handle.leave()
      throw error
    }
  }
}

/**
 * Make an agent the main step left running leave. Its watchdog (agent-watchdog.ts)
 * is already making it leave: a second SIGINT would cut that leave short, so the
 * agent gets the watchdog's time first; then SIGINT (Serf's graceful leave), then
 * SIGKILL.
 */
export async function leaveSavedAgent(saved: SavedAgent): Promise<boolean> {
  const running = await isOwnAgent(saved)
  if (running && !(await exited(saved.pid, (WATCHDOG_LEAVE_S + 3) * 1000))) {
    signal(saved.pid, 'SIGINT')
    if (!(await exited(saved.pid, LEAVE_MS))) signal(saved.pid, 'SIGKILL')
  }
  // Its config holds the RPC key: gone either way.
  await rm(saved.dir, { recursive: true, force: true })
  return running
}

interface Spawned {
  handle: OwnAgent
  child: ChildProcess
  /** set once the process exited (or failed to start) */
  exit: { code?: number | null; error?: Error }
  logTail(): string
  stop(): Promise<void>
}

async function spawnAgent(opts: OwnAgentOptions): Promise<Spawned> {
  const binary = opts.binary ?? 'serf'
  const dir = await mkdtemp(join(tmpdir(), 'stretcher-serf-'))
  const loopbackOnly = opts.join.every(isLoopback)
  const bindHost = loopbackOnly ? '127.0.0.1' : '0.0.0.0'
  const rpcAddr = `127.0.0.1:${await freePort('127.0.0.1')}`
  const authKey = randomBytes(24).toString('base64url')
  const configFile = join(dir, 'config.json')
  await writeFile(
    configFile,
    JSON.stringify({
      node_name: opts.name,
      bind: `${bindHost}:${await freePort(bindHost)}`,
      rpc_addr: rpcAddr,
      rpc_auth: authKey,
      tags: { [RUNNER_TAG]: 'runner' },
      // a restart must not rejoin or replay: this agent lives for one run
      replay_on_join: false
    }),
    { mode: 0o600 }
  )
  const logFile = join(dir, 'agent.log')
  const logFd = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(binary, ['agent', `-config-file=${configFile}`], {
      stdio: ['ignore', logFd, logFd],
      detached: true
    })
  } finally {
    closeSync(logFd)
  }
  // Not unref'd: the action waits for its exit after the leave (an explicit
  // process.exit, as on a cancel's deadline, still ends the action at once).
  return spawned(child, { name: opts.name, rpcAddr, authKey, dir, logFile })
}

function spawned(
  child: ChildProcess,
  at: {
    name: string
    rpcAddr: string
    authKey: string
    dir: string
    logFile: string
  }
): Spawned {
  const exit: Spawned['exit'] = {}
  const done = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      exit.error = error
      resolve()
    })
    child.once('exit', (code) => {
      exit.code = code
      resolve()
    })
  })
  const logTail = () => lastLines(readText(at.logFile))
  const stop = async () => {
    if (exit.code === undefined && exit.error === undefined && child.pid !== undefined)
      signal(child.pid, 'SIGKILL')
    await done
    await rm(at.dir, { recursive: true, force: true })
  }
  let leaving: Promise<void> | undefined
  const handle: OwnAgent = {
    pid: child.pid ?? -1,
    dir: at.dir,
    name: at.name,
    rpcAddr: at.rpcAddr,
    authKey: at.authKey,
    leave: () => (leaving ??= leaveAndExit(handle, done, stop))
  }
  return { handle, child, exit, logTail, stop }
}

async function leaveAndExit(agent: OwnAgent, done: Promise<void>, stop: () => Promise<void>) {
  try {
    const client = await connectSerf(agent.rpcAddr, { authKey: agent.authKey, timeoutMs: 5_000 })
    // The agent shuts down after answering, which may close the connection first.
    await client.leave({ timeoutMs: LEAVE_MS }).catch(() => undefined)
    await client.close()
  } catch {
    signal(agent.pid, 'SIGINT') // Serf's own graceful leave
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, EXIT_MS)))])
  clearTimeout(timer)
  await stop()
}

async function untilRpcAnswers(agent: Spawned, deadline: number, abort?: AbortSignal) {
  for (;;) {
    abort?.throwIfAborted()
    if (agent.exit.error) throw startError(agent.exit.error)
    if (agent.exit.code !== undefined)
      throw new Error(
        `serf-join: the action's serf agent exited with ${agent.exit.code} while starting: ${agent.logTail()}`
      )
    try {
      const client = await connectSerf(agent.handle.rpcAddr, {
        authKey: agent.handle.authKey,
        timeoutMs: 1_000
      })
      await client.close()
      return
    } catch {
      if (Date.now() > deadline)
        throw new Error(`serf-join: the action's serf agent did not start: ${agent.logTail()}`)
      await sleep(100, abort)
    }
  }
}

function startError(error: Error): Error {
  const code = (error as NodeJS.ErrnoException).code
  return new Error(
    code === 'ENOENT'
      ? 'serf-join: the serf binary is not on the PATH: install Serf on the runner (e.g. apt-get install serf)'
      : `serf-join: could not start serf: ${error.message}`
  )
}

/** Joins (no replay), then until another member is alive in its view of the cluster. */
async function joinCluster(agent: Spawned, opts: OwnAgentOptions, deadline: number) {
  const { handle } = agent
  const client = await connectSerf(handle.rpcAddr, { authKey: handle.authKey })
  try {
    const what = `could not join ${opts.join.join(', ')}`
    let reached: number
    try {
      reached = await client.join(opts.join, { timeoutMs: Math.max(1_000, deadline - Date.now()) })
    } catch (error) {
      // Serf's own words (`1 error occurred: * Failed to join …`), without the RPC's address.
      const why = error instanceof SerfRpcError ? error.agentError : undefined
      throw new Error(`serf-join: ${what}: ${oneLine(why ?? (error as Error).message)}`, {
        cause: error
      })
    }
    if (reached === 0) throw new Error(`serf-join: ${what}: no member answered`)
    await untilClusterSeen(client, handle.name, deadline, opts.signal)
    opts.log.info(
      `serf: the action's agent ${handle.name} (pid ${handle.pid}) joined ${opts.join.join(', ')} (reached ${reached})`
    )
  } finally {
    await client.close()
  }
}

async function untilClusterSeen(
  client: SerfClient,
  self: string,
  deadline: number,
  abort?: AbortSignal
) {
  for (;;) {
    abort?.throwIfAborted()
    const members = await client.members()
    if (members.some((m) => m.name !== self && m.status === 'alive')) return
    if (Date.now() > deadline)
      throw new Error('serf-join: joined, but no other member is alive in the cluster')
    await sleep(200, abort)
  }
}

function isLoopback(addr: string): boolean {
  const host = addr.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Whether `pid` still runs the agent this run started (its command line names the run's config file). */
function isOwnAgent(saved: SavedAgent): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'args=', '-p', String(saved.pid)], (error, stdout) =>
      resolve(!error && stdout.includes(join(saved.dir, 'config.json')))
    )
  })
}

async function exited(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (!signal(pid, 0)) return true
    await sleep(100)
  }
  return !signal(pid, 0)
}

/** process.kill without the throw: false when there is no such process. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig)
    return true
  } catch {
    return false
  }
}

const readText = (file: string): string => {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' | ') || '(no output)'
const oneLine = (text: string) =>
  text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\s*\d+ errors? occurred:\s*\*\s*/, '')
    .trim()
