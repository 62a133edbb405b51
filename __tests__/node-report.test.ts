// The reporting commands really run with sh and curl against the Consul
// emulator, as a node's stretcher runs them (sh -c, log on stdin).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { failureCommands, LOG_TAIL_BYTES, successCommands } from '../src/node-report.ts'

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
