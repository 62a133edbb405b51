// dist/licenses.txt must name every third-party package whose code is in dist/,
// with its licence. The bundle is built in memory with the real rollup.config.mjs
// (nothing is written); the packages are read from rollup's own module list (the
// node_modules/<pkg> paths of every module that rendered code into a chunk), not
// from the licence plugin, and compared with the licenses.txt of the same build.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, test } from 'node:test'
import type { OutputAsset, OutputChunk, RollupOptions } from 'rollup'
import { rollup } from 'rollup'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface Bundled {
  name: string
  version: string
  license: string
  dir: string
}

let chunks: OutputChunk[]
let licenses: string
let bundled: Map<string, Bundled>

/** The package directory of a module id: the last node_modules/<name> or node_modules/@scope/<name>. */
function packageDir(id: string): string | undefined {
  const path = id.replace(/^\0/, '').replace(/\?.*$/, '')
  const match = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path)
  return match?.[1]
}

before(async () => {
  // The plugins resolve tsconfig and package.json from the working directory.
  process.chdir(ROOT)
  const config = ((await import(join(ROOT, 'rollup.config.mjs'))) as { default: RollupOptions })
    .default
  const build = await rollup({ ...config, onwarn: () => undefined })
  const { output } = await build.generate(
    config.output as Parameters<typeof build.generate>[0] & object
  )
  await build.close()
  chunks = output.filter((o): o is OutputChunk => o.type === 'chunk')
  const asset = output.find(
    (o): o is OutputAsset => o.type === 'asset' && o.fileName === 'licenses.txt'
  )
  assert.ok(asset, `the build emits licenses.txt (got ${output.map((o) => o.fileName).join(', ')})`)
  licenses = String(asset.source)

  bundled = new Map()
  for (const chunk of chunks)
    for (const [id, info] of Object.entries(chunk.modules)) {
      if (info.renderedLength === 0) continue
      const dir = packageDir(id)
      if (!dir) continue
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string
        version: string
        license?: string
      }
      bundled.set(`${pkg.name}@${pkg.version}`, {
        name: pkg.name,
        version: pkg.version,
        license: pkg.license ?? 'UNKNOWN',
        dir
      })
    }
})

describe('third-party notices (dist/licenses.txt)', () => {
  test('the bundle really contains third-party code (the module list is read right)', () => {
    for (const pkg of ['@actions/core', '@aws-sdk/client-s3', 're2js', 'js-yaml'])
      assert.ok(
        [...bundled.values()].some((b) => b.name === pkg),
        `${pkg} found among ${[...bundled.keys()].join(', ')}`
      )
  })

  test('every bundled package is named with its version and licence', () => {
    const listed = new Set(licenses.split('\n'))
    const missing = [...bundled.values()]
      .map((b) => `${b.name}@${b.version} (${b.license})`)
      .filter((line) => !listed.has(line))
    assert.deepEqual(missing, [], 'bundled packages missing from licenses.txt')
  })

  test('nothing is named that the bundle does not contain', () => {
    const named = licenses
      .split('\n')
      .map((line) => /^(\S+@\S+) \(.+\)$/.exec(line)?.[1])
      .filter((n): n is string => n !== undefined)
    assert.deepEqual(named.filter((n) => !bundled.has(n)).sort(), [])
    assert.equal(named.length, bundled.size)
  })

  test("each package's licence text is included, or it is listed as shipping none", () => {
    const lines = licenses.split('\n')
    const textOf = new Map<string, number>()
    const without = new Set<string>()
    lines.forEach((line, at) => {
      const text = /^Licence text of (.+):$/.exec(line)
      if (text) for (const id of text[1]!.split(', ')) textOf.set(id, at)
      const none = /^Packages that ship no licence file [^:]*: (.+)$/.exec(line)
      if (none) for (const id of none[1]!.split(', ')) without.add(id)
    })
    for (const b of bundled.values()) {
      const id = `${b.name}@${b.version}`
      const file = readdirSync(b.dir).find((f) => /^licen[cs]e(\.(md|txt))?$/i.test(f))
      if (!file) {
        assert.ok(without.has(id), `${id} ships no licence file and is listed so`)
        continue
      }
      const at = textOf.get(id)
      assert.ok(at !== undefined, `${id}: licenses.txt has its licence text`)
      const firstLine = readFileSync(join(b.dir, file), 'utf8').trim().split('\n')[0]!.trim()
      assert.equal(lines[at + 2]?.trim(), firstLine, `${id}: its ${file} follows its heading`)
    }
  })

  test('only licences that allow redistribution with a notice', () => {
    const allowed = new Set(['MIT', 'Apache-2.0', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD'])
    for (const b of bundled.values())
      assert.ok(allowed.has(b.license), `${b.name}@${b.version} is ${b.license}`)
  })

  test('the action entry points are in the same build', () => {
    assert.deepEqual(
      chunks
        .filter((c) => c.isEntry)
        .map((c) => c.fileName)
        .sort(),
      ['cli.js', 'index.js', 'post.js']
    )
  })
})
