// A simulated fleet node: stock stretcher (v2/HEAD) run by
// `consul watch -type event -name <event>` against the node's own Consul agent,
// plus the README's boot recipe (`curl <agent>/v1/kv/<prefix>/latest?raw | stretcher`).
// research/stretcher.md §4: the handler gets the agent's whole event buffer at
// start and the new events on every index change; stretcher takes the last one.
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpGet } from './http-get.ts'
import { runStretcher } from './stretcher-deploy.ts'
import type { RunResult } from './stretcher-deploy.ts'

export type { RunResult, RunStatus } from './stretcher-deploy.ts'

/**
 * Which runs a per-run switch applies to: every run (true), none (false), the
 * run of one deploy ID, or a predicate on the deploy ID (undefined when the
 * manifest URL does not name one). "Fail this release, not the next."
 */
export type RunMatch =
  boolean | string | ((deployId: string | undefined, manifestUrl: string) => boolean)

/**
 * The deploy ID a manifest URL names: the action's keys end in `<id>.yml`
 * (config.ts releaseKey), or `<id>.prepare.yml` / `<id>.switch.yml` with
 * `layout: releases` (contract 9).
 */
export function deployIdOf(manifestUrl: string): string | undefined {
  const base = manifestUrl.split(/[?#]/)[0]!.split('/').pop() ?? ''
  const match = /^(.+?)(?:\.prepare|\.switch)?\.yml$/.exec(base)
  return match ? match[1] : undefined
}

export function runMatches(match: RunMatch | undefined, manifestUrl: string): boolean {
  if (match === undefined || typeof match === 'boolean') return match ?? false
  const deployId = deployIdOf(manifestUrl)
  return typeof match === 'string' ? deployId === match : match(deployId, manifestUrl)
}

export interface StretcherNodeOptions {
  /** the Consul node name (its agent answers /v1/agent/self with it) */
  name: string
  /** the node's own agent, e.g. http://127.0.0.1:PORT; becomes CONSUL_HTTP_ADDR */
  agentUrl: string
  /** the local S3 endpoint that s3:// URLs are fetched from (path-style, anonymous) */
  s3Endpoint: string
  /** `consul watch -name`; default 'deploy' */
  eventName?: string
  /** the node's ACL token: CONSUL_HTTP_TOKEN for commands, X-Consul-Token for the watch */
  token?: string
  /** never sees events (no watch runs); boot catch-up still does */
  deaf?: boolean
  /** deploys fail at a simulated broken step, logged as `simulated failure on <name>`: every one (true) or the matching ones */
  fail?: RunMatch
  /** sleep this long before each run (a slow node, like --random-delay) */
  delayMs?: number
  /** boot catch-up: run stretcher on `<bootKvPrefix>/latest` before watching events */
  bootKvPrefix?: string
  /** extra environment for stretcher (templates and commands) */
  env?: Record<string, string>
  /**
   * Called after each run, before the run is counted (waitForRuns resolves
   * after it): the fleet uses it to turn service checks critical as a
   * crashing app would. An error it throws is ignored.
   */
  afterRun?: (record: RunRecord) => void | Promise<void>
}

export interface RunRecord extends RunResult {
  /** the deploy ID the manifest URL names (deployIdOf) */
  deployId?: string
  /** 'event' (consul watch), 'boot' (catch-up from KV) or 'manual' (run()) */
  trigger: 'event' | 'boot' | 'manual'
  /** CONSUL_INDEX of an event run */
  index?: string
  startedAt: Date
  endedAt: Date
}

export interface SimulatedNode {
  readonly name: string
  /** the node's filesystem root: absolute path P on the node is <root>P */
  readonly root: string
  /** completed stretcher runs (an empty event buffer is not a run) */
  readonly runs: number
  readonly lastRun: RunRecord | undefined
  readonly history: readonly RunRecord[]
  /** <root><dest> */
  path(dest: string): string
  /** resolves with the run that brings the count to `count` (at once if already there) */
  waitForRuns(count: number, timeoutMs?: number): Promise<RunRecord>
  /** `echo <url> | stretcher` on this node, serialized with the watch's runs */
  run(manifestUrl: string): Promise<RunRecord>
  /** aborts the long poll and delays, waits for a running deploy, removes the node's temp dirs */
  stop(): Promise<void>
}

interface ConsulEventJson {
  ID: string
  Name: string
  Payload: string | null
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}

export async function startStretcherNode(opts: StretcherNodeOptions): Promise<SimulatedNode> {
  const eventName = opts.eventName ?? 'deploy'
  const base = await realpath(await mkdtemp(join(tmpdir(), `stretcher-node-${opts.name}-`)))
  const root = join(base, 'root')
  const tmpDir = join(base, 'tmp')
  await mkdir(root)
  await mkdir(tmpDir)
  const aborter = new AbortController()
  const signal = aborter.signal
  const history: RunRecord[] = []
  const waiters = new Set<{ wake: () => void; fail: (err: Error) => void }>()
  const headers: Record<string, string> = opts.token ? { 'X-Consul-Token': opts.token } : {}
  let queue: Promise<unknown> = Promise.resolve()

  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: root,
    TMPDIR: tmpDir,
    CONSUL_HTTP_ADDR: opts.agentUrl,
    ...(opts.token ? { CONSUL_HTTP_TOKEN: opts.token } : {}),
    ...opts.env
  }

  // One stretcher process at a time: consul watch runs its handler inline.
  const serialized = (
    manifestUrl: string,
    trigger: RunRecord['trigger'],
    index?: string
  ): Promise<RunRecord> => {
    const next = queue.then(async () => {
      const startedAt = new Date()
      if (opts.delayMs) await sleep(opts.delayMs, signal)
      const env = index === undefined ? baseEnv : { ...baseEnv, CONSUL_INDEX: index }
      const result = signal.aborted
        ? {
            status: 'error' as const,
            manifestUrl,
            error: 'stopped',
            log: '',
            reportOutput: ''
          }
        : await runStretcher(manifestUrl, {
            name: opts.name,
            root,
            tmpDir,
            env,
            s3Endpoint: opts.s3Endpoint,
            fail: runMatches(opts.fail, manifestUrl)
          })
      const deployId = deployIdOf(manifestUrl)
      const record: RunRecord = {
        ...result,
        ...(deployId === undefined ? {} : { deployId }),
        trigger,
        ...(index === undefined ? {} : { index }),
        startedAt,
        endedAt: new Date()
      }
      const afterRun = opts.afterRun
      if (afterRun) await (async () => afterRun(record))().catch(() => undefined)
      history.push(record)
      for (const waiter of [...waiters]) waiter.wake()
      return record
    })
    queue = next.catch(() => undefined)
    return next
  }

  // The boot recipe: a 404 (no release yet) or an unreachable agent leaves nothing to run.
  const bootCatchUp = async (): Promise<void> => {
    if (opts.bootKvPrefix === undefined) return
    try {
      const res = await httpGet(`${opts.agentUrl}/v1/kv/${opts.bootKvPrefix}/latest?raw`, {
        headers,
        signal
      })
      if (res.status !== 200) return
      // Plain stdin mode reads one line and trims the newline (§4).
      const url = res.body.toString('utf8').split('\n')[0]!
      if (url !== '') await serialized(url, 'boot')
    } catch {
      // curl failed: the recipe pipes nothing and stretcher has no line to read.
    }
  }

  // consul watch -type event: blocking list queries on the node's agent, the
  // index compared as a string (a uint64 can exceed 2^53).
  const watch = async (): Promise<void> => {
    let index: string | undefined
    let backoffMs = 100
    while (!signal.aborted) {
      try {
        const query = `name=${encodeURIComponent(eventName)}${index === undefined ? '' : `&index=${index}`}`
        const res = await httpGet(`${opts.agentUrl}/v1/event/list?${query}`, { headers, signal })
        if (res.status !== 200) throw new Error(`event list: ${res.status}`)
        const next = String(res.headers['x-consul-index'] ?? '')
        if (!/^\d+$/.test(next)) throw new Error('event list: no X-Consul-Index')
        const events = JSON.parse(res.body.toString('utf8')) as ConsulEventJson[]
        backoffMs = 100
        if (index === next) continue
        index = next
        const last = events[events.length - 1]
        // An empty list is stretcher's "no events" error: nothing is deployed.
        if (!last) continue
        const url = last.Payload ? Buffer.from(last.Payload, 'base64').toString('utf8') : ''
        await serialized(url, 'event', next)
      } catch {
        if (signal.aborted) return
        // consul watch retries a failed query with a growing pause.
        await sleep(backoffMs, signal)
        backoffMs = Math.min(backoffMs * 2, 5000)
      }
    }
  }

  await bootCatchUp()
  const watching = opts.deaf ? Promise.resolve() : watch()
  let stopping: Promise<void> | undefined

  return {
    name: opts.name,
    root,
    get runs() {
      return history.length
    },
    get lastRun() {
      return history[history.length - 1]
    },
    history,
    path: (dest) => join(root, dest),
    waitForRuns(count, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const fail = (err: Error): void => {
          clearTimeout(timer)
          waiters.delete(waiter)
          reject(err)
        }
        const check = (): boolean => {
          if (history.length < count) return false
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve(history[count - 1]!)
          return true
        }
        const waiter = { wake: () => void check(), fail }
        const timer = setTimeout(
          () =>
            fail(
              new Error(`${opts.name}: ${history.length} of ${count} runs after ${timeoutMs} ms`)
            ),
          timeoutMs
        )
        if (!check()) waiters.add(waiter)
      })
    },
    run: (manifestUrl) => serialized(manifestUrl, 'manual'),
    stop() {
      stopping ??= (async () => {
        aborter.abort()
        await watching
        await queue
        for (const waiter of [...waiters]) waiter.fail(new Error(`${opts.name} stopped`))
        await rm(base, { recursive: true, force: true })
      })()
      return stopping
    }
  }
}
