// The operator commands' inputs (status, history; contract 12): the app, where
// the fleet is and which nodes, read with the deploy's own rules and messages.
import type { Config, S3Location } from './config-types.ts'
import { readBackend } from './backend-inputs.ts'
import { parseKvPrefix, readConsul } from './consul-inputs.ts'
import type { InputName } from './inputs.ts'
import { getter } from './inputs.ts'
import { readApp } from './release-inputs.ts'
import { readS3 } from './s3-inputs.ts'
import { readFilters } from './target-inputs.ts'
import { InputError } from '../shared/errors.ts'

/** The inputs the operator commands take (contract 12): where the fleet is, and which nodes. */
export const OPERATE_INPUTS = [
  'app',
  'kv-prefix',
  'consul-addr',
  'consul-token',
  'node-filter',
  'service-filter',
  'tag-filter',
  'backend',
  'serf-rpc-addr',
  'serf-rpc-auth',
  'serf-join',
  'serf-tags',
  's3-url',
  's3-endpoint',
  'aws-region'
] as const satisfies readonly InputName[]
export type OperateInputName = (typeof OPERATE_INPUTS)[number]

/**
 * What `status` and `history` need: the app, its KV prefix, Consul, the
 * filters, the backend; with backend serf the releases are in S3 (`s3`).
 */
export type OperateConfig = Pick<Config, 'app' | 'kvPrefix' | 'consul' | 'filters' | 'backend'> & {
  s3?: S3Location
}

const S3_INPUTS = ['s3-url', 's3-endpoint', 'aws-region'] as const satisfies readonly InputName[]

/** Read the operator commands' inputs, with the same rules and messages as a deploy's. */
export function readOperateConfig(
  input: (name: OperateInputName) => string,
  env: NodeJS.ProcessEnv
): OperateConfig {
  const only = new Set<InputName>(OPERATE_INPUTS)
  const get = getter((name) => (only.has(name) ? input(name as OperateInputName) : ''))
  const app = readApp(get, env)
  const consul = readConsul(get, env)
  const backend = readBackend(get, env)
  const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`)
  const filters = readFilters(get)
  if (backend.kind === 'consul') {
    for (const name of S3_INPUTS)
      if (get(name) !== '')
        throw new InputError(
          name,
          'is only read with backend: serf (with Consul the releases are read from KV)'
        )
    return { app, kvPrefix, consul, filters, backend }
  }
  if (get('s3-url') === '')
    throw new InputError('s3-url', 'is required with backend: serf (the releases are listed in S3)')
  const s3 = readS3(get, env)
  return { app, kvPrefix, consul, filters, backend, s3 }
}
