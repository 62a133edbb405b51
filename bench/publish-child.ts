// One publish, in its own process so its peak RSS (VmHWM) is its own: the
// runner (bench/run.ts) keeps s3rver in the parent. Prints one JSON line.
//
//   node bench/publish-child.ts <mode> <dir> <endpoint> <bucket> <key> <level>
//
// mode `action`:   src/publish/pack.ts + src/store.ts, exactly what publish.ts runs: the
//                  tree walked and checked, tar and pigz found (the plan stage,
//                  checkBuild; `planMs`), then packed and uploaded (the publish
//                  stage; `ms`)
// mode `pipeline`: the best hand-written pipeline measured for this project:
//                  `sh -c 'tar -cf - . | pigz -<level>'`, hashed in Node,
//                  streamed into lib-storage Upload (16 MiB x 4 parts)
// mode `archiver`: archiver 8's TarArchive with gzip at its default level (no
//                  gzipOptions: zlib's default, 6), the build added with
//                  directory(dir, false), hashed in Node in the same pass and
//                  streamed into the action's own upload (store.ts uploadParts,
//                  6 MiB x 4 parts in flight), so against `action` only the packer
//                  differs. <level> is ignored.
import { S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import type { Config } from '../src/config/config.ts'
// The action's modules and archiver are loaded only by the modes that use them:
// the `pipeline` process (bench/process.ts times it from spawn to exit) loads the
// AWS SDK and nothing else.

const [mode, dir, endpoint, bucket, key, levelText] = process.argv.slice(2)
const level = Number(levelText)
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

function hwmMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

async function action(): Promise<{ sha256: string; size: number }> {
  const { pack } = await import('../src/publish/pack.ts')
  const { createS3Store } = await import('../src/publish/s3-store.ts')
  const { checkBuild } = await import('../src/publish/publish.ts')
  const store = createS3Store(
    { bucket: bucket!, prefix: '', region: 'us-east-1', endpoint },
    credentials
  )
  // The plan stage's check (publish.ts checkBuild: the tree walked and checked, tar
  // and pigz found), timed apart: the action runs it before it takes the lock, so
  // the publish stage starts with it done.
  const planStarted = performance.now()
  const build = await checkBuild({
    path: dir!,
    exclude: [],
    deployIdFile: 'DEPLOY_ID'
  } as unknown as Config)
  planMs = performance.now() - planStarted
  started = performance.now()
  const archive = await pack({
    checked: build,
    root: dir!,
    exclude: [],
    deployIdFile: 'DEPLOY_ID',
    deployId: 'bench-1',
    compressionLevel: level,
    mtime: new Date(1_700_000_000_000),
    onProgress: () => {}
  })
  await store.uploadStream(key!, archive.stream, 'application/gzip', () => {})
  const result = await archive.result
  store.destroy()
  return { sha256: result.sha256, size: result.size }
}

async function pipeline(): Promise<{ sha256: string; size: number }> {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  const child = spawn('sh', ['-c', `tar -cf - . | pigz -n -${level}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const hash = createHash('sha256')
  let size = 0
  const hashed = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk)
      size += chunk.length
      cb(null, chunk)
    }
  })
  ;(child.stdout as Readable).pipe(hashed)
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: hashed },
    partSize: 16 * 1024 * 1024,
    queueSize: 4
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  await upload.done()
  if ((await exited) !== 0) throw new Error('pipeline failed')
  client.destroy()
  return { sha256: hash.digest('hex'), size }
}

function hashing(): { stream: Transform; result: () => { sha256: string; size: number } } {
  const hash = createHash('sha256')
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk)
      size += chunk.length
      cb(null, chunk)
    }
  })
  return { stream, result: () => ({ sha256: hash.digest('hex'), size }) }
}

async function archiver(): Promise<{ sha256: string; size: number }> {
  const { TarArchive } = await import('archiver')
  const { createS3Store } = await import('../src/publish/s3-store.ts')
  const store = createS3Store(
    { bucket: bucket!, prefix: '', region: 'us-east-1', endpoint },
    credentials
  )
  const archive = new TarArchive({ gzip: true })
  const hashed = hashing()
  const failed = new Promise<never>((_, reject) => {
    archive.on('error', reject)
    archive.on('warning', reject)
    hashed.stream.on('error', reject)
  })
  archive.pipe(hashed.stream)
  archive.directory(dir!, false)
  void archive.finalize().catch(() => {}) // its errors arrive as 'error' too
  await Promise.race([
    store.uploadStream(key!, hashed.stream, 'application/gzip', () => {}),
    failed
  ])
  store.destroy()
  return hashed.result()
}

let planMs: number | undefined
let started = performance.now()
const out =
  mode === 'action' ? await action() : mode === 'archiver' ? await archiver() : await pipeline()
const ms = performance.now() - started
process.stdout.write(JSON.stringify({ mode, ms, planMs, ...out, rssMB: hwmMB() }) + '\n')
