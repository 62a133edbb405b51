// The same pipeline for any CI: `stretcher-action deploy --path build --s3-url …`.
// Flags are named like the action's inputs; CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// SERF_RPC_ADDR, SERF_RPC_AUTH and the AWS variables are honoured as in the action. Exit codes: 0 the fleet
// converged, 1 the deploy failed, 2 bad input.
// The operator commands `status` and `history` (contract 12) read the fleet and
// write nothing; `status` exits 1 when a live matching node is not on the current release.
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import type { InputName } from '../config/config.ts'
import type { OperateConfig } from '../config/config.ts'
import { INPUT_NAMES, OPERATE_INPUTS, readConfig, readOperateConfig } from '../config/config.ts'
import { runConclusion } from '../report/check-report.ts'
import { connect, serfAgent } from '../plan/connect.ts'
import type { S3ObjectStore } from '../publish/s3-store.ts'
import type { DryRunPlan } from '../plan/dry-run.ts'
import { InputError } from '../shared/errors.ts'
import type { FleetStatus } from './fleet-status.ts'
import { statusJson, statusText } from './fleet-status.ts'
import { readSerfFleetStatus, readSerfReleaseHistory } from './operate-serf.ts'
import type { ReleaseHistory } from './release-history.ts'
import type { Log } from '../shared/log.ts'
import { operateConsul, readFleetStatus, readReleaseHistory } from './operate.ts'
import type { OutputName } from '../pipeline/pipeline.ts'
import { runPipeline } from '../pipeline/pipeline.ts'
import { historyJson, historyText } from './release-history.ts'

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const

const USAGE = `usage: stretcher-action deploy --s3-url s3://bucket/prefix --app NAME [--path DIR] [--dest DIR]
                        [--consul-addr ADDR] [--service-filter RE] [--timeout 10m] [--dry-run]
                        [--json] [...]
Every input of the GitHub Action is a flag of the same name (see README).
--dry-run checks everything and says what the deploy would do, writing nothing.
Exit codes: 0 the fleet converged, 1 the deploy failed, 2 bad input.

       stretcher-action status --app NAME [--consul-addr ADDR] [--kv-prefix P]
                        [--node-filter RE] [--service-filter RE] [--tag-filter RE] [--json]
The release each matching node runs (its last result), failed, silent and behind first.
Exit codes: 0 every live matching node is on the release deploy-id names, 1 not (or
Consul could not be read), 2 bad input.

       stretcher-action history --app NAME [--consul-addr ADDR] [--kv-prefix P] [--json]
The published releases, newest first, with commit, time and which one is current.
Exit codes: 0 listed, 1 Consul could not be read, 2 bad input.

A Serf cluster (contract 13): --backend serf [--serf-rpc-addr ADDR [--serf-rpc-auth KEY]
| --serf-join ADDRS] [--serf-tags key=RE,...] on deploy and status (history: no
--serf-tags); status and history then also take --s3-url (and --s3-endpoint, --aws-region):
status reads the members' tags and <s3-url>/<app>/latest, history <s3-url>/<app>/history/.`

/** The flags each operator command takes: where the fleet is (and, for status, which nodes). */
const OPERATE_FLAGS = {
  status: OPERATE_INPUTS,
  history: OPERATE_INPUTS.filter((name) => !name.endsWith('-filter') && name !== 'serf-tags')
} as const
type OperateCommand = keyof typeof OPERATE_FLAGS

export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  isTTY: boolean
}

/** The commit being deployed, from the CI's own variables or git. */
function commitSha(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv =
    env.GITHUB_SHA || env.CI_COMMIT_SHA || env.GIT_COMMIT || env.BUILDKITE_COMMIT || env.CIRCLE_SHA1
  if (fromEnv) return fromEnv
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    }).trim()
  } catch {
    return undefined
  }
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => (s ? t.split(s).join('***') : t), text)
}

type Values = Record<string, string | boolean | undefined>

/** The non-empty tokens among these values: never printed. */
function secretsOf(...values: unknown[]): string[] {
  return values.filter((s): s is string => typeof s === 'string' && s !== '')
}

/** How a command ends: a ✔ or ✖ line, or with --json one object on stdout. Returns the exit code. */
function finisher(io: CliIo, json: boolean, secrets: string[]) {
  return (code: number, message: string, body: () => object = () => ({})) => {
    const line = redact(message, secrets)
    if (json)
      io.stdout(
        `${redact(JSON.stringify({ ok: code === EXIT.ok, exit_code: code, message: line, ...body() }), secrets)}\n`
      )
    else (code === EXIT.ok ? io.stdout : io.stderr)(`${code === EXIT.ok ? '✔' : '✖'} ${line}\n`)
    return code
  }
}

/** The command and its flags, or the exit code when there is nothing to run. */
function parseCommand(argv: string[], io: CliIo): { command: string; values: Values } | number {
  // `--dry-run` is a switch; every other input takes a value.
  const options = Object.fromEntries(
    INPUT_NAMES.map((name) => [name, { type: name === 'dry-run' ? 'boolean' : 'string' } as const])
  )
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true
    })
  } catch (error) {
    io.stderr(`error: ${(error as Error).message}\n${USAGE}\n`)
    return EXIT.badInput
  }
  const { positionals } = parsed
  const values = parsed.values as Values
  if (values.help) {
    io.stdout(`${USAGE}\n`)
    return EXIT.ok
  }
  const command = positionals[0]
  if (positionals.length !== 1 || !['deploy', 'status', 'history'].includes(command ?? '')) {
    io.stderr(`error: expected the command "deploy", "status" or "history"\n${USAGE}\n`)
    return EXIT.badInput
  }
  return { command: command as string, values }
}

export async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
  signal?: AbortSignal
): Promise<number> {
  const parsed = parseCommand(argv, io)
  if (typeof parsed === 'number') return parsed
  const { command, values } = parsed
  if (command === 'status' || command === 'history') return operate(command, values, env, io)
  return deploy(values, env, io, signal)
}

/** The log a deploy writes: human lines on stdout, or on stderr with --json. */
function deployLog(say: (line: string) => void, io: CliIo, json: boolean): Log {
  return {
    info: say,
    warning: (m) => say(`warning: ${m}`),
    debug: () => undefined,
    async group(name, body) {
      say(io.isTTY && !json ? `\x1b[1m▸ ${name}\x1b[0m` : `▸ ${name}`)
      return body()
    }
  }
}

/** `deploy`: the action's pipeline, its outputs in the --json result. */
async function deploy(
  values: Values,
  env: NodeJS.ProcessEnv,
  io: CliIo,
  signal?: AbortSignal
): Promise<number> {
  const json = values.json === true
  const secrets = secretsOf(
    values['consul-token'],
    values['github-token'],
    values['serf-rpc-auth'],
    env.CONSUL_HTTP_TOKEN,
    env.SERF_RPC_AUTH
  )
  // Human lines go to stdout on a terminal; with --json, stdout carries only the result.
  const say = (line: string) => (json ? io.stderr : io.stdout)(`${redact(line, secrets)}\n`)
  // The action's outputs; `conclusion` too (no check run here, so no check-run-url).
  const outputs: Partial<Record<OutputName | 'conclusion', string>> = {}
  const end = finisher(io, json, secrets)
  const finish = (code: number, message: string, dryRun?: DryRunPlan) =>
    end(code, message, () => ({
      outputs: { ...outputs, results: outputs.results ? JSON.parse(outputs.results) : undefined },
      dry_run: dryRun
    }))
  try {
    const input = (name: InputName) => {
      const value = values[name]
      return typeof value === 'boolean' ? String(value) : (value ?? '')
    }
    const config = readConfig(input, { ...env, GITHUB_SHA: commitSha(env) })
    const log = deployLog(say, io, json)
    const connection = await connect(config, log, { env, signal })
    const { store, backend } = connection
    try {
      const result = await runPipeline(config, {
        store,
        backend,
        log,
        setOutput: (name, value) => (outputs[name] = value),
        signal
      })
      outputs.conclusion = runConclusion(result)
      return finish(result.failed ? EXIT.failed : EXIT.ok, result.message, result.dryRun)
    } finally {
      store.destroy()
      await connection.close()
    }
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? 'failed'
    outputs.conclusion = runConclusion({ failed: true, cancelled: signal?.aborted === true })
    return finish(error instanceof InputError ? EXIT.badInput : EXIT.failed, message)
  }
}

interface OperateReads {
  status(): Promise<FleetStatus>
  history(): Promise<ReleaseHistory>
}

function consulReads(config: OperateConfig, info: (line: string) => void): OperateReads {
  const consul = operateConsul(config, info)
  return {
    status: () => readFleetStatus(consul, config),
    history: () => readReleaseHistory(consul, config)
  }
}

/**
 * Serf (contract 13): S3 for latest and history; for status also one agent,
 * serf-rpc-addr's or (serf-join) one started for the command, which leaves after.
 */
function serfReads(
  config: OperateConfig,
  info: (line: string) => void,
  env: NodeJS.ProcessEnv
): OperateReads {
  const { backend, s3 } = config
  if (backend.kind !== 'serf' || s3 === undefined) throw new Error('serfReads: not a Serf config')
  const log: Log = { info, warning: info, debug: () => undefined, group: (_name, body) => body() }
  const withStore = async <T>(body: (store: S3ObjectStore) => Promise<T>): Promise<T> => {
    // The AWS SDK is most of the bundle: loaded only when S3 is read.
    const { createS3Store } = await import('../publish/s3-store.ts')
    const store = createS3Store(s3)
    try {
      return await body(store)
    } finally {
      store.destroy()
    }
  }
  return {
    status: () =>
      withStore(async (store) => {
        const agent = await serfAgent(backend, log, { env })
        try {
          return await readSerfFleetStatus(agent.client, store, { ...config, backend })
        } finally {
          await agent.close()
        }
      }),
    history: () => withStore((store) => readSerfReleaseHistory(store, config))
  }
}

/** `status` and `history`: read the fleet (Consul, or Serf and S3), print a table (or --json), write nothing. */
async function operate(
  command: OperateCommand,
  values: Values,
  env: NodeJS.ProcessEnv,
  io: CliIo
): Promise<number> {
  const json = values.json === true
  const takes: readonly string[] = OPERATE_FLAGS[command]
  const secrets = secretsOf(
    values['consul-token'],
    values['serf-rpc-auth'],
    env.CONSUL_HTTP_TOKEN,
    env.SERF_RPC_AUTH
  )
  const finish = finisher(io, json, secrets)
  const foreign = Object.keys(values).filter(
    (name) => values[name] !== undefined && name !== 'json' && !takes.includes(name)
  )
  if (foreign.length > 0)
    return finish(
      EXIT.badInput,
      `${foreign.map((f) => `--${f}`).join(', ')}: not ${foreign.length === 1 ? 'a flag' : 'flags'} of ${command}, which takes ${takes.map((f) => `--${f}`).join(', ')} and --json`
    )
  try {
    const config = readOperateConfig((name) => {
      const value = values[name]
      return typeof value === 'string' ? value : ''
    }, env)
    const info = (line: string) => io.stderr(`${redact(line, secrets)}\n`)
    const read =
      config.backend.kind === 'serf' ? serfReads(config, info, env) : consulReads(config, info)
    if (command === 'status') {
      const status = await read.status()
      const code = status.ok ? EXIT.ok : EXIT.failed
      if (!json) io.stdout(redact(statusText(status, Date.now()), secrets))
      return finish(code, status.message, () => statusJson(status))
    }
    const history = await read.history()
    if (!json) {
      io.stdout(redact(historyText(history), secrets))
      return EXIT.ok
    }
    const n = history.rows.length
    return finish(EXIT.ok, `${n} release${n === 1 ? '' : 's'}`, () => historyJson(history))
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? 'failed'
    return finish(error instanceof InputError ? EXIT.badInput : EXIT.failed, message)
  }
}
