// The release inputs: app, deploy-id, rollback-to and promote (which release),
// event-name (what the nodes are told) and dest (where they put it).
import { normalize } from 'node:path'
import type { Config } from './config-types.ts'
import { DEPLOY_ID_PATTERN, deployIdProblem, generateDeployId } from './deploy-id.ts'
import type { Getter, InputName } from './inputs.ts'
import { InputError, quote } from '../shared/errors.ts'

const APP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function parseDest(raw: string): string | undefined {
  if (raw === '') return undefined
  if (!raw.startsWith('/') || /[\0\r\n]/.test(raw))
    throw new InputError('dest', `must be an absolute directory on the nodes (got ${quote(raw)})`)
  if (raw.includes('{{'))
    throw new InputError(
      'dest',
      `must not contain "{{": stretcher would evaluate it as a template (got ${quote(raw)})`
    )
  if (normalize(raw) === '/')
    throw new InputError('dest', 'must not be "/": rsync --delete would empty the root')
  return raw
}

export function readApp(get: Getter, env: NodeJS.ProcessEnv): string {
  const app = get('app') || env.GITHUB_REPOSITORY?.split('/')[1] || ''
  if (app === '')
    throw new InputError(
      'app',
      'is required outside GitHub Actions (no GITHUB_REPOSITORY to take the name from)'
    )
  if (!APP.test(app))
    throw new InputError(
      'app',
      `must be letters, digits and ._- (at most 64, starting with a letter or digit; got ${quote(app)})`
    )
  return app
}

function checkDeployId(name: InputName, raw: string): void {
  const problem = deployIdProblem(raw)
  if (problem) throw new InputError(name, `${problem} (got ${quote(raw)})`)
}

/** Which release the run deploys: a new one (its ID given or made), or a published one. */
export function readRelease(
  get: Getter,
  env: NodeJS.ProcessEnv,
  now: Date
): Pick<Config, 'deployId' | 'deployIdGiven' | 'rollbackTo' | 'promote'> {
  const deployIdRaw = get('deploy-id')
  if (deployIdRaw !== '') checkDeployId('deploy-id', deployIdRaw)
  const rollbackRaw = get('rollback-to')
  if (rollbackRaw !== '') {
    checkDeployId('rollback-to', rollbackRaw)
    if (deployIdRaw !== '' && deployIdRaw !== rollbackRaw)
      throw new InputError('rollback-to', 'cannot be combined with a different deploy-id')
  }
  const promoteRaw = get('promote')
  if (promoteRaw !== '') {
    checkDeployId('promote', promoteRaw)
    if (rollbackRaw !== '')
      throw new InputError('promote', 'cannot be combined with rollback-to: choose one release')
    if (deployIdRaw !== '' && deployIdRaw !== promoteRaw)
      throw new InputError('promote', 'cannot be combined with a different deploy-id')
  }
  const deployId =
    rollbackRaw ||
    promoteRaw ||
    deployIdRaw ||
    generateDeployId({
      now,
      sha: env.GITHUB_SHA || undefined,
      runId: env.GITHUB_RUN_ID,
      runAttempt: env.GITHUB_RUN_ATTEMPT
    })
  if (!DEPLOY_ID_PATTERN.test(deployId))
    throw new Error(`generated deploy ID ${quote(deployId)} is malformed`)
  return {
    deployId,
    deployIdGiven: deployIdRaw !== '',
    rollbackTo: rollbackRaw || undefined,
    promote: promoteRaw || undefined
  }
}

export function parseEventName(raw: string): string {
  if (!EVENT_NAME.test(raw))
    throw new InputError(
      'event-name',
      `must be letters, digits and ._- (at most 64, not starting with "_"; got ${quote(raw)})`
    )
  return raw
}
