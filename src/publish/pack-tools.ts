// Which programs pack.ts runs: GNU tar (required) and pigz when installed.
// Without pigz, Node's zlib compresses: measured here it beat a spawned `gzip`
// (50 MB tree, level 6: zlib 2.1-2.5 s, gzip 2.6-3.6 s; level 1: 1.2 s vs 1.6 s),
// as zlib runs on libuv's threads and spares a pipe hop through Node.
import { execFile } from 'node:child_process'
import { access, constants, stat } from 'node:fs/promises'
import { delimiter, resolve } from 'node:path'

export type Compressor = 'pigz' | 'zlib'

export interface PackTools {
  tar: string
  /** absolute path of pigz; absent for Node's zlib */
  compressorPath?: string
  compressor: Compressor
}

/**
 * Runners this action packs on. Windows runners have no GNU tar on PATH (their
 * tar is bsdtar) and no POSIX file modes to put in the archive: refused in the plan
 * stage, before anything is written. Linux runners have GNU tar (and pigz on
 * GitHub's images); macOS needs `brew install gnu-tar` (gtar), and compresses with
 * Node's zlib when pigz is absent.
 */
export function checkPlatform(platform: NodeJS.Platform = process.platform): void {
  if (platform === 'win32')
    throw new Error(
      'Windows runners are not supported: packing needs GNU tar on PATH and POSIX file modes (executables stay executable), which Windows has not; run this step on ubuntu-latest, or macos-latest with brew install gnu-tar'
    )
}

/**
 * The first executable `name` on PATH, by @actions/io's `which` rules: PATH's
 * entries in order, empty ones skipped (never the current directory), the
 * candidate followed through symlinks and taken only if it is a regular file and
 * executable. Executable is the kernel's answer (access X_OK), where @actions/io
 * computes it from the mode bits, the owner and the primary group only (so it
 * misses supplementary groups and root). Windows (PATHEXT) is refused before this
 * runs (checkPlatform). Looked up on each call: PATH may change between calls,
 * tests rely on that.
 */
export async function which(
  name: string,
  path: string | undefined = process.env.PATH
): Promise<string | undefined> {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue
    // absolute, so that a relative PATH entry still names it after a change of cwd
    const candidate = resolve(dir, name)
    try {
      if (!(await stat(candidate)).isFile()) continue
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here, or not executable
    }
  }
  return undefined
}

const gnuTarByPath = new Map<string, boolean>()

function isGnuTar(path: string): Promise<boolean> {
  const known = gnuTarByPath.get(path)
  if (known !== undefined) return Promise.resolve(known)
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      const gnu = !err && /GNU tar/.test(stdout)
      gnuTarByPath.set(path, gnu)
      resolve(gnu)
    })
  })
}

/**
 * `gtar` first (what GNU tar is called on macOS with Homebrew), then `tar`.
 * There is no JS fallback: the options pack.ts relies on (`--null -T`,
 * positional `-C`, `--owner=0`) are GNU tar's, and JS tar writers measured 3-6x slower.
 */
export async function findPackTools(): Promise<PackTools> {
  let tar: string | undefined
  for (const name of ['gtar', 'tar']) {
    const path = await which(name)
    if (path !== undefined && (await isGnuTar(path))) {
      tar = path
      break
    }
  }
  if (tar === undefined) {
    throw new Error(
      'GNU tar is needed to pack the archive and was not found on PATH as gtar or tar (on macOS: brew install gnu-tar)'
    )
  }
  const pigz = await which('pigz')
  return pigz === undefined
    ? { tar, compressor: 'zlib' }
    : { tar, compressorPath: pigz, compressor: 'pigz' }
}
