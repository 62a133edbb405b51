// Where the deploy ID is written inside the archive: one rule, used by the input
// parser (config.ts) and by pack for direct callers, so both say the same thing.
import { posix } from 'node:path'
import { InputError, quote } from '../shared/errors.ts'

/** `meta/DEPLOY_ID` stays, `.\meta\DEPLOY_ID` and `./meta/DEPLOY_ID` become it; a path that
 * is empty, absolute, escaping, names a directory or holds a NUL is refused. */
export function parseDeployIdFile(raw: string): string {
  const path = raw.replace(/\\/g, '/')
  const normalized = posix.normalize(path)
  if (
    path.startsWith('/') ||
    path.split('/').some((s) => s === '..' || s === '') ||
    path.includes('\0') ||
    normalized === '.'
  )
    throw new InputError(
      'deploy-id-file',
      `must be a relative file path inside the archive, like "DEPLOY_ID" or "meta/DEPLOY_ID", without "..", "//" or a leading "/" (got ${quote(raw)})`
    )
  return normalized
}
