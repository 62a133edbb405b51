// One publish, in its own process so its peak RSS (VmHWM) is its own: the
// runner (bench/run.ts) keeps s3rver in the parent. Prints one JSON line.
//
//   node bench/publish-child.ts <mode> <dir> <endpoint> <bucket> <key> <level>
//
// mode `action`:   src/pack.ts + src/store.ts, exactly what publish.ts runs
// mode `pipeline`: the best hand-written pipeline of research/performance.md:
//                  `sh -c 'tar -cf - . | pigz -<level>'`, hashed in Node,
//                  streamed into lib-storage Upload (16 MiB x 4 parts)
import { S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Transform } from 'node:stream'
import type { Readable } from 'node:stream'
import { pack } from '../src/pack.ts'
import { createS3Store } from '../src/store.ts'

const [mode, dir, endpoint, bucket, key, levelText] = process.argv.slice(2)
const level = Number(levelText)
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

function hwmMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

async function action(): Promise<{ sha256: string; size: number }> {
  const store = createS3Store(
    { bucket: bucket!, prefix: '', region: 'us-east-1', endpoint },
    credentials
  )
  const archive = await pack({
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

const started = performance.now()
const out = mode === 'action' ? await action() : await pipeline()
const ms = performance.now() - started
process.stdout.write(JSON.stringify({ mode, ms, ...out, rssMB: hwmMB() }) + '\n')
