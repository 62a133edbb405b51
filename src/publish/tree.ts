// The build tree as it will go into the archive: walked, filtered, validated and
// sorted here, so that tar only packs a list we already checked (pack.ts).
import { accessSync, constants, lstatSync, readdirSync, readlinkSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { posix, resolve, sep } from 'node:path'
import picomatch from 'picomatch'
import { InputError, quote } from '../shared/errors.ts'
import { memberBytes } from './tar-size.ts'

export type EntryKind = 'file' | 'directory' | 'symlink'

/**
 * The build tree as one list and its totals, not an object per entry: a 100k-file
 * build would otherwise keep ~100k objects and strings alive through the upload
 * (bench/README.md, Notes: the plan-stage walk).
 */
export interface Tree {
  /** every entry's path (relative, `/`-separated) followed by a NUL, pre-order,
   * children sorted by name: what tar is handed (`--null -T -`) */
  list: Buffer
  /** entries in `list` */
  count: number
  /** bytes those entries take in a GNU tar (tar-size.ts memberBytes, summed) */
  membersBytes: number
  /** sum of file sizes (a hard link's data counted once) */
  fileBytes: number
  /** newest mtime in the tree: given to the generated entries so that the same
   * tree and deploy ID give the same bytes */
  newestMtime: Date
  /** entries added for the deploy-ID file: its missing parent directories, then the file */
  deployIdEntries: string[]
}

export interface WalkOptions {
  root: string
  exclude: readonly string[]
  /** already checked with deploy-id-file.ts parseDeployIdFile */
  deployIdFile: string
}

/**
 * Exclude semantics (not gitignore, though close for common cases):
 * - each pattern is a picomatch glob (`dot: true`, so `*` also matches dotfiles),
 *   matched against the entry's path relative to `path`, `/`-separated;
 * - a pattern without `/` matches the entry's name at any depth (`*.map`,
 *   `node_modules`, `.git`);
 * - a pattern with `/` is matched against the whole relative path (`assets/*.psd`,
 *   `**\/test/**`); a leading `/` only anchors it (`/README.md` is the top one only);
 * - a trailing `/` matches directories only (`cache/`);
 * - an excluded directory takes its whole subtree with it; `dist/**` excludes the
 *   contents of `dist` but keeps `dist` itself (empty);
 * - no negation: a pattern starting with `!` is refused.
 * The deploy-ID file is always added, whatever the patterns say.
 */
export function compileExcludes(
  patterns: readonly string[]
): (path: string, isDirectory: boolean) => boolean {
  const matchers = patterns
    .filter((p) => p.trim() !== '')
    .map((raw) => {
      const pattern = raw.trim()
      if (pattern.startsWith('!')) {
        throw new InputError('exclude', `does not support negation (got ${quote(pattern)})`)
      }
      const directoriesOnly = pattern.endsWith('/')
      const body = pattern.replace(/^\/+/, '').replace(/\/+$/, '')
      if (body === '') throw new InputError('exclude', `matches nothing (got ${quote(pattern)})`)
      const byName = !pattern.slice(0, -1).includes('/') && !pattern.startsWith('/')
      const isMatch = picomatch(body, { dot: true })
      return (path: string, isDirectory: boolean): boolean =>
        (isDirectory || !directoriesOnly) && isMatch(byName ? posix.basename(path) : path)
    })
  return (path, isDirectory) => matchers.some((m) => m(path, isDirectory))
}

function kindOf(stats: Stats): EntryKind | string {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symlink'
  if (stats.isFIFO()) return 'FIFO'
  if (stats.isSocket()) return 'socket'
  if (stats.isBlockDevice()) return 'block device'
  if (stats.isCharacterDevice()) return 'character device'
  return 'special file'
}

const YIELD_EVERY = 2000

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** NUL-terminated paths appended into one growing buffer */
class PathList {
  private buf = Buffer.allocUnsafe(1 << 16)
  private at = 0
  count = 0

  /** appends `path` and its NUL; returns the path's UTF-8 length */
  push(path: string): number {
    // a UTF-16 unit is at most 3 UTF-8 bytes
    const room = path.length * 3 + 1
    if (this.at + room > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + room))
      this.buf.copy(grown, 0, 0, this.at)
      this.buf = grown
    }
    const bytes = this.buf.write(path, this.at)
    this.at += bytes
    this.buf[this.at++] = 0
    this.count++
    return bytes
  }

  /** the list, copied to its exact size (the spare capacity is let go) */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.at))
  }
}

/**
 * Whether this process may read a file (r) or list a directory (r+x), from the
 * mode bits: an access() per entry cost a sixth of the walk (bench/README.md, Notes).
 * Undefined: the bits say no, or there is no uid to compare (Windows); ask access(),
 * which also knows ACLs. (An ACL that denies what the bits allow is left to tar.)
 */
function mayRead(st: Stats, kind: 'file' | 'directory', ids: Ids | undefined): true | undefined {
  if (!ids) return undefined
  if (ids.uid === 0) return true // root reads and searches regardless of mode
  const need = kind === 'file' ? 4 : 5
  const bits = st.uid === ids.uid ? st.mode >> 6 : ids.gids.has(st.gid) ? st.mode >> 3 : st.mode
  return (bits & need) === need ? true : undefined
}

interface Ids {
  uid: number
  gids: Set<number>
}

function processIds(): Ids | undefined {
  if (!process.getuid || !process.getgid || !process.getgroups) return undefined
  return { uid: process.getuid(), gids: new Set([process.getgid(), ...process.getgroups()]) }
}

/** Walks `root` without following symlinks; refuses what tar xf could not recreate faithfully. */
export async function walkTree(opts: WalkOptions): Promise<Tree> {
  await checkRoot(opts.root)
  const walk = new Walk(opts)
  await walk.visit('')
  return walk.tree()
}

async function checkRoot(root: string): Promise<void> {
  let rootStats: Stats
  try {
    rootStats = await stat(root)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError('path', `does not exist (got ${quote(root)})`)
    throw new InputError('path', `cannot be read (${quote(root)}: ${code ?? String(err)})`)
  }
  if (!rootStats.isDirectory()) {
    throw new InputError('path', `must be a directory (got ${quote(root)})`)
  }
}

/**
 * One walk's state: the list and totals being built, and what the checks need.
 * Its methods do each entry's work without allocating per entry beyond the path
 * and its Stats (bench/README.md, Notes: the plan-stage walk).
 */
class Walk {
  private readonly root: string
  private readonly deployIdFile: string
  private readonly isExcluded: (path: string, isDirectory: boolean) => boolean
  private readonly deployIdParents: string[]
  private readonly presentParents = new Set<string>()
  private readonly list = new PathList()
  // UTF-8 length of the first path of each multiply-linked inode (tar links later ones to it)
  private readonly firstPathBytes = new Map<string, number>()
  private readonly ids = processIds()
  private readonly absoluteRoot: string
  // string concatenation, not path.join: join's normalising was a tenth of the walk
  private readonly prefix: string
  private membersBytes = 0
  private fileBytes = 0
  private newestMtimeMs = 0
  private excludedAny = false
  private hadDeployIdFile = false
  private sinceYield = 0

  constructor(opts: WalkOptions) {
    this.root = opts.root
    this.deployIdFile = opts.deployIdFile
    this.isExcluded = compileExcludes(opts.exclude)
    this.deployIdParents = parentsOf(opts.deployIdFile)
    this.absoluteRoot = resolve(opts.root)
    this.prefix = this.absoluteRoot.endsWith(sep) ? this.absoluteRoot : this.absoluteRoot + sep
  }

  // Synchronous calls: on a warm tree (a build just made) they measured 3-4x
  // faster than fs/promises, even with a directory's lstats in parallel (20k
  // files: ~110 ms vs ~400 ms, session 1). The loop is given back every
  // YIELD_EVERY entries so timers (the lock's session renewal) still run.
  async visit(relDir: string): Promise<void> {
    for (const name of this.namesIn(relDir)) {
      if (++this.sinceYield >= YIELD_EVERY) {
        this.sinceYield = 0
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
      const path = relDir === '' ? name : `${relDir}/${name}`
      const st = this.lstat(path)
      if (this.isExcluded(path, st.isDirectory())) {
        this.excludedAny = true
        continue
      }
      const kind = kindOf(st)
      refuseSpecial(path, kind)
      if (this.isDeployIdFile(path, kind)) continue // replaced by the generated file
      this.checkDeployIdParent(path, kind)
      this.newestMtimeMs = Math.max(this.newestMtimeMs, st.mtimeMs)
      if (kind !== 'symlink') this.readable(path, kind, st)
      const nameBytes = this.list.push(path)
      if (kind === 'directory') {
        this.membersBytes += memberBytes(nameBytes + 1, 0)
        await this.visit(path)
      } else if (kind === 'symlink') {
        const target = readlinkSync(this.prefix + path)
        this.membersBytes += memberBytes(nameBytes, 0, Buffer.byteLength(target))
      } else {
        this.addFile(st, nameBytes)
      }
    }
  }

  /** The walked tree; refuses one with nothing to deploy. */
  tree(): Tree {
    const { list, root } = this
    if (list.count === 0) {
      throw new InputError(
        'path',
        this.excludedAny
          ? `has nothing to deploy: everything in ${quote(root)} is excluded`
          : this.hadDeployIdFile
            ? `has nothing to deploy: ${quote(root)} holds only the deploy-ID file`
            : `has nothing to deploy: ${quote(root)} is empty`
      )
    }
    const missingParents = this.deployIdParents.filter((p) => !this.presentParents.has(p))
    return {
      list: list.toBuffer(),
      count: list.count,
      membersBytes: this.membersBytes,
      fileBytes: this.fileBytes,
      newestMtime: new Date(this.newestMtimeMs),
      deployIdEntries: [...missingParents, this.deployIdFile]
    }
  }

  private namesIn(relDir: string): string[] {
    const dir = relDir === '' ? this.absoluteRoot : this.prefix + relDir
    const names = readdirSync(dir)
    // A name that is not UTF-8 decodes with U+FFFD and names no file: refuse it
    // rather than fail on lstat. (Names only as Buffers cost a third of readdir.)
    if (names.some((name) => name.includes('\uFFFD'))) refuseNonUtf8(dir, relDir)
    return names.sort(byName)
  }

  private lstat(path: string): Stats {
    try {
      return lstatSync(this.prefix + path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENAMETOOLONG')
        throw new InputError(
          'path',
          `has a path too long at ${quote(path, 80)}: shorten it (the system refuses it)`
        )
      throw error
    }
  }

  private isDeployIdFile(path: string, kind: EntryKind): boolean {
    if (path !== this.deployIdFile) return false
    if (kind === 'directory') {
      throw new InputError(
        'deploy-id-file',
        `names a directory in path (${quote(this.deployIdFile)}); choose another deploy-id-file`
      )
    }
    this.hadDeployIdFile = true
    return true
  }

  private checkDeployIdParent(path: string, kind: EntryKind): void {
    if (!this.deployIdParents.includes(path)) return
    if (kind !== 'directory') {
      throw new InputError(
        'deploy-id-file',
        `needs ${quote(path)} to be a directory, but path has a ${kind} there`
      )
    }
    this.presentParents.add(path)
  }

  // tar would stop half-way on a file it cannot open, after the lock is taken
  // and the upload begun: find it in the plan stage instead.
  private readable(path: string, kind: 'file' | 'directory', st: Stats): void {
    if (mayRead(st, kind, this.ids)) return
    try {
      accessSync(
        this.prefix + path,
        kind === 'file' ? constants.R_OK : constants.R_OK | constants.X_OK
      )
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM')
        throw new InputError(
          'path',
          `has a ${kind} it may not read at ${quote(path)} (permission denied): fix its mode or exclude it`
        )
      throw error
    }
  }

  private addFile(st: Stats, nameBytes: number): void {
    // tar stores later names of a multiply-linked inode as links to the first
    const inode = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined
    const first = inode === undefined ? undefined : this.firstPathBytes.get(inode)
    if (first !== undefined) {
      this.membersBytes += memberBytes(nameBytes, 0, first)
    } else {
      if (inode !== undefined) this.firstPathBytes.set(inode, nameBytes)
      this.membersBytes += memberBytes(nameBytes, st.size)
      this.fileBytes += st.size
    }
  }
}

function refuseSpecial(path: string, kind: EntryKind | string): asserts kind is EntryKind {
  if (kind !== 'file' && kind !== 'directory' && kind !== 'symlink') {
    throw new InputError(
      'path',
      `has a ${kind} at ${quote(path)}: only files, directories and symlinks can be archived (exclude it or remove it)`
    )
  }
}

function refuseNonUtf8(dir: string, relDir: string): void {
  for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
    const name = raw.toString('utf8')
    if (!Buffer.from(name, 'utf8').equals(raw)) {
      const shown = relDir === '' ? name : `${relDir}/${name}`
      throw new InputError(
        'path',
        `has a name that is not UTF-8 at ${quote(shown)}: rename it (archive names are UTF-8)`
      )
    }
  }
}

/** `a/b/c` → [`a`, `a/b`] */
function parentsOf(path: string): string[] {
  const parts = path.split('/').slice(0, -1)
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}
