// Fixed fleets for the report's tests and `npm run report:preview`: the same
// inputs the action would hand the report at the end of a run, built by hand.
import type { ResultEntry } from '../../src/fleet-state/fleet-state.ts'
import { FleetState } from '../../src/fleet-state/fleet-state.ts'
import type { DeployFacts, FleetReport, LogExcerpt, WaveReport } from '../../src/report/report.ts'

export const ID = '20261130-115730-3f9c2ab-r1.1'
export const PREVIOUS = '20261129-090102-8e1d4c0-r1.1'
export const FIRED_AT = Date.UTC(2026, 10, 30, 11, 57, 30)
const AT = Math.floor(FIRED_AT / 1000)

export type Outcome = 'success' | 'failure' | 'pending' | 'silent' | 'lost' | 'other-deploy'

export interface NodeSpec {
  node: string
  outcome: Outcome
  /** ms from the event to the report */
  ms?: number
  log?: string
}

/** A deterministic spread of report times (ms), by node index. */
export function timeOf(i: number, base = 900, spread = 3600): number {
  const x = Math.sin(i * 12.9898 + 78.233) * 43758.5453
  return Math.round(base + (x - Math.floor(x)) ** 2 * spread)
}

export function fleetOf(nodes: readonly NodeSpec[], maxFailures = 0, deployId = ID): FleetState {
  const f = new FleetState({
    deployId,
    baselineIndex: 1,
    maxFailures,
    targets: nodes.map((n) => n.node)
  })
  let index = 10
  const result = (node: string, status: string, id = deployId): ResultEntry => ({
    node,
    modifyIndex: index++,
    value: JSON.stringify({ deploy_id: id, status, node, at: AT + 2 })
  })
  const byTime = [...nodes].sort((a, b) => (a.ms ?? 0) - (b.ms ?? 0))
  for (const n of byTime) {
    if (n.outcome === 'success' || n.outcome === 'failure')
      f.applyResults([result(n.node, n.outcome)], n.ms ?? 1000)
    else if (n.outcome === 'other-deploy')
      f.applyResults([result(n.node, 'success', 'someone-else-1')], n.ms ?? 1000)
    else if (n.outcome === 'lost') f.markLost(n.node)
  }
  if (nodes.some((n) => n.outcome === 'silent' || n.outcome === 'other-deploy')) f.expire()
  return f
}

const stamp = (s: number) => {
  const d = new Date(FIRED_AT + s * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
}

/** stretcher's log of a deploy that failed at `failing` (a post command), after rsync's file list. */
export function stretcherLog(
  node: string,
  opts: { failing?: string; output?: string[]; files?: number; checksumMismatch?: boolean } = {}
): string {
  const manifest = `s3://releases/web/${ID}.yml`
  const lines = [
    `${stamp(0)} Starting up stretcher agent`,
    `${stamp(0)} Loading manifest: ${manifest}`,
    `${stamp(0)} Executing manifest`,
    `${stamp(0)} Loading src: s3://releases/web/${ID}.tgz`,
    `${stamp(1)} Wrote 2483920 bytes to /tmp/stretcher-src${node.length}48213/src`
  ]
  if (opts.checksumMismatch) {
    lines.push(
      `${stamp(1)} Deploy manifest failed: checksum mismatch. expected:9f2c6e1a04b7d3e58c1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d got:0d4c2b1a`
    )
    return `${lines.join('\n')}\n`
  }
  lines.push(
    `${stamp(1)} verify checksum succeeded. sha256:9f2c6e1a04b7d3e58c1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d`,
    `${stamp(1)} invoking command: echo "pre: stopping workers on $(hostname)"`,
    `${stamp(1)} pre: stopping workers on ${node}`,
    `${stamp(1)} Extract archive: /tmp/stretcher-src48213/src to /tmp/stretcher77120`,
    `${stamp(2)} rsync -av --delete /tmp/stretcher77120/ /srv/web/`,
    'sending incremental file list',
    './'
  )
  for (let i = 0; i < (opts.files ?? 30); i++)
    lines.push(`app/${['assets', 'lib', 'views'][i % 3]}/file-${i}.${['js', 'css', 'html'][i % 3]}`)
  lines.push(
    '',
    'sent 2,601,311 bytes  received 1,236 bytes  5,205,094.00 bytes/sec',
    'total size is 2,594,112  speedup is 1.00',
    `${stamp(3)} invoking command: ${opts.failing ?? 'test -z "$SIM_FAIL"'}`
  )
  if (opts.output?.length) lines.push(`${stamp(3)} ${opts.output[0]}`, ...opts.output.slice(1))
  lines.push(
    `${stamp(3)} Deploy manifest failed: failed: ${opts.failing ?? 'test -z "$SIM_FAIL"'}: exit status 1`
  )
  return `${lines.join('\n')}\n`
}

export const names = (n: number, prefix = 'node-') =>
  Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`)

function report(
  specs: readonly NodeSpec[],
  facts: DeployFacts = {},
  extra: Partial<FleetReport> & { maxFailures?: number } = {}
): FleetReport {
  const fleet = fleetOf(specs, extra.maxFailures ?? 0)
  const excerpts: LogExcerpt[] = specs
    .filter((s) => s.outcome === 'failure')
    .map((s) => ({ node: s.node, text: s.log ?? '' }))
  const reported = specs.filter((s) => s.ms !== undefined).map((s) => s.ms as number)
  return {
    fleet,
    verdict: fleet.verdict(),
    excerpts,
    ...extra,
    facts: {
      app: 'web',
      environment: 'production',
      manifestUrl: `s3://releases/web/${ID}.yml`,
      srcUrl: `s3://releases/web/${ID}.tgz`,
      checksum: '9f2c6e1a04b7d3e58c1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d',
      commit: '3f9c2ab7d1e04c5a9b8e7f6d5c4b3a2918e7d6c5',
      publishedAt: new Date(FIRED_AT - 4_000).toISOString(),
      firedAt: FIRED_AT,
      durationMs: Math.max(0, ...reported) + 150,
      timeoutMs: 600_000,
      latestMoved: true,
      eventFired: true,
      previousDeployId: PREVIOUS,
      ...facts
    }
  }
}

const ok = (node: string, i: number): NodeSpec => ({ node, outcome: 'success', ms: timeOf(i) })

/** The fixed fleets, by name. */
export function fixtures(): Record<string, FleetReport> {
  const five = names(5)
  const failedLog = stretcherLog('node-3')
  const postFail = (node: string) =>
    stretcherLog(node, {
      failing: 'sh -c "systemctl restart web && curl -fsS localhost:8080/health"',
      output: [
        'Job for web.service failed because the control process exited with error code.',
        'See "systemctl status web.service" and "journalctl -xeu web.service" for details.'
      ]
    }).replace('exit status 1', 'exit status 1')
  const hostileNames = [
    '<script>alert(1)</script>',
    '[click](https://evil.example/x)',
    'a|b|c',
    '::error::pwned'
  ]
  const hostileLog = [
    '```',
    '</details><img src=x onerror=alert(1)>',
    '::set-output name=deploy-id::forged',
    '\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07',
    '| forged | table |',
    '$x$ @everyone [x](https://evil.example)',
    '2026/11/30 11:57:33 Deploy manifest failed: failed: <b>boom</b> | `rm -rf` ``` [x](https://evil.example): exit status 1'
  ].join('\n')
  return {
    'happy-5': report(five.map(ok)),
    'one-failure-5': report(
      five.map((n, i) =>
        n === 'node-3' ? { node: n, outcome: 'failure', ms: 3100, log: failedLog } : ok(n, i)
      )
    ),
    hostile: report(
      [
        ...hostileNames.map((n, i): NodeSpec => ({
          node: n,
          outcome: 'failure',
          ms: 1000 + i * 300,
          log: hostileLog
        })),
        ok('node-1', 1)
      ],
      { app: 'web<script>', environment: '[prod](https://evil.example)' }
    ),
    cancelled: report(
      five.map((n, i) => (i < 2 ? ok(n, i) : { node: n, outcome: 'pending' })),
      { cancelled: true, durationMs: 4_200 }
    ),
    'timed-out': report(
      [
        ...names(3).map(ok),
        { node: 'node-4', outcome: 'silent' },
        { node: 'node-5', outcome: 'other-deploy', ms: 2000 }
      ],
      { durationMs: 600_000 }
    ),
    rollback: report(five.map(ok), {
      rollback: true,
      commit: '1111111aaaabbbbccccddddeeeeffff00001111',
      publishedAt: '2026-11-28T16:04:11.000Z',
      previousDeployId: '20261130-101010-9d8c7b6-r1.1'
    }),
    'not-waiting': report(
      five.map((n) => ({ node: n, outcome: 'pending' as const })),
      { durationMs: undefined },
      { notWaiting: true, verdict: { done: false } }
    ),
    'error-after-publish': report(
      five.map((n, i) => (i < 3 ? ok(n, i) : { node: n, outcome: 'pending' })),
      { error: 'Consul at http://127.0.0.1:8500 unreachable: connect ECONNREFUSED' },
      { verdict: { done: false } }
    ),
    'nodes-100': report(
      names(100).map((n, i): NodeSpec =>
        n === 'node-17' || n === 'node-64'
          ? {
              node: n,
              outcome: 'failure',
              ms: timeOf(i),
              log: stretcherLog(n, { checksumMismatch: true })
            }
          : n === 'node-88'
            ? { node: n, outcome: 'lost' }
            : ok(n, i)
      )
    ),
    'nodes-1000': report(
      names(1000).map((n, i): NodeSpec => {
        if (i % 40 === 7)
          return { node: n, outcome: 'failure', ms: timeOf(i, 2000), log: postFail(n) }
        if (i === 500 || i === 501)
          return {
            node: n,
            outcome: 'failure',
            ms: timeOf(i),
            log: stretcherLog(n, { checksumMismatch: true })
          }
        if (i % 200 === 99) return { node: n, outcome: 'silent' }
        return ok(n, i)
      }),
      { durationMs: 600_000 }
    ),
    'waves-3': wavesFixture(),
    'datacenters-2': datacentersFixture(),
    'canary-rolled-back-6': rolledBackFixture(6, 1),
    'wave2-rolled-back-1000': rolledBackFixture(1000, 100)
  }
}

/**
 * A staged rollout (waves 1, 10%, 100% of n) failing in its second wave with
 * auto-rollback: the canary and the second wave's nodes rolled back (the failed
 * ones under their cause), the third wave never sent (contract 8a).
 */
export function rolledBackFixture(n: number, sentCount: number): FleetReport {
  const all = names(n, 'web-')
  const sent = all.slice(0, sentCount)
  const failing = new Set(sent.filter((_, i) => i > 0 && i % 17 === 3).slice(0, 3))
  if (failing.size === 0) failing.add(all[0]!)
  const specs: NodeSpec[] = sent.map((node, i) =>
    failing.has(node)
      ? { node, outcome: 'failure', ms: 2_000 + timeOf(i), log: stretcherLog(node) }
      : { node, outcome: 'success', ms: timeOf(i) }
  )
  const fleet = fleetOf(specs)
  const r = report(specs, { durationMs: 41_000, previousDeployId: PREVIOUS })
  // Wave 1 is the canary; wave 2 a tenth; wave 3 the rest. The canary alone failing
  // stops the run before wave 2.
  const canaryFailed = sentCount === 1
  const tenth = Math.max(2, Math.ceil(n / 10))
  const plan = [all.slice(0, 1), all.slice(1, tenth), all.slice(tenth)]
  plan.forEach((nodes, i) => {
    for (const node of nodes.filter((x) => !sent.includes(x))) {
      fleet.absorb(
        new FleetState({ deployId: ID, baselineIndex: 1, maxFailures: 0, targets: [node] }),
        i + 1
      )
      fleet.noteNotSent(node, `not sent: wave ${i + 1} did not start`, i + 1)
    }
  })
  for (const node of sent) fleet.markRolledBack(node, { deployId: PREVIOUS, at: AT + 60 })
  const waves: WaveReport[] = [
    {
      wave: 1,
      nodes: plan[0]!,
      startedAt: FIRED_AT,
      endedAt: FIRED_AT + 8_000,
      passed: !canaryFailed
    },
    canaryFailed
      ? { wave: 2, nodes: plan[1]! }
      : {
          wave: 2,
          nodes: plan[1]!,
          startedAt: FIRED_AT + 9_000,
          endedAt: FIRED_AT + 41_000,
          passed: false
        },
    { wave: 3, nodes: plan[2]! }
  ]
  return {
    ...r,
    fleet,
    verdict: { done: true, ok: false, reason: 'failures' },
    waves,
    rollback: `rolled back to ${PREVIOUS}: ${sent.length}/${sent.length} nodes back on it`
  }
}

/** Two datacenters (3 + 3 nodes): us-east converged, eu-west has one failure. */
export function datacentersFixture(): FleetReport {
  const specs: NodeSpec[] = [
    ...names(3, 'us-east-').map((n, i) => ok(n, i)),
    ...names(3, 'eu-west-').map((n, i): NodeSpec =>
      n === 'eu-west-2'
        ? { node: n, outcome: 'failure', ms: 5_000 + timeOf(i), log: stretcherLog(n) }
        : { node: n, outcome: 'success', ms: 5_000 + timeOf(i) }
    )
  ]
  const r = report(specs, { durationMs: 9_000 })
  const all = new FleetState({
    deployId: r.fleet.deployId,
    baselineIndex: 0,
    maxFailures: 0,
    targets: specs.map((s) => s.node)
  })
  for (const dc of ['us-east', 'eu-west']) {
    const part = fleetOf(specs.filter((s) => s.node.startsWith(dc)))
    all.absorb(part, undefined, dc)
  }
  return { ...r, fleet: all, verdict: all.verdict() }
}

/** A staged rollout (1, 3, 6 nodes): waves 1 and 2 passed, wave 3 failed on one node. */
export function wavesFixture(): FleetReport {
  const all = names(10, 'web-')
  const specs: NodeSpec[] = all.map((n, i) => {
    const start = i === 0 ? 0 : i < 4 ? 40_000 : 85_000
    if (n === 'web-7')
      return { node: n, outcome: 'failure', ms: start + 3_300, log: stretcherLog(n) }
    return { node: n, outcome: 'success', ms: start + timeOf(i) }
  })
  const waves: WaveReport[] = [
    {
      wave: 1,
      nodes: ['web-1'],
      startedAt: FIRED_AT,
      endedAt: FIRED_AT + 32_000,
      gate: 'bake 30s: checks passing',
      passed: true
    },
    {
      wave: 2,
      nodes: ['web-2', 'web-3', 'web-4'],
      startedAt: FIRED_AT + 40_000,
      endedAt: FIRED_AT + 78_000,
      gate: 'bake 30s: checks passing',
      passed: true
    },
    {
      wave: 3,
      nodes: all.slice(4),
      startedAt: FIRED_AT + 85_000,
      endedAt: FIRED_AT + 89_000,
      passed: false
    }
  ]
  return report(specs, { durationMs: 89_000 }, { waves })
}
