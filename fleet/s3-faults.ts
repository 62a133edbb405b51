// A fault-injecting HTTP proxy in front of s3rver, which has no fault switch of
// its own. Requests are forwarded verbatim (the SigV4 signature covers the Host
// header, so it is kept as the client sent it); a fault answers an UploadPart
// with 503 SlowDown, or destroys the client's socket halfway through a part's
// body. s3rver 3.7 has no AbortMultipartUpload (it answers 405), so the proxy
// answers it as S3 does (204, recorded in `aborted`), or with 403 AccessDenied
// to stand for credentials without s3:AbortMultipartUpload. Every request is
// logged with the S3 operation it is (operationOf), which makes the proxy a
// recorder too: the IAM policy test lists what a deploy really asks of S3.
// Loopback only. For tests; never bundled into the action.
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type S3FaultKind =
  'slow-down' | 'drop-mid-body' | 'deny-abort' | 'no-list-bucket' | 'slow-create'

export interface S3FaultSpec {
  /**
   * slow-down and drop-mid-body apply to UploadPart, deny-abort to AbortMultipartUpload;
   * no-list-bucket to HeadObject and GetObject: a missing object is answered 403, as S3
   * answers credentials without s3:ListBucket; slow-create to CreateMultipartUpload,
   * answered after delayMs
   */
  kind: S3FaultKind
  /** UploadPart requests with this part number (any part when omitted) */
  partNumber?: number
  /** how many matching requests it applies to (all when omitted) */
  count?: number
  /** slow-down: the 503's error code (S3 sends SlowDown, sometimes ServiceUnavailable) */
  code?: 'SlowDown' | 'ServiceUnavailable'
  /** slow-create: how long S3's answer is held back (default 500 ms) */
  delayMs?: number
}

export interface S3RequestLogEntry {
  method: string
  /** path and query as received */
  target: string
  /** the S3 API operation (operationOf): 'PutObject', 'UploadPart', 'HeadObject', ... or 'other' */
  operation: string
  /** path-style: the bucket and the object key ('' for a bucket-level request) */
  bucket: string
  key: string
  partNumber?: number
  /** status sent to the client; 0 when the socket was destroyed */
  status: number
  /** the fault applied, if any */
  fault?: S3FaultKind
  /** request body bytes (as far as they were read) */
  bodyBytes: number
  /** the request's headers, for secret scans */
  headers: Record<string, string | string[] | undefined>
}

export interface S3FaultProxy {
  /** http://127.0.0.1:PORT, for the s3-endpoint input */
  readonly endpoint: string
  readonly requests: S3RequestLogEntry[]
  /** upload IDs of the multipart uploads aborted (answered 204) */
  readonly aborted: string[]
  inject(spec: S3FaultSpec): { readonly remaining: number }
  clear(): void
  stop(): Promise<void>
}

// Query keys that only shape a bucket listing; any other subresource on a bucket
// GET is an operation this table does not know ('other').
const LISTING_KEYS = new Set([
  'prefix',
  'delimiter',
  'max-keys',
  'marker',
  'encoding-type',
  'list-type',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'x-id'
])

/**
 * The S3 API operation of a path-style request (/bucket/key?query), as S3 names it;
 * 'other' for anything not listed here, so a recorder can refuse what it cannot name.
 */
export function operationOf(
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined> = {}
): { operation: string; partNumber?: number } {
  const q = url.searchParams
  const [, bucket = '', ...rest] = url.pathname.split('/')
  const key = rest.join('/')
  if (method === 'POST' && q.has('uploads')) return { operation: 'CreateMultipartUpload' }
  if (method === 'PUT' && q.has('partNumber') && q.has('uploadId'))
    return {
      operation: headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart',
      partNumber: Number(q.get('partNumber'))
    }
  if (method === 'POST' && q.has('uploadId')) return { operation: 'CompleteMultipartUpload' }
  if (method === 'DELETE' && q.has('uploadId')) return { operation: 'AbortMultipartUpload' }
  if (bucket === '') return { operation: method === 'GET' ? 'ListBuckets' : 'other' }
  const sub = [...q.keys()].filter((k) => k !== 'x-id')
  if (key !== '') {
    if (method === 'GET' && q.has('uploadId')) return { operation: 'ListParts' }
    if (sub.length > 0) {
      const name = sub[0] === 'tagging' ? 'Tagging' : sub[0] === 'acl' ? 'Acl' : undefined
      if (!name || (method !== 'GET' && method !== 'PUT' && method !== 'DELETE'))
        return { operation: 'other' }
      const verb = method === 'GET' ? 'Get' : method === 'PUT' ? 'Put' : 'Delete'
      return { operation: `${verb}Object${name}` }
    }
    if (method === 'GET') return { operation: 'GetObject' }
    if (method === 'HEAD') return { operation: 'HeadObject' }
    if (method === 'DELETE') return { operation: 'DeleteObject' }
    if (method === 'PUT')
      return { operation: headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject' }
    return { operation: 'other' }
  }
  if (method === 'HEAD' && sub.length === 0) return { operation: 'HeadBucket' }
  if (method === 'POST' && q.has('delete')) return { operation: 'DeleteObjects' }
  if (method !== 'GET') return { operation: 'other' }
  if (q.has('location')) return { operation: 'GetBucketLocation' }
  if (q.has('uploads')) return { operation: 'ListMultipartUploads' }
  if (q.has('versions')) return { operation: 'ListObjectVersions' }
  if (sub.every((k) => LISTING_KEYS.has(k)))
    return { operation: q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects' }
  return { operation: 'other' }
}

const SLOW_DOWN_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId><HostId>FAULT</HostId></Error>'

const ACCESS_DENIED_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>FAULT</RequestId><HostId>FAULT</HostId></Error>'

export async function startS3FaultProxy(upstream: string): Promise<S3FaultProxy> {
  const target = new URL(upstream)
  let faults: Array<S3FaultSpec & { remaining: number }> = []
  const requests: S3RequestLogEntry[] = []
  const sockets = new Set<Socket>()

  const aborted: string[] = []
  const take = (operation: string, partNumber?: number): S3FaultSpec | undefined => {
    const fault = faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.kind === 'deny-abort'
          ? operation === 'AbortMultipartUpload'
          : f.kind === 'no-list-bucket'
            ? operation === 'HeadObject' || operation === 'GetObject'
            : f.kind === 'slow-create'
              ? operation === 'CreateMultipartUpload'
              : operation === 'UploadPart' &&
                (f.partNumber === undefined || f.partNumber === partNumber))
    )
    if (!fault) return undefined
    fault.remaining -= 1
    faults = faults.filter((f) => f.remaining > 0)
    return fault
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const method = req.method ?? 'GET'
    const { operation, partNumber } = operationOf(method, url, req.headers)
    const [, bucket = '', ...rest] = url.pathname.split('/')
    const entry: S3RequestLogEntry = {
      method,
      target: req.url ?? '/',
      operation,
      bucket: decodeURIComponent(bucket),
      key: decodeURIComponent(rest.join('/')),
      ...(partNumber === undefined ? {} : { partNumber }),
      status: 0,
      bodyBytes: 0,
      headers: { ...req.headers }
    }
    requests.push(entry)
    req.on('data', (chunk: Buffer) => (entry.bodyBytes += chunk.length))
    const fault = take(operation, partNumber)

    if (fault?.kind === 'slow-down') {
      entry.fault = 'slow-down'
      // Read the body first, as S3 does, so the client sees an answer, not a reset.
      req.resume()
      req.on('end', () => {
        entry.status = 503
        res.writeHead(503, { 'Content-Type': 'application/xml', 'Retry-After': '0' })
        res.end(
          fault.code === 'ServiceUnavailable'
            ? SLOW_DOWN_XML.replace('SlowDown', 'ServiceUnavailable').replace(
                'Please reduce your request rate.',
                'Service is unable to handle request.'
              )
            : SLOW_DOWN_XML
        )
      })
      return
    }
    if (operation === 'AbortMultipartUpload') {
      req.resume()
      req.on('end', () => {
        if (fault?.kind === 'deny-abort') {
          entry.fault = 'deny-abort'
          entry.status = 403
          res.writeHead(403, { 'Content-Type': 'application/xml' })
          res.end(ACCESS_DENIED_XML)
          return
        }
        aborted.push(url.searchParams.get('uploadId') ?? '')
        entry.status = 204
        res.writeHead(204)
        res.end()
      })
      return
    }
    if (fault?.kind === 'drop-mid-body') {
      entry.fault = 'drop-mid-body'
      const length = Number(req.headers['content-length'] ?? 0)
      let seen = 0
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length
        if (seen >= length / 2) req.socket.destroy()
      })
      req.on('end', () => req.socket.destroy())
      return
    }

    const upstreamReq = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: req.url,
        headers: req.headers
      },
      (upstreamRes) => {
        if (fault?.kind === 'no-list-bucket' && upstreamRes.statusCode === 404) {
          upstreamRes.resume()
          entry.fault = 'no-list-bucket'
          entry.status = 403
          res.writeHead(403, { 'Content-Type': 'application/xml' })
          res.end(method === 'HEAD' ? undefined : ACCESS_DENIED_XML)
          return
        }
        entry.status = upstreamRes.statusCode ?? 0
        const answer = (): void => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers)
          upstreamRes.pipe(res)
        }
        if (fault?.kind === 'slow-create') {
          entry.fault = 'slow-create'
          setTimeout(answer, fault.delayMs ?? 500)
        } else answer()
      }
    )
    upstreamReq.on('error', () => req.socket.destroy())
    req.pipe(upstreamReq)
  }

  const server = createServer(handle)
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    aborted,
    inject(spec) {
      const fault = { ...spec, remaining: spec.count ?? Infinity }
      faults.push(fault)
      return {
        get remaining() {
          return fault.remaining
        }
      }
    },
    clear() {
      faults = []
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
