// S3: the release archive (streamed multipart upload) and the manifest.
// The archive is a stream of unknown length: uploadParts() cuts it into parts as
// it arrives, a few in flight, and the multipart upload is aborted on error.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand
} from '@aws-sdk/client-s3'
import type { CompletedPart } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import type { ObjectStore } from '../backend/fleet-backend.ts'
import type { S3Location } from '../config/config.ts'

export interface UploadProgress {
  /** bytes the store has acknowledged so far */
  loaded: number
}

export interface ReleaseStore {
  readonly bucket: string
  uploadStream(
    key: string,
    body: Readable,
    contentType: string,
    onProgress?: (p: UploadProgress) => void
  ): Promise<void>
  putText(key: string, body: string, contentType: string): Promise<void>
  /** size in bytes, or undefined when the object does not exist */
  head(key: string): Promise<number | undefined>
  getText(key: string): Promise<string>
  getStream(key: string): Promise<Readable>
  destroy(): void
}

// Parts in flight are held in memory, plus the one being filled: QUEUE_SIZE + 1
// buffers of PART_SIZE, allocated once and reused (bench/README.md has the
// figures). S3's 10,000-part limit caps an archive at PART_SIZE × 10,000.
const PART_SIZE = 6 * 1024 * 1024
const QUEUE_SIZE = 4

/**
 * Upload `body` as `key`: one PutObject when it fits in a part, else a multipart
 * upload whose parts are assembled in place. Every byte is copied once, into a
 * part buffer that is reused once its part is stored: no concatenation (as
 * lib-storage's Upload does for each part) and no new memory per part, so V8 is
 * not pushed to collect by a stream of large allocations. Reading the body waits
 * while QUEUE_SIZE parts are in flight. On failure the body is left unread (the
 * caller destroys or drains it) and the error is thrown once no part is in
 * flight; `onUploadId` names the multipart upload to abort.
 */
async function uploadParts(
  client: S3Client,
  target: PartTarget,
  body: Readable,
  onProgress: ((p: UploadProgress) => void) | undefined,
  onUploadId: (id: string) => void
): Promise<void> {
  const upload = new PartUpload(client, target, onProgress, onUploadId)
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (!(await upload.add(chunk))) break
    }
  } catch (error) {
    // the body failed: no part may still be on its way when the caller aborts
    await upload.stop()
    throw error
  }
  await upload.finish()
}

interface PartTarget {
  Bucket: string
  Key: string
  ContentType: string
}

/** One upload's parts: the buffers (filled, in flight, free) and what S3 said of each. */
class PartUpload {
  private readonly client: S3Client
  private readonly target: PartTarget
  private readonly onProgress: ((p: UploadProgress) => void) | undefined
  private readonly onUploadId: (id: string) => void
  private readonly free: Buffer[] = []
  private current: Buffer
  private filled = 0
  private partNumber = 0
  private loaded = 0
  private failure: { error: unknown } | undefined
  private readonly parts: CompletedPart[] = []
  private readonly inFlight = new Set<Promise<void>>()
  private created: Promise<string> | undefined
  private stopped = false

  constructor(
    client: S3Client,
    target: PartTarget,
    onProgress: ((p: UploadProgress) => void) | undefined,
    onUploadId: (id: string) => void
  ) {
    this.client = client
    this.target = target
    this.onProgress = onProgress
    this.onUploadId = onUploadId
    this.current = this.take()
  }

  /** Copies `chunk` into parts, sending each one filled; false once a part has failed. */
  async add(chunk: Buffer): Promise<boolean> {
    for (let offset = 0; offset < chunk.length;) {
      const n = Math.min(chunk.length - offset, PART_SIZE - this.filled)
      chunk.copy(this.current, this.filled, offset, offset + n)
      this.filled += n
      offset += n
      if (this.filled < PART_SIZE) continue
      while (this.inFlight.size >= QUEUE_SIZE && !this.failure) await Promise.race(this.inFlight)
      if (this.failure) return false
      this.send(this.current, this.filled)
      this.current = this.take()
      this.filled = 0
    }
    return !this.failure
  }

  /** The body ended: one PutObject when it fit in a part, else the last part and the completion. */
  async finish(): Promise<void> {
    const { client, target, filled } = this
    if (!this.failure && this.partNumber === 0) {
      await client.send(
        new PutObjectCommand({
          ...target,
          Body: this.current.subarray(0, filled),
          ContentLength: filled
        })
      )
      this.onProgress?.({ loaded: filled })
      return
    }
    if (!this.failure && filled > 0) this.send(this.current, filled)
    await this.settle()
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.Bucket,
        Key: target.Key,
        UploadId: await this.created,
        MultipartUpload: { Parts: this.parts }
      })
    )
  }

  /** The body failed: no more parts are sent, and none is left in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.settle().catch(() => undefined)
  }

  private take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(PART_SIZE)
  }

  private send(buffer: Buffer, length: number): void {
    const PartNumber = ++this.partNumber
    const part = this.multipartUpload()
      .then((UploadId) =>
        // A body that failed meanwhile: the part is not worth sending (it is aborted).
        this.stopped
          ? undefined
          : this.client.send(
              new UploadPartCommand({
                Bucket: this.target.Bucket,
                Key: this.target.Key,
                UploadId,
                PartNumber,
                Body: buffer.subarray(0, length),
                ContentLength: length
              })
            )
      )
      .then((out) => {
        if (!out) return
        this.parts[PartNumber - 1] = { PartNumber, ETag: out.ETag }
        this.free.push(buffer)
        this.loaded += length
        this.onProgress?.({ loaded: this.loaded })
      })
      .catch((error: unknown) => void (this.failure ??= { error }))
      .finally(() => this.inFlight.delete(part))
    this.inFlight.add(part)
  }

  /** the multipart upload's ID, the upload created with the first part */
  private multipartUpload(): Promise<string> {
    this.created ??= this.client.send(new CreateMultipartUploadCommand(this.target)).then((out) => {
      if (!out.UploadId) throw new Error('S3 returned no UploadId for the multipart upload')
      this.onUploadId(out.UploadId)
      return out.UploadId
    })
    return this.created
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight)
    if (this.failure) throw this.failure.error
  }
}

/** Say in one line what went wrong with S3, for the run's failure message. */
export function describeS3Error(
  error: unknown,
  location: { bucket: string; key?: string; region: string; endpoint?: string }
): string {
  const where = `s3://${location.bucket}${location.key ? `/${location.key}` : ''}`
  const err = error as {
    name?: string
    Code?: string
    code?: string
    message?: string
    $metadata?: { httpStatusCode?: number }
    cause?: { code?: string }
  }
  const code = err.Code ?? err.name ?? ''
  const status = err.$metadata?.httpStatusCode
  const netCode = err.code ?? err.cause?.code
  if (
    netCode === 'ECONNREFUSED' ||
    netCode === 'ENOTFOUND' ||
    netCode === 'EAI_AGAIN' ||
    netCode === 'ECONNRESET' ||
    netCode === 'ETIMEDOUT'
  )
    return `cannot reach S3 ${location.endpoint ? `endpoint ${location.endpoint}` : `in ${location.region}`} (${netCode}) while writing ${where}`
  if (code === 'NoSuchBucket')
    return `s3-url bucket "${location.bucket}" does not exist${location.endpoint ? ` at ${location.endpoint}` : ` in ${location.region}`}`
  if (
    code === 'InvalidAccessKeyId' ||
    code === 'SignatureDoesNotMatch' ||
    code === 'ExpiredToken' ||
    code === 'CredentialsProviderError' ||
    err.name === 'CredentialsProviderError'
  )
    return `S3 refused the AWS credentials (${code}): check the credentials step (e.g. aws-actions/configure-aws-credentials)`
  if (code === 'AccessDenied' || code === 'Forbidden' || status === 403)
    return `S3 denied access to ${where}: the credentials need s3:PutObject, s3:GetObject and s3:AbortMultipartUpload on it`
  if (
    code === 'PermanentRedirect' ||
    code === 'AuthorizationHeaderMalformed' ||
    code === 'IllegalLocationConstraintException' ||
    status === 301
  )
    return `aws-region "${location.region}" is not the region of bucket "${location.bucket}" (S3 answered ${code || status})`
  const message = (err.message ?? String(error)).split('\n')[0]
  return `S3 request for ${where} failed: ${code && !message?.includes(code) ? `${code}: ` : ''}${message}`
}

export class S3Error extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'S3Error'
  }
}

/** The release bucket as both: releases uploaded, and plain objects (Serf's pointer, history, lock). */
export type S3ObjectStore = ReleaseStore & ObjectStore

export function createS3Store(
  location: S3Location,
  credentials?: { accessKeyId: string; secretAccessKey: string }
): S3ObjectStore {
  return new S3Store(location, credentials)
}

const statusOf = (error: unknown): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode

class S3Store implements S3ObjectStore {
  readonly bucket: string
  private readonly location: S3Location
  private readonly client: S3Client

  constructor(
    location: S3Location,
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined
  ) {
    this.location = location
    this.bucket = location.bucket
    this.client = new S3Client({
      region: location.region,
      endpoint: location.endpoint,
      // S3-compatible stores are addressed path-style: no DNS per bucket.
      forcePathStyle: location.endpoint !== undefined,
      credentials,
      // The SDK's default aws-chunked trailing checksums are stored verbatim by some
      // S3-compatible servers (silent corruption, research/performance.md); only
      // send checksums where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 5
    })
  }

  async uploadStream(
    key: string,
    body: Readable,
    contentType: string,
    onProgress?: (p: UploadProgress) => void
  ): Promise<void> {
    let uploadId: string | undefined
    try {
      // A failing body stream fails the upload (its iteration throws) rather than
      // completing a short object.
      await uploadParts(
        this.client,
        { Bucket: this.bucket, Key: key, ContentType: contentType },
        body,
        onProgress,
        (id) => (uploadId = id)
      )
    } catch (error) {
      // Nobody reads the rest of the body now.
      if (!body.destroyed) body.destroy()
      // No parts may linger (they are billed): abort the multipart upload.
      const abortProblem = uploadId ? await this.abort(key, uploadId) : ''
      if (
        error instanceof S3ServiceException ||
        (error as { $metadata?: unknown }).$metadata ||
        (error as { code?: string }).code
      )
        throw new S3Error(describeS3Error(error, { ...this.location, key }) + abortProblem, {
          cause: error
        })
      if (abortProblem)
        throw new Error(`${(error as Error).message}${abortProblem}`, { cause: error })
      throw error
    }
  }

  /** Aborts a multipart upload; says what went wrong when that fails too ('' when not). */
  private async abort(key: string, uploadId: string): Promise<string> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })
      )
      return ''
    } catch (abortError) {
      const e = abortError as { name?: string; message?: string }
      return `; its incomplete multipart upload could not be aborted either (${e.name ?? e.message}: allow s3:AbortMultipartUpload, or expire incomplete uploads with a lifecycle rule)`
    }
  }

  async putText(key: string, text: string, contentType: string): Promise<void> {
    await this.put(key, text, contentType)
  }

  async head(key: string): Promise<number | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      return out.ContentLength ?? 0
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode
      if (status === 404 || (error as { name?: string }).name === 'NotFound') return undefined
      // A HEAD answer has no body to say why: S3 answers 403 both when the object
      // is missing and the credentials may not s3:ListBucket (the README's least
      // policy), and when they may not s3:GetObject it.
      if (status === 403)
        throw new S3Error(
          `S3 answered 403 to a HEAD of s3://${this.bucket}/${key}: the object does not exist (S3's answer when the credentials lack s3:ListBucket) or the credentials may not s3:GetObject it`,
          { cause: error }
        )
      return this.fail(error, key)
    }
  }

  async getText(key: string): Promise<string> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      return (await out.Body?.transformToString('utf8')) ?? ''
    } catch (error) {
      return this.fail(error, key)
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      return out.Body as Readable
    } catch (error) {
      return this.fail(error, key)
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))
      return (await out.Body?.transformToString('utf8')) ?? ''
    } catch (error) {
      if (statusOf(error) === 404 || (error as { name?: string }).name === 'NoSuchKey')
        return undefined
      return this.fail(error, key)
    }
  }

  /**
   * One PUT (S3 writes an object whole). With `ifNoneMatch: '*'` S3 answers 412
   * when the object exists (and 409 while another conditional write of it is in
   * flight): both are `exists`. An endpoint that ignores the header answers
   * `written` either way; the lock checks for that.
   */
  async writeText(
    key: string,
    body: string,
    opts: { ifNoneMatch?: '*' } = {}
  ): Promise<'written' | 'exists'> {
    const contentType = key.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8'
    return this.put(key, body, contentType, opts.ifNoneMatch)
  }

  /** One PutObject; with `ifNoneMatch`, an object already there is `exists`, not an error. */
  private async put(
    key: string,
    body: string,
    contentType: string,
    ifNoneMatch?: '*'
  ): Promise<'written' | 'exists'> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ...(ifNoneMatch ? { IfNoneMatch: ifNoneMatch } : {})
        })
      )
      return 'written'
    } catch (error) {
      const status = statusOf(error)
      if (ifNoneMatch && (status === 412 || status === 409)) return 'exists'
      return this.fail(error, key)
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    } catch (error) {
      this.fail(error, key)
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = []
    let token: string | undefined
    try {
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token
          })
        )
        for (const o of out.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key)
        token = out.IsTruncated ? out.NextContinuationToken : undefined
      } while (token)
    } catch (error) {
      this.fail(error, prefix)
    }
    return keys
  }

  destroy(): void {
    this.client.destroy()
  }

  private fail(error: unknown, key?: string): never {
    throw new S3Error(describeS3Error(error, { ...this.location, key }), { cause: error })
  }
}
