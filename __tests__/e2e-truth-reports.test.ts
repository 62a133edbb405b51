// What a staged run says about the fleet (issue #19, contract 8a), end to end
// through dist/index.js on the local fleet: every node in exactly one state, the
// same in outputs, summary and error line; the cause first; the run's own
// record its own. Each test judges the run from the fleet (trees, results/,
// latest, deploy-id) as well as from what it printed. A test marked todo fails
// on today's code for the reason it names.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FleetNodeSpec, LocalFleet } from '../fleet/index.ts'
import { withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { actionEnv, actionInputs, fleetNodes, versionedBuilds } from './helpers/action-run.ts'
import {
  assertNotSaidBusy,
  currentOf,
  deployIdAt,
  FAILED,
  firesSince,
  KV,
  kvAt,
  resultAt,
  rowOf,
  rowsOf,
  saidBy,
  STILL_AT_IT,
  SUCCEEDED,
  titleOf,
  versionOn
} from './helpers/fleet-truth.ts'

let work: string
let attempt = 0

// layout: releases needs a dest inside each node's own tree (see e2e-releases).
const RELEASES_TEMPLATE = `dest: '{{ env "HOME" "" }}/srv/app'
commands:
  post:
    - echo "restart $(readlink "$HOME/srv/app/current")" >> "$HOME/restarts"
`

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-truth-reports-'))
  await versionedBuilds(work, { v1: 'one', v2: 'two' })
  await mkdir(work, { recursive: true })
  await writeFile(join(work, 'stretcher.yml'), RELEASES_TEMPLATE)
})
after(() => rm(work, { recursive: true, force: true }))

const envFor = (fleet: LocalFleet, extra: Record<string, string> = {}) => ({
  ...actionEnv(fleet, work, { id: '1919', attempt: ++attempt }),
  ...extra
})

const withFleet = (nodes: FleetNodeSpec[], body: (fleet: LocalFleet) => Promise<void>) =>
  withLocalFleet({ nodes, kvPrefix: KV, serverRunsStretcher: false }, body)

const dcNodes = (dc: string, extra: Partial<Record<string, Partial<FleetNodeSpec>>> = {}) =>
  [1, 2, 3].map((i) => ({ name: `${dc}-node-${i}`, ...extra[`${dc}-node-${i}`] }))

const SIX = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']

describe('what a staged run says (issue #19, contract 8a)', { concurrency: 2 }, () => {
  test('case 1: a canary failing with auto-rollback: the 5 never-sent nodes are not sent, not deploying; the canary is said rolled back', async () => {
    await withFleet(fleetNodes(6, 'node-5', { 'node-5': { fail: 'v2-bad' } }), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-good' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const run = await runAction(
        actionInputs(fleet, {
          path: 'v2',
          'deploy-id': 'v2-bad',
          waves: '1, 100%',
          'auto-rollback': 'true'
        }),
        envFor(fleet)
      )
      // The fleet: the canary is back on v1, the rest never saw v2.
      assert.equal(run.code, 1, run.stdout)
      assert.equal(versionOn(fleet, 'node-5'), 'one')
      assert.equal(resultAt(fleet, 'node-5')?.deploy_id, 'v1-good')
      const unsent = SIX.filter((n) => n !== 'node-5')
      for (const node of unsent) {
        assert.equal(fleet.consul.events(node).length, 1, `${node}: only v1's event`)
        assert.equal(versionOn(fleet, node), 'one')
      }
      assert.equal(deployIdAt(fleet), 'v1-good')
      // What it says.
      assert.equal(run.outputs['rolled-back'], 'true')
      assert.equal(run.outputs['waves-completed'], '0')
      assert.equal(run.outputs['nodes-pending'], '0', 'nothing was sent that did not report')
      for (const node of unsent)
        assert.equal(rowOf(run, node)?.status, 'not sent', `${node}: ${run.outputs.results}`)
      const canary = rowOf(run, 'node-5')
      assert.ok(
        !(SUCCEEDED.test(canary?.status ?? '') && canary?.deploy_id === 'v2-bad'),
        'the canary is not a success on v2-bad'
      )
      assert.match(canary?.status ?? '', /^(failed|failure|rolled back)$/)
      assert.doesNotMatch(saidBy(run), STILL_AT_IT)
      assertNotSaidBusy(saidBy(run), unsent, 'summary and error')
      assert.match(run.summary, /rolled back/i, 'the summary says the canary was rolled back')
      assert.match(run.summary, /v1-good/)
    })
  })

  for (const layout of ['in-place', 'releases'] as const) {
    test(`case 2 (${layout}): a health check critical during the bake is the cause, first; the waves never sent are not "still deploying"`, async () => {
      const crash =
        layout === 'releases'
          ? (id: string | undefined, url: string) =>
              id === 'v2-crash' && url.endsWith('.switch.yml')
          : 'v2-crash'
      await withFleet(
        fleetNodes(4, 'node-1', {
          'node-1': { crashAfterDeploy: crash, crashDelayMs: 300 }
        }),
        async (fleet) => {
          const extra: Record<string, string> =
            layout === 'releases' ? { layout, manifest: 'stretcher.yml', dest: '' } : {}
          const first = await runAction(
            actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-ok', ...extra }),
            envFor(fleet)
          )
          assert.equal(first.code, 0, first.stdout)
          const run = await runAction(
            actionInputs(fleet, {
              path: 'v2',
              'deploy-id': 'v2-crash',
              waves: '1, 100%',
              'bake-time': '2s',
              'auto-rollback': 'true',
              ...extra
            }),
            envFor(fleet)
          )
          assert.equal(run.code, 1, run.stdout)
          // The fleet: node-1 is back on v1; the others never switched to v2.
          if (layout === 'releases') {
            for (const node of ['node-1', 'node-2', 'node-3', 'node-4'])
              assert.equal(currentOf(fleet, node), 'releases/v1-ok', node)
          } else {
            for (const node of ['node-1', 'node-2', 'node-3', 'node-4'])
              assert.equal(versionOn(fleet, node), 'one', node)
          }
          assert.equal(deployIdAt(fleet), 'v1-ok')
          // The cause (node, check) first: in the error line and the summary's title.
          const error = run.errors[0] ?? ''
          const cause = /node-1: service:web/
          assert.match(error, cause)
          const causeAt = error.search(cause)
          const countAt = error.search(/\d+\s*(\/|of)\s*\d+ nodes|stopped at|rolled back/)
          assert.ok(countAt === -1 || causeAt < countAt, `cause not first: ${error}`)
          const title = titleOf(run)
          assert.match(title, /node-1/, title)
          assert.match(title, /service:web/, title)
          assert.doesNotMatch(title, /0 of 4 nodes failed|still deploying/, title)
          // Never-sent (in-place) or prepared-only (releases) nodes are not busy.
          const rest = ['node-2', 'node-3', 'node-4']
          assert.equal(run.outputs['nodes-pending'], '0')
          for (const node of rest)
            assert.equal(
              rowOf(run, node)?.status,
              layout === 'releases' ? 'prepared' : 'not sent',
              `${node}: ${run.outputs.results}`
            )
          assert.doesNotMatch(saidBy(run), STILL_AT_IT)
          assertNotSaidBusy(saidBy(run), rest, 'summary and error')
        }
      )
    })
  }

  test('case 3: dc1 fails: dc2 nodes are not sent (never "waiting"), dc2 is in the datacenter table, its rows carry datacenter', async () => {
    await withLocalFleet(
      {
        kvPrefix: KV,
        serverRunsStretcher: false,
        datacenters: [
          { name: 'dc1', nodes: dcNodes('dc1', { 'dc1-node-2': { fail: 'v2-bad' } }) },
          { name: 'dc2', nodes: dcNodes('dc2') }
        ]
      },
      async (fleet) => {
        const run = await runAction(
          actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-bad', datacenters: 'dc1, dc2' }),
          envFor(fleet)
        )
        assert.equal(run.code, 1, run.stdout)
        const dc2 = ['dc2-node-1', 'dc2-node-2', 'dc2-node-3']
        for (const node of dc2) {
          assert.equal(fleet.consul.datacenter('dc2').events(node).length, 0, node)
          assert.equal(resultAt(fleet, node, 'dc2'), undefined, node)
        }
        assert.equal(deployIdAt(fleet, 'dc2'), undefined)
        assert.equal(run.outputs['nodes-total'], '6')
        // dc1's failure may end the wait before its other nodes report: those are
        // pending (they were sent it); dc2's never are.
        const rows = JSON.parse(run.outputs.results ?? '[]') as Array<{
          node: string
          status: string
        }>
        const pending = rows.filter((r) => r.status === 'pending').map((r) => r.node)
        assert.equal(run.outputs['nodes-pending'], String(pending.length), run.outputs.results)
        assert.ok(
          pending.every((n) => n === 'dc1-node-1' || n === 'dc1-node-3'),
          run.outputs.results
        )
        for (const node of dc2) {
          const row = rowOf(run, node)
          assert.equal(row?.status, 'not sent', `${node}: ${run.outputs.results}`)
          assert.equal(row?.datacenter, 'dc2', node)
        }
        assert.equal(rowOf(run, 'dc1-node-2')?.datacenter, 'dc1')
        assert.match(rowOf(run, 'dc1-node-2')?.status ?? '', FAILED)
        assert.match(run.summary, /^\| dc1 \|/m, 'dc1 in the datacenter table')
        assert.match(run.summary, /^\| dc2 \|/m, 'dc2 in the datacenter table')
        // Only a dc1 node cut short by the verdict may be said to be still at it.
        if (pending.length === 0) assert.doesNotMatch(saidBy(run), STILL_AT_IT)
        else assert.match(run.summary, new RegExp(`, ${pending.length} still deploying`))
        assertNotSaidBusy(saidBy(run), dc2, 'summary and error')
      }
    )
  })

  test("case 4a: cancelled after the canary's event: it says wave 1 was sent, the canary may still be applying, latest did not move", async () => {
    await withFleet(fleetNodes(6, 'node-5', { 'node-5': { delayMs: 3000 } }), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-keep' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const from = fleet.consul.arrivals.length
      const run = await runAction(
        actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-cut', waves: '1, 50%, 100%' }),
        envFor(fleet),
        {
          post: true,
          onChild: (child) => {
            const poll = setInterval(() => {
              if (firesSince(fleet, from).length < 1) return
              clearInterval(poll)
              setTimeout(() => child.kill('SIGINT'), 300)
            }, 5)
            child.once('exit', () => clearInterval(poll))
          }
        }
      )
      assert.equal(run.code, 1)
      assert.equal(run.outputs.conclusion, 'cancelled')
      assert.equal(firesSince(fleet, from).length, 1, "only the canary's event")
      assert.equal(deployIdAt(fleet), 'v1-keep', 'latest did not move')
      const unsent = SIX.filter((n) => n !== 'node-5')
      assert.equal(fleet.consul.events('node-5').length, 2, 'the canary was sent v2')
      // What it says: the canary's event went out, wave 1 of 3 was sent, node-5
      // may still be applying it, latest did not move.
      assert.doesNotMatch(run.summary, /before the event|Event fired:\*\* no|event was not fired/)
      assert.match(
        run.summary,
        /^\| 1 \| [^|]+ \| 1: node-5 \|(?:[^|\n]*\|){3} \+\d/m,
        'wave 1 started'
      )
      assert.match(run.summary, /^\| 2 \| ⚪ not started/m)
      assert.match(
        run.summary,
        /may still be applying[^\n]*node-5|node-5[^\n]*may still be applying/
      )
      assert.match(run.summary, /`latest` moved:\*\* no/)
      assert.equal(run.outputs['nodes-pending'], '1')
      for (const node of unsent) assert.equal(rowOf(run, node)?.status, 'not sent', node)
      assertNotSaidBusy(saidBy(run), unsent, 'summary and error')
    })
  })

  test('case 4b: cancelled during the last wave: it says latest moved, as it did', async () => {
    await withFleet(
      fleetNodes(4, 'node-1', {
        'node-2': { delayMs: 3000 },
        'node-3': { delayMs: 3000 },
        'node-4': { delayMs: 3000 }
      }),
      async (fleet) => {
        const first = await runAction(
          actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-keep' }),
          envFor(fleet)
        )
        assert.equal(first.code, 0, first.stdout)
        const from = fleet.consul.arrivals.length
        const run = await runAction(
          actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-last', waves: '1, 100%' }),
          envFor(fleet),
          {
            post: true,
            onChild: (child) => {
              const poll = setInterval(() => {
                if (firesSince(fleet, from).length < 2) return
                clearInterval(poll)
                setTimeout(() => child.kill('SIGINT'), 300)
              }, 5)
              child.once('exit', () => clearInterval(poll))
            }
          }
        )
        assert.equal(run.code, 1)
        assert.equal(run.outputs.conclusion, 'cancelled')
        assert.equal(firesSince(fleet, from).length, 2)
        // The fleet: latest moved before the last wave, and it stays (a cancel does not roll back).
        assert.equal(deployIdAt(fleet), 'v2-last')
        assert.match(kvAt(fleet, 'latest')?.value ?? '', /v2-last\.yml$/)
        assert.match(run.summary, /`latest` moved:\*\* yes/, run.summary)
        assert.match(run.summary, /^\| 1 \| ✅ passed/m)
        assert.match(
          run.summary,
          /^\| 2 \| [^|]+ \| 3: node-2, node-3, node-4 \|(?:[^|\n]*\|){3} \+\d/m,
          'wave 2 started'
        )
        assert.match(run.summary, /may still be applying/)
        for (const node of ['node-2', 'node-3', 'node-4'])
          assert.match(run.summary, new RegExp(`may still be applying[^\\n]*${node}`), node)
      }
    )
  })

  test('case 5: auto-rollback\'s move of latest does not replace the run\'s record: no "replacing v2", no rollback-to v2', async () => {
    await withFleet(fleetNodes(3, 'node-1', { 'node-3': { fail: 'v2-bad' } }), async (fleet) => {
      const first = await runAction(
        actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-good' }),
        envFor(fleet)
      )
      assert.equal(first.code, 0, first.stdout)
      const run = await runAction(
        actionInputs(fleet, {
          path: 'v2',
          'deploy-id': 'v2-bad',
          waves: '1, 100%',
          'auto-rollback': 'true'
        }),
        envFor(fleet)
      )
      assert.equal(run.code, 1, run.stdout)
      // The fleet: latest moved for wave 2, then auto-rollback moved it back.
      assert.equal(deployIdAt(fleet), 'v1-good')
      for (const node of ['node-1', 'node-2', 'node-3']) assert.equal(versionOn(fleet, node), 'one')
      assert.equal(run.outputs['rolled-back'], 'true')
      const said = saidBy(run)
      assert.doesNotMatch(said, /replacing `?v2-bad/, 'the run replaced v1-good, not itself')
      assert.doesNotMatch(said, /rollback-to:? `?v2-bad/, 'never suggest the failed release')
      assert.match(run.summary, /replacing `?v1-good/)
    })
  })

  test('case 7: promote reports the commit of the release it promotes, not of the promoting run', async () => {
    await withFleet(fleetNodes(3, 'node-1'), async (fleet) => {
      const released = 'aaaaaaa111111111111111111111111111111111'
      const promoting = 'bbbbbbb222222222222222222222222222222222'
      const partial = await runAction(
        actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-new', waves: '1' }),
        envFor(fleet, { GITHUB_SHA: released })
      )
      assert.equal(partial.code, 0, partial.stdout)
      assert.equal(
        JSON.parse(kvAt(fleet, 'history/v2-new')?.value ?? '{}').commit ??
          JSON.parse(kvAt(fleet, 'history/v2-new')?.value ?? '{}').sha,
        released
      )
      const run = await runAction(
        actionInputs(fleet, { promote: 'v2-new' }),
        envFor(fleet, { GITHUB_SHA: promoting })
      )
      assert.equal(run.code, 0, run.stdout)
      assert.equal(deployIdAt(fleet), 'v2-new')
      for (const node of ['node-1', 'node-2', 'node-3']) assert.equal(versionOn(fleet, node), 'two')
      assert.match(run.summary, /aaaaaaa/, 'the release commit')
      assert.doesNotMatch(run.summary, /bbbbbbb/, "not the promoting run's commit")
    })
  })

  test('case 12: the same node name in two datacenters is two nodes: totals, results and logs', async () => {
    const web = (dc: string, fail?: string) => [
      { name: 'web-1', ...(fail ? { fail } : {}) },
      { name: 'web-2' }
    ]
    await withLocalFleet(
      {
        kvPrefix: KV,
        serverRunsStretcher: false,
        datacenters: [
          { name: 'dc1', nodes: web('dc1') },
          { name: 'dc2', nodes: web('dc2', 'v2-dc2') }
        ]
      },
      async (fleet) => {
        // A dry run lists four nodes, each repeated name with its datacenter.
        const dry = await runAction(
          actionInputs(fleet, { path: 'v1', datacenters: 'dc1, dc2', 'dry-run': 'true' }),
          envFor(fleet)
        )
        assert.equal(dry.code, 0, dry.stdout)
        assert.match(
          dry.stdout,
          /targets: 4 nodes \(event "[^"]+"\): web-1 \(dc1\), web-2 \(dc1\), web-1 \(dc2\), web-2 \(dc2\)/
        )
        const ok = await runAction(
          actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-both', datacenters: 'dc1, dc2' }),
          envFor(fleet)
        )
        assert.equal(ok.code, 0, ok.stdout)
        for (const key of ['dc1/web-1', 'dc1/web-2', 'dc2/web-1', 'dc2/web-2'])
          assert.equal(versionOn(fleet, key), 'one', key)
        assert.equal(ok.outputs['nodes-total'], '4')
        assert.equal(ok.outputs['nodes-succeeded'], '4')
        assert.deepEqual(
          rowsOf(ok)
            .map((r) => `${r.datacenter}/${r.node}`)
            .sort(),
          ['dc1/web-1', 'dc1/web-2', 'dc2/web-1', 'dc2/web-2']
        )
        // dc2's web-1 fails: its log is read from dc2, dc1's web-1 stays a success.
        const bad = await runAction(
          actionInputs(fleet, { path: 'v2', 'deploy-id': 'v2-dc2', datacenters: 'dc1, dc2' }),
          envFor(fleet)
        )
        assert.equal(bad.code, 1, bad.stdout)
        assert.equal(resultAt(fleet, 'web-1', 'dc1')?.status, 'success')
        assert.equal(resultAt(fleet, 'web-1', 'dc2')?.status, 'failure')
        assert.equal(bad.outputs['nodes-total'], '4')
        assert.equal(bad.outputs['nodes-failed'], '1')
        assert.match(rowOf(bad, 'web-1', 'dc1')?.status ?? '', SUCCEEDED)
        assert.match(rowOf(bad, 'web-2', 'dc1')?.status ?? '', SUCCEEDED)
        assert.match(rowOf(bad, 'web-1', 'dc2')?.status ?? '', FAILED)
        // max-failures 0: web-1's failure ends dc2's wait, web-2 there may not have reported yet.
        const dc2web2 = rowOf(bad, 'web-2', 'dc2')?.status ?? ''
        assert.match(dc2web2, /^(success|pending)$/)
        assert.equal(bad.outputs['nodes-succeeded'], dc2web2 === 'success' ? '3' : '2')
        assert.match(bad.summary, /simulated failure on web-1/, 'the log of dc2 web-1')
        // Said with the datacenter, as the name alone is two nodes.
        assert.match(bad.errors.join('\n'), /failed: web-1 \(dc2\)/)
        // (markdown: parentheses as entities) the failed row is dc2's web-1; dc1's is a success.
        assert.match(bad.summary, /^\| web-1 &#40;dc2&#41; \| ❌ failed \|/m)
        assert.match(bad.summary, /^\| web-1 &#40;dc1&#41; \| \d/m)
      }
    )
  })

  test('case 14: a rollback sent to a node that never answered it is still rolled-back: true; never-sent rows carry datacenter', async () => {
    await withLocalFleet(
      {
        kvPrefix: KV,
        serverRunsStretcher: false,
        datacenters: [
          {
            name: 'dc1',
            nodes: dcNodes('dc1', { 'dc1-node-3': { fail: 'v2-bad', delayMs: 800 } })
          },
          { name: 'dc2', nodes: dcNodes('dc2') }
        ]
      },
      async (fleet) => {
        const first = await runAction(
          actionInputs(fleet, { path: 'v1', 'deploy-id': 'v1-good', datacenters: 'dc1, dc2' }),
          envFor(fleet)
        )
        assert.equal(first.code, 0, first.stdout)
        const run = await runAction(
          actionInputs(fleet, {
            path: 'v2',
            'deploy-id': 'v2-bad',
            datacenters: 'dc1, dc2',
            'auto-rollback': 'true',
            timeout: '3s'
          }),
          envFor(fleet),
          {
            onChild: (child) => {
              // dc1-node-1 dies (its agent stays alive) once it reported v2.
              const poll = setInterval(() => {
                if (resultAt(fleet, 'dc1-node-1', 'dc1')?.deploy_id !== 'v2-bad') return
                clearInterval(poll)
                void fleet.nodes.get('dc1-node-1')!.stop()
              }, 5)
              child.once('exit', () => clearInterval(poll))
            }
          }
        )
        assert.equal(run.code, 1, run.stdout)
        // The fleet: dc1-node-1 still on v2 (it never answered), dc1-node-2 back on v1.
        assert.equal(resultAt(fleet, 'dc1-node-1', 'dc1')?.deploy_id, 'v2-bad')
        assert.equal(resultAt(fleet, 'dc1-node-2', 'dc1')?.deploy_id, 'v1-good')
        assert.equal(
          fleet.consul.datacenter('dc1').events('dc1-node-2').length,
          3,
          'v1, v2, then the rollback to v1'
        )
        assert.equal(run.outputs['rolled-back'], 'true', 'a rollback was sent')
        assert.match(run.summary, /rolled back/i)
        assert.match(run.summary, /2 of 3|2\/3/, 'how many got back')
        for (const node of ['dc2-node-1', 'dc2-node-2', 'dc2-node-3']) {
          const row = rowOf(run, node)
          assert.equal(row?.datacenter, 'dc2', `${node}: ${run.outputs.results}`)
          assert.equal(row?.status, 'not sent', node)
        }
      }
    )
  })
})
