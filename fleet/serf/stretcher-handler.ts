// A Serf fleet node's deploy handler: what `serf agent -event-handler
// "user:deploy=stretcher >>LOG 2>&1"` runs on a real node, with the simulated
// stretcher of the Consul fleet (stretcher-deploy.ts: real sh, tar, rsync; the
// S3 getter is the local s3rver). It reads one line from stdin (the event's
// or query's payload: the manifest URL; Serf appends a newline), deploys it,
// and appends stretcher's log to the node's log file, which the
// `query:stretcher-<app>-log=tail -c 900 LOG` handler answers with.
//   node stretcher-handler.ts              # a handler: the URL on stdin
//   node stretcher-handler.ts --boot URL   # `aws s3 cp URL - | stretcher` at boot
// The node is described by its environment (fleet.ts sets it on the agent):
// FLEET_NODE_NAME, FLEET_NODE_DIR (nodePaths: the node's / in root/, its
// TMPDIR in tmp/, stretcher.log, and runs.jsonl: one JSON line per run, for tests), FLEET_S3_ENDPOINT,
// FLEET_NODE_FAIL ("true", or a JSON list of deploy IDs that fail),
// FLEET_NODE_DELAY_MS, FLEET_NODE_ENV (JSON: more environment for stretcher).
// Nothing goes to stdout: a query handler's output is its answer.
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { httpGet } from '../http-get.ts'
import { runStretcher } from '../stretcher-deploy.ts'
import type { RunStatus } from '../stretcher-deploy.ts'
import { deployIdOf } from '../stretcher-node.ts'

/** stretcher's log on the node, in FLEET_NODE_DIR */
export const LOG_FILE = 'stretcher.log'

/** A node's files under its dir. */
export function nodePaths(dir: string): { root: string; tmp: string; log: string; runs: string } {
  return {
    root: join(dir, 'root'),
    tmp: join(dir, 'tmp'),
    log: join(dir, LOG_FILE),
    runs: join(dir, 'runs.jsonl')
  }
}

/** One line of runs.jsonl. */
export interface SerfRunRecord {
  node: string
  manifestUrl: string
  deployId?: string
  status: RunStatus
  error?: string
  /** `event` (a user event), `query`, `boot` (--boot), `manual` (stdin, no Serf event) */
  trigger: 'event' | 'query' | 'boot' | 'manual'
  /** SERF_USER_LTIME or SERF_QUERY_LTIME */
  ltime?: number
  startedAt: string
  endedAt: string
}

const env = process.env
const need = (name: string): string => {
  const value = env[name]
  if (!value) throw new Error(`stretcher-handler: ${name} is not set`)
  return value
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  // stretcher reads one line and trims the newline (research/stretcher.md §4)
  return Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? ''
}

/** `aws s3 cp <url> -`: the object's first line, or '' when it is absent. */
async function readLatest(url: string): Promise<string> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url)
  if (!m) throw new Error(`stretcher-handler --boot: not an s3:// URL: ${url}`)
  const res = await httpGet(`${need('FLEET_S3_ENDPOINT')}/${m[1]}/${m[2]}`)
  return res.status === 200 ? (res.body.toString('utf8').split('\n')[0] ?? '') : ''
}

function failMatches(deployId: string | undefined): boolean {
  const raw = env.FLEET_NODE_FAIL ?? ''
  if (raw === '' || raw === 'false') return false
  if (raw === 'true') return true
  const ids = JSON.parse(raw) as string[]
  return deployId !== undefined && ids.includes(deployId)
}

function trigger(boot: boolean): SerfRunRecord['trigger'] {
  if (boot) return 'boot'
  if (env.SERF_EVENT === 'user') return 'event'
  if (env.SERF_EVENT === 'query') return 'query'
  return 'manual'
}

async function main(): Promise<number> {
  const bootAt = process.argv.indexOf('--boot')
  const boot = bootAt >= 0
  const manifestUrl = boot
    ? await readLatest(process.argv[bootAt + 1] ?? '')
    : await readStdinLine()
  const { root, tmp, log, runs } = nodePaths(need('FLEET_NODE_DIR'))
  if (manifestUrl === '') {
    // stretcher: no line to read; at boot, no release published yet
    await appendFile(log, `stretcher-handler: nothing to deploy${boot ? ' (no latest yet)' : ''}\n`)
    return boot ? 0 : 1
  }
  const startedAt = new Date()
  const delayMs = Number(env.FLEET_NODE_DELAY_MS ?? 0)
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
  const serfEnv = Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('SERF_') && entry[1] !== undefined
    )
  )
  const deployId = deployIdOf(manifestUrl)
  const result = await runStretcher(manifestUrl, {
    name: need('FLEET_NODE_NAME'),
    root,
    tmpDir: tmp,
    env: {
      PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: root,
      TMPDIR: tmp,
      ...serfEnv,
      ...(JSON.parse(env.FLEET_NODE_ENV || '{}') as Record<string, string>)
    },
    s3Endpoint: need('FLEET_S3_ENDPOINT'),
    fail: failMatches(deployId)
  })
  await appendFile(log, result.log + result.reportOutput)
  const ltime = env.SERF_USER_LTIME ?? env.SERF_QUERY_LTIME
  const record: SerfRunRecord = {
    node: need('FLEET_NODE_NAME'),
    manifestUrl,
    ...(deployId === undefined ? {} : { deployId }),
    status: result.status,
    ...(result.error === undefined ? {} : { error: result.error }),
    trigger: trigger(boot),
    ...(ltime === undefined || boot ? {} : { ltime: Number(ltime) }),
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString()
  }
  await appendFile(runs, `${JSON.stringify(record)}\n`)
  // stretcher exits 1 when the deploy failed (only the agent's log sees it)
  return result.status === 'success' ? 0 : 1
}

// Run as a program only: fleet.ts imports nodePaths from here.
if (import.meta.main)
  main().then(
    (code) => (process.exitCode = code),
    async (err: unknown) => {
      // stderr: the agent logs a handler's output
      process.stderr.write(`stretcher-handler: ${String(err)}\n`)
      const dir = env.FLEET_NODE_DIR
      if (dir)
        await appendFile(nodePaths(dir).log, `stretcher-handler: ${String(err)}\n`).catch(
          () => undefined
        )
      process.exitCode = 2
    }
  )
