// S3: the release archive (streamed multipart upload) and the manifest.
// The archive is a stream of unknown length: uploadParts() cuts it into parts as
// it arrives, a few in flight, and the multipart upload is aborted on error.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand
} from '@aws-sdk/client-s3'
import type { CompletedPart } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
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
  target: { Bucket: string; Key: string; ContentType: string },
  body: Readable,
  onProgress: ((p: UploadProgress) => void) | undefined,
  onUploadId: (id: string) => void
): Promise<void> {
  const free: Buffer[] = []
  const take = (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(PART_SIZE)
  let current = take()
  let filled = 0
  let partNumber = 0
  let loaded = 0
  let failure: { error: unknown } | undefined
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()
  let created: Promise<string> | undefined
  let stopped = false

  const send = (buffer: Buffer, length: number): void => {
    const PartNumber = ++partNumber
    created ??= client.send(new CreateMultipartUploadCommand(target)).then((out) => {
      if (!out.UploadId) throw new Error('S3 returned no UploadId for the multipart upload')
      onUploadId(out.UploadId)
      return out.UploadId
    })
    const part = created
      .then((UploadId) =>
        // A body that failed meanwhile: the part is not worth sending (it is aborted).
        stopped
          ? undefined
          : client.send(
              new UploadPartCommand({
                Bucket: target.Bucket,
                Key: target.Key,
                UploadId,
                PartNumber,
                Body: buffer.subarray(0, length),
                ContentLength: length
              })
            )
      )
      .then((out) => {
        if (!out) return
        parts[PartNumber - 1] = { PartNumber, ETag: out.ETag }
        free.push(buffer)
        loaded += length
        onProgress?.({ loaded })
      })
      .catch((error: unknown) => void (failure ??= { error }))
      .finally(() => inFlight.delete(part))
    inFlight.add(part)
  }

  const settle = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.race(inFlight)
    if (failure) throw failure.error
  }

  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let offset = 0; offset < chunk.length;) {
        const n = Math.min(chunk.length - offset, PART_SIZE - filled)
        chunk.copy(current, filled, offset, offset + n)
        filled += n
        offset += n
        if (filled < PART_SIZE) continue
        while (inFlight.size >= QUEUE_SIZE && !failure) await Promise.race(inFlight)
        if (failure) break
        send(current, filled)
        current = take()
        filled = 0
      }
      if (failure) break
    }
  } catch (error) {
    // the body failed: no part may still be on its way when the caller aborts
    stopped = true
    await settle().catch(() => undefined)
    throw error
  }
  if (!failure && partNumber === 0) {
    await client.send(
      new PutObjectCommand({ ...target, Body: current.subarray(0, filled), ContentLength: filled })
    )
    onProgress?.({ loaded: filled })
    return
  }
  if (!failure && filled > 0) send(current, filled)
  await settle()
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: target.Bucket,
      Key: target.Key,
      UploadId: await created,
      MultipartUpload: { Parts: parts }
    })
  )
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

export function createS3Store(
  location: S3Location,
  credentials?: { accessKeyId: string; secretAccessKey: string }
): ReleaseStore {
  const client = new S3Client({
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
  const bucket = location.bucket
  const fail = (error: unknown, key?: string): never => {
    throw new S3Error(describeS3Error(error, { ...location, key }), { cause: error })
  }

  return {
    bucket,
    async uploadStream(key, body, contentType, onProgress) {
      let uploadId: string | undefined
      try {
        // A failing body stream fails the upload (its iteration throws) rather than
        // completing a short object.
        await uploadParts(
          client,
          { Bucket: bucket, Key: key, ContentType: contentType },
          body,
          onProgress,
          (id) => (uploadId = id)
        )
      } catch (error) {
        // Nobody reads the rest of the body now.
        if (!body.destroyed) body.destroy()
        // No parts may linger (they are billed): abort the multipart upload.
        let abortProblem = ''
        if (uploadId) {
          try {
            await client.send(
              new AbortMultipartUploadCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId
              })
            )
          } catch (abortError) {
            const e = abortError as { name?: string; message?: string }
            abortProblem = `; its incomplete multipart upload could not be aborted either (${e.name ?? e.message}: allow s3:AbortMultipartUpload, or expire incomplete uploads with a lifecycle rule)`
          }
        }
        if (
          error instanceof S3ServiceException ||
          (error as { $metadata?: unknown }).$metadata ||
          (error as { code?: string }).code
        )
          throw new S3Error(describeS3Error(error, { ...location, key }) + abortProblem, {
            cause: error
          })
        if (abortProblem)
          throw new Error(`${(error as Error).message}${abortProblem}`, { cause: error })
        throw error
      }
    },
    async putText(key, text, contentType) {
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType })
        )
      } catch (error) {
        fail(error, key)
      }
    },
    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
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
            `S3 answered 403 to a HEAD of s3://${bucket}/${key}: the object does not exist (S3's answer when the credentials lack s3:ListBucket) or the credentials may not s3:GetObject it`,
            { cause: error }
          )
        return fail(error, key)
      }
    },
    async getText(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        return (await out.Body?.transformToString('utf8')) ?? ''
      } catch (error) {
        return fail(error, key)
      }
    },
    async getStream(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        return out.Body as Readable
      } catch (error) {
        return fail(error, key)
      }
    },
    destroy() {
      client.destroy()
    }
  }
}
