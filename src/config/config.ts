// Every input is read and checked here, once, into one typed Config, before the
// run touches S3 or Consul. Each error is one line naming the input (contract 2b).
// Each group of inputs is read in its own *-inputs.ts file; readConfig reads the
// groups in order, and the GitHub inputs itself. Callers outside config/ import
// from this file only.
import { resolve } from 'node:path'
import { readBackend } from './backend-inputs.ts'
import type { Config } from './config-types.ts'
import { parseDashboard, parseKvPrefix, readConsul } from './consul-inputs.ts'
import { parseDeployIdFile } from './deploy-id-file.ts'
import type { Getter, InputReader } from './inputs.ts'
import { getter, parseBoolean, parseInteger } from './inputs.ts'
import { parseDest, parseEventName, readApp, readRelease } from './release-inputs.ts'
import { parseTimeout, readRollout } from './rollout-inputs.ts'
import { readS3 } from './s3-inputs.ts'
import { parseDatacenters, readFilters } from './target-inputs.ts'
import { InputError, quote } from '../shared/errors.ts'

export type { BackendConfig, Config, DatacenterSelection, S3Location } from './config-types.ts'
export type { InputName, InputReader } from './inputs.ts'
export { INPUT_DEFAULTS, INPUT_NAMES } from './inputs.ts'
export type { OperateConfig, OperateInputName } from './operate-config.ts'
export { OPERATE_INPUTS, readOperateConfig } from './operate-config.ts'
export { parseSerfTags } from './backend-inputs.ts'
export { releaseKey, s3Url } from './s3-inputs.ts'
export { parseDatacenters } from './target-inputs.ts'

function readGitHub(get: Getter, app: string): Config['github'] {
  const token = get('github-token') || undefined
  const checkName = get('check-name') || `stretcher / ${app}`
  if (checkName.length > 100 || /[\r\n]/.test(checkName))
    throw new InputError(
      'check-name',
      `must be one line of at most 100 characters (got ${quote(checkName)})`
    )
  return { token, checkName, environment: get('environment') || undefined }
}

/** Facts about the run, from the runner's environment. */
function runFacts(env: NodeJS.ProcessEnv): Config['run'] {
  const repository = env.GITHUB_REPOSITORY
  const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com'
  const runUrl =
    repository && env.GITHUB_RUN_ID
      ? `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
      : undefined
  return { sha: env.GITHUB_SHA || undefined, repository, runUrl }
}

/**
 * Read every input once. `input` returns '' for an unset input (as core.getInput
 * does); `env` is the process environment (GITHUB_*, AWS_*, CONSUL_HTTP_*).
 * Inputs are read in this order, so of several bad ones the first is named.
 */
export function readConfig(input: InputReader, env: NodeJS.ProcessEnv, now = new Date()): Config {
  const get = getter(input)
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const path = resolve(workspace, get('path'))
  const app = readApp(get, env)
  const s3 = readS3(get, env)
  const manifestName = get('manifest') || undefined
  const manifestFile = manifestName === undefined ? undefined : resolve(workspace, manifestName)
  const exclude = get('exclude')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const deployIdFile = parseDeployIdFile(get('deploy-id-file'))
  const release = readRelease(get, env, now)
  const compressionLevel = parseInteger('compression-level', get('compression-level'), 1, 9)
  const consul = readConsul(get, env)
  const backend = readBackend(get, env)
  const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`)
  const eventName = parseEventName(get('event-name'))
  const filters = readFilters(get)
  const datacenters = parseDatacenters(get('datacenters'))
  const wait = parseBoolean('wait', get('wait'))
  const timeoutMs = parseTimeout(get('timeout'))
  const maxFailures = parseInteger('max-failures', get('max-failures'), 0, 1_000_000)
  const rollout = readRollout(get, wait)
  const dryRun = parseBoolean('dry-run', get('dry-run'))
  const github = readGitHub(get, app)
  return {
    path,
    app,
    s3,
    manifestFile,
    manifestName,
    dest: parseDest(get('dest')),
    exclude,
    deployIdFile,
    ...release,
    compressionLevel,
    consul,
    kvPrefix,
    eventName,
    filters,
    datacenters,
    wait,
    timeoutMs,
    maxFailures,
    ...rollout,
    dryRun,
    github,
    dashboard: parseDashboard(get('dashboard'), kvPrefix),
    run: runFacts(env),
    backend
  }
}
