// The reporting commands really run with sh and curl against the Consul
// emulator, as a node's stretcher runs them (sh -c, log on stdin).
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { startSerfAgents } from '../fleet/serf/agents.ts'
import type { SerfAgents } from '../fleet/serf/agents.ts'
import { freePort } from '../fleet/serf/free-port.ts'
import {
  failureCommands,
  LOG_TAIL_BYTES,
  SERF_TAG_RESEND_S,
  SERF_TAGS_MAX_BYTES,
  serfFailureCommands,
  serfSuccessCommands,
  successCommands
} from '../src/publish/manifest/node-report.ts'
import type { NodeReportOptions } from '../src/publish/manifest/node-report.ts'
import { parseSerfResult, serfResultTagName } from '../src/shared/serf-result-tag.ts'

const execFileAsync = promisify(execFile)
const ID = '20261122-021441-3f9c2ab-r7.1'
const PREFIX = 'stretcher/web'
const NODE_TOKEN = 'node-token-7f3a'

let open: ConsulEmulator
let acl: ConsulEmulator

before(async () => {
  const nodes = [
    { name: 'web-1', services: [{ name: 'web' }] },
    { name: 'web-2', services: [{ name: 'web' }] }
  ]
  open = await startConsulEmulator({ nodes })
  acl = await startConsulEmulator({
    nodes,
    acl: {
      defaultPolicy: 'deny',
      tokens: [
        {
          secretId: NODE_TOKEN,
          // contract 6: a node's token
          rules: {
            key_prefix: { [`${PREFIX}/results/`]: 'write', [`${PREFIX}/logs/`]: 'write' },
            agent_prefix: { '': 'read' },
            event_prefix: { '': 'read' }
          }
        }
      ]
    }
  })
})
after(async () => {
  await open.stop()
  await acl.stop()
})

/** Run one command as stretcher does: `sh -c line`, the log on stdin. */
function sh(
  line: string,
  env: Record<string, string>,
  stdin = ''
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', line], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.stdin.on('error', () => undefined)
    child.stdin.end(stdin)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

async function runAll(lines: string[], env: Record<string, string>, stdin = '') {
  for (const line of lines) {
    const r = await sh(line, env, stdin)
    if (r.code !== 0) return r
  }
  return { code: 0, stderr: '' }
}

describe('reporting commands (sh + curl)', () => {
  test("success writes the result JSON under the agent's own NodeName", async () => {
    const before = Math.floor(Date.now() / 1000)
    const r = await runAll(successCommands({ kvPrefix: PREFIX, deployId: ID }), {
      CONSUL_HTTP_ADDR: open.agentUrl('web-2')
    })
    assert.equal(r.code, 0, r.stderr)
    const entry = open.kv(`${PREFIX}/results/web-2`)
    assert.ok(entry, 'result written')
    const result = JSON.parse(entry.value?.toString() ?? '') as Record<string, unknown>
    assert.equal(result.deploy_id, ID)
    assert.equal(result.status, 'success')
    assert.equal(result.node, 'web-2')
    assert.ok(typeof result.at === 'number' && result.at >= before && result.at <= before + 60)
    assert.equal(open.kv(`${PREFIX}/results/web-1`), undefined)
  })

  test('a bare host:port CONSUL_HTTP_ADDR is read as http, as the Consul CLI does', async () => {
    const hostPort = open.agentUrl('web-1').replace('http://', '')
    const r = await runAll(successCommands({ kvPrefix: PREFIX, deployId: ID }), {
      CONSUL_HTTP_ADDR: hostPort
    })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(
      JSON.parse(open.kv(`${PREFIX}/results/web-1`)?.value?.toString() ?? '{}').node,
      'web-1'
    )
  })

  test('failure stores at most the last 64 KiB of the log, then the failure result', async () => {
    const log =
      Array.from(
        { length: 3000 },
        (_, i) => `2026/11/22 02:14:41 line ${i} ${'x'.repeat(40)}`
      ).join('\n') + '\nrsync: failed to set permissions\n'
    assert.ok(Buffer.byteLength(log) > LOG_TAIL_BYTES)
    const r = await runAll(
      failureCommands({ kvPrefix: PREFIX, deployId: ID }),
      { CONSUL_HTTP_ADDR: open.agentUrl('web-1') },
      log
    )
    assert.equal(r.code, 0, r.stderr)
    const stored = open.kv(`${PREFIX}/logs/web-1`)?.value?.toString() ?? ''
    assert.equal(Buffer.byteLength(stored), LOG_TAIL_BYTES)
    assert.ok(log.endsWith(stored))
    assert.equal(
      JSON.parse(open.kv(`${PREFIX}/results/web-1`)?.value?.toString() ?? '{}').status,
      'failure'
    )
  })

  test('with ACLs: CONSUL_HTTP_TOKEN is sent; without it the write is refused and the command fails', async () => {
    const env = { CONSUL_HTTP_ADDR: acl.agentUrl('web-1') }
    const denied = await runAll(successCommands({ kvPrefix: PREFIX, deployId: ID }), env)
    assert.notEqual(denied.code, 0)
    assert.equal(acl.kv(`${PREFIX}/results/web-1`), undefined)
    const ok = await runAll(successCommands({ kvPrefix: PREFIX, deployId: ID }), {
      ...env,
      CONSUL_HTTP_TOKEN: NODE_TOKEN
    })
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(
      JSON.parse(acl.kv(`${PREFIX}/results/web-1`)?.value?.toString() ?? '{}').deploy_id,
      ID
    )
  })

  test('a lost log write does not lose the result (stretcher stops a list at a failing command)', async () => {
    // A token that may write results/ but not logs/.
    const narrow = await startConsulEmulator({
      nodes: [{ name: 'web-1' }],
      acl: {
        defaultPolicy: 'deny',
        tokens: [
          {
            secretId: 'narrow',
            rules: { key_prefix: { [`${PREFIX}/results/`]: 'write' }, agent_prefix: { '': 'read' } }
          }
        ]
      }
    })
    try {
      const lines = failureCommands({ kvPrefix: PREFIX, deployId: ID })
      const env = { CONSUL_HTTP_ADDR: narrow.agentUrl('web-1'), CONSUL_HTTP_TOKEN: 'narrow' }
      const r = await runAll(lines, env, 'the log\n')
      assert.equal(r.code, 0, r.stderr)
      assert.equal(narrow.kv(`${PREFIX}/logs/web-1`), undefined)
      assert.equal(
        JSON.parse(narrow.kv(`${PREFIX}/results/web-1`)?.value?.toString() ?? '{}').status,
        'failure'
      )
    } finally {
      await narrow.stop()
    }
  })

  test("no {{ of the action's own (stretcher evaluates manifests as Go templates)", () => {
    for (const line of [
      ...successCommands({ kvPrefix: PREFIX, deployId: ID }),
      ...failureCommands({ kvPrefix: PREFIX, deployId: ID })
    ]) {
      assert.ok(!line.includes('{{'), line)
    }
  })

  test('refuses a deploy ID or prefix that could escape the shell', () => {
    assert.throws(() => successCommands({ kvPrefix: PREFIX, deployId: "x'; rm -rf /" }), /not safe/)
    assert.throws(() => failureCommands({ kvPrefix: 'a b', deployId: ID }), /not safe/)
  })
})

// consul-kv-dashboard (contract 11). The dashboard reads `/v1/kv/<ns>/<category>?recurse`
// with no token (dashboard.go kvApiProxy, callConsulAPI) and turns each pair into an
// item in KVPair.NewItem (dashboard.go:67-84): this is that function, line for line.
const STATUS_NAMES = ['success', 'warning', 'danger', 'info']
function dashboardItem(kv: { Key: string; Flags: number; Value: string | null }) {
  const path = kv.Key.split('/')
  const status = kv.Flags % 1000
  return {
    category: path[1],
    node: path.length >= 3 ? path[2] : '',
    key: path.length >= 4 ? path[3] : '',
    // time.Unix(kv.Flags/1000, 0): integer division
    timestamp: Math.trunc(kv.Flags / 1000),
    status: STATUS_NAMES[status] ?? String(status),
    data: Buffer.from(kv.Value ?? '', 'base64').toString('utf8')
  }
}

describe('consul-kv-dashboard entries (dashboard: dashboard), with ACLs on', () => {
  const DASH_TOKEN = 'node-token-dash'
  const DASHBOARD = { namespace: 'dashboard', app: 'web' }
  const opts: NodeReportOptions = { kvPrefix: PREFIX, deployId: ID, dashboard: DASHBOARD }
  let consul: ConsulEmulator
  before(async () => {
    consul = await startConsulEmulator({
      nodes: [
        { name: 'web-1', services: [{ name: 'web' }] },
        { name: 'web-2', services: [{ name: 'web' }] }
      ],
      acl: {
        defaultPolicy: 'deny',
        tokens: [
          {
            // README: the node token grows key:write on <dashboard>/deploy/
            secretId: DASH_TOKEN,
            rules: {
              key_prefix: {
                [`${PREFIX}/results/`]: 'write',
                [`${PREFIX}/logs/`]: 'write',
                'dashboard/deploy/': 'write'
              },
              agent_prefix: { '': 'read' },
              event_prefix: { '': 'read' }
            }
          },
          {
            // the contract's node token as it was, without the dashboard rule
            secretId: NODE_TOKEN,
            rules: {
              key_prefix: { [`${PREFIX}/results/`]: 'write', [`${PREFIX}/logs/`]: 'write' },
              agent_prefix: { '': 'read' },
              event_prefix: { '': 'read' }
            }
          },
          // README: the dashboard sends no token, so anonymous reads its namespace
          { secretId: 'anonymous', rules: { key_prefix: { 'dashboard/': 'read' } } }
        ]
      }
    })
  })
  after(() => consul.stop())

  /** What the dashboard shows for category `deploy`, read as it reads it. */
  async function dashboardShows() {
    const res = await fetch(`${consul.url}/v1/kv/dashboard/deploy?recurse`)
    if (res.status === 404) return []
    assert.equal(res.status, 200, await res.clone().text())
    const pairs = (await res.json()) as Array<{ Key: string; Flags: number; Value: string | null }>
    return pairs.map((kv) => ({ raw: kv, item: dashboardItem(kv) }))
  }

  test('success: <dashboard>/deploy/<node>/<app>, flags = unix seconds × 1000 + 0, a one-line value', async () => {
    const t0 = Math.floor(Date.now() / 1000)
    const r = await runAll(successCommands(opts), {
      CONSUL_HTTP_ADDR: consul.agentUrl('web-1'),
      CONSUL_HTTP_TOKEN: DASH_TOKEN
    })
    assert.equal(r.code, 0, r.stderr)
    const t1 = Math.floor(Date.now() / 1000)
    const shown = await dashboardShows()
    assert.equal(shown.length, 1)
    const { raw, item } = shown[0]!
    assert.equal(raw.Key, 'dashboard/deploy/web-1/web')
    assert.equal(raw.Flags % 1000, 0)
    assert.deepEqual(
      { ...item, timestamp: undefined },
      {
        category: 'deploy',
        node: 'web-1',
        key: 'web',
        timestamp: undefined,
        status: 'success',
        data: `deploy ${ID}: success`
      }
    )
    assert.ok(item.timestamp >= t0 && item.timestamp <= t1, `${item.timestamp} in [${t0}, ${t1}]`)
    // the result the action waits for is there too, first
    assert.equal(
      JSON.parse(consul.kv(`${PREFIX}/results/web-1`)?.value?.toString() ?? '{}').status,
      'success'
    )
  })

  test('failure: flags = unix seconds × 1000 + 2 (danger); the value names the log key', async () => {
    const t0 = Math.floor(Date.now() / 1000)
    const r = await runAll(
      failureCommands(opts),
      { CONSUL_HTTP_ADDR: consul.agentUrl('web-2'), CONSUL_HTTP_TOKEN: DASH_TOKEN },
      'rsync: failed\n'
    )
    assert.equal(r.code, 0, r.stderr)
    const shown = await dashboardShows()
    const web2 = shown.find((s) => s.raw.Key === 'dashboard/deploy/web-2/web')
    assert.ok(web2, JSON.stringify(shown))
    assert.equal(web2.raw.Flags % 1000, 2)
    assert.equal(web2.item.status, 'danger')
    assert.equal(web2.item.node, 'web-2')
    assert.equal(web2.item.key, 'web')
    assert.ok(web2.item.timestamp >= t0 && web2.item.timestamp <= t0 + 60)
    assert.equal(web2.item.data, `deploy ${ID}: failure (log in ${PREFIX}/logs/web-2)`)
    assert.ok(!web2.item.data.includes('\n'), 'one line')
    assert.equal(consul.kv(`${PREFIX}/logs/web-2`)?.value?.toString(), 'rsync: failed\n')
  })

  test('a node token without key:write on <dashboard>/deploy/: the result is written, the dashboard command fails saying what the token needs', async () => {
    // Run the lists as stretcher does (command.go: a failing command ends the list, logged).
    for (const [lines, node] of [
      [successCommands(opts), 'web-1'],
      [failureCommands(opts), 'web-2']
    ] as const) {
      const before = consul.kv(`dashboard/deploy/${node}/web`)?.modifyIndex
      // Start from no result: a write repeating the last one byte for byte (the same
      // second) keeps its index in Consul, and would look like no write at all.
      const cleared = await fetch(`${consul.agentUrl(node)}/v1/kv/${PREFIX}/results/${node}`, {
        method: 'DELETE',
        headers: { 'X-Consul-Token': DASH_TOKEN }
      })
      assert.equal(cleared.status, 200)
      assert.equal(consul.kv(`${PREFIX}/results/${node}`), undefined)
      const env = { CONSUL_HTTP_ADDR: consul.agentUrl(node), CONSUL_HTTP_TOKEN: NODE_TOKEN }
      const results: Array<{ code: number | null; stderr: string }> = []
      for (const line of lines) results.push(await sh(line, env, 'log\n'))
      const last = results.pop()!
      for (const r of results) assert.equal(r.code, 0, r.stderr)
      assert.notEqual(last.code, 0, 'the dashboard command is the one that fails, and the last')
      assert.match(
        last.stderr,
        new RegExp(
          `stretcher-action: could not write dashboard/deploy/${node}/web for consul-kv-dashboard \\(the node token needs key:write on dashboard/deploy/\\)`
        )
      )
      assert.equal(consul.kv(`dashboard/deploy/${node}/web`)?.modifyIndex, before, 'not written')
      const result = consul.kv(`${PREFIX}/results/${node}`)
      assert.ok(result, 'the result was written')
      assert.equal(JSON.parse(result?.value?.toString() ?? '{}').deploy_id, ID)
    }
  })

  test('without dashboard, nothing is appended; namespace and app must be one safe segment', () => {
    assert.equal(successCommands({ kvPrefix: PREFIX, deployId: ID }).length, 1)
    assert.equal(failureCommands({ kvPrefix: PREFIX, deployId: ID }).length, 2)
    assert.equal(successCommands(opts).length, 2)
    assert.equal(failureCommands(opts).length, 3)
    for (const line of [...successCommands(opts), ...failureCommands(opts)])
      assert.ok(!line.includes('{{'), line)
    for (const dashboard of [
      { namespace: 'a/b', app: 'web' },
      { namespace: 'dashboard', app: "w'eb" },
      { namespace: '..', app: 'web' }
    ])
      assert.throws(() => successCommands({ ...opts, dashboard }), /not one safe KV path segment/)
  })
})

// Serf clusters (contract 13): the commands run with sh -c, as stretcher runs
// them, against real agents (Debian's serf); the tag is read back with `serf
// members` on another node, as gossip spreads it.
describe('Serf reporting commands (backend serf): the stretcher-<app> tag', () => {
  const AUTH = 'rpc-key-5b1e'
  const APP = 'web'
  let agents: SerfAgents

  before(async () => {
    agents = await startSerfAgents({ nodes: 2, rpcAuth: AUTH, profile: 'local' })
  })
  after(() => agents?.stop())

  /** node-1's agent, as the node's handler sees it */
  const nodeEnv = (extra: Record<string, string> = {}) => ({
    SERF_RPC_ADDR: agents.rpcAddr('node-1'),
    SERF_RPC_AUTH: AUTH,
    ...extra
  })

  /** node-1's `stretcher-<app>` tag as `serf members` on node-2 shows it, once it equals `want`. */
  async function tagSeen(want: string | RegExp, ms = 30_000): Promise<string | undefined> {
    const deadline = Date.now() + ms
    let last: string | undefined
    for (;;) {
      const out = await execFileAsync('serf', [
        'members',
        '-format=json',
        `-rpc-addr=${agents.rpcAddr('node-2')}`,
        `-rpc-auth=${AUTH}`,
        '-name=node-1'
      ])
      const members = JSON.parse(out.stdout).members as Array<{ tags: Record<string, string> }>
      last = members[0]?.tags[serfResultTagName(APP)]
      const matches = typeof want === 'string' ? last === want : want.test(last ?? '')
      if (matches || Date.now() >= deadline) return last
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** node-1's agent clocks, as `serf info` shows them */
  async function clocks(): Promise<{ event: number; query: number }> {
    const out = await execFileAsync('serf', [
      'info',
      '-format=json',
      `-rpc-addr=${agents.rpcAddr('node-1')}`,
      `-rpc-auth=${AUTH}`
    ])
    const serf = JSON.parse(out.stdout).serf as Record<string, string>
    return { event: Number(serf.event_time), query: Number(serf.query_time) }
  }

  test('success after a user event: <deploy-id>:success:<SERF_USER_LTIME>, spread to the other node', async () => {
    const r = await runAll(
      serfSuccessCommands({ app: APP, deployId: ID }),
      nodeEnv({ SERF_USER_LTIME: '42', SERF_EVENT: 'user', SERF_USER_EVENT: 'deploy' })
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await tagSeen(`${ID}:success:42`), `${ID}:success:42`)
    assert.deepEqual(parseSerfResult(`${ID}:success:42`), {
      deployId: ID,
      status: 'success',
      clock: { kind: 'event', time: 42 }
    })
  })

  test('failure after a query: the query clock, marked q; the log is not sent anywhere', async () => {
    const r = await runAll(
      serfFailureCommands({ app: APP, deployId: ID }),
      nodeEnv({ SERF_QUERY_LTIME: '7', SERF_EVENT: 'query', SERF_QUERY_NAME: 'deploy' }),
      'the whole stretcher log\n'
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await tagSeen(`${ID}:failure:q7`), `${ID}:failure:q7`)
    assert.deepEqual(parseSerfResult(`${ID}:failure:q7`), {
      deployId: ID,
      status: 'failure',
      clock: { kind: 'query', time: 7 }
    })
    assert.equal(serfFailureCommands({ app: APP, deployId: ID }).length, 1)
  })

  test('layout: releases: the phase is the fourth field, prepare and switch alike', async () => {
    for (const [phase, run] of [
      ['prepare', serfSuccessCommands],
      ['switch', serfFailureCommands]
    ] as const) {
      const r = await runAll(
        run({ app: APP, deployId: ID, phase }),
        nodeEnv({ SERF_USER_LTIME: '51' }),
        'log\n'
      )
      assert.equal(r.code, 0, r.stderr)
      const status = phase === 'prepare' ? 'success' : 'failure'
      const want = `${ID}:${status}:51:${phase}`
      assert.equal(await tagSeen(want), want)
      assert.deepEqual(parseSerfResult(want), {
        deployId: ID,
        status,
        clock: { kind: 'event', time: 51 },
        phase
      })
    }
  })

  test('at boot or by hand (no event): the agent’s own clocks, <event>q<query>; a malformed clock is 0', async () => {
    const before = await clocks()
    assert.equal(
      (await runAll(serfSuccessCommands({ app: APP, deployId: 'boot-1' }), nodeEnv())).code,
      0
    )
    const seen = await tagSeen(/^boot-1:success:\d+q\d+$/)
    const boot = parseSerfResult(seen)
    assert.ok(typeof boot !== 'string' && boot.clock.kind === 'boot', String(seen))
    // the clocks as the agent had them when the node reported: at or above those read before
    assert.ok(boot.clock.event >= before.event && boot.clock.query >= before.query, seen)
    const after = await clocks()
    assert.ok(boot.clock.event <= after.event && boot.clock.query <= after.query, seen)
    for (const env of [{ SERF_USER_LTIME: '4q2' }, { SERF_QUERY_LTIME: 'x' }] as Array<
      Record<string, string>
    >) {
      assert.equal(
        (await runAll(serfSuccessCommands({ app: APP, deployId: 'boot-2' }), nodeEnv(env))).code,
        0
      )
      assert.equal(await tagSeen('boot-2:success:0'), 'boot-2:success:0')
      await runAll(
        serfSuccessCommands({ app: APP, deployId: 'boot-3' }),
        nodeEnv({ SERF_USER_LTIME: '1' })
      )
      assert.equal(await tagSeen('boot-3:success:1'), 'boot-3:success:1')
    }
  })

  test('sets the tag again a few seconds later while it holds this result, never over a newer one', async () => {
    const tagsFile = join(agents.nodeDir('node-1'), 'tags.json')
    const r = await runAll(
      serfSuccessCommands({ app: APP, deployId: 'again-1' }),
      nodeEnv({ SERF_USER_LTIME: '60' })
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await tagSeen('again-1:success:60'), 'again-1:success:60')
    // the agent rewrites its -tags-file at every `tags -set`, same value or not
    const first = (await stat(tagsFile)).mtimeMs
    const deadline = Date.now() + (SERF_TAG_RESEND_S[0] + 10) * 1000
    while ((await stat(tagsFile)).mtimeMs === first && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100))
    assert.notEqual((await stat(tagsFile)).mtimeMs, first, 'the tag was not set again')
    assert.equal(await tagSeen('again-1:success:60'), 'again-1:success:60')
    // a later deploy's result (here set by hand) stays
    await execFileAsync('serf', [
      'tags',
      `-rpc-addr=${agents.rpcAddr('node-1')}`,
      `-rpc-auth=${AUTH}`,
      '-set',
      `${serfResultTagName(APP)}=again-2:success:61`
    ])
    const last = SERF_TAG_RESEND_S[SERF_TAG_RESEND_S.length - 1]!
    await new Promise((resolve) => setTimeout(resolve, (last - SERF_TAG_RESEND_S[0] + 2) * 1000))
    assert.equal(await tagSeen('again-2:success:61', 0), 'again-2:success:61')
  })

  test('never holds up the handler: returns at once with its pipes closed while the agent hangs', async () => {
    await agents.pause('node-1')
    try {
      const started = Date.now()
      const [line] = serfSuccessCommands({ app: APP, deployId: 'while-paused' })
      // stdout and stderr are pipes, as stretcher's and the agent's are: 'close'
      // fires only once every holder of them has exited or closed them.
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn('sh', ['-c', line!], {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...nodeEnv({ SERF_USER_LTIME: '9' }) },
          stdio: ['pipe', 'pipe', 'pipe']
        })
        // sh may exit before it reads stdin (the command never does): EPIPE is no failure.
        child.stdin.on('error', () => {})
        child.stdin.end('log\n')
        child.on('close', resolve)
      })
      assert.equal(code, 0)
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
    } finally {
      await agents.resume('node-1')
    }
    // the background command was waiting: it sets the tag once the agent answers
    assert.equal(await tagSeen('while-paused:success:9'), 'while-paused:success:9')
  })

  test('an unreachable agent does not fail the deploy; a node without serf says so', async () => {
    const dead = await runAll(serfSuccessCommands({ app: APP, deployId: ID }), {
      SERF_RPC_ADDR: `127.0.0.1:${await freePort()}`,
      SERF_USER_LTIME: '3'
    })
    assert.equal(dead.code, 0, dead.stderr)
    // a PATH with sh and nothing else
    const bin = await mkdtemp(join(tmpdir(), 'node-report-bin-'))
    await symlink('/bin/sh', join(bin, 'sh'))
    const noSerf = await sh(serfSuccessCommands({ app: APP, deployId: ID })[0]!, {
      PATH: bin,
      SERF_USER_LTIME: '3'
    }).finally(() => rm(bin, { recursive: true, force: true }))
    assert.equal(noSerf.code, 1)
    assert.match(
      noSerf.stderr,
      /^stretcher-action: serf is not on PATH: cannot set the tag stretcher-web\n$/
    )
  })

  test('shell- and template-safe; the tag fits Serf’s 512-byte limit with room to spare', () => {
    assert.throws(() => serfSuccessCommands({ app: APP, deployId: "x'; rm -rf /" }), /not safe/)
    assert.throws(() => serfFailureCommands({ app: "w'b", deployId: ID }), /not safe/)
    for (const line of [
      ...serfSuccessCommands({ app: APP, deployId: ID }),
      ...serfFailureCommands({ app: APP, deployId: ID })
    ])
      assert.ok(!line.includes('{{'), line)
    // the longest app (64) and deploy ID (48), a 20-digit clock: key and value as msgpack strings
    const key = serfResultTagName('a'.repeat(64))
    const value = `${'d'.repeat(48)}:failure:${'9'.repeat(15)}q${'9'.repeat(15)}:prepare`
    assert.ok(key.length + value.length + 4 < SERF_TAGS_MAX_BYTES / 2, `${key}=${value}`)
  })
})
