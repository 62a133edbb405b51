// Cases that need a user who is not root (root reads a mode-000 file) run as
// nobody when the tests run as root. nobody must then reach Node and the checkout:
// not so when either lies under a directory closed to others, such as /root (0700).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const NOBODY = 65534

const checkout = fileURLToPath(new URL('../../package.json', import.meta.url))

let reason: string | false | undefined

/** Why nobody cannot run Node on this checkout here, or false when it can (or we are not root). */
export function nobodyCannotRun(): string | false {
  if (reason !== undefined) return reason
  if (process.getuid?.() !== 0) return (reason = false)
  const probe = spawnSync(
    process.execPath,
    ['-e', 'require("fs").readFileSync(process.argv[1])', checkout],
    { uid: NOBODY, gid: NOBODY, stdio: 'ignore' }
  )
  reason =
    probe.error !== undefined || probe.status !== 0
      ? `nobody (uid ${NOBODY}) cannot run ${process.execPath} on ${checkout}: a directory above is closed to others (as /root is); check out elsewhere to run this case as root`
      : false
  return reason
}
