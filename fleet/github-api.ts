// A stand-in for the GitHub REST API on loopback, for end-to-end runs of
// dist/index.js (a child process, which nock cannot reach): it answers the
// calls the reporter makes with GitHub's response shapes and records them.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedCall {
  method: string
  path: string
  authorization: string | undefined
  body: Record<string, unknown>
}

export interface FakeGitHub {
  /** for GITHUB_API_URL */
  readonly url: string
  readonly calls: RecordedCall[]
  /** answer check-run calls with 403 "Resource not accessible by integration" (a fork's token) */
  refuseChecks: boolean
  stop(): Promise<void>
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const calls: RecordedCall[] = []
  let nextId = 1000
  const api: FakeGitHub = {
    url: '',
    calls,
    refuseChecks: false,
    stop: () => new Promise((resolve) => server.close(() => resolve()))
  }
  const server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (raw += c))
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] as string
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {}
      calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body })
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(payload))
      }
      if (path.includes('/check-runs')) {
        if (api.refuseChecks)
          return send(403, { message: 'Resource not accessible by integration', status: '403' })
        const id = /\/check-runs\/(\d+)$/.exec(path)?.[1]
        return send(id ? 200 : 201, { id: id ? Number(id) : nextId++, ...body })
      }
      if (/\/statuses\/[0-9a-f]+$/.test(path)) return send(201, { id: nextId++, ...body })
      if (/\/deployments\/\d+\/statuses$/.test(path)) return send(201, { id: nextId++, ...body })
      if (/\/deployments$/.test(path)) return send(201, { id: nextId++, ...body })
      send(404, { message: 'Not Found' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  Object.assign(api, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
  return api
}
