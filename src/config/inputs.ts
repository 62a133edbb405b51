// The inputs by name, their defaults, and how one is read (trimmed; the default
// when empty); the boolean and number parsers every group uses.
import { InputError, quote } from '../shared/errors.ts'

/** Every input of action.yml; a test keeps this list and action.yml identical. */
export const INPUT_NAMES = [
  'path',
  'app',
  's3-url',
  'aws-region',
  's3-endpoint',
  'manifest',
  'dest',
  'exclude',
  'deploy-id-file',
  'deploy-id',
  'compression-level',
  'consul-addr',
  'consul-token',
  'kv-prefix',
  'event-name',
  'node-filter',
  'service-filter',
  'tag-filter',
  'datacenters',
  'wait',
  'timeout',
  'max-failures',
  'rollback-to',
  'waves',
  'bake-time',
  'auto-rollback',
  'promote',
  'layout',
  'keep-releases',
  'dry-run',
  'github-token',
  'check-name',
  'environment',
  'dashboard',
  'backend',
  'serf-rpc-addr',
  'serf-rpc-auth',
  'serf-join',
  'serf-tags'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

/** Defaults applied when an input is empty (the runner applies action.yml's; the CLI does not). */
export const INPUT_DEFAULTS: Partial<Record<InputName, string>> = {
  path: '.',
  'deploy-id-file': 'DEPLOY_ID',
  'compression-level': '1',
  'event-name': 'deploy',
  wait: 'true',
  timeout: '10m',
  'max-failures': '0',
  'bake-time': '0s',
  'auto-rollback': 'false',
  layout: 'in-place',
  'keep-releases': '5',
  'dry-run': 'false',
  backend: 'consul'
}

export type InputReader = (name: InputName) => string

export type Getter = (name: InputName) => string

export const getter =
  (input: InputReader): Getter =>
  (name) => {
    const value = input(name).trim()
    return value === '' ? (INPUT_DEFAULTS[name] ?? '') : value
  }

export function parseBoolean(name: InputName, raw: string): boolean {
  // The YAML 1.2 core schema booleans, as core.getBooleanInput accepts them.
  if (['true', 'True', 'TRUE'].includes(raw)) return true
  if (['false', 'False', 'FALSE'].includes(raw)) return false
  throw new InputError(name, `must be true or false (got ${quote(raw)})`)
}

export function parseInteger(name: InputName, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new InputError(name, `must be a whole number from ${min} to ${max} (got ${quote(raw)})`)
  return Number(raw)
}
