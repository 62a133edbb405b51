// pack.ts against real files, real GNU tar/pigz/gzip, and a real `tar xf` of
// what it produced (what stretcher runs on the node). CI needs pigz installed.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lutimesSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { pack } from '../src/publish/pack.ts'
import { archiveBytes } from '../src/publish/tar-size.ts'
import { walkTree } from '../src/publish/tree.ts'
import type { PackOptions, PackProgress } from '../src/publish/pack.ts'

const scratch = mkdtempSync(join(tmpdir(), 'pack-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
let counter = 0
const freshDir = (label: string): string => {
  const dir = join(scratch, `${label}-${++counter}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

function write(root: string, path: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(join(root, path, '..'), { recursive: true })
  writeFileSync(join(root, path), content)
  chmodSync(join(root, path), mode)
}

const LONG_DIR = `deep/${'d'.repeat(60)}/${'e'.repeat(50)}` // > 100 bytes with a file name
const LONG_TARGET = `../${'t'.repeat(120)}`

/** A tree with every kind of thing the contract promises to keep. */
function sampleTree(): string {
  const root = freshDir('tree')
  write(root, 'index.html', '<h1>hi</h1>\n')
  write(root, 'bin/run', '#!/bin/sh\necho run\n', 0o755)
  write(root, '.env', 'SECRET=no\n', 0o600)
  write(root, '.hidden/inner/x.txt', 'x\n')
  write(root, 'with space.txt', 'space\n')
  write(root, 'ünï cødé 日本.txt', 'unicode\n')
  write(root, 'sub/-rf', 'dash\n')
  write(root, 'back\\nslash', 'backslash\n')
  write(root, `${LONG_DIR}/long-file-name.txt`, 'long\n')
  mkdirSync(join(root, 'empty'))
  symlinkSync('bin/run', join(root, 'link-to-run'))
  symlinkSync('../nowhere/at/all', join(root, 'dangling'))
  symlinkSync('/etc/passwd', join(root, 'outside'))
  symlinkSync(LONG_TARGET, join(root, 'long-link'))
  linkSync(join(root, 'index.html'), join(root, 'hard.html'))
  // GNU tar writes an extra header for names over 100 bytes: both sides of the edge
  write(root, `edge/${'n'.repeat(95)}`, '100\n')
  write(root, `edge/${'o'.repeat(96)}`, '101\n')
  mkdirSync(join(root, `edge/${'p'.repeat(95)}`)) // 101 with its trailing slash
  if (process.getuid?.() === 0) chownSync(join(root, 'index.html'), 1234, 5678)
  // a fixed past, with one newest entry that the deploy ID file takes its mtime from
  for (const path of walk(root)) lutimesSync(path, OLD, OLD)
  lutimesSync(join(root, 'sub/-rf'), NEWEST, NEWEST)
  return root
}

const OLD = new Date('2020-01-01T00:00:00Z')
const NEWEST = new Date('2024-05-01T12:34:56Z')

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name)
    return d.isDirectory() ? [...walk(path), path] : [path]
  })
}

interface Packed {
  bytes: Buffer
  sha256: string
  size: number
  files: number
  totalBytes: number
  compressor: string
  progress: PackProgress[]
}

async function packAll(opts: Partial<PackOptions> & { root: string }): Promise<Packed> {
  const progress: PackProgress[] = []
  const archive = await pack({
    exclude: [],
    deployIdFile: 'DEPLOY_ID',
    deployId: '20260101-000000-abc1234-r1.1',
    onProgress: (p) => progress.push(p),
    ...opts
  })
  const chunks: Buffer[] = []
  for await (const chunk of archive.stream) chunks.push(chunk as Buffer)
  const result = await archive.result
  return {
    bytes: Buffer.concat(chunks),
    ...result,
    totalBytes: archive.totalBytes,
    compressor: archive.compressor,
    progress
  }
}

/** `tar xf` exactly as stretcher does: inside a fresh directory. */
function unpack(bytes: Buffer): string {
  const file = join(freshDir('archive'), 'release.tar.gz')
  writeFileSync(file, bytes)
  const dest = freshDir('unpacked')
  execFileSync('tar', ['xf', file], { cwd: dest })
  return dest
}

interface Header {
  name: string
  type: string
  uid: number
  gid: number
  uname: string
  gname: string
}

/** Member headers of an uncompressed GNU tar, long names resolved. */
function headers(tarBytes: Buffer): Header[] {
  const out: Header[] = []
  const field = (block: Buffer, start: number, length: number): string =>
    block
      .subarray(start, start + length)
      .toString('utf8')
      .replace(/\0.*$/s, '')
  let longName: string | undefined
  for (let offset = 0; offset + 512 <= tarBytes.length;) {
    const block = tarBytes.subarray(offset, offset + 512)
    if (block.every((b) => b === 0)) break
    const size = parseInt(field(block, 124, 12) || '0', 8)
    const type = field(block, 156, 1)
    const data = tarBytes.subarray(offset + 512, offset + 512 + size)
    offset += 512 + Math.ceil(size / 512) * 512
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '')
      continue
    }
    if (type === 'K') continue
    out.push({
      name: longName ?? field(block, 0, 100),
      type,
      uid: parseInt(field(block, 108, 8), 8),
      gid: parseInt(field(block, 116, 8), 8),
      uname: field(block, 265, 32),
      gname: field(block, 297, 32)
    })
    longName = undefined
  }
  return out
}

/** Live child processes of this test process (pack must leave none behind). */
function childProcesses(): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? []
      const [state, ppid] = (rest ?? '').split(' ')
      if (Number(ppid) === process.pid && state !== 'Z') found.push(comm ?? '?')
    } catch {
      // exited while we looked
    }
  }
  return found
}

/** PATH holding only the named programs (symlinks to the real ones, or scripts). */
function pathWith(programs: Record<string, string>): string {
  const bin = freshDir('bin')
  for (const [name, source] of Object.entries(programs)) {
    if (source.startsWith('#!')) write(bin, name, source, 0o755)
    else
      symlinkSync(
        execFileSync('sh', ['-c', `command -v ${source}`], { encoding: 'utf8' }).trim(),
        join(bin, name)
      )
  }
  return bin
}

async function withPath<T>(path: string, run: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH
  process.env.PATH = path
  try {
    return await run()
  } finally {
    process.env.PATH = saved
  }
}

describe('pack', () => {
  let root: string
  let packed: Packed
  let dest: string
  before(async () => {
    root = sampleTree()
    packed = await packAll({ root })
    dest = unpack(packed.bytes)
  })

  it('uses pigz when it is on PATH (CI must apt-get install pigz)', () => {
    assert.equal(packed.compressor, 'pigz')
  })

  it('keeps contents, modes, dotfiles, odd names and empty directories', () => {
    for (const path of [
      'index.html',
      'bin/run',
      '.env',
      '.hidden/inner/x.txt',
      'with space.txt',
      'ünï cødé 日本.txt',
      'sub/-rf',
      'back\\nslash',
      `${LONG_DIR}/long-file-name.txt`,
      'hard.html'
    ]) {
      assert.deepEqual(readFileSync(join(dest, path)), readFileSync(join(root, path)), path)
      assert.equal(lstatSync(join(dest, path)).mode, lstatSync(join(root, path)).mode, path)
    }
    assert.equal(lstatSync(join(dest, 'bin/run')).mode & 0o777, 0o755)
    assert.ok(lstatSync(join(dest, 'empty')).isDirectory())
    assert.deepEqual(readdirSync(join(dest, 'empty')), [])
  })

  it('stores symlinks as symlinks with their targets unchanged', () => {
    for (const [path, target] of [
      ['link-to-run', 'bin/run'],
      ['dangling', '../nowhere/at/all'],
      ['outside', '/etc/passwd'],
      ['long-link', LONG_TARGET]
    ] as const) {
      assert.ok(lstatSync(join(dest, path)).isSymbolicLink(), path)
      assert.equal(readlinkSync(join(dest, path)), target)
    }
  })

  it('adds the deploy ID file with a newline, dated like the newest entry of the tree', () => {
    assert.equal(readFileSync(join(dest, 'DEPLOY_ID'), 'utf8'), '20260101-000000-abc1234-r1.1\n')
    assert.equal(lstatSync(join(dest, 'DEPLOY_ID')).mtimeMs, NEWEST.getTime())
  })

  it('writes no time into the gzip header', () => {
    assert.deepEqual([...packed.bytes.subarray(0, 3)], [0x1f, 0x8b, 8])
    assert.equal(packed.bytes.readUInt32LE(4), 0)
  })

  it('holds exactly the tree plus DEPLOY_ID, relative names, sorted, owned by 0 with no names', () => {
    const members = headers(gunzipSync(packed.bytes))
    const names = members.map((m) => m.name)
    assert.deepEqual(names, [
      '.env',
      '.hidden/',
      '.hidden/inner/',
      '.hidden/inner/x.txt',
      'back\\nslash',
      'bin/',
      'bin/run',
      'dangling',
      'deep/',
      'deep/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/',
      `${LONG_DIR}/`,
      `${LONG_DIR}/long-file-name.txt`,
      'edge/',
      `edge/${'n'.repeat(95)}`,
      `edge/${'o'.repeat(96)}`,
      `edge/${'p'.repeat(95)}/`,
      'empty/',
      'hard.html',
      'index.html',
      'link-to-run',
      'long-link',
      'outside',
      'sub/',
      'sub/-rf',
      'with space.txt',
      'ünï cødé 日本.txt',
      'DEPLOY_ID'
    ])
    assert.equal(packed.files, names.length)
    for (const m of members) {
      assert.deepEqual([m.uid, m.gid, m.uname, m.gname], [0, 0, '', ''], m.name)
    }
  })

  it('reports the sha256 and size of exactly the bytes streamed', () => {
    assert.equal(packed.sha256, createHash('sha256').update(packed.bytes).digest('hex'))
    assert.equal(packed.size, packed.bytes.length)
  })

  it('reports progress up to the exact uncompressed and compressed totals', () => {
    const last = packed.progress.at(-1)
    assert.equal(packed.totalBytes, gunzipSync(packed.bytes).length)
    assert.deepEqual(last, {
      bytesIn: packed.totalBytes,
      bytesOut: packed.size,
      totalIn: packed.totalBytes
    })
  })

  it('gives the same bytes for the same tree and deploy ID', async () => {
    const again = await packAll({ root })
    assert.equal(again.sha256, packed.sha256)
  })
})

describe('pack: mtime', () => {
  it('stamps every entry with the given time, so rsync on the node never skips a same-size file', async () => {
    const root = sampleTree()
    const stamp = new Date('2026-11-22T03:00:00Z')
    const { bytes } = await packAll({ root, mtime: stamp })
    const dest = unpack(bytes)
    for (const name of ['index.html', 'bin/run', 'DEPLOY_ID']) {
      assert.equal(lstatSync(join(dest, name)).mtimeMs, stamp.getTime(), name)
    }
  })

  it('keeps the files own times when no time is given', async () => {
    const root = sampleTree()
    const { bytes } = await packAll({ root })
    const dest = unpack(bytes)
    assert.equal(
      Math.floor(lstatSync(join(dest, 'index.html')).mtimeMs / 1000),
      Math.floor(lstatSync(join(root, 'index.html')).mtimeMs / 1000)
    )
  })
})

describe('pack: the deploy ID file', () => {
  it('replaces a file already at that path, with one entry only', async () => {
    const root = freshDir('tree')
    write(root, 'DEPLOY_ID', 'stale\n')
    write(root, 'a.txt', 'a\n')
    const { bytes } = await packAll({ root, deployId: 'fresh' })
    assert.deepEqual(
      headers(gunzipSync(bytes)).map((m) => m.name),
      ['a.txt', 'DEPLOY_ID']
    )
    assert.equal(readFileSync(join(unpack(bytes), 'DEPLOY_ID'), 'utf8'), 'fresh\n')
  })

  it('goes to a nested path, adding only the parent directories the tree lacks', async () => {
    const root = freshDir('tree')
    write(root, 'meta/info.txt', 'info\n')
    const { bytes } = await packAll({ root, deployId: 'n1', deployIdFile: './meta/rel/DEPLOY_ID' })
    assert.deepEqual(
      headers(gunzipSync(bytes)).map((m) => m.name),
      ['meta/', 'meta/info.txt', 'meta/rel/', 'meta/rel/DEPLOY_ID']
    )
    const dest = unpack(bytes)
    assert.equal(readFileSync(join(dest, 'meta/rel/DEPLOY_ID'), 'utf8'), 'n1\n')
    assert.equal(lstatSync(join(dest, 'meta/rel')).mode & 0o777, 0o755)
    assert.equal(lstatSync(join(dest, 'meta/rel/DEPLOY_ID')).mode & 0o777, 0o644)
  })

  it('refuses a path escaping the archive', async () => {
    const root = sampleTree()
    await assert.rejects(packAll({ root, deployIdFile: '../DEPLOY_ID' }), {
      name: 'InputError',
      message:
        'deploy-id-file must be a relative file path inside the archive, like "DEPLOY_ID" or "meta/DEPLOY_ID", without "..", "//" or a leading "/" (got "../DEPLOY_ID")'
    })
  })

  it('refuses a path whose parent is a file in the tree', async () => {
    const root = sampleTree()
    await assert.rejects(packAll({ root, deployIdFile: 'index.html/DEPLOY_ID' }), {
      message: 'deploy-id-file needs "index.html" to be a directory, but path has a file there'
    })
  })
})

describe('pack: exclude', () => {
  it('matches names at any depth, paths from the root, and whole directories', async () => {
    const root = freshDir('tree')
    for (const path of [
      'keep.js',
      'keep.js.map',
      'lib/deep/x.js.map',
      'lib/deep/x.js',
      'node_modules/pkg/index.js',
      'lib/node_modules/pkg/index.js',
      'top.txt',
      'lib/top.txt',
      'cache/a',
      'lib/cache',
      'assets/logo.psd',
      'assets/sub/logo.psd'
    ]) {
      write(root, path, `${path}\n`)
    }
    const { bytes } = await packAll({
      root,
      exclude: ['*.map', 'node_modules', '/top.txt', 'cache/', 'assets/*.psd']
    })
    assert.deepEqual(
      headers(gunzipSync(bytes))
        .filter((m) => m.type !== '5')
        .map((m) => m.name),
      ['assets/sub/logo.psd', 'keep.js', 'lib/cache', 'lib/deep/x.js', 'lib/top.txt', 'DEPLOY_ID']
    )
  })

  it('refuses negation', async () => {
    await assert.rejects(packAll({ root: sampleTree(), exclude: ['!keep'] }), {
      message: 'exclude does not support negation (got "!keep")'
    })
  })

  it('lets an excluded FIFO pass', async () => {
    const root = sampleTree()
    execFileSync('mkfifo', [join(root, 'sub/pipe')])
    const { bytes } = await packAll({ root, exclude: ['pipe'] })
    assert.ok(!existsSync(join(unpack(bytes), 'sub/pipe')))
  })
})

describe('pack: refusals', () => {
  it('refuses a missing path', async () => {
    const missing = join(scratch, 'no-such-dir')
    await assert.rejects(packAll({ root: missing }), {
      name: 'InputError',
      message: `path does not exist (got "${missing}")`
    })
  })

  it('refuses a path that is not a directory', async () => {
    const file = join(freshDir('file'), 'build.zip')
    writeFileSync(file, 'zip')
    await assert.rejects(packAll({ root: file }), {
      message: `path must be a directory (got "${file}")`
    })
  })

  it('refuses an empty directory', async () => {
    const root = freshDir('empty')
    await assert.rejects(packAll({ root }), {
      message: `path has nothing to deploy: "${root}" is empty`
    })
  })

  it('refuses a tree that is all excluded', async () => {
    const root = freshDir('tree')
    write(root, 'a.map', 'x')
    await assert.rejects(packAll({ root, exclude: ['*.map'] }), {
      message: `path has nothing to deploy: everything in "${root}" is excluded`
    })
  })

  it('refuses a FIFO, naming it', async () => {
    const root = sampleTree()
    execFileSync('mkfifo', [join(root, 'sub/pipe')])
    await assert.rejects(packAll({ root }), {
      message:
        'path has a FIFO at "sub/pipe": only files, directories and symlinks can be archived (exclude it or remove it)'
    })
  })

  it('refuses a unix socket, naming it', async () => {
    const root = sampleTree()
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(join(root, 'app.sock'), resolve))
    try {
      await assert.rejects(packAll({ root }), {
        message:
          'path has a socket at "app.sock": only files, directories and symlinks can be archived (exclude it or remove it)'
      })
    } finally {
      server.close()
    }
  })

  it('refuses clearly when there is no GNU tar', async () => {
    await withPath(pathWith({ gzip: 'gzip' }), async () => {
      await assert.rejects(packAll({ root: sampleTree() }), {
        message:
          'GNU tar is needed to pack the archive and was not found on PATH as gtar or tar (on macOS: brew install gnu-tar)'
      })
    })
  })
})

describe('pack: compressors', { timeout: 10_000 }, () => {
  {
    it('falls back to Node zlib without pigz (not to gzip, which measured slower)', async () => {
      const root = sampleTree()
      const packed = await withPath(pathWith({ tar: 'tar', gzip: 'gzip' }), () =>
        packAll({ root, compressionLevel: 1 })
      )
      assert.equal(packed.compressor, 'zlib')
      assert.equal(packed.sha256, createHash('sha256').update(packed.bytes).digest('hex'))
      assert.equal(packed.bytes.readUInt32LE(4), 0, 'no time in the gzip header')
      const dest = unpack(packed.bytes)
      assert.equal(readFileSync(join(dest, 'bin/run'), 'utf8'), '#!/bin/sh\necho run\n')
      assert.equal(readFileSync(join(dest, 'DEPLOY_ID'), 'utf8'), '20260101-000000-abc1234-r1.1\n')
    })
  }

  it('compresses at the level asked for, and refuses levels gzip has not', async () => {
    const root = sampleTree()
    write(root, 'text.txt', 'abcdefgh'.repeat(50_000) + randomBytes(20_000).toString('hex'))
    const fast = await packAll({ root, compressionLevel: 1 })
    const best = await packAll({ root, compressionLevel: 9 })
    assert.ok(best.size < fast.size, `${best.size} < ${fast.size}`)
    await assert.rejects(packAll({ root, compressionLevel: 0 }), {
      name: 'RangeError',
      message: 'compressionLevel must be an integer from 1 to 9 (got 0)'
    })
  })
})

describe('pack: progress while tar writes straight into pigz', () => {
  it('counts tar output from its checkpoints, in order, and never shows them as errors', async () => {
    const root = freshDir('progress')
    write(root, 'a.bin', randomBytes(3 * 1024 * 1024))
    write(root, 'b.txt', 'b\n')
    const packed = await packAll({ root })
    assert.equal(packed.compressor, 'pigz')
    const inputs = packed.progress.map((p) => p.bytesIn)
    const between = inputs.filter((b) => b > 0 && b < packed.totalBytes)
    assert.ok(between.length >= 2, `progress before the end: ${between.join(', ')}`)
    for (const b of between) assert.equal(b % (100 * 10240), 0, 'whole checkpoints of 100 records')
    assert.deepEqual(
      inputs,
      [...inputs].sort((x, y) => x - y),
      'never goes backwards'
    )
    assert.equal(inputs.at(-1), packed.totalBytes)
  })
})

describe('pack: failures and cleanup', { timeout: 10_000 }, () => {
  /** big enough (incompressible) that tar blocks on the pipe until someone reads */
  function bigTree(): string {
    const root = freshDir('big')
    write(root, 'a-big.bin', randomBytes(8 * 1024 * 1024))
    write(root, 'z-last.txt', 'last\n')
    return root
  }

  it('surfaces a non-zero exit of tar with its last stderr line, never ending cleanly', async () => {
    const root = bigTree()
    const archive = await pack({ root, exclude: [], deployIdFile: 'DEPLOY_ID', deployId: 'x' })
    unlinkSync(join(root, 'z-last.txt')) // tar is still stuck on a-big.bin
    let ended = false
    archive.stream.on('end', () => (ended = true))
    const expected = {
      message: 'tar exited with code 2: tar: z-last.txt: Cannot stat: No such file or directory'
    }
    await assert.rejects(async () => {
      for await (const _chunk of archive.stream);
    }, expected)
    await assert.rejects(archive.result, expected)
    assert.equal(ended, false)
  })

  it('surfaces a failing compressor rather than the tar it broke', async () => {
    const fakePigz = '#!/bin/sh\necho "pigz: disk on fire" >&2\nexit 3\n'
    await withPath(pathWith({ tar: 'tar', pigz: fakePigz }), async () => {
      await assert.rejects(packAll({ root: bigTree() }), {
        message: 'pigz exited with code 3: pigz: disk on fire'
      })
    })
  })

  for (const [compressor, path, programs] of [
    ['pigz', undefined, ['pigz', 'tar']],
    ['zlib', { tar: 'tar' }, ['tar']]
  ] as const) {
    it(`stops its programs and removes its temp dir when the consumer destroys the stream (${compressor})`, async () => {
      const savedPath = process.env.PATH
      if (path) process.env.PATH = pathWith(path)
      const ownTmp = freshDir('tmpdir')
      const savedTmp = process.env.TMPDIR
      process.env.TMPDIR = ownTmp
      try {
        const archive = await pack({
          root: bigTree(),
          exclude: [],
          deployIdFile: 'DEPLOY_ID',
          deployId: 'x'
        })
        assert.equal(readdirSync(ownTmp).length, 1, 'a temp dir while packing')
        await new Promise((resolve) => archive.stream.once('data', resolve))
        assert.equal(archive.compressor, compressor)
        assert.deepEqual(childProcesses().sort(), programs)
        archive.stream.destroy()
        await assert.rejects(archive.result, /archive stream was destroyed before it ended/)
        assert.deepEqual(childProcesses(), [])
        assert.deepEqual(readdirSync(ownTmp), [])
      } finally {
        process.env.TMPDIR = savedTmp
        process.env.PATH = savedPath
      }
    })
  }
})

describe('tarBytes', () => {
  it('is the exact length GNU tar writes, long names, links and hard links included', async () => {
    const root = sampleTree()
    linkSync(join(root, `edge/${'o'.repeat(96)}`), join(root, `edge/${'q'.repeat(120)}`))
    write(root, `edge/${'r'.repeat(251)}/${'s'.repeat(255)}`, '512 bytes of name\n')
    const tree = await walkTree({ root, exclude: [], deployIdFile: 'DEPLOY_ID' })
    // -b1: records of one block, so no padding hides an error in the sum
    const tar = execFileSync(
      'tar',
      ['-c', '-b1', '--format=gnu', '--no-recursion', '--null', '-C', root, '-T', '-'],
      { input: tree.list, maxBuffer: 1 << 24 }
    )
    assert.equal(archiveBytes(tree.membersBytes, 512), tar.length)
    assert.equal(tree.list.toString().split('\0').length - 1, tree.count)
  })
})
