// S3: the release archive (streamed multipart upload) and the manifest.
// @aws-sdk/lib-storage's Upload does multipart from a stream of unknown length,
// bounds memory to partSize × queueSize and aborts the multipart upload on error,
// which is exactly what a streamed tar.gz needs.
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Readable } from 'node:stream'
import type { S3Location } from './config.ts'

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

// Parts in flight are held in memory (plus one being filled and its concatenated
// copy): 6 MiB x 4 kept the publish at 181 MB peak RSS for the 200 MB build and 189 MB
// for the 1 GB one, where 8 MiB reached 186-193 MB and 207 MB (bench/README.md).
// S3's 10,000-part limit then caps an archive at 58 GiB.
const PART_SIZE = 6 * 1024 * 1024
const QUEUE_SIZE = 4

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
  // The upload IDs every CreateMultipartUpload returns, by key, answered or still in
  // flight. lib-storage sets upload.uploadId only once S3 has answered, so a body
  // that fails while the create is on its way (a pack failing, or a cancel, a few
  // MiB into the archive) left an open multipart upload that nobody aborted.
  const creates = new Map<string, Array<Promise<string | undefined>>>()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = next(args)
      if (context.commandName === 'CreateMultipartUploadCommand') {
        const key = (args.input as { Key?: string }).Key ?? ''
        const id = result.then(
          (r) => (r.output as { UploadId?: string }).UploadId,
          () => undefined
        )
        creates.set(key, [...(creates.get(key) ?? []), id])
      }
      return result
    },
    { step: 'initialize', name: 'stretcherMultipartCreates' }
  )
  const fail = (error: unknown, key?: string): never => {
    throw new S3Error(describeS3Error(error, { ...location, key }), { cause: error })
  }

  return {
    bucket,
    async uploadStream(key, body, contentType, onProgress) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        // The abort is ours (below): lib-storage's own would replace the part's
        // error with the abort's when the abort is refused too.
        leavePartsOnError: true
      })
      if (onProgress) upload.on('httpUploadProgress', (p) => onProgress({ loaded: p.loaded ?? 0 }))
      // A failing body stream must fail the upload rather than complete a short object.
      const bodyFailed = new Promise<never>((_, reject) => body.once('error', reject))
      bodyFailed.catch(() => undefined)
      try {
        await Promise.race([upload.done(), bodyFailed])
        creates.delete(key)
      } catch (error) {
        await upload.abort().catch(() => undefined)
        // No parts may linger (they are billed): abort every multipart upload created
        // for this key, once its create is answered.
        const uploadIds = new Set(upload.uploadId ? [upload.uploadId] : [])
        for (const id of await Promise.all(creates.get(key) ?? [])) if (id) uploadIds.add(id)
        creates.delete(key)
        let abortProblem = ''
        for (const uploadId of uploadIds) {
          try {
            await client.send(
              new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })
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
