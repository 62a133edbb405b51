// A plain GET over node:http with no connection pooling (agent: false): a
// simulated node must leave no socket behind when it stops, and an aborted long
// poll must end at once.
import { request } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export async function httpGet(
  url: string,
  opts: { headers?: Record<string, string>; signal?: AbortSignal } = {}
): Promise<HttpResponse> {
  const res = await httpGetStream(url, opts)
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }
}

/** The GET itself, the body handed over as a stream (archives can be large). */
export function httpGetStream(
  url: string,
  opts: { headers?: Record<string, string>; signal?: AbortSignal } = {}
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : request
    const req = send(url, {
      method: 'GET',
      agent: false,
      headers: opts.headers,
      signal: opts.signal
    })
    req.on('error', reject)
    req.on('response', resolve)
    req.end()
  })
}
