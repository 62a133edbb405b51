// Deploy IDs (contract 2a): unique per run attempt, sortable by time, carrying the
// short commit SHA, only [0-9A-Za-z._-], at most 48 characters.
import { randomBytes } from 'node:crypto'

export const DEPLOY_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z._-]{0,47}$/

export interface DeployIdSource {
  now: Date
  /** full or short commit SHA; absent outside a git checkout */
  sha?: string
  /** GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: together unique per run attempt */
  runId?: string
  runAttempt?: string
  /** random bytes for runs outside GitHub Actions; injectable for tests */
  random?: () => Buffer
}

/** UTC `YYYYMMDD-HHMMSS`: lexical order is time order. */
function timestamp(now: Date): string {
  const iso = now.toISOString() // 2026-11-22T02:14:41.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`
}

/**
 * `20261122-021441-3f9c2ab-r9876543210.2`: time, short SHA, then the run and its
 * attempt (a re-run of the same commit gets a new ID). Outside GitHub Actions the
 * run part is random, so two runs in the same second still differ.
 */
export function generateDeployId(source: DeployIdSource): string {
  const sha =
    (source.sha ?? '')
      .toLowerCase()
      .replace(/[^0-9a-f]/g, '')
      .slice(0, 7) || 'nosha'
  const runId = source.runId?.replace(/[^0-9]/g, '').slice(0, 20)
  const attempt = source.runAttempt?.replace(/[^0-9]/g, '').slice(0, 4) || '1'
  const run = runId
    ? `r${runId}.${attempt}`
    : `x${(source.random ?? (() => randomBytes(5)))().toString('hex')}`
  return `${timestamp(source.now)}-${sha}-${run}`
}

/** Why a user-given deploy ID is not acceptable, or undefined when it is. */
export function deployIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty'
  if (id.length > 48) return `must be at most 48 characters (got ${id.length})`
  if (!DEPLOY_ID_PATTERN.test(id))
    return 'may hold only letters, digits, ".", "_" and "-", and must start with a letter or digit'
  return undefined
}
