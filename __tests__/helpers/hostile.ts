// Shared by the reliability and security tests: an ACL-enabled local fleet with
// distinctive secrets, a stand-in GitHub API that records every request, a
// Consul proxy that can rewrite answers, and the two checks every scenario ends
// with: no secret anywhere, and `latest` never names an incomplete release.
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readdir, readFile } from 'node:fs/promises'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import type { FakeGitHub } from '../../fleet/github-api.ts'
import { startFakeGitHub } from '../../fleet/github-api.ts'
import type { FleetNodeSpec, LocalFleet } from '../../fleet/index.ts'
import { SERVER_NODE, startLocalFleet } from '../../fleet/index.ts'
import type { ActionRun } from '../../fleet/run-action.ts'
import { runAction } from '../../fleet/run-action.ts'

export const KV = 'stretcher/web'
export const SHA = '5e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f'

/** Distinctive values: a substring search cannot confuse them with anything else. */
export const SECRETS = {
  consul: `c0a1${randomUUID()}`,
  github: `ghs_${randomBytes(18).toString('hex')}`
}

export interface HostileFleet extends LocalFleet {
  /** the action's Consul token (the contract's permissions) */
  consulToken: string
}

/** ACLs on (default deny); the action's token is SECRETS.consul with the contract's rules. */
export async function startHostileFleet(
  nodes: number | FleetNodeSpec[] = 2,
  extra: { lateNodes?: string[] } = {}
): Promise<HostileFleet> {
  const fleet = await startLocalFleet({
    nodes,
    kvPrefix: KV,
    serverRunsStretcher: false,
    acl: {
      ...(extra.lateNodes ? { lateNodes: extra.lateNodes } : {}),
      extraTokens: [
        {
          secretId: SECRETS.consul,
          rules: {
            key_prefix: { [`${KV}/`]: 'write' },
            event: { deploy: 'write' },
            session_prefix: { '': 'write' },
            node_prefix: { '': 'read' },
            service_prefix: { '': 'read' }
          }
        }
      ]
    }
  })
  return Object.assign(fleet, { consulToken: SECRETS.consul })
}

export async function withHostileFleet(
  nodes: number | FleetNodeSpec[],
  body: (fleet: HostileFleet) => Promise<void>,
  extra: { lateNodes?: string[] } = {}
): Promise<void> {
  const fleet = await startHostileFleet(nodes, extra)
  try {
    await body(fleet)
  } finally {
    await fleet.stop()
  }
}

// --- a stand-in GitHub API ----------------------------------------------------

let shared: Promise<FakeGitHub> | undefined

/** One stand-in GitHub API per test process; it never keeps the process alive. */
export function sharedGitHub(): Promise<FakeGitHub> {
  shared ??= startFakeGitHub({ unref: true })
  return shared
}

// --- a Consul proxy -----------------------------------------------------------

export interface ConsulProxy {
  readonly url: string
  /** raw targets of the requests seen, in order */
  readonly targets: string[]
  /** rewrite an answer's X-Consul-Index (return undefined to keep it) */
  rewriteIndex?: (target: string, index: number) => number | undefined
  /** hold the answer to this request for so many ms (0: none) */
  delay?: (target: string) => number
  /** let Consul handle this request, then reset the connection instead of answering */
  loseAnswer?: (method: string, target: string) => boolean
  stop(): Promise<void>
}

export async function startConsulProxy(upstream: string): Promise<ConsulProxy> {
  const target = new URL(upstream)
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const proxy: ConsulProxy = {
    url: '',
    targets: [],
    stop: async () => {}
  }
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers
      },
      (answer) => {
        if (proxy.loseAnswer?.(req.method ?? '', req.url ?? '')) {
          answer.resume()
          answer.on('end', () => req.socket.destroy())
          return
        }
        const headers = { ...answer.headers }
        const index = Number(headers['x-consul-index'])
        const rewritten =
          Number.isFinite(index) && proxy.rewriteIndex
            ? proxy.rewriteIndex(req.url ?? '', index)
            : undefined
        if (rewritten !== undefined) headers['x-consul-index'] = String(rewritten)
        res.writeHead(answer.statusCode ?? 502, headers)
        answer.pipe(res)
      }
    )
    up.on('error', () => req.socket.destroy())
    req.pipe(up)
  }
  const server = createServer((req, res) => {
    proxy.targets.push(`${req.method} ${req.url}`)
    const ms = proxy.delay?.(req.url ?? '') ?? 0
    if (ms <= 0) return forward(req, res)
    req.pause()
    const timer = setTimeout(() => {
      timers.delete(timer)
      forward(req, res)
    }, ms)
    timers.add(timer)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  Object.assign(proxy, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      for (const t of timers) clearTimeout(t)
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
  return proxy
}

// --- running the action -------------------------------------------------------

let attempt = 0

/** The runner's env for a deploy to `fleet` with both secrets set. */
export function runnerEnv(
  fleet: LocalFleet,
  workspace: string,
  github: FakeGitHub | undefined,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: String(++attempt),
    GITHUB_EVENT_NAME: 'push',
    // Nothing must reach the real GitHub: an unreachable loopback port by default.
    GITHUB_API_URL: github?.url ?? 'http://127.0.0.1:9',
    ...extra
  }
}

export function deployInputs(
  fleet: HostileFleet,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    path: 'build',
    's3-url': `s3://${fleet.s3.bucket}/releases`,
    's3-endpoint': fleet.s3.endpoint,
    'consul-addr': fleet.consul.url,
    'consul-token': fleet.consulToken,
    'github-token': SECRETS.github,
    dest: '/srv/web',
    'service-filter': '^web$',
    timeout: '20s',
    ...extra
  }
}

export async function deploy(
  fleet: HostileFleet,
  workspace: string,
  inputs: Record<string, string> = {},
  opts: {
    github?: FakeGitHub
    env?: Record<string, string>
    timeoutMs?: number
    onStdout?: (chunk: string) => void
    user?: { uid: number; gid: number }
  } = {}
): Promise<ActionRun> {
  const github = opts.github ?? (await sharedGitHub())
  return runAction(deployInputs(fleet, inputs), runnerEnv(fleet, workspace, github, opts.env), {
    timeoutMs: opts.timeoutMs ?? 60_000,
    post: true,
    user: opts.user,
    ...(opts.onStdout ? { onStdout: opts.onStdout } : {})
  })
}

// --- the checks every scenario ends with ---------------------------------------

/** Every KV entry, read with the management token. */
export async function allKv(fleet: LocalFleet): Promise<Array<{ key: string; value: string }>> {
  const res = await fetch(`${fleet.consul.url}/v1/kv/?recurse`, {
    headers: fleet.tokens ? { 'X-Consul-Token': fleet.tokens.management } : {}
  })
  if (res.status === 404) return []
  const entries = (await res.json()) as Array<{ Key: string; Value: string | null }>
  return entries.map((e) => ({
    key: e.Key,
    value: e.Value === null ? '' : Buffer.from(e.Value, 'base64').toString('utf8')
  }))
}

/** Every object s3rver holds in the bucket, by key. */
export async function allObjects(fleet: LocalFleet): Promise<Map<string, Buffer>> {
  const root = join(fleet.s3.directory, fleet.s3.bucket)
  const files = await readdir(root, { recursive: true }).catch(() => [] as string[])
  const objects = new Map<string, Buffer>()
  for (const file of files) {
    if (!file.endsWith('._S3rver_object')) continue
    objects.set(file.slice(0, -'._S3rver_object'.length), await readFile(join(root, file)))
  }
  return objects
}

/** Everything s3rver keeps on disk (objects, metadata, multipart parts), for the secret scan. */
async function allS3Files(fleet: LocalFleet): Promise<Array<{ name: string; data: Buffer }>> {
  const files = await readdir(fleet.s3.directory, { recursive: true, withFileTypes: true }).catch(
    () => []
  )
  const out: Array<{ name: string; data: Buffer }> = []
  for (const f of files) {
    if (!f.isFile()) continue
    const path = join(f.parentPath, f.name)
    out.push({ name: path, data: await readFile(path) })
  }
  return out
}

function withoutMaskCommands(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n')
}

/**
 * No secret in the run's stdout, stderr, summary, outputs, saved state, post
 * step, in any KV value, any S3 object, or any request body the stand-in GitHub
 * API received (the Consul token must not even be in its headers).
 */
export async function assertNoSecrets(
  run: ActionRun,
  fleet: LocalFleet,
  github?: FakeGitHub,
  extraSecrets: string[] = []
): Promise<{ places: number }> {
  github ??= shared ? await shared : undefined
  const secrets = [SECRETS.consul, SECRETS.github, ...extraSecrets]
  if (fleet.tokens) secrets.push(...fleet.tokens.nodes.values(), fleet.tokens.management)
  const places: Array<[string, string]> = [
    // ::add-mask:: is how a secret reaches the runner's masker; the runner never prints it.
    ['stdout', withoutMaskCommands(run.stdout)],
    ['stderr', run.stderr],
    ['summary', run.summary],
    ['outputs', JSON.stringify(run.outputs)],
    ['state', JSON.stringify(run.state)],
    ['post stdout', withoutMaskCommands(run.post?.stdout ?? '')],
    ['post stderr', run.post?.stderr ?? '']
  ]
  for (const { key, value } of await allKv(fleet)) places.push([`KV ${key}`, key + value])
  for (const { name, data } of await allS3Files(fleet))
    places.push([`S3 ${name}`, data.toString('latin1')])
  for (const r of github?.calls ?? []) {
    places.push([`GitHub ${r.method} ${r.url} body`, r.url + r.rawBody])
    const { authorization, ...headers } = r.headers
    places.push([`GitHub ${r.method} ${r.url} headers`, JSON.stringify(headers)])
    // The GitHub token belongs in Authorization; the Consul token nowhere.
    places.push([
      `GitHub ${r.method} ${r.url} authorization`,
      String(authorization).replace(SECRETS.github, '')
    ])
  }
  for (const [where, text] of places)
    for (const secret of secrets)
      assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) appears in ${where}`)
  return { places: places.length }
}

/**
 * `latest` either is absent, equals `expected`, or names a manifest that exists
 * in S3 whose archive exists with the checksum the manifest states; `deploy-id`
 * moves with it.
 */
export async function assertLatestComplete(
  fleet: LocalFleet,
  expected?: string | null
): Promise<void> {
  const kv = await allKv(fleet)
  const latest = kv.find((e) => e.key === `${KV}/latest`)?.value
  const deployId = kv.find((e) => e.key === `${KV}/deploy-id`)?.value
  if (expected !== undefined) assert.equal(latest ?? null, expected, 'latest')
  if (latest === undefined) {
    assert.equal(deployId, undefined, 'deploy-id without latest')
    return
  }
  const objects = await allObjects(fleet)
  const key = (url: string) => url.replace(`s3://${fleet.s3.bucket}/`, '')
  const manifest = objects.get(key(latest))?.toString('utf8')
  assert.ok(manifest, `latest names ${latest}, which is not in S3`)
  const src = /^src: (.+)$/m.exec(manifest)?.[1]?.replace(/^['"]|['"]$/g, '')
  const checksum = /^checksum: ['"]?([0-9a-f]{64})/m.exec(manifest)?.[1]
  assert.ok(src && checksum, `manifest ${latest} lacks src or checksum:\n${manifest}`)
  const archive = objects.get(key(src))
  assert.ok(archive, `manifest ${latest} names ${src}, which is not in S3`)
  assert.equal(createHash('sha256').update(archive).digest('hex'), checksum, 'archive checksum')
  assert.ok(deployId && latest.includes(deployId), `deploy-id ${deployId} does not match ${latest}`)
}

/** Requests that changed Consul state (anything but reads), from the emulator's log. */
export function consulWrites(fleet: LocalFleet, since = 0): string[] {
  return fleet.consul.requests
    .slice(since)
    .filter((r) => r.agent === SERVER_NODE && r.method !== 'GET' && r.status !== 0)
    .map((r) => `${r.method} ${r.path}`)
}

/**
 * Consul writes other than the deploy lock's own (session create/destroy, lock
 * acquire/release): what a failed publish must leave at none, since the lock is
 * taken before publishing and released on the way out.
 */
export function consulWritesBesidesLock(fleet: LocalFleet, since = 0): string[] {
  return consulWrites(fleet, since).filter(
    (w) =>
      !/^PUT \/v1\/session\/(create|destroy\/)|^PUT \/v1\/kv\/.*\/lock\?(acquire|release)=/.test(w)
  )
}
