// Which programs pack.ts finds (@actions/io's `which` rules) and on which runners
// the action agrees to pack at all.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, relative } from 'node:path'
import { after, describe, it } from 'node:test'
import { readConfig } from '../src/config/config.ts'
import { checkPlatform, findPackTools, which } from '../src/publish/pack-tools.ts'
import type { PipelineDeps } from '../src/pipeline/pipeline.ts'
import { runPipeline } from '../src/pipeline/pipeline.ts'

const scratch = mkdtempSync(join(tmpdir(), 'pack-tools-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
let counter = 0
const dir = (): string => {
  const d = join(scratch, `d${++counter}`)
  mkdirSync(d)
  return d
}
const file = (d: string, name: string, mode: number, text = '#!/bin/sh\nexit 0\n'): string => {
  const path = join(d, name)
  writeFileSync(path, text)
  chmodSync(path, mode)
  return path
}
const PATH = (...dirs: string[]) => dirs.join(delimiter)

describe('which: the first executable regular file on PATH', () => {
  it('skips a directory and a file that is not executable by that name', () => {
    const [a, b, c] = [dir(), dir(), dir()]
    mkdirSync(join(a, 'pigz'))
    file(b, 'pigz', 0o644)
    const real = file(c, 'pigz', 0o755)
    return which('pigz', PATH(a, b, c)).then((found) => assert.equal(found, real))
  })

  it('takes the first of several, in PATH order', async () => {
    const [a, b] = [dir(), dir()]
    const first = file(a, 'tar', 0o755)
    file(b, 'tar', 0o755)
    assert.equal(await which('tar', PATH(a, b)), first)
  })

  it('follows a symlink to an executable; a dangling one is not there', async () => {
    const [a, b, c] = [dir(), dir(), dir()]
    symlinkSync(join(a, 'nowhere'), join(b, 'gtar'))
    const real = file(a, 'gnu-tar', 0o755)
    symlinkSync(real, join(c, 'gtar'))
    assert.equal(await which('gtar', PATH(b, c)), join(c, 'gtar'))
    assert.equal(await which('gtar', PATH(b)), undefined)
  })

  it('never looks in the current directory for an empty PATH entry', async () => {
    const [here, a] = [dir(), dir()]
    file(here, 'pigz', 0o755)
    const saved = process.cwd()
    process.chdir(here)
    try {
      assert.equal(await which('pigz', PATH('', a)), undefined)
      assert.equal(await which('pigz', ''), undefined)
      assert.equal(await which('pigz', '.'), join(here, 'pigz')) // unlike an explicit "."
    } finally {
      process.chdir(saved)
    }
  })

  it('returns an absolute path for a relative PATH entry', async () => {
    const a = dir()
    const real = file(a, 'pigz', 0o755)
    assert.equal(await which('pigz', relative(process.cwd(), a)), real)
  })
})

describe('findPackTools on a PATH of stand-ins', () => {
  const withPath = async <T>(path: string, body: () => Promise<T>): Promise<T> => {
    const saved = process.env.PATH
    process.env.PATH = path
    try {
      return await body()
    } finally {
      process.env.PATH = saved
    }
  }

  it('gtar before tar (macOS with Homebrew gnu-tar); pigz when it is there', async () => {
    const a = dir()
    file(a, 'tar', 0o755, '#!/bin/sh\necho "bsdtar 3.5.3 - libarchive 3.7.4"\n')
    const gtar = file(a, 'gtar', 0o755, '#!/bin/sh\necho "tar (GNU tar) 1.35"\n')
    const pigz = file(a, 'pigz', 0o755)
    assert.deepEqual(await withPath(a, findPackTools), {
      tar: gtar,
      compressorPath: pigz,
      compressor: 'pigz'
    })
  })

  it('a directory named pigz is not pigz: zlib compresses', async () => {
    const a = dir()
    const tar = file(a, 'tar', 0o755, '#!/bin/sh\necho "tar (GNU tar) 1.35"\n')
    mkdirSync(join(a, 'pigz'))
    assert.deepEqual(await withPath(a, findPackTools), { tar, compressor: 'zlib' })
  })

  it('bsdtar alone is refused, naming what to install', async () => {
    const a = dir()
    file(a, 'tar', 0o755, '#!/bin/sh\necho "bsdtar 3.5.3 - libarchive 3.7.4"\n')
    await assert.rejects(withPath(a, findPackTools), {
      message:
        'GNU tar is needed to pack the archive and was not found on PATH as gtar or tar (on macOS: brew install gnu-tar)'
    })
  })
})

describe('platforms', () => {
  const WINDOWS =
    'Windows runners are not supported: packing needs GNU tar on PATH and POSIX file modes (executables stay executable), which Windows has not; run this step on ubuntu-latest, or macos-latest with brew install gnu-tar'

  it('Linux and macOS pack; Windows is refused in one line', () => {
    checkPlatform('linux')
    checkPlatform('darwin')
    assert.throws(() => checkPlatform('win32'), { message: WINDOWS })
    assert.doesNotMatch(WINDOWS, /\n/)
  })

  it('the plan stage refuses Windows before it reads, uploads or writes anything', async () => {
    const config = readConfig(
      (name) => ({ 's3-url': 's3://bucket/releases', dest: '/srv/web' })[name as string] ?? '',
      {
        GITHUB_REPOSITORY: 'acme/web',
        GITHUB_SHA: '3f9c2ab1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7',
        GITHUB_RUN_ID: '1',
        GITHUB_RUN_ATTEMPT: '1',
        AWS_REGION: 'eu-west-1'
      }
    )
    const touched: string[] = []
    const untouchable = (name: string) =>
      new Proxy(
        {},
        {
          get: (_, key) => {
            touched.push(`${name}.${String(key)}`)
            throw new Error(`${name}.${String(key)} used`)
          }
        }
      )
    const deps = {
      store: untouchable('store'),
      backend: untouchable('backend'),
      log: untouchable('log'),
      setOutput: (name: string) => touched.push(`setOutput ${name}`),
      onLockSession: () => touched.push('lock'),
      platform: 'win32'
    } as unknown as PipelineDeps
    await assert.rejects(runPipeline(config, deps), { message: WINDOWS })
    assert.deepEqual(touched, [])
  })
})
