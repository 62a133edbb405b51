// planRollback (contract 8, 8a): auto-rollback goes to the nodes that got the
// failed release (sent it, or reported it), in the run's layout: never to a
// node of a wave whose event never went out.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FleetBackend } from '../src/backend/fleet-backend.ts'
import { readConfig } from '../src/config/config.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'
import { memoryLog } from '../src/shared/log.ts'
import { newRolloutContext } from '../src/rollout/context.ts'
import type { Step } from '../src/rollout/plan/plan.ts'
import { planRollback } from '../src/rollout/rollback.ts'
import type { PreviousRelease } from '../src/rollout/types.ts'

const env = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '12345678901',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKSPACE: '/work/space',
  AWS_REGION: 'eu-west-1'
}
const configWith = (inputs: Record<string, string>) => {
  const all: Record<string, string> = {
    's3-url': 's3://bucket/releases',
    'deploy-id': 'v2',
    'auto-rollback': 'true',
    ...inputs
  }
  return readConfig((name) => all[name] ?? '', env)
}

const wave = (n: number, nodes: string[], kind: Step['kind'] = 'deploy'): Step => ({
  datacenter: undefined,
  kind,
  nodes,
  wave: n,
  waves: 2,
  movesLatest: n === 2,
  bakeMs: 0,
  takesJoiners: n === 2
})

const V1: PreviousRelease = { deployId: 'v1', manifestUrl: 's3://bucket/releases/web/v1.yml' }

function context(steps: Step[], inputs: Record<string, string>, previous = V1) {
  return newRolloutContext(
    steps,
    { deployId: 'v2', manifestUrl: 's3://bucket/releases/web/v2.yml' },
    {
      backend: {} as FleetBackend,
      config: configWith(inputs),
      log: memoryLog(),
      filteredOut: [],
      previous: new Map([[undefined, previous]])
    }
  )
}

/** The step's fleet as the send left it: every node of the step, after its first event. */
function sentFleet(nodes: string[], reports: Record<string, 'success' | 'failure'> = {}) {
  const fleet = new FleetState({
    deployId: 'v2',
    baselineIndex: 10,
    maxFailures: 0,
    targets: nodes
  })
  fleet.applyResults(
    Object.entries(reports).map(([node, status], i) => ({
      node,
      value: JSON.stringify({ deploy_id: 'v2', status, node, at: 1 }),
      modifyIndex: 11 + i
    }))
  )
  return fleet
}

const FIVE = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5']

describe('planRollback: the nodes that got the failed release', () => {
  test('a wave sent as two events whose second never went out: only the first event’s nodes', () => {
    const ctx = context([wave(1, FIVE), wave(2, ['web-6'])], { waves: '5, 100%' })
    const run = ctx.runs[0]!
    run.firedAt = 1
    run.sentTo = ['web-1', 'web-2', 'web-3']
    run.fleet = sentFleet(FIVE)
    run.outcome = 'failed'
    const [plan] = planRollback(ctx)
    assert.deepEqual(plan!.step!.nodes, ['web-1', 'web-2', 'web-3'])
    assert.equal(plan!.step!.kind, 'deploy')
  })

  test('a node the events never named but that reported the release (it booted from latest) is rolled back too', () => {
    const ctx = context([wave(1, FIVE), wave(2, ['web-6'])], { waves: '5, 100%' })
    const run = ctx.runs[0]!
    run.firedAt = 1
    run.sentTo = ['web-1', 'web-2']
    run.fleet = sentFleet(FIVE, { 'web-1': 'failure', 'web-4': 'success' })
    const [plan] = planRollback(ctx)
    assert.deepEqual(plan!.step!.nodes, ['web-1', 'web-2', 'web-4'])
  })

  test('a wave sent by its filters (no node list from the backend): all its nodes; a wave never sent: none', () => {
    const ctx = context([wave(1, ['web-1']), wave(2, ['web-2', 'web-3'])], { waves: '1, 100%' })
    const run = ctx.runs[0]!
    run.firedAt = 1
    run.fleet = sentFleet(['web-1'])
    const [plan] = planRollback(ctx)
    assert.deepEqual(plan!.step!.nodes, ['web-1'])
  })

  test('nodes of an earlier partial rollout on the release are added (a failed promote)', () => {
    const ctx = context([wave(1, ['web-2']), wave(2, ['web-3'])], { waves: '1, 100%' })
    const run = ctx.runs[0]!
    run.firedAt = 1
    run.sentTo = ['web-2']
    run.fleet = sentFleet(['web-2'])
    const [plan] = planRollback(ctx, new Map([[undefined, ['web-1']]]))
    assert.deepEqual(plan!.step!.nodes, ['web-2', 'web-1'])
  })
})

describe("planRollback: the run's layout", () => {
  const releasesRun = (previous: PreviousRelease) => {
    const ctx = context(
      [wave(0, ['web-1', 'web-2'], 'prepare'), wave(1, ['web-1'], 'switch')],
      { waves: '1, 100%', layout: 'releases', dest: '/srv/app' },
      previous
    )
    ctx.runs[0]!.firedAt = 1
    ctx.runs[0]!.fleet = sentFleet(['web-1', 'web-2'])
    ctx.runs[1]!.firedAt = 2
    ctx.runs[1]!.sentTo = ['web-1']
    ctx.runs[1]!.fleet = sentFleet(['web-1'])
    return planRollback(ctx)[0]!
  }

  test('a previous release with a switch manifest is switched back to, on the switched nodes only', () => {
    const plan = releasesRun({ ...V1, switchUrl: 's3://bucket/releases/web/v1.switch.yml' })
    assert.equal(plan.step!.kind, 'switch')
    assert.deepEqual(plan.step!.nodes, ['web-1'])
  })

  test('a node known not to keep the previous release is sent it whole (prepare and switch), the rest a switch', () => {
    const ctx = context(
      [wave(1, ['web-1', 'web-2'], 'switch')],
      { waves: '1, 100%', layout: 'releases', dest: '/srv/app' },
      { ...V1, switchUrl: 's3://bucket/releases/web/v1.switch.yml' }
    )
    ctx.runs[0]!.firedAt = 1
    ctx.runs[0]!.sentTo = ['web-1', 'web-2']
    ctx.runs[0]!.fleet = sentFleet(['web-1', 'web-2'])
    const [plan] = planRollback(
      ctx,
      new Map([[undefined, ['web-3']]]),
      new Map([[undefined, new Set(['web-2', 'web-3', 'web-9'])]])
    )
    assert.equal(plan!.step!.kind, 'switch')
    assert.deepEqual(plan!.step!.nodes, ['web-1', 'web-2', 'web-3'])
    assert.deepEqual(plan!.step!.whole, ['web-2', 'web-3'])
  })

  test('a previous release rendered again in this layout goes out whole (combined), never as a switch', () => {
    const plan = releasesRun({ ...V1, manifestUrl: 's3://bucket/releases/web/v1.releases.yml' })
    assert.equal(plan.step!.kind, 'deploy')
    assert.equal(plan.previous!.manifestUrl, 's3://bucket/releases/web/v1.releases.yml')
  })
})
