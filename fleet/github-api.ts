// A stand-in for the GitHub REST API on loopback, for end-to-end runs of
// dist/index.js (a child process, which nock cannot reach): it answers the
// calls the reporter makes with GitHub's response shapes and records them.
import { createServer } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedCall {
  method: string
  /** the path without the query */
  path: string
  /** the raw request target */
  url: string
  headers: IncomingHttpHeaders
  authorization: string | undefined
  /** the body as sent */
  rawBody: string
  /** the body parsed as JSON ({} when empty or not JSON) */
  body: Record<string, unknown>
}

export interface FakeGitHub {
  /** for GITHUB_API_URL */
  readonly url: string
  readonly calls: RecordedCall[]
  /** answer check-run calls with 403 "Resource not accessible by integration" (a fork's token) */
  refuseChecks: boolean
  /** answer every call with this status instead (e.g. 500), with GitHub's error shape */
  status: number | undefined
  stop(): Promise<void>
}

/** The web host of the check runs' html_url (github.com in real life). */
export const HTML_URL = 'https://github.example.com'

function parse(raw: string): Record<string, unknown> {
  try {
    const value = JSON.parse(raw) as unknown
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

export async function startFakeGitHub(
  opts: { status?: number; unref?: boolean } = {}
): Promise<FakeGitHub> {
  const calls: RecordedCall[] = []
  let nextId = 1000
  const server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (raw += c))
    req.on('end', () => {
      const url = req.url ?? ''
      const path = url.split('?')[0] as string
      const body = parse(raw)
      calls.push({
        method: req.method ?? '',
        path,
        url,
        headers: { ...req.headers },
        authorization: req.headers.authorization,
        rawBody: raw,
        body
      })
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(payload))
      }
      if (api.status !== undefined && api.status >= 300)
        return send(api.status, { message: 'Server Error' })
      if (path.includes('/check-runs')) {
        if (api.refuseChecks)
          return send(403, { message: 'Resource not accessible by integration', status: '403' })
        const id = /\/check-runs\/(\d+)$/.exec(path)?.[1]
        const runId = id ? Number(id) : nextId++
        // As GitHub answers: the run's page under the repository (HTML_URL below).
        const repo = /^\/repos\/([^/]+\/[^/]+)\//.exec(path)?.[1] ?? 'unknown/unknown'
        return send(id ? 200 : 201, {
          ...body,
          id: runId,
          html_url: `${HTML_URL}/${repo}/runs/${runId}`
        })
      }
      if (/\/statuses\/[0-9a-f]+$/.test(path)) return send(201, { id: nextId++, ...body })
      if (/\/deployments\/\d+\/statuses$/.test(path)) return send(201, { id: nextId++, ...body })
      if (/\/deployments$/.test(path)) return send(201, { id: nextId++, ...body })
      send(404, { message: 'Not Found' })
    })
  })
  // Short keep-alive: a finished run's connections must not hold the test open.
  server.keepAliveTimeout = 100
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  if (opts.unref) server.unref()
  const api: FakeGitHub = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    refuseChecks: false,
    status: opts.status,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return api
}
