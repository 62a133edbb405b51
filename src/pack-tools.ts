// Which programs pack.ts runs: GNU tar (required) and pigz when installed.
// Without pigz, Node's zlib compresses: measured here it beat a spawned `gzip`
// (50 MB tree, level 6: zlib 2.1-2.5 s, gzip 2.6-3.6 s; level 1: 1.2 s vs 1.6 s),
// as zlib runs on libuv's threads and spares a pipe hop through Node.
import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'

export type Compressor = 'pigz' | 'zlib'

export interface PackTools {
  tar: string
  /** absolute path of pigz; absent for Node's zlib */
  compressorPath?: string
  compressor: Compressor
}

/** Looked up on each call (PATH may change between calls, tests rely on that). */
async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
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
