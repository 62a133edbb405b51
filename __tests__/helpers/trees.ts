// Build trees with the awkward corners of real builds, and describe trees so two
// can be compared: contents, modes and symlink targets.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  writeFile
} from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const exec = promisify(execFile)

/** A small build with spaces, unicode, dotfiles, an executable, symlinks and an empty dir. */
export async function makeSampleBuild(root: string): Promise<void> {
  await mkdir(join(root, 'bin'), { recursive: true })
  await mkdir(join(root, 'public/assets'), { recursive: true })
  await mkdir(join(root, 'empty dir'), { recursive: true })
  await mkdir(join(root, 'node_modules/left-pad'), { recursive: true })
  await writeFile(join(root, 'index.html'), '<h1>hello</h1>\n')
  await writeFile(join(root, 'bin/start'), '#!/bin/sh\necho started\n')
  await chmod(join(root, 'bin/start'), 0o755)
  await writeFile(join(root, 'public/assets/app.js'), 'console.log(1)\n'.repeat(500))
  await writeFile(join(root, 'public/assets/app.js.map'), '{}')
  await writeFile(join(root, 'public/naïve café ☕.txt'), 'unicode\n')
  await writeFile(join(root, 'public/with space.txt'), 'space\n')
  await writeFile(join(root, '.env.production'), 'A=1\n')
  await writeFile(join(root, 'node_modules/left-pad/index.js'), 'module.exports = 1\n')
  await writeFile(join(root, 'public/blob.bin'), createHash('sha512').update('seed').digest())
  await symlink('public/assets/app.js', join(root, 'current.js'))
  await symlink('../does-not-exist', join(root, 'dangling'))
}

export interface Entry {
  type: 'file' | 'dir' | 'symlink'
  mode: number
  sha256?: string
  target?: string
}

/** path → entry for everything under root (root itself left out). */
export async function describeTree(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {}
  const names = (await readdir(root, { recursive: true })).sort()
  for (const name of names) {
    const full = join(root, name)
    const st = await lstat(full)
    const mode = st.mode & 0o7777
    if (st.isSymbolicLink()) out[name] = { type: 'symlink', mode: 0, target: await readlink(full) }
    else if (st.isDirectory()) out[name] = { type: 'dir', mode }
    else
      out[name] = {
        type: 'file',
        mode,
        sha256: createHash('sha256')
          .update(await readFile(full))
          .digest('hex')
      }
  }
  return out
}

/** Unpack with the system tar, exactly as stretcher does on a node (`tar xf`). */
export async function untar(archive: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true })
  await exec('tar', ['xf', archive], { cwd: into })
}
