// The S3 store against a real S3-protocol server on loopback (s3rver), no mocks.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { LocalS3 } from '../fleet/s3.ts'
import { S3RVER_CREDENTIALS, startLocalS3 } from '../fleet/s3.ts'
import { startS3FaultProxy } from '../fleet/s3-faults.ts'
import { startConditionalS3 } from '../fleet/s3-conditional.ts'
import { createS3Store, describeS3Error, S3Error } from '../src/publish/s3-store.ts'

let s3: LocalS3
before(async () => {
  s3 = await startLocalS3()
})
after(async () => {
  await s3.stop()
})

const store = () =>
  createS3Store(
    { bucket: s3.bucket, prefix: '', region: 'us-east-1', endpoint: s3.endpoint },
    S3RVER_CREDENTIALS
  )

/** A stream of `total` pseudo-random bytes in 1 MiB chunks that fails after `failAfter` bytes. */
function randomStream(total: number, failAfter = Infinity): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= failAfter) {
        this.destroy(new Error('pack failed: tar exited 2'))
        return
      }
      if (sent >= total) {
        this.push(null)
        return
      }
      const chunk = randomBytes(Math.min(1 << 20, total - sent))
      sent += chunk.length
      this.push(chunk)
    }
  })
}

describe('S3 store', () => {
  test('streams a multi-part object (> part size) intact, reporting progress', async () => {
    const s = store()
    const hash = createHash('sha256')
    const source = randomStream(20 * 1024 * 1024)
    source.on('data', (c: Buffer) => hash.update(c))
    const seen: number[] = []
    await s.uploadStream('app/big.tgz', source, 'application/gzip', (p) => seen.push(p.loaded))
    const expected = hash.digest('hex')
    assert.equal(await s.head('app/big.tgz'), 20 * 1024 * 1024)
    const back = createHash('sha256')
    for await (const chunk of await s.getStream('app/big.tgz')) back.update(chunk as Buffer)
    assert.equal(back.digest('hex'), expected)
    assert.ok(seen.length >= 2 && seen.at(-1) === 20 * 1024 * 1024, `progress ${seen.join(',')}`)
    s.destroy()
  })

  test('parts are cut across odd chunk sizes; an exact multiple of the part size and a tiny body round-trip', async () => {
    const s = store()
    for (const [key, total] of [
      ['app/exact.tgz', 12 * 1024 * 1024],
      ['app/tiny.tgz', 5]
    ] as const) {
      const data = randomBytes(total)
      const chunks: Buffer[] = []
      for (let at = 0; at < total; at += 100_003) chunks.push(data.subarray(at, at + 100_003))
      const seen: number[] = []
      await s.uploadStream(key, Readable.from(chunks), 'application/gzip', (p) =>
        seen.push(p.loaded)
      )
      const back: Buffer[] = []
      for await (const chunk of await s.getStream(key)) back.push(chunk as Buffer)
      assert.ok(Buffer.concat(back).equals(data), key)
      assert.equal(Math.max(...seen), total, key)
    }
    s.destroy()
  })

  test('a body that fails mid-way fails the upload and leaves no object', async () => {
    const s = store()
    await assert.rejects(
      s.uploadStream('app/broken.tgz', randomStream(30 << 20, 12 << 20), 'application/gzip'),
      /pack failed: tar exited 2/
    )
    assert.equal(await s.head('app/broken.tgz'), undefined)
    // s3rver keeps multipart parts under the bucket's directory until completed or aborted.
    const leftovers = (await readdir(s3.directory, { recursive: true })).filter((f) =>
      f.includes('broken')
    )
    assert.deepEqual(leftovers, [])
    s.destroy()
  })

  test('a body that fails while the multipart upload is being created: that upload is aborted too', async () => {
    // lib-storage learns the upload ID only from S3's answer; the body fails before it.
    const proxy = await startS3FaultProxy(s3.endpoint)
    try {
      proxy.inject({ kind: 'slow-create', delayMs: 400 })
      const s = createS3Store(
        { bucket: s3.bucket, prefix: '', region: 'us-east-1', endpoint: proxy.endpoint },
        S3RVER_CREDENTIALS
      )
      await assert.rejects(
        s.uploadStream('app/early.tgz', randomStream(30 << 20, 8 << 20), 'application/gzip'),
        /pack failed: tar exited 2/
      )
      const creates = proxy.requests.filter((r) => r.operation === 'CreateMultipartUpload')
      assert.equal(creates.length, 1)
      assert.equal(creates[0]?.fault, 'slow-create')
      assert.equal(proxy.aborted.length, 1, 'the upload created after the failure is aborted')
      assert.ok(!proxy.requests.some((r) => r.operation === 'UploadPart'))
      s.destroy()
    } finally {
      await proxy.stop()
    }
  })

  test('text objects round-trip; head of a missing key is undefined', async () => {
    const s = store()
    await s.putText('app/m.yml', 'src: s3://x\n', 'application/yaml')
    assert.equal(await s.getText('app/m.yml'), 'src: s3://x\n')
    assert.equal(await s.head('app/none.yml'), undefined)
    s.destroy()
  })

  test('a missing bucket fails with one line naming s3-url and the bucket', async () => {
    const s = createS3Store(
      { bucket: 'no-such-bucket', prefix: '', region: 'us-east-1', endpoint: s3.endpoint },
      S3RVER_CREDENTIALS
    )
    await assert.rejects(s.putText('k', 'v', 'text/plain'), (e: Error) => {
      assert.ok(e instanceof S3Error)
      assert.match(
        e.message,
        /^s3-url bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+$/
      )
      return true
    })
    s.destroy()
  })

  // s3rver checks the access key but not v4 signatures, so an unknown key stands for bad credentials.
  test('wrong credentials fail clearly, without printing the secret', async () => {
    const s = createS3Store(
      { bucket: s3.bucket, prefix: '', region: 'us-east-1', endpoint: s3.endpoint },
      { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'wrong-secret-value' }
    )
    await assert.rejects(s.putText('k', 'v', 'text/plain'), (e: Error) => {
      assert.match(e.message, /^S3 refused the AWS credentials \(InvalidAccessKeyId\)/)
      assert.ok(!e.message.includes('wrong-secret-value'))
      return true
    })
    s.destroy()
  })

  test('an unreachable endpoint fails naming the endpoint', async () => {
    const s = createS3Store(
      { bucket: 'b', prefix: '', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' },
      S3RVER_CREDENTIALS
    )
    await assert.rejects(
      s.putText('k', 'v', 'text/plain'),
      /^Error: cannot reach S3 endpoint http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)|cannot reach S3 endpoint http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/
    )
    s.destroy()
  })
})

describe('S3 store as an object store (pointer, history and lock of the Serf backend)', () => {
  test('readText of a missing key is undefined; writeText, list under a prefix, remove', async () => {
    const s = store()
    assert.equal(await s.readText('objs/app/latest'), undefined)
    assert.equal(await s.writeText('objs/app/latest', 's3://r/app/1.yml\n'), 'written')
    assert.equal(await s.writeText('objs/app/history/1.json', '{"deploy_id":"1"}'), 'written')
    assert.equal(await s.writeText('objs/app/history/2.json', '{"deploy_id":"2"}'), 'written')
    assert.equal(await s.writeText('objs/apps/other', 'x'), 'written')
    assert.equal(await s.readText('objs/app/latest'), 's3://r/app/1.yml\n')
    assert.deepEqual((await s.list('objs/app/history/')).sort(), [
      'objs/app/history/1.json',
      'objs/app/history/2.json'
    ])
    assert.deepEqual(await s.list('objs/none/'), [])
    await s.remove('objs/app/latest')
    assert.equal(await s.readText('objs/app/latest'), undefined)
    await s.remove('objs/app/latest') // a missing object: S3 answers 204 too
    s.destroy()
  })

  test('a raw s3rver ignores If-None-Match: a second conditional write says written (what the lock detects)', async () => {
    const s = store()
    assert.equal(await s.writeText('raw/lock', 'a', { ifNoneMatch: '*' }), 'written')
    assert.equal(await s.writeText('raw/lock', 'b', { ifNoneMatch: '*' }), 'written')
    assert.equal(await s.readText('raw/lock'), 'b')
    s.destroy()
  })

  test('with conditional writes in front (as S3 since 2024): exists when the object is there, one winner of a race', async () => {
    const conditional = await startConditionalS3(s3.endpoint)
    const s = createS3Store(
      { bucket: s3.bucket, prefix: '', region: 'us-east-1', endpoint: conditional.endpoint },
      S3RVER_CREDENTIALS
    )
    try {
      assert.equal(await s.writeText('cond/lock', 'first', { ifNoneMatch: '*' }), 'written')
      assert.equal(await s.writeText('cond/lock', 'second', { ifNoneMatch: '*' }), 'exists')
      assert.equal(await s.readText('cond/lock'), 'first')
      assert.equal(await s.writeText('cond/lock', 'plain'), 'written', 'unconditional overwrites')
      await s.remove('cond/lock')
      const race = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          s.writeText('cond/race', `taker-${i}`, { ifNoneMatch: '*' })
        )
      )
      assert.equal(race.filter((r) => r === 'written').length, 1, race.join(','))
      const winner = race.indexOf('written')
      assert.equal(await s.readText('cond/race'), `taker-${winner}`)
      assert.equal(conditional.refused, 6)
    } finally {
      s.destroy()
      await conditional.stop()
    }
  })
})

describe('describeS3Error: one line for each way S3 says no', () => {
  const where = { bucket: 'acme-releases', key: 'web/1.tgz', region: 'eu-west-1' }
  const sdkError = (name: string, status: number) =>
    Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } })
  for (const [name, error, expected] of [
    [
      'access denied',
      sdkError('AccessDenied', 403),
      /^S3 denied access to s3:\/\/acme-releases\/web\/1\.tgz: the credentials need s3:PutObject/
    ],
    [
      'wrong region (redirect)',
      sdkError('PermanentRedirect', 301),
      /^aws-region "eu-west-1" is not the region of bucket "acme-releases" \(S3 answered PermanentRedirect\)$/
    ],
    [
      'wrong region (signature)',
      sdkError('AuthorizationHeaderMalformed', 400),
      /^aws-region "eu-west-1" is not the region of bucket "acme-releases"/
    ],
    [
      'expired credentials',
      sdkError('ExpiredToken', 400),
      /^S3 refused the AWS credentials \(ExpiredToken\)/
    ],
    [
      'no credentials at all',
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError'
      }),
      /^S3 refused the AWS credentials \(CredentialsProviderError\)/
    ],
    [
      'DNS failure',
      Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
      /^cannot reach S3 in eu-west-1 \(ENOTFOUND\) while writing s3:\/\/acme-releases\/web\/1\.tgz$/
    ],
    [
      'anything else',
      sdkError('InternalError', 500),
      /^S3 request for s3:\/\/acme-releases\/web\/1\.tgz failed: InternalError message$/
    ]
  ] as const) {
    test(name, () => {
      const line = describeS3Error(error, where)
      assert.match(line, expected)
      assert.ok(!line.includes('\n'))
    })
  }
})
