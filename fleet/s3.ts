// A real S3-protocol server (s3rver) on loopback, for tests, the demo and benchmarks.
// s3rver is CommonJS; createRequire keeps this file plain ESM under Node's type stripping.
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(import.meta.url)

interface S3rverInstance {
  run(): Promise<AddressInfo>
  close(): Promise<void>
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance
const S3rver = require('s3rver') as S3rverClass

/** s3rver accepts any request signed with these (its documented defaults). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface LocalS3 {
  /** http://127.0.0.1:PORT, for the s3-endpoint input */
  readonly endpoint: string
  readonly bucket: string
  /** where s3rver keeps its files; objects live under <directory>/<bucket>/ */
  readonly directory: string
  /** env vars that make the AWS SDK (action and nodes) talk to this server */
  readonly env: Record<string, string>
  stop(): Promise<void>
}

export async function startLocalS3(bucket = 'releases'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'stretcher-s3-'))
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    // Path-style only: virtual-host names would need DNS for <bucket>.127.0.0.1.
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [] }]
  })
  const address = await server.run()
  const endpoint = `http://127.0.0.1:${address.port}`
  let stopped = false
  return {
    endpoint,
    bucket,
    directory,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true'
    },
    async stop() {
      if (stopped) return
      stopped = true
      await server.close()
      await rm(directory, { recursive: true, force: true })
    }
  }
}
