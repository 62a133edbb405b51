// SIGINT swept across the announce window, end to end through dist/ as the
// runner runs it (main step, then the post step), with the action's Consul agent
// answering every request 200 ms late (issue #16). After every run `latest` and
// `deploy-id` name the release of the last event fired, or hold what they held
// before the run, and the main step exited within the runner's 7.5 s grace.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { LocalFleet } from '../fleet/index.ts'
import { SERVER_NODE, withLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { actionEnv, actionInputs } from './helpers/action-run.ts'

const KV = 'stretcher/web'
const LATENCY_MS = 200
/** SIGINT this long after the latest/deploy-id txn reached Consul: through the txn, the fire and past it. */
const OFFSETS_MS = Array.from({ length: 20 }, (_, i) => i * 28)

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-cancel-'))
  await mkdir(join(work, 'build'), { recursive: true })
  await writeFile(join(work, 'build/version.txt'), 'v\n')
})
after(() => rm(work, { recursive: true, force: true }))

function kvValue(fleet: LocalFleet, key: string): string | undefined {
  return fleet.consul.kv(`${KV}/${key}`)?.value?.toString()
}

type Seen = { restoredByMain: number; settledByPost: number; fired: number; notFired: number }

/** Runs the action once per offset on its own local fleet, checking the rule after each run. */
function sweep(offsets: number[], seen: Seen, runId: string): Promise<void> {
  return withLocalFleet({ nodes: 2, kvPrefix: KV, serverRunsStretcher: false }, async (fleet) => {
    fleet.consul.faults.inject({ kind: 'latency', latencyMs: LATENCY_MS, agent: SERVER_NODE })
    for (const [run, offset] of offsets.entries()) {
      const before = { latest: kvValue(fleet, 'latest'), deployId: kvValue(fleet, 'deploy-id') }
      const eventsBefore = fleet.consul.events('node-1').length
      const firstArrival = fleet.consul.arrivals.length
      let signalledAt = 0
      let exitedAt = 0
      const result = await runAction(
        actionInputs(fleet, { path: 'build', timeout: '1m' }),
        actionEnv(fleet, work, { id: runId, attempt: run + 1 }),
        {
          post: true,
          onChild: (child) => {
            const poll = setInterval(() => {
              const txn = fleet.consul.arrivals
                .slice(firstArrival)
                .find((r) => r.method === 'PUT' && r.path.startsWith('/v1/txn'))
              if (!txn) return
              clearInterval(poll)
              setTimeout(
                () => {
                  signalledAt = Date.now()
                  child.kill('SIGINT')
                },
                Math.max(0, txn.at + offset - Date.now())
              )
            }, 2)
            child.once('exit', () => {
              exitedAt = Date.now()
              clearInterval(poll)
            })
          }
        }
      )
      const label = `run ${run + 1}, SIGINT ${offset} ms after the txn arrived`
      assert.ok(signalledAt > 0, `${label}: the signal was sent`)
      assert.ok(
        exitedAt - signalledAt < 7500,
        `${label}: exited ${exitedAt - signalledAt} ms after SIGINT`
      )
      assert.equal(result.code, 1, `${label}: a cancelled run fails`)
      assert.equal(result.post?.code, 0, `${label}: post step: ${result.post?.stderr}`)

      const events = fleet.consul.events('node-1').slice(eventsBefore)
      const latest = kvValue(fleet, 'latest')
      const deployId = kvValue(fleet, 'deploy-id')
      if (events.length > 0) {
        seen.fired++
        const last = events.at(-1)?.payload
        assert.equal(latest, last, `${label}: latest names the last event's release`)
        assert.ok(
          deployId && last?.includes(deployId),
          `${label}: deploy-id ${deployId} is that release's`
        )
      } else {
        seen.notFired++
        assert.deepEqual({ latest, deployId }, before, `${label}: no event, latest as before`)
      }
      if (/restored .*latest/.test(result.stdout)) seen.restoredByMain++
      if (/settled the announcement/.test(result.post?.stdout ?? '')) seen.settledByPost++
      assert.equal(
        fleet.consul.kv(`${KV}/lock`)?.session,
        undefined,
        `${label}: lock free after the post step`
      )
    }
  })
}

test('SIGINT at 28 ms steps across the announce window: latest always agrees with the last event, exit within 7.5 s', async () => {
  const seen: Seen = { restoredByMain: 0, settledByPost: 0, fired: 0, notFired: 0 }
  // Two fleets side by side halve the wall time; each takes every other offset.
  await Promise.all([
    sweep(
      OFFSETS_MS.filter((_, i) => i % 2 === 0),
      seen,
      '900'
    ),
    sweep(
      OFFSETS_MS.filter((_, i) => i % 2 === 1),
      seen,
      '901'
    )
  ])
  // The sweep must have crossed the window: some runs stopped before the event, some after.
  assert.ok(seen.fired > 0 && seen.notFired > 0, JSON.stringify(seen))
  console.log(`sweep: ${JSON.stringify(seen)}`)
})

test('SIGINT while Consul has no leader during the txn: exit within 7.5 s, the lock and latest left to the post step, which settles them', async () => {
  await withLocalFleet({ nodes: 1, kvPrefix: KV, serverRunsStretcher: false }, async (fleet) => {
    fleet.consul.faults.inject({ kind: 'no-leader', agent: SERVER_NODE, path: '^/v1/txn' })
    let signalledAt = 0
    let exitedAt = 0
    const result = await runAction(
      actionInputs(fleet, { path: 'build', timeout: '1m' }),
      actionEnv(fleet, work, { id: '902', attempt: 1 }),
      {
        post: true,
        onChild: (child) => {
          // Every txn answers "No cluster leader" (and is retried); SIGINT comes in the middle.
          const poll = setInterval(() => {
            if (!fleet.consul.arrivals.some((r) => r.path.startsWith('/v1/txn'))) return
            clearInterval(poll)
            setTimeout(() => {
              signalledAt = Date.now()
              child.kill('SIGINT')
            }, 600)
          }, 2)
          child.once('exit', () => {
            exitedAt = Date.now()
            clearInterval(poll)
            // The leader is back by the time the post step runs.
            fleet.consul.faults.clear()
          })
        }
      }
    )
    assert.ok(signalledAt > 0)
    assert.ok(exitedAt - signalledAt < 7500, `exited ${exitedAt - signalledAt} ms after SIGINT`)
    assert.equal(result.code, 1)
    assert.match(result.stdout, /left the deploy lock stretcher\/web\/lock to the post step/)
    assert.equal(result.post?.code, 0, result.post?.stderr)
    assert.match(
      result.post?.stdout ?? '',
      /settled the announcement the main step left: latest is as it was before the run/
    )
    assert.equal(fleet.consul.events('node-1').length, 0, 'no event went out')
    assert.equal(kvValue(fleet, 'latest'), undefined)
    assert.equal(kvValue(fleet, 'deploy-id'), undefined)
    assert.equal(
      fleet.consul.kv(`${KV}/lock`)?.session,
      undefined,
      'lock released by the post step'
    )
  })
})
