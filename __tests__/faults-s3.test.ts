// S3 on a bad day, end to end through dist/index.js: a fault-injecting proxy in
// front of s3rver (fleet/s3-faults.ts) answers SlowDown or drops the connection
// halfway through a part of the multipart upload. A throttled part is retried;
// a part that never goes through aborts the upload, leaves no manifest and no
// archive, and `latest` keeps naming the previous complete release.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startS3FaultProxy } from '../fleet/s3-faults.ts'
import type { S3FaultProxy } from '../fleet/s3-faults.ts'
import type { HostileFleet } from './helpers/hostile.ts'
import {
  KV,
  allKv,
  allObjects,
  assertLatestComplete,
  assertNoSecrets,
  consulWritesBesidesLock,
  deploy,
  startHostileFleet
} from './helpers/hostile.ts'

let work: string
let fleet: HostileFleet
let proxy: S3FaultProxy
/** manifest URL of the last good release */
let good: string

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-faults-s3-'))
  await mkdir(join(work, 'small'), { recursive: true })
  await writeFile(join(work, 'small/index.html'), 'v1\n')
  // 20 MiB that gzip cannot shrink: four parts of the 6 MiB multipart upload.
  await mkdir(join(work, 'big'), { recursive: true })
  await writeFile(join(work, 'big/blob.bin'), randomBytes(20 * 1024 * 1024))
  fleet = await startHostileFleet(2)
  const first = await deploy(fleet, work, { path: 'small' })
  assert.equal(first.code, 0, first.stdout)
  good = first.outputs['manifest-url'] as string
})
after(async () => {
  await fleet?.stop()
  await rm(work, { recursive: true, force: true })
})

async function withProxy(body: () => Promise<void>): Promise<void> {
  proxy = await startS3FaultProxy(fleet.s3.endpoint)
  try {
    await body()
  } finally {
    await proxy.stop()
  }
}

const ops = () => proxy.requests.map((r) => `${r.operation}${r.partNumber ?? ''} ${r.status}`)

/** The upload failed cleanly: aborted, no object of this deploy, latest untouched, Consul untouched. */
async function assertNothingPublished(deployId: string, writesBefore: number): Promise<void> {
  const uploads = new Set(
    proxy.requests
      .filter((r) => r.operation === 'UploadPart')
      .map((r) => new URL(r.target, 'http://s3').searchParams.get('uploadId'))
  )
  assert.equal(uploads.size, 1, ops().join(', '))
  assert.deepEqual(
    proxy.aborted,
    [...uploads],
    `the multipart upload was aborted: ${ops().join(', ')}`
  )
  assert.ok(
    !proxy.requests.some((r) => r.operation === 'CompleteMultipartUpload'),
    'never completed'
  )
  const keys = [...(await allObjects(fleet)).keys()]
  assert.deepEqual(
    keys.filter((k) => k.includes(deployId)),
    [],
    'no archive and no manifest of the failed deploy'
  )
  await assertLatestComplete(fleet, good)
  assert.deepEqual(
    consulWritesBesidesLock(fleet, writesBefore),
    [],
    'nothing written to Consul but the lock'
  )
  assert.equal(fleet.consul.kv(`${KV}/lock`)?.session, undefined, 'the lock was released')
  assert.equal(
    (await allKv(fleet)).some((e) => e.key === `${KV}/history/${deployId}`),
    false
  )
}

describe('S3 faults (dist/index.js)', { timeout: 120_000 }, () => {
  test('SlowDown on a part is retried; the release completes intact', async () => {
    await withProxy(async () => {
      const fault = proxy.inject({ kind: 'slow-down', partNumber: 2, count: 2 })
      const run = await deploy(fleet, work, { path: 'big', 's3-endpoint': proxy.endpoint })
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.equal(fault.remaining, 0)
      const part2 = proxy.requests.filter((r) => r.partNumber === 2).map((r) => r.status)
      assert.deepEqual(part2, [503, 503, 200])
      assert.ok(proxy.requests.some((r) => r.operation === 'CompleteMultipartUpload'))
      // the nodes got the archive the manifest's checksum describes
      assert.equal(run.outputs['nodes-succeeded'], '2')
      await assertLatestComplete(fleet, run.outputs['manifest-url'])
      good = run.outputs['manifest-url'] as string
      await assertNoSecrets(run, fleet)
    })
  })

  test('503 on a part that never clears: the upload is aborted, no manifest, latest unchanged', async () => {
    await withProxy(async () => {
      // ServiceUnavailable, not SlowDown: the SDK backs off less, the test runs faster.
      proxy.inject({ kind: 'slow-down', code: 'ServiceUnavailable', partNumber: 2 })
      const writes = fleet.consul.requests.length
      const run = await deploy(fleet, work, { path: 'big', 's3-endpoint': proxy.endpoint })
      assert.equal(run.code, 1, run.stdout)
      assert.equal(run.errors.length, 1)
      assert.match(
        run.errors[0] as string,
        /^S3 request for s3:\/\/releases\/releases\/web\/\S+\.tgz failed: ServiceUnavailable: Service is unable to handle request\.$/
      )
      await assertNothingPublished(run.outputs['deploy-id'] as string, writes)
      // outputs say as far as the run got: no URL of a release that does not exist
      assert.equal(run.outputs['manifest-url'], undefined)
      assert.equal(run.outputs.checksum, undefined)
      await assertNoSecrets(run, fleet)
    })
  })

  test('the connection dropped mid-part, every time: the upload is aborted, no manifest, latest unchanged', async () => {
    await withProxy(async () => {
      proxy.inject({ kind: 'drop-mid-body', partNumber: 2 })
      const writes = fleet.consul.requests.length
      const run = await deploy(fleet, work, { path: 'big', 's3-endpoint': proxy.endpoint })
      assert.equal(run.code, 1, run.stdout)
      assert.equal(run.errors.length, 1)
      assert.match(
        run.errors[0] as string,
        new RegExp(
          `^cannot reach S3 endpoint ${proxy.endpoint} \\((ECONNRESET|EPIPE)\\) while writing s3://releases/releases/web/\\S+\\.tgz$`
        )
      )
      assert.ok(proxy.requests.some((r) => r.fault === 'drop-mid-body' && r.bodyBytes > 0))
      await assertNothingPublished(run.outputs['deploy-id'] as string, writes)
      await assertNoSecrets(run, fleet)
    })
  })

  test(
    'an abort that is refused too: the error still names the part failure, not the abort',
    {},
    async () => {
      await withProxy(async () => {
        proxy.inject({ kind: 'slow-down', code: 'ServiceUnavailable', partNumber: 2 })
        proxy.inject({ kind: 'deny-abort' })
        const writes = fleet.consul.requests.length
        const run = await deploy(fleet, work, { path: 'big', 's3-endpoint': proxy.endpoint })
        assert.equal(run.code, 1, run.stdout)
        assert.equal(run.errors.length, 1)
        assert.match(run.errors[0] as string, /ServiceUnavailable/)
        assert.match(
          run.errors[0] as string,
          /its incomplete multipart upload could not be aborted either \(AccessDenied: allow s3:AbortMultipartUpload/
        )
        assert.deepEqual(
          [...(await allObjects(fleet)).keys()].filter((k) =>
            k.includes(run.outputs['deploy-id'] as string)
          ),
          []
        )
        await assertLatestComplete(fleet, good)
        assert.deepEqual(consulWritesBesidesLock(fleet, writes), [])
      })
    }
  )

  test('one dropped part is retried; the release completes intact', async () => {
    await withProxy(async () => {
      const fault = proxy.inject({ kind: 'drop-mid-body', partNumber: 1, count: 1 })
      const run = await deploy(fleet, work, { path: 'big', 's3-endpoint': proxy.endpoint })
      assert.equal(run.code, 0, run.stdout + run.stderr)
      assert.equal(fault.remaining, 0)
      await assertLatestComplete(fleet, run.outputs['manifest-url'])
      good = run.outputs['manifest-url'] as string
    })
  })

  test('wrong credentials: one line naming them, nothing written, the secret key never printed', async () => {
    const secretKey = `wJalr${randomBytes(16).toString('hex')}`
    const writes = fleet.consul.requests.length
    const before = [...(await allObjects(fleet)).keys()]
    const run = await deploy(
      fleet,
      work,
      { path: 'small' },
      { env: { AWS_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG0', AWS_SECRET_ACCESS_KEY: secretKey } }
    )
    assert.equal(run.code, 1, run.stdout)
    assert.deepEqual(run.errors, [
      'S3 refused the AWS credentials (InvalidAccessKeyId): check the credentials step (e.g. aws-actions/configure-aws-credentials)'
    ])
    assert.deepEqual([...(await allObjects(fleet)).keys()], before)
    assert.deepEqual(consulWritesBesidesLock(fleet, writes), [])
    await assertLatestComplete(fleet, good)
    await assertNoSecrets(run, fleet, undefined, [secretKey])
  })
})
