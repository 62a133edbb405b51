// S3's conditional writes in front of s3rver, which ignores them: a PutObject
// with `If-None-Match: *` is answered 412 PreconditionFailed when the object
// exists, as S3 has done since 2024 (the Serf backend's deploy lock relies on
// it, contract 13). Conditional writes of one key are taken one at a time, so
// two of them racing for a missing key get one 200 and one 412, as on S3.
// Everything else is forwarded verbatim (the SigV4 signature covers the Host
// header, so it is kept as the client sent it). Loopback only; for tests and
// the demo, never bundled into the action.
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { operationOf } from './s3-faults.ts'

export interface ConditionalS3 {
  /** http://127.0.0.1:PORT, for the s3-endpoint input */
  readonly endpoint: string
  /** conditional writes answered 412 so far */
  readonly refused: number
  stop(): Promise<void>
}

const PRECONDITION_FAILED_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition><RequestId>LOCAL</RequestId><HostId>LOCAL</HostId></Error>'

export async function startConditionalS3(upstream: string): Promise<ConditionalS3> {
  const target = new URL(upstream)
  const sockets = new Set<Socket>()
  /** per key: the conditional write in progress, which the next one waits for */
  const busy = new Map<string, Promise<void>>()
  let refused = 0

  const forward = (req: IncomingMessage, res: ServerResponse, done?: () => void): void => {
    const upstreamReq = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers)
        upstreamRes.pipe(res)
        upstreamRes.on('end', () => done?.())
      }
    )
    upstreamReq.on('error', () => {
      done?.()
      req.socket.destroy()
    })
    req.pipe(upstreamReq)
  }

  /** Whether the object exists upstream (s3rver answers unsigned requests). */
  const exists = (path: string): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const head = httpRequest(
        { host: target.hostname, port: target.port, method: 'HEAD', path },
        (r) => {
          r.resume()
          resolve(r.statusCode === 200)
        }
      )
      head.on('error', reject)
      head.end()
    })

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const { operation } = operationOf(req.method ?? 'GET', url, req.headers)
    if (operation !== 'PutObject' || req.headers['if-none-match'] !== '*') return forward(req, res)
    const key = url.pathname
    const before = busy.get(key) ?? Promise.resolve()
    let finish: () => void = () => {}
    const mine = new Promise<void>((resolve) => (finish = resolve))
    const turn = before.then(() => mine)
    busy.set(key, turn)
    const done = () => {
      finish()
      if (busy.get(key) === turn) busy.delete(key)
    }
    req.pause()
    void before
      .then(() => exists(key))
      .then(
        (found) => {
          if (!found) return forward(req, res, done)
          refused += 1
          req.resume()
          req.on('end', () => {
            res.writeHead(412, { 'Content-Type': 'application/xml' })
            res.end(PRECONDITION_FAILED_XML)
            done()
          })
        },
        () => {
          done()
          req.socket.destroy()
        }
      )
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
    get refused() {
      return refused
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
