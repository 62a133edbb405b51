// What the fleet writes is untrusted: results and logs come from any holder of a
// node token. End to end through dist/index.js, a hostile writer answers for
// the nodes mid-wait: garbage, another deploy's ID, a second report, a node
// outside the targets named like a workflow command, and a huge log full of
// terminal escapes, HTML, markdown and workflow commands. The verdict counts
// only what it should; everything shown is bounded and escaped.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { HostileFleet } from './helpers/hostile.ts'
import {
  KV,
  assertLatestComplete,
  assertNoSecrets,
  deploy,
  withHostileFleet
} from './helpers/hostile.ts'
import { startFakeGitHub } from '../fleet/github-api.ts'
import { makeSampleBuild } from './helpers/trees.ts'

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-untrusted-'))
  await makeSampleBuild(join(work, 'build'))
})
after(() => rm(work, { recursive: true, force: true }))

const GHOST = '::error::pwned-name'

function hostileLog(): string {
  const nasty = [
    '::error::pwned-log',
    '  ::set-output name=deploy-id::forged',
    '##[error]legacy-command',
    '\x1b]8;;http://evil.example\x07osc-link\x1b]8;;\x07',
    '\x1b[31mred\x1b[0m \x1b[2J cleared',
    '<script>alert(1)</script> <img src=x onerror=alert(2)>',
    '[click me](http://evil.example) ![img](http://evil.example/x.png)',
    '| forged | table |',
    '</details></code></pre> @everyone',
    '\u009b31m c1-csi'
  ]
  const filler = 'x'.repeat(900)
  const lines: string[] = []
  // ~400 KB: far more than the 64 KiB a node keeps, and under Consul's 512 KiB
  for (let i = 0; lines.join('\n').length < 400_000; i++)
    lines.push(i % 7 === 0 ? filler : nasty[i % nasty.length]!)
  return [...lines, ...nasty].join('\n')
}

async function put(fleet: HostileFleet, key: string, value: string): Promise<void> {
  const res = await fetch(
    `${fleet.consul.url}/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`,
    {
      method: 'PUT',
      headers: { 'X-Consul-Token': fleet.tokens!.management },
      body: value
    }
  )
  assert.equal(res.status, 200, await res.text())
}

/** Whether the action sent a results read blocking at `index` or later (so it holds every write up to it). */
function actionReadResultsSince(fleet: HostileFleet, index: number): boolean {
  return fleet.consul.arrivals.some((a) => {
    if (a.method !== 'GET' || !a.path.startsWith(`/v1/kv/${KV}/results`)) return false
    const sent = new URL(a.path, 'http://agent').searchParams.get('index')
    return sent !== null && BigInt(sent) >= BigInt(index)
  })
}

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe(
  'untrusted data from the fleet (dist/index.js)',
  { concurrency: 2, timeout: 120_000 },
  () => {
    test('garbage, other deploys, second reports and forged nodes count as they should; hostile text is bounded and inert', async () => {
      const nodes = [
        { name: 'node-1', fail: true },
        { name: 'node-2', deaf: true },
        { name: 'node-3', deaf: true },
        { name: 'node-4' },
        { name: 'node-5', delayMs: 1500 }
      ]
      await withHostileFleet(nodes, async (fleet) => {
        const github = await startFakeGitHub()
        let forging: Promise<void> | undefined
        let out = ''
        const result = (n: string) => fleet.consul.kv(`${KV}/results/${n}`)
        const forge = async (id: string) => {
          await until(() => result('node-1') !== undefined && result('node-4') !== undefined)
          // Forge only once the action has read node-4's first report: its next
          // results read carries an index at or above that report's ModifyIndex,
          // and it sends that index only after applying the answer that held it.
          const seen = result('node-4')!.modifyIndex
          await until(() => actionReadResultsSince(fleet, seen))
          await put(fleet, `${KV}/logs/node-1`, hostileLog())
          await put(fleet, `${KV}/results/node-2`, 'not json <b>bold</b>\x1b[2J')
          await put(
            fleet,
            `${KV}/results/node-3`,
            JSON.stringify({
              deploy_id: 'someone-else-1',
              status: 'success',
              node: 'node-3',
              at: 1
            })
          )
          // node-4 reported success; a second report must not flip it
          await put(
            fleet,
            `${KV}/results/node-4`,
            JSON.stringify({ deploy_id: id, status: 'failure', node: 'node-4', at: 2 })
          )
          await put(
            fleet,
            `${KV}/results/${GHOST}`,
            JSON.stringify({ deploy_id: id, status: 'failure', node: GHOST, at: 3 })
          )
        }
        try {
          const run = await deploy(
            fleet,
            work,
            { 'max-failures': '1', timeout: '6s', 'deploy-id': 'hostile-1' },
            {
              github,
              onStdout: (chunk) => {
                out += chunk
                if (!forging && /fired event/.test(out)) forging = forge('hostile-1')
              }
            }
          )
          await forging
          assert.equal(run.code, 1, run.stdout)

          // No workflow command from the fleet reached the runner: one error, the verdict.
          assert.equal(run.errors.length, 1, run.errors.join('\n'))
          assert.match(run.errors[0] as string, /^\d\/\d nodes on hostile-1, /)
          assert.match(run.errors[0] as string, /failed: .*node-1/)
          for (const line of run.stdout.split('\n')) {
            const t = line.trim()
            if (t.startsWith('::error::') || t.startsWith('::set-output') || t.startsWith('##['))
              assert.ok(
                t === `::error::${run.errors[0]}`,
                `a fleet line became a workflow command: ${line}`
              )
          }
          assert.equal(run.outputs['deploy-id'], 'hostile-1')
          assert.ok(
            !run.stdout.includes('\x1b') && !run.stdout.includes('\u009b'),
            'no terminal escapes'
          )

          // Counted as they should be.
          const rows = JSON.parse(run.outputs.results as string) as Array<{
            node: string
            status: string
          }>
          const status = Object.fromEntries(rows.map((r) => [r.node, r.status]))
          assert.equal(status['node-1'], 'failure')
          assert.notEqual(status['node-2'], 'success', 'garbage never counts')
          assert.notEqual(status['node-3'], 'success', "another deploy's result never counts")
          assert.equal(status['node-4'], 'success', 'the first counted answer stands')
          assert.equal(status[GHOST], undefined, 'a name Consul does not know is not a node')
          assert.ok(Number(run.outputs['nodes-succeeded']) <= 2)

          // The excerpt: at most 40 lines of at most 400 characters, inert.
          const excerpt = run.stdout.split('--- node-1 (last 40 lines of its log) ---\n')[1]
          assert.ok(excerpt, 'the failed node has an excerpt')
          const excerptLines = excerpt.split('\n').slice(0, 40)
          assert.ok(excerptLines.every((l) => l.length <= 400))

          // The summary and every check-run body: bounded, no live HTML or links outside
          // code fences (a fence's content is shown as text), no escapes anywhere.
          const live = (text: string) =>
            /.{0,60}(<script|<img|onerror=|\]\(http).{0,60}/i.exec(
              text.replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, '')
            )?.[0]
          const outputs = github.calls
            .map((r) => (r.body as { output?: Record<string, string> }).output)
            .filter((o) => o !== undefined)
          assert.ok(outputs.length > 0, 'the check run was reported')
          const shown: Array<[string, string]> = [
            ['summary', run.summary],
            ...outputs.flatMap((o) =>
              Object.entries(o).map(([k, v]) => [`check run ${k}`, v] as [string, string])
            )
          ]
          for (const [where, text] of shown) {
            assert.equal(live(text), undefined, `${where} carries live markup`)
            assert.ok(
              !text.includes('\x1b') && !text.includes('\u009b'),
              `${where} carries escapes`
            )
          }
          assert.ok(/^(`{3,})text\n/m.test(run.summary), 'the log excerpt is fenced')
          assert.ok(run.summary.length <= 200_000)
          for (const o of outputs)
            assert.ok((o.summary?.length ?? 0) <= 65_535 && (o.text?.length ?? 0) <= 65_535)
          await assertLatestComplete(fleet, run.outputs['manifest-url'])
          await assertNoSecrets(run, fleet, github)
        } finally {
          await github.stop()
        }
      })
    })

    test('GitHub answering 500 to everything leaves the verdict unchanged', async () => {
      await withHostileFleet(
        [{ name: 'node-1' }, { name: 'node-2', fail: true }],
        async (fleet) => {
          const github = await startFakeGitHub({ status: 500 })
          try {
            const run = await deploy(fleet, work, {}, { github })
            assert.equal(run.code, 1, run.stdout)
            assert.ok(github.calls.length > 0, 'the reporter tried')
            assert.equal(run.errors.length, 1, run.errors.join('\n'))
            // node-2's failure decides the run (max-failures 0), whether or not node-1
            // reported by then: the wait starts at the event, not after GitHub answered.
            assert.match(
              run.errors[0] as string,
              /^[01]\/2 nodes on \S+, more than 0 failed: failed: node-2(; still waiting: node-1)? \(cause: node-2: simulated failure on node-2\)$/
            )
            assert.equal(run.outputs['nodes-failed'], '1')
            await assertNoSecrets(run, fleet, github)
          } finally {
            await github.stop()
          }
        }
      )
    })
  }
)
