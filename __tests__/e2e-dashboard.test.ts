// consul-kv-dashboard end to end (contract 11): a deploy through dist/index.js
// with `dashboard: dashboard` and ACLs on; the fleet's stretcher nodes run the
// rendered manifest's commands (sh + curl) with their own tokens. The entries
// are read as the dashboard reads them: with no token, `?recurse` under the
// category, and the catalog to keep only known nodes (dashboard.go kvApiProxy,
// itemInCatalog).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { CLI, runAction } from '../fleet/run-action.ts'

const KV = 'stretcher/web'
let work: string

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-dashboard-'))
  await mkdir(join(work, 'build'), { recursive: true })
  await writeFile(join(work, 'build', 'index.html'), 'hello\n')
})
after(() => rm(work, { recursive: true, force: true }))

function deploy(fleet: LocalFleet) {
  return runAction(
    {
      path: 'build',
      's3-url': `s3://${fleet.s3.bucket}/releases`,
      's3-endpoint': fleet.s3.endpoint,
      'consul-addr': fleet.consul.url,
      'consul-token': fleet.tokens!.action,
      dest: '/srv/web',
      'service-filter': '^web$',
      'max-failures': '1',
      timeout: '20s',
      dashboard: 'dashboard'
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
      GITHUB_RUN_ID: '31',
      GITHUB_RUN_ATTEMPT: '1'
    }
  )
}

const STATUS = ['success', 'warning', 'danger', 'info']

/** The `deploy` tab as consul-kv-dashboard builds it, reading Consul with no token. */
async function dashboardTab(fleet: LocalFleet, token?: string) {
  const headers: Record<string, string> = token ? { 'X-Consul-Token': token } : {}
  const res = await fetch(`${fleet.consul.url}/v1/kv/dashboard/deploy?recurse`, { headers })
  if (res.status === 404) return []
  assert.equal(res.status, 200)
  const catalog = (await (
    await fetch(`${fleet.consul.url}/v1/catalog/nodes`, { headers })
  ).json()) as Array<{
    Node: string
  }>
  const known = new Set(catalog.map((n) => n.Node))
  const pairs = (await res.json()) as Array<{ Key: string; Flags: number; Value: string }>
  return pairs
    .map((kv) => {
      const path = kv.Key.split('/')
      return {
        category: path[1],
        node: path[2],
        key: path[3],
        timestamp: Math.trunc(kv.Flags / 1000),
        status: STATUS[kv.Flags % 1000],
        data: Buffer.from(kv.Value ?? '', 'base64').toString('utf8')
      }
    })
    .filter((item) => known.has(item.node ?? ''))
}

test('node tokens with key:write on dashboard/deploy/: every node shows on the dashboard, green or red; status and history with a read-only token', async () => {
  await withLocalFleet(
    {
      nodes: [{ name: 'node-1' }, { name: 'node-2', fail: true }],
      kvPrefix: KV,
      serverRunsStretcher: false,
      acl: {
        dashboard: 'dashboard',
        // README "Status and history": what an operator's token needs, and no more
        extraTokens: [
          {
            secretId: 'ops-read',
            rules: {
              key_prefix: { [`${KV}/`]: 'read' },
              node_prefix: { '': 'read' },
              service_prefix: { '': 'read' }
            }
          }
        ]
      }
    },
    async (fleet) => {
      const t0 = Math.floor(Date.now() / 1000)
      const run = await deploy(fleet)
      assert.equal(run.code, 0, run.stdout)
      const id = run.outputs['deploy-id']!
      const tab = await dashboardTab(fleet)
      const t1 = Math.floor(Date.now() / 1000)
      assert.deepEqual(
        tab.map(({ timestamp, ...rest }) => {
          assert.ok(timestamp >= t0 && timestamp <= t1, `${timestamp} in [${t0}, ${t1}]`)
          return rest
        }),
        [
          {
            category: 'deploy',
            node: 'node-1',
            key: 'web',
            status: 'success',
            data: `deploy ${id}: success`
          },
          {
            category: 'deploy',
            node: 'node-2',
            key: 'web',
            status: 'danger',
            data: `deploy ${id}: failure (log in ${KV}/logs/node-2)`
          }
        ]
      )

      // status and history with the read-only token the README documents
      const cli = (...args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            [CLI, ...args, '--app', 'web', '--consul-addr', fleet.consul.url, '--json'],
            { env: { PATH: process.env.PATH ?? '', CONSUL_HTTP_TOKEN: 'ops-read' } },
            (error, stdout, stderr) =>
              resolve({
                code: error ? ((error.code as number | undefined) ?? 1) : 0,
                stdout,
                stderr
              })
          )
        })
      const status = await cli('status', '--service-filter', '^web$')
      assert.equal(status.code, 1, status.stderr)
      assert.deepEqual(
        (
          JSON.parse(status.stdout) as { nodes: Array<{ node: string; standing: string }> }
        ).nodes.map((n) => [n.node, n.standing]),
        [
          ['node-2', 'failed'],
          ['node-1', 'current']
        ]
      )
      const history = await cli('history')
      assert.equal(history.code, 0, history.stderr)
      assert.deepEqual(
        (
          JSON.parse(history.stdout) as { releases: Array<{ deploy_id: string; current: boolean }> }
        ).releases.map((r) => [r.deploy_id, r.current]),
        [[id, true]]
      )
    }
  )
})

test('node tokens without the dashboard rule: the deploy and its verdict are unaffected; the entry is missing and stretcher logs why', async () => {
  await withLocalFleet(
    { nodes: 2, kvPrefix: KV, serverRunsStretcher: false, acl: {} },
    async (fleet) => {
      const run = await deploy(fleet)
      assert.equal(run.code, 0, run.stdout)
      assert.equal(run.outputs['nodes-succeeded'], '2')
      assert.deepEqual(await dashboardTab(fleet, fleet.tokens!.management), [])
      for (const name of ['node-1', 'node-2']) {
        const record = fleet.nodes.get(name)!.lastRun!
        assert.equal(record.status, 'success')
        assert.match(
          record.reportOutput,
          new RegExp(
            `stretcher-action: could not write dashboard/deploy/${name}/web for consul-kv-dashboard \\(the node token needs key:write on dashboard/deploy/\\)`
          )
        )
      }
    }
  )
})
