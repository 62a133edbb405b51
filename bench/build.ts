// A deterministic build tree for the benchmarks: many small JS-like text files
// (~5.9 KB, ~4x compressible) in ~800 directories, plus four half-random large
// files. `scale` 1 is the 202 MB build (bench/README.md describes it); 0.25 gives
// ~50 MB and 5 gives ~1 GB (file counts and large-file sizes scale together).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface BuildFacts {
  dir: string
  files: number
  dirs: number
  bytes: number
}

/** xorshift32: fast, seeded, the same bytes on every machine */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

const WORDS = (
  'const let return function export import from default async await if else for while ' +
  'switch case break new this class extends super null undefined true false typeof ' +
  'value index result options config state props render update create delete handler ' +
  'request response error message length items count total module require promise ' +
  'resolve reject then catch finally object array string number boolean map filter'
).split(' ')

function identifier(next: () => number): string {
  const a = WORDS[next() % WORDS.length]!
  const b = WORDS[next() % WORDS.length]!
  return `${a}${b[0]!.toUpperCase()}${b.slice(1)}${next() % 4096}`
}

function jsFile(next: () => number, target: number): string {
  const lines: string[] = []
  let size = 0
  while (size < target) {
    let line: string
    switch (next() % 5) {
      case 0:
        line = `export function ${identifier(next)}(${identifier(next)}, ${identifier(next)}) {`
        break
      case 1:
        line = `  const ${identifier(next)} = ${identifier(next)}.${identifier(next)}(${next() % 100000})`
        break
      case 2:
        line = `  if (${identifier(next)} === '${identifier(next)}') return ${identifier(next)}`
        break
      case 3:
        line = `  // ${WORDS[next() % WORDS.length]} ${WORDS[next() % WORDS.length]} ${identifier(next)}`
        break
      default:
        line = '}'
    }
    lines.push(line)
    size += line.length + 1
  }
  return lines.join('\n') + '\n'
}

/** Half random, half a repeated pattern, in 64 KiB blocks. */
function halfRandom(next: () => number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes)
  const block = 65536
  for (let off = 0; off < bytes; off += block) {
    const end = Math.min(bytes, off + block / 2)
    let i = off
    for (; i + 4 <= end; i += 4) buf.writeUInt32LE(next(), i)
    for (let j = end; j < Math.min(bytes, off + block); j++) buf[j] = j & 0x3f
  }
  return buf
}

export function generateBuild(dir: string, scale = 1): BuildFacts {
  const next = rng(0x5eed + Math.round(scale * 1000))
  const files = Math.round(20_000 * scale)
  const dirs = Math.max(1, Math.round(800 * scale))
  let bytes = 0
  const dirNames: string[] = []
  for (let d = 0; d < dirs; d++) {
    // two levels: pkg-N/sub-M, like a node_modules-ish build
    const name = join(`pkg-${d % 40}`, `mod-${d}`)
    mkdirSync(join(dir, name), { recursive: true })
    dirNames.push(name)
  }
  for (let f = 0; f < files; f++) {
    // ~5.9 KB on average, 2-10 KB
    const text = jsFile(next, 2000 + (next() % 7800))
    writeFileSync(join(dir, dirNames[f % dirs]!, `file-${f}.js`), text)
    bytes += Buffer.byteLength(text)
  }
  mkdirSync(join(dir, 'assets'), { recursive: true })
  const big = Math.round(20 * 1024 * 1024 * scale)
  for (let b = 0; b < 4; b++) {
    writeFileSync(join(dir, 'assets', `blob-${b}.bin`), halfRandom(next, big))
    bytes += big
  }
  return { dir, files: files + 4, dirs: dirs + 41, bytes }
}
