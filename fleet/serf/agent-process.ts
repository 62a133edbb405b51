// One real `serf agent` on loopback (Debian's serf package): its own process
// group (so a kill takes its handlers too), its log in <dir>/agent.log, its
// tags in <dir>/tags.json (-tags-file: they survive a restart), rpc_auth in a
// config file (Serf takes it from nowhere else). Ready once its RPC answers.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connectSerf } from '../../src/serf/rpc-client.ts'

export const SERF_BINARY = process.env.SERF_BINARY ?? 'serf'

export interface AgentSpec {
  name: string
  dir: string
  bindPort: number
  rpcPort: number
  rpcAuth?: string
  /** `-event-handler` values: `user:deploy=cmd`, `query:name=cmd`, `member-join=cmd`, `cmd` */
  eventHandlers: string[]
  /** memberlist timing profile; `local` detects failures faster */
  profile: 'lan' | 'local' | 'wan'
  /** environment of the agent and so of its handlers */
  env: Record<string, string>
}

/**
 * Process groups still running, and temp dirs not yet removed. Both go when
 * this process exits without stop(), and on SIGINT/SIGTERM/SIGHUP when
 * nothing else handles the signal (the agents are in their own groups: a kill
 * of ours misses them).
 */
const live = new Set<number>()
const tempDirs = new Set<string>()
export function removeOnExit(dir: string, remove = true): void {
  if (remove) tempDirs.add(dir)
  else tempDirs.delete(dir)
}
function killLive(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}
process.once('exit', killLive)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = () => {
    if (process.listenerCount(signal) > 1) return // its owner stops the agents
    killLive()
    process.removeListener(signal, onSignal)
    process.kill(process.pid, signal)
  }
  process.on(signal, onSignal)
}

export class AgentProcess {
  readonly spec: AgentSpec
  private child: ChildProcess | undefined
  private exited: Promise<number | null> = Promise.resolve(null)

  constructor(spec: AgentSpec) {
    this.spec = spec
  }

  get rpcAddr(): string {
    return `127.0.0.1:${this.spec.rpcPort}`
  }

  get bindAddr(): string {
    return `127.0.0.1:${this.spec.bindPort}`
  }

  get running(): boolean {
    return this.child !== undefined
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** The agent's log so far (stdout and stderr). */
  log(): string {
    try {
      return readFileSync(join(this.spec.dir, 'agent.log'), 'utf8')
    } catch {
      return ''
    }
  }

  async writeConfig(tags: Record<string, string>): Promise<void> {
    await writeFile(join(this.spec.dir, 'tags.json'), JSON.stringify(tags))
    const config = this.spec.rpcAuth === undefined ? {} : { rpc_auth: this.spec.rpcAuth }
    await writeFile(join(this.spec.dir, 'config.json'), JSON.stringify(config))
  }

  /** Starts the agent, joining `peers` (bind addresses); resolves once its RPC answers. */
  async start(peers: string[], timeoutMs = 10_000): Promise<void> {
    if (this.child) throw new Error(`serf agent ${this.spec.name} is already running`)
    const { spec } = this
    const args = [
      'agent',
      `-node=${spec.name}`,
      `-bind=${this.bindAddr}`,
      `-rpc-addr=${this.rpcAddr}`,
      `-tags-file=${join(spec.dir, 'tags.json')}`,
      `-config-file=${join(spec.dir, 'config.json')}`,
      `-profile=${spec.profile}`,
      '-log-level=debug',
      ...spec.eventHandlers.map((h) => `-event-handler=${h}`),
      ...peers.map((addr) => `-join=${addr}`)
    ]
    const logFd = openSync(join(spec.dir, 'agent.log'), 'a')
    let child: ChildProcess
    try {
      child = spawn(SERF_BINARY, args, {
        cwd: spec.dir,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', logFd, logFd],
        detached: true
      })
    } finally {
      closeSync(logFd)
    }
    this.child = child
    let exitCode: number | null | undefined
    this.exited = new Promise((resolve) => {
      child.once('error', () => resolve(null))
      child.once('exit', (code) => resolve(code))
    }).then((code) => {
      exitCode = code as number | null
      if (child.pid !== undefined) live.delete(child.pid)
      if (this.child === child) this.child = undefined
      return exitCode
    })
    if (child.pid !== undefined) live.add(child.pid)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (exitCode !== undefined || !this.child) {
        throw new Error(
          `serf agent ${spec.name} exited with ${exitCode} while starting: ${lastLines(this.log())}`
        )
      }
      if (await this.answers()) return
      if (Date.now() > deadline) {
        await this.kill()
        throw new Error(
          `serf agent ${spec.name} did not answer on ${this.rpcAddr} within ${timeoutMs} ms`
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /**
   * SIGSTOP (true) or SIGCONT (false) to the agent and its handlers: a hung
   * agent. A stop resolves once every thread of the agent is stopped (a
   * signal is delivered a moment later; Linux /proc tells when).
   */
  async pause(paused: boolean): Promise<void> {
    const pid = this.child?.pid
    if (pid === undefined) throw new Error(`serf agent ${this.spec.name} is not running`)
    process.kill(-pid, paused ? 'SIGSTOP' : 'SIGCONT')
    if (!paused) return
    for (let i = 0; i < 200 && !allStopped(pid); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  /** SIGKILL to the agent and its handlers; resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child
    if (!child) return
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
    await this.exited
  }

  private async answers(): Promise<boolean> {
    try {
      const client = await connectSerf(this.rpcAddr, {
        authKey: this.spec.rpcAuth,
        timeoutMs: 1000
      })
      await client.close()
      return true
    } catch {
      return false
    }
  }
}

/** Whether every thread of `pid` is stopped; true where /proc is missing (then a pause is best effort). */
function allStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      return /\) [Tt] /.test(stat)
    })
  } catch {
    return true
  }
}

function lastLines(log: string): string {
  return log.trim().split('\n').slice(-3).join(' | ') || '(no output)'
}
