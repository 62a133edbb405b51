// Streams the build directory as a .tar.gz and hashes it on the way out: the
// archive is never written to disk, read twice, or held whole in memory.
//
// Why system tar: research/performance.md measured JS tar writers 3-6x slower than
// GNU tar on many small files, and pigz uses every core. So the tree is walked and
// validated here (tree.ts: excludes, refusals, sort order), and GNU tar is handed
// that exact list (`--null --no-recursion -T -`), never a directory to recurse.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { createGzip } from 'node:zlib'
import type { Gzip } from 'node:zlib'
import { findPackTools } from './pack-tools.ts'
import type { Compressor, PackTools } from './pack-tools.ts'
import { RECORD, archiveBytes, memberBytes } from './tar-size.ts'
import type { Tree, WalkOptions } from './tree.ts'
import { parseDeployIdFile } from '../config/deploy-id-file.ts'
import { walkTree } from './tree.ts'

export interface PackProgress {
  /** uncompressed tar bytes produced so far */
  bytesIn: number
  /** compressed bytes produced so far */
  bytesOut: number
  /** uncompressed tar bytes there will be in all */
  totalIn: number
}

export interface PackOptions {
  root: string
  /** globs; semantics in tree.ts compileExcludes */
  exclude: readonly string[]
  deployIdFile: string
  deployId: string
  /** gzip level 1..9, default 1 (the action input's default; bench/README.md) */
  compressionLevel?: number
  /** called for every chunk; throttling is the caller's business */
  onProgress?: (p: PackProgress) => void
  /**
   * Stamp every entry with this time instead of its own. Stretcher syncs with
   * `rsync -a`, whose quick check skips a file whose size and mtime are unchanged:
   * a rebuilt file of the same size with a kept (or reproducible-build) mtime would
   * never reach the node. A time unique to the deploy makes every file differ.
   */
  mtime?: Date
  /** what checkTree found, when the caller checked already (to fail before writing anything) */
  checked?: CheckedBuild
}

export interface CheckedBuild {
  tree: Tree
  tools: PackTools
}

/**
 * The tree walked and checked (tree.ts), and GNU tar (and pigz) found: everything
 * pack needs that can fail on bad input. `tar --version` runs while the tree is
 * walked; a tree error is the one reported when both fail.
 */
export async function checkTree(opts: WalkOptions): Promise<CheckedBuild> {
  const toolsFound = findPackTools()
  toolsFound.catch(() => {})
  const tree = await walkTree(opts)
  return { tree, tools: await toolsFound }
}

export interface PackResult {
  /** hex sha256 of the compressed bytes, exactly as streamed */
  sha256: string
  /** compressed bytes */
  size: number
  /** entries in the archive, the deploy-ID file and its added directories included */
  files: number
}

export interface PackedArchive {
  /**
   * The .tar.gz. It ends only once tar and the compressor have exited cleanly;
   * otherwise it errors (with the failing program's last stderr line). Destroying
   * it stops the programs and removes the temp dir, and `result` rejects.
   */
  stream: Readable
  /** settles after the programs have exited and the temp dir is gone */
  result: Promise<PackResult>
  /** uncompressed tar bytes (headers included), for progress */
  totalBytes: number
  /** bytes of file contents in the tree */
  fileBytes: number
  files: number
  compressor: Compressor
}

interface Exit {
  name: string
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/**
 * The uncompressed tar's length and entry count for a checked tree: the tree's
 * members plus the deploy-ID file and its added parent directories. Known before
 * tar runs (progress, and what a dry run reports).
 */
export function archiveShape(
  tree: Pick<Tree, 'membersBytes' | 'count' | 'deployIdEntries'>,
  deployIdFile: string,
  deployId: string
): { tarBytes: number; files: number } {
  let membersBytes = tree.membersBytes
  for (const path of tree.deployIdEntries) {
    membersBytes +=
      path === deployIdFile
        ? memberBytes(Buffer.byteLength(path), Buffer.byteLength(`${deployId}\n`))
        : memberBytes(Buffer.byteLength(path) + 1, 0)
  }
  return {
    tarBytes: archiveBytes(membersBytes),
    files: tree.count + tree.deployIdEntries.length
  }
}

/** Validation errors reject here, before any byte flows. */
export async function pack(opts: PackOptions): Promise<PackedArchive> {
  const level = opts.compressionLevel ?? 1
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new RangeError(`compressionLevel must be an integer from 1 to 9 (got ${level})`)
  }
  const root = resolve(opts.root)
  const deployIdFile = parseDeployIdFile(opts.deployIdFile)
  const { tree, tools } =
    opts.checked ?? (await checkTree({ root: opts.root, exclude: opts.exclude, deployIdFile }))
  const { tarBytes: totalIn, files } = archiveShape(tree, deployIdFile, opts.deployId)
  const extra = await writeExtra(tree, deployIdFile, `${opts.deployId}\n`)
  const programs = spawnPrograms(tools, tarArgs(root, extra, opts.mtime), level)
  const run = new PackRun({
    programs,
    compressorName: tools.compressor,
    level,
    tmp: extra.tmp,
    totalIn,
    files,
    onProgress: opts.onProgress
  })
  run.start(tree.list)
  return {
    stream: run.output,
    result: run.result,
    totalBytes: totalIn,
    fileBytes: tree.fileBytes,
    files,
    compressor: tools.compressor
  }
}

/** The temp dir holding the deploy-ID file and its missing parents, and their list. */
interface Extra {
  tmp: string
  root: string
  list: string
}

// The deploy-ID file and its missing parents come from a temp dir of their own,
// packed after the tree with a second `-C dir -T list` (GNU tar applies -C in order).
async function writeExtra(tree: Tree, deployIdFile: string, content: string): Promise<Extra> {
  const tmp = await mkdtemp(join(tmpdir(), 'stretcher-pack-'))
  const extraRoot = join(tmp, 'extra')
  const extraList = join(tmp, 'extra.list')
  try {
    await mkdir(join(extraRoot, dirname(deployIdFile)), { recursive: true, mode: 0o755 })
    for (const path of tree.deployIdEntries.slice(0, -1)) await chmod(join(extraRoot, path), 0o755)
    await writeFile(join(extraRoot, deployIdFile), content, { mode: 0o644 })
    await chmod(join(extraRoot, deployIdFile), 0o644)
    for (const path of tree.deployIdEntries) {
      await utimes(join(extraRoot, path), tree.newestMtime, tree.newestMtime)
    }
    await writeFile(extraList, tree.deployIdEntries.map((path) => `${path}\0`).join(''))
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  return { tmp, root: extraRoot, list: extraList }
}

function tarArgs(root: string, extra: Extra, mtime: Date | undefined): string[] {
  return [
    '--create',
    '--file=-',
    '--format=gnu',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--no-recursion',
    // with --null, names from the list are names (`-x` is no option; GNU tar
    // 1.29+ implies that); --no-unquote keeps `\n` in a name from being an escape
    '--null',
    '--no-unquote',
    ...(mtime ? [`--mtime=@${Math.floor(mtime.getTime() / 1000)}`] : []),
    // Progress without reading tar's output in Node: a stderr line every
    // CHECKPOINT_RECORDS records of RECORD bytes (exitOf keeps these out of errors)
    `--checkpoint=${CHECKPOINT_RECORDS}`,
    `--checkpoint-action=echo=${PROGRESS_MARK}%u`,
    '-C',
    root,
    '-T',
    '-',
    '-C',
    extra.root,
    '-T',
    extra.list
  ]
}

/** tar, and the compressor it writes into when there is one (pigz); tar first in `children`. */
interface Programs {
  tar: ChildProcess
  compressor: ChildProcess | undefined
  children: ChildProcess[]
}

function spawnPrograms(tools: PackTools, args: string[], level: number): Programs {
  // With pigz, tar writes straight into pigz's stdin (the fd is handed over, as a
  // shell pipe does): Node never copies the uncompressed bytes, which on a 2-core
  // machine is CPU taken from the compressor. pigz is spawned first so that
  // the pipe Node keeps open is a write end it can close at once, never a read
  // end it might read from.
  const compressor =
    tools.compressorPath === undefined
      ? undefined
      : // -n: no name or time in the gzip header, so the same tree gives the same bytes
        spawn(tools.compressorPath, ['-n', `-${level}`, '-c'], {
          argv0: tools.compressor,
          stdio: ['pipe', 'pipe', 'pipe']
        })
  // argv0: so stderr says "tar: ...", not "/usr/bin/tar: ..."
  const tar = spawn(tools.tar, args, {
    argv0: 'tar',
    stdio: ['pipe', compressor ? compressor.stdin! : 'pipe', 'pipe']
  })
  // tar has its own copy of the write end now; ours would keep pigz from seeing EOF
  compressor?.stdin?.destroy()
  return { tar, compressor, children: compressor ? [tar, compressor] : [tar] }
}

interface PackRunOptions {
  programs: Programs
  compressorName: Compressor
  level: number
  tmp: string
  totalIn: number
  files: number
  onProgress: ((p: PackProgress) => void) | undefined
}

/**
 * One archive being made: the programs' exits watched, their output hashed and
 * counted on its way to `output`, and everything stopped and cleaned up at the
 * first failure. `result` settles once the programs have exited and the temp
 * dir is gone.
 */
class PackRun {
  readonly output: Transform
  readonly result: Promise<PackResult>
  private readonly programs: Programs
  private readonly exits: Array<Promise<Exit>>
  /** Node's gzip, when there is no pigz */
  private readonly gzip: Gzip | undefined
  private readonly hash = createHash('sha256')
  private readonly tmp: string
  private readonly totalIn: number
  private readonly files: number
  private readonly onProgress: ((p: PackProgress) => void) | undefined
  private bytesIn = 0
  private bytesOut = 0
  private finished = false
  private failure: Error | undefined
  private settle!: { resolve: (r: PackResult) => void; reject: (e: Error) => void }
  // Children we kill are not to blame for how they ended.
  private readonly killedByUs = new Set<ChildProcess>()

  constructor(opts: PackRunOptions) {
    this.programs = opts.programs
    this.tmp = opts.tmp
    this.totalIn = opts.totalIn
    this.files = opts.files
    this.onProgress = opts.onProgress
    const { children, compressor } = this.programs
    this.gzip = compressor ? undefined : createGzip({ level: opts.level })
    this.gzip?.on('error', (err) => this.fail(err))
    this.exits = children.map((child, i) =>
      i === 0
        ? exitOf(child, 'tar', (records) => {
            this.bytesIn = Math.min(this.totalIn, records * RECORD)
            this.report()
          })
        : exitOf(child, opts.compressorName)
    )
    this.result = new Promise<PackResult>((resolve, reject) => (this.settle = { resolve, reject }))
    this.result.catch(() => {}) // a caller watching only the stream must not crash on it
    this.watchExits()
    this.output = this.outputStream()
  }

  /** hands tar the list and connects the pipes */
  start(list: Buffer): void {
    const { tar, compressor, children } = this.programs
    for (const child of children) {
      child.on('error', (err) => this.fail(err))
      // EPIPE when the other end died: the exit codes tell the story
      child.stdin?.on('error', () => {})
    }
    tar.stdin?.end(list)
    if (compressor) {
      ;(compressor.stdout as Readable).pipe(this.output)
    } else if (this.gzip) {
      const tarOut = tar.stdout as Readable
      tarOut.on('data', (chunk: Buffer) => {
        this.bytesIn += chunk.length
        this.report()
      })
      tarOut.pipe(this.gzip).pipe(this.output)
    }
  }

  private report(): void {
    this.onProgress?.({ bytesIn: this.bytesIn, bytesOut: this.bytesOut, totalIn: this.totalIn })
  }

  private outputStream(): Transform {
    const output = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.hash.update(chunk)
        this.bytesOut += chunk.length
        this.report()
        callback(null, chunk)
      },
      // The stream ends only when every program exited 0: a consumer (the upload)
      // must never see a clean end of an archive tar gave up on halfway.
      flush: (callback) => {
        void Promise.all(this.exits).then(async (codes) => {
          const bad = this.blame(codes)
          if (bad) return callback(bad)
          this.finished = true
          this.bytesIn = this.totalIn
          this.report()
          await rm(this.tmp, { recursive: true, force: true }).catch(() => {})
          this.settle.resolve({
            sha256: this.hash.digest('hex'),
            size: this.bytesOut,
            files: this.files
          })
          callback()
        })
      }
    })
    output.on('close', () => {
      if (!this.finished)
        this.fail(this.failure ?? new Error('archive stream was destroyed before it ended'))
    })
    output.on('error', (err) => this.fail(err))
    return output
  }

  // One program failing leaves the other blocked on a pipe nobody drains: stop
  // them all at the first failure, then blame the one that failed on its own.
  private watchExits(): void {
    for (const exit of this.exits) {
      void exit.then((e) => {
        if (e.code === 0 || this.failure || this.finished) return
        this.stopChildren()
        void Promise.all(this.exits).then((all) => this.fail(this.blame(all) ?? exitError(e)))
      })
    }
  }

  private stopChildren(): void {
    for (const child of this.programs.children) {
      if (child.exitCode === null && child.signalCode === null) {
        this.killedByUs.add(child)
        child.kill('SIGKILL')
      }
    }
  }

  private blame(all: readonly Exit[]): Error | undefined {
    const children = this.programs.children
    return firstFailure(all.filter((_, i) => !this.killedByUs.has(children[i] as ChildProcess)))
  }

  private fail(err: Error): void {
    if (this.finished || this.failure) return
    this.failure = err
    if (!this.output.destroyed) this.output.destroy(err)
    this.stopChildren()
    for (const child of this.programs.children) child.stdout?.destroy()
    this.gzip?.destroy()
    void Promise.all(this.exits)
      .then(() => rm(this.tmp, { recursive: true, force: true }))
      .finally(() => this.settle.reject(err))
  }
}

/** a progress line every 100 records (1,024,000 bytes) of tar output */
const CHECKPOINT_RECORDS = 100
/** what tar's checkpoint echo prints, after "tar: " */
const PROGRESS_MARK = '#stretcher-progress '

function exitOf(
  child: ChildProcess,
  name: string,
  onCheckpoint?: (records: number) => void
): Promise<Exit> {
  const tail: string[] = []
  let tailBytes = 0
  let partial = ''
  const keep = (line: string): void => {
    if (onCheckpoint) {
      const at = line.indexOf(PROGRESS_MARK)
      if (at !== -1) return onCheckpoint(Number(line.slice(at + PROGRESS_MARK.length)))
    }
    tail.push(line)
    tailBytes += line.length
    while (tailBytes > 8192 && tail.length > 1) tailBytes -= tail.shift()!.length
  }
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) keep(line)
  })
  const stderrDone = new Promise<void>((resolve) => {
    if (!child.stderr) return resolve()
    child.stderr.on('close', resolve)
    child.stderr.on('error', () => resolve())
  })
  // 'exit' plus the end of stderr, not 'close': 'close' also waits for stdout,
  // which stays open while its reader is paused (a destroyed consumer)
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      void stderrDone.then(() =>
        resolve({ name, code, signal, stderr: [...tail, partial].join('\n') })
      )
    })
    child.on('error', () => resolve({ name, code: null, signal: null, stderr: '' }))
  })
}

/** The program to blame: one that failed on its own, not one killed by SIGPIPE because of it. */
function firstFailure(exits: readonly Exit[]): Error | undefined {
  const failed = exits.filter((e) => e.code !== 0)
  const culprit = failed.find((e) => e.signal !== 'SIGPIPE') ?? failed[0]
  return culprit && exitError(culprit)
}

function exitError(culprit: Exit): Error {
  // tar ends with a summary line ("Exiting with failure status due to previous
  // errors"): the line before it says what went wrong
  const lines = culprit.stderr.split('\n').filter((l) => l.trim() !== '')
  const lastLine =
    lines.filter((l) => !/(Exiting with failure status|Error is not recoverable)/.test(l)).at(-1) ??
    lines.at(-1) ??
    ''
  const how =
    culprit.signal !== null ? `was killed by ${culprit.signal}` : `exited with code ${culprit.code}`
  return new Error(`${culprit.name} ${how}${lastLine ? `: ${lastLine}` : ''}`)
}
