// The Serf fleet backend (contract 13) against real Serf agents on loopback
// (fleet/serf/agents.ts) whose handlers set the result tag as the reporting
// commands do, and the local s3rver (behind S3's conditional writes where the
// lock needs them). node-1 is the action's agent: no handlers, no tags.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { startSerfAgents } from '../fleet/serf/agents.ts'
import type { SerfAgents } from '../fleet/serf/agents.ts'
import type { LocalS3 } from '../fleet/s3.ts'
import { S3RVER_CREDENTIALS, startLocalS3 } from '../fleet/s3.ts'
import { startConditionalS3 } from '../fleet/s3-conditional.ts'
import type { ConditionalS3 } from '../fleet/s3-conditional.ts'
import type { FleetBackend, SendRequest, Sent } from '../src/backend/fleet-backend.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'
import type { NodeState } from '../src/fleet-state/fleet-state.ts'
import { createS3Store } from '../src/publish/s3-store.ts'
import type { S3ObjectStore } from '../src/publish/s3-store.ts'
import { serfBackend, serfObjectKeys } from '../src/serf/backend.ts'
import type { SerfBackendOptions } from '../src/serf/backend.ts'
import { nodeChunks, queryBaseBytes, QUERY_LIMIT } from '../src/serf/query-chunks.ts'
import { applyMembers } from '../src/serf/await-tags.ts'
import { NUDGE_MIN_MS, nudgeDueMs } from '../src/serf/nudge-silent.ts'
import { answersMark, decodeMark, encodeMark } from '../src/serf/result-tag.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import type { SerfClient } from '../src/serf/rpc-client.ts'
import { queryNodes } from '../src/serf/send-release.ts'
import { memoryLog } from '../src/shared/log.ts'
import { formatSerfResult, parseSerfResult } from '../src/shared/serf-result-tag.ts'

const APP = 'web'
const EVENT = 'deploy'

/**
 * The node side, as the reporting commands do it: read the manifest URL, set
 * `stretcher-web=<id>:<status>:<clock>[:<phase>]` in the background (`serf
 * tags` may wait 5 s for the broadcast); `<id>.prepare.yml` and
 * `<id>.switch.yml` report their phase (layout: releases). A node with a
 * `deaf` file in its dir does nothing; one with a `missed` file ignores user
 * events (as if gossip missed them) and runs queries; one with a `stuck` file
 * reports a switch as a prepare (it never gets past it).
 */
const HANDLER = `
[ -e "$FLEET_NODE_DIR/deaf" ] && exit 0
[ -e "$FLEET_NODE_DIR/missed" ] && [ "$SERF_EVENT" = user ] && exit 0
read url
id=$(basename "$url" .yml)
phase=
case "$id" in *.prepare) phase=:prepare; id=\${id%.prepare};; *.switch) phase=:switch; id=\${id%.switch};; esac
[ -e "$FLEET_NODE_DIR/stuck" ] && [ -n "$phase" ] && phase=:prepare
echo "$SERF_EVENT $url" >> "$FLEET_NODE_DIR/stretcher.log"
status=success
case "$url" in *fail*) status=failure;; esac
if [ "$SERF_EVENT" = query ]; then clock="q$SERF_QUERY_LTIME"; else clock="$SERF_USER_LTIME"; fi
"\${SERF_BINARY:-serf}" tags -rpc-addr="$SERF_RPC_ADDR" -set "stretcher-${APP}=$id:$status:$clock$phase" >/dev/null 2>&1 &
`

async function startCluster(
  tags: Record<string, Record<string, string>>,
  nodes: number
): Promise<SerfAgents> {
  const agents = await startSerfAgents({
    nodes,
    tags: (name) => tags[name] ?? {},
    eventHandlers: (name) =>
      name === 'node-1'
        ? []
        : [
            `user:${EVENT}=sh "$FLEET_NODE_DIR/handler.sh"`,
            `query:${EVENT}=sh "$FLEET_NODE_DIR/handler.sh"`,
            `query:stretcher-${APP}-log=tail -c 900 "$FLEET_NODE_DIR/stretcher.log"`
          ]
  })
  for (const name of agents.names) writeFileSync(join(agents.nodeDir(name), 'handler.sh'), HANDLER)
  return agents
}

const nodeLog = (agents: SerfAgents, node: string) => {
  const file = join(agents.nodeDir(node), 'stretcher.log')
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

let s3: LocalS3
let conditional: ConditionalS3
const stores: S3ObjectStore[] = []
const storeAt = (endpoint: string) => {
  const store = createS3Store(
    { bucket: s3.bucket, prefix: '', region: 'us-east-1', endpoint },
    S3RVER_CREDENTIALS
  )
  stores.push(store)
  return store
}

before(async () => {
  s3 = await startLocalS3()
  conditional = await startConditionalS3(s3.endpoint)
})
after(async () => {
  for (const store of stores) store.destroy()
  await conditional?.stop()
  await s3?.stop()
})

function makeBackend(
  client: SerfClient,
  store: S3ObjectStore,
  extra: Partial<SerfBackendOptions> = {}
) {
  const log = memoryLog()
  const backend = serfBackend(client, store, {
    app: APP,
    s3Prefix: 'apps',
    eventName: EVENT,
    tags: {},
    log,
    ...extra
  })
  return { backend, log }
}

const manifest = (id: string) => `s3://${'releases'}/apps/${APP}/${id}.yml`

/** Sends and watches one step; the fleet, the send's mark and what watch took. */
async function deploy(
  backend: FleetBackend,
  id: string,
  targets: string[],
  opts: {
    /**
     * default 60 s: a tag update that gossip misses reaches the action's agent with
     * the next push-pull sync (every 30 s on a LAN profile), so a 30 s wait could end
     * just before it
     */
    deadlineMs?: number
    send?: Partial<SendRequest>
    untargeted?: string[]
    admitJoiners?: boolean
    /** layout: releases: the phase whose results count, and the manifest sent */
    phase?: 'prepare' | 'switch'
    /** stop watching a second after this holds (the rest would only wait for the deadline) */
    until?: (fleet: FleetState) => boolean
  } = {}
) {
  const sent = (await backend.send({
    deployId: id,
    eventUrl: opts.phase ? manifest(`${id}.${opts.phase}`) : manifest(id),
    nodes: targets,
    byFilters: true,
    ...opts.send
  })) as Sent
  assert.ok(sent, 'something was sent')
  const fleet = new FleetState({
    deployId: id,
    baselineIndex: sent.baseline,
    maxFailures: 0,
    targets,
    untargeted: opts.untargeted,
    ...(opts.phase ? { phase: opts.phase } : {})
  })
  const changes: NodeState[] = []
  const started = Date.now()
  const enough = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const check = setInterval(() => {
    if (!timer && opts.until?.(fleet)) timer = setTimeout(() => enough.abort(), 1000)
  }, 50)
  await backend.watch({
    sent,
    fleet,
    deadline: Date.now() + (opts.deadlineMs ?? 60_000),
    admitJoiners: opts.admitJoiners ?? false,
    signal: enough.signal,
    onChange: (c) => changes.push(...c.map((s) => ({ ...s })))
  })
  clearInterval(check)
  clearTimeout(timer)
  return { sent, fleet, changes, watchMs: Date.now() - started }
}

const statuses = (fleet: FleetState) =>
  Object.fromEntries(fleet.list().map((s) => [s.node, s.status]))

describe('result tags and marks', () => {
  it('parses <id>:<status>:<clock>[:<phase>], q for the query clock, <event>q<query> at boot; anything else is not a result', () => {
    assert.deepEqual(parseSerfResult('2024-01-01T00-00-00Z-abc:success:17'), {
      deployId: '2024-01-01T00-00-00Z-abc',
      status: 'success',
      clock: { kind: 'event', time: 17 }
    })
    assert.deepEqual(parseSerfResult('d1:failure:q5'), {
      deployId: 'd1',
      status: 'failure',
      clock: { kind: 'query', time: 5 }
    })
    assert.deepEqual(parseSerfResult('d3:success:12q4:switch'), {
      deployId: 'd3',
      status: 'success',
      clock: { kind: 'boot', event: 12, query: 4 },
      phase: 'switch'
    })
    for (const result of [
      { deployId: 'd2', status: 'success', clock: { kind: 'query', time: 9 }, phase: 'prepare' },
      { deployId: 'd4', status: 'failure', clock: { kind: 'boot', event: 0, query: 7 } },
      { deployId: 'd5', status: 'success', clock: { kind: 'event', time: 3 }, phase: 'switch' }
    ] as const)
      assert.deepEqual(parseSerfResult(formatSerfResult(result)), result)
    for (const bad of [
      '',
      'd1',
      'd1:ok:5',
      'd1:success:',
      'd1:success:x5',
      'a:b:success:5',
      'd1:success:1q',
      'd1:success:q1q2',
      'd1:success:5:whole',
      'a b:success:1'
    ])
      assert.equal(typeof parseSerfResult(bad), 'string', bad)
  })

  it('a boot report (both clocks of its agent) answers a send of either kind that its clocks reached', () => {
    const boot = { kind: 'boot', event: 12, query: 4 } as const
    assert.ok(answersMark(boot, { kind: 'event', time: 12 }))
    assert.ok(!answersMark(boot, { kind: 'event', time: 13 }))
    assert.ok(answersMark(boot, { kind: 'query', time: 4 }))
    assert.ok(!answersMark(boot, { kind: 'query', time: 5 }))
    // a send's own kind only, otherwise
    assert.ok(!answersMark({ kind: 'query', time: 99 }, { kind: 'event', time: 3 }))
    assert.ok(answersMark({ kind: 'event', time: 3 }, { kind: 'event', time: 3 }))
  })

  it('layout: releases: a prepare step counts prepare tags only, a switch step switch tags only; a joiner’s boot report counts', () => {
    const id = 'r1'
    const mark = { kind: 'event', time: 20 } as const
    const member = (name: string, tag: string) => ({
      name,
      addr: new Uint8Array([127, 0, 0, 1]),
      port: 7946,
      tags: { role: 'web', 'stretcher-web': tag },
      status: 'alive'
    })
    const members = [
      member('a', `${id}:success:21:prepare`),
      member('b', `${id}:success:21:switch`),
      member('c', `${id}:success:21`),
      member('d', `${id}:failure:22:prepare`),
      // joined after the send and booted latest (the combined manifest reports as a switch)
      member('e', `${id}:success:25q3:switch`),
      // booted before the action's clock reached it: an older boot
      member('f', `${id}:success:19q3:switch`),
      // a boot report before the clocks were written
      member('g', `${id}:success:0:switch`)
    ]
    const run = (phase: 'prepare' | 'switch') => {
      const fleet = new FleetState({
        deployId: id,
        baselineIndex: encodeMark(mark),
        maxFailures: 0,
        targets: ['a', 'b', 'c', 'd'],
        phase
      })
      applyMembers(
        { app: APP, fleet, mark, firedAt: Date.now(), admitJoiner: () => true },
        members as never
      )
      return fleet
    }
    const prepare = run('prepare')
    assert.deepEqual(statuses(prepare), { a: 'success', b: 'pending', c: 'pending', d: 'failure' })
    assert.equal(
      prepare.list().find((n) => n.node === 'b')?.note,
      `reported the switch phase of ${id}`
    )
    assert.equal(
      prepare.list().find((n) => n.node === 'c')?.note,
      `reported the whole phase of ${id}`
    )
    const doneSwitch = run('switch')
    assert.deepEqual(statuses(doneSwitch), {
      a: 'pending',
      b: 'success',
      c: 'pending',
      d: 'pending',
      e: 'success'
    })
    assert.equal(doneSwitch.list().find((n) => n.node === 'e')?.joined, true)
    assert.equal(
      doneSwitch.list().find((n) => n.node === 'a')?.note,
      `reported the prepare phase of ${id}`
    )
  })

  it('silent nodes are nudged once half reported, not before 8 s nor 3 times the median report time', () => {
    const fleet = new FleetState({
      deployId: 'n1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: ['a', 'b', 'c', 'd']
    })
    const report = (node: string, ms: number) =>
      fleet.applyResults(
        [{ node, value: JSON.stringify({ deploy_id: 'n1', status: 'success' }), modifyIndex: 1 }],
        ms
      )
    assert.equal(nudgeDueMs(fleet, 0), undefined)
    report('a', 1000)
    assert.equal(nudgeDueMs(fleet, 0), undefined, 'one of four reported')
    report('b', 1500)
    assert.equal(nudgeDueMs(fleet, 0), NUDGE_MIN_MS)
    assert.equal(nudgeDueMs(fleet, 1), 2 * NUDGE_MIN_MS)
    report('c', 6000)
    assert.equal(nudgeDueMs(fleet, 0), NUDGE_MIN_MS, 'median 1.5 s: 4.5 s is below the floor')
    const slow = new FleetState({
      deployId: 'n1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: ['a', 'b']
    })
    slow.applyResults(
      [
        { node: 'a', value: JSON.stringify({ deploy_id: 'n1', status: 'success' }), modifyIndex: 1 }
      ],
      5000
    )
    assert.equal(nudgeDueMs(slow, 0), 15_000)
  })

  it('fewer than half reported: silent nodes are nudged once half the wait is gone, not before the other bounds', () => {
    const fleet = new FleetState({
      deployId: 'n1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: ['a', 'b', 'c']
    })
    assert.equal(nudgeDueMs(fleet, 0, 60_000), undefined, 'none reported')
    fleet.applyResults(
      [
        { node: 'a', value: JSON.stringify({ deploy_id: 'n1', status: 'success' }), modifyIndex: 1 }
      ],
      4000
    )
    assert.equal(nudgeDueMs(fleet, 0), undefined, 'the wait is not known')
    assert.equal(nudgeDueMs(fleet, 0, 60_000), 30_000, 'half of a 60 s wait')
    assert.equal(nudgeDueMs(fleet, 1, 60_000), 60_000, 'the second at twice that')
    assert.equal(nudgeDueMs(fleet, 0, 15_000), 12_000, 'three times the median 4 s is later')
    assert.equal(nudgeDueMs(fleet, 0, 10_000), 12_000, 'never before three times the median')
  })

  it('a mark keeps its clock kind and time; marks of one kind keep their order', () => {
    for (const clock of [
      { kind: 'event', time: 0 },
      { kind: 'event', time: 41 },
      { kind: 'query', time: 41 },
      { kind: 'query', time: 2 ** 40 }
    ] as const)
      assert.deepEqual(decodeMark(encodeMark(clock)), clock)
    assert.ok(
      encodeMark({ kind: 'query', time: 3 }) < encodeMark({ kind: 'query', time: 4 }) &&
        encodeMark({ kind: 'event', time: 3 }) < encodeMark({ kind: 'event', time: 4 })
    )
  })

  it('FilterNodes are cut so that each query fits 1 KB; a node name that cannot fit is refused', () => {
    const names = Array.from({ length: 100 }, (_, i) =>
      `web-${String(i).padStart(3, '0')}-`.padEnd(40, 'x')
    )
    const base = queryBaseBytes(EVENT, manifest('2024-01-01T00-00-00Z-abc'), 'node-1')
    const chunks = nodeChunks(names, base)
    assert.deepEqual(chunks.flat(), names)
    assert.ok(chunks.length >= 5 && chunks.length <= 7, `${chunks.length} chunks`)
    for (const chunk of chunks)
      assert.ok(base + chunk.reduce((n, s) => n + s.length + 2, 0) <= QUERY_LIMIT)
    assert.throws(() => nodeChunks(['n'.repeat(900)], base), /exceed Serf's 1024-byte query limit/)
  })
})

describe('the Serf backend on a healthy cluster', { timeout: 240_000 }, () => {
  let agents: SerfAgents
  let client: SerfClient
  before(async () => {
    agents = await startCluster(
      {
        'node-2': { role: 'web', canary: 'yes' },
        'node-3': { role: 'web' },
        'node-4': { role: 'web' },
        'node-5': { role: 'web' },
        'node-6': { role: 'db' }
      },
      6
    )
    client = await connectSerf(agents.rpcAddr('node-1'))
  })
  after(async () => {
    await client?.close()
    await agents?.stop()
  })
  const web = ['node-2', 'node-3', 'node-4', 'node-5']

  it('targets: alive members matching serf-tags (anchored, a missing tag never matches) and node-filter; canaries by the tag canary', async () => {
    const store = storeAt(s3.endpoint)
    const targets = async (extra: Partial<SerfBackendOptions>) =>
      makeBackend(client, store, extra).backend.targets()
    const byRole = await targets({ tags: { role: 'web' } })
    assert.deepEqual(byRole.selection.targets.sort(), web)
    assert.deepEqual(byRole.selection.filteredOut.sort(), ['node-1', 'node-6'])
    assert.deepEqual(byRole.selection.notLive, [])
    assert.deepEqual(byRole.canaries, ['node-2'])
    assert.equal(byRole.known, 6)
    assert.deepEqual((await targets({ tags: { role: 'we' } })).selection.targets, [], 'anchored')
    assert.deepEqual(
      (await targets({ tags: { role: '.*' } })).selection.targets.sort(),
      [...web, 'node-6'],
      'node-1 has no role tag'
    )
    const filtered = await targets({ tags: { role: 'web|db' }, nodeFilter: 'node-[36]' })
    assert.deepEqual(filtered.selection.targets.sort(), ['node-3', 'node-6'])
    assert.deepEqual(filtered.canaries, [])
    assert.deepEqual((await targets({})).selection.targets.length, 6, 'no filter: every member')
  })

  it('send as a user event moves latest first; watch counts every tag; the mark is the event clock', async (t) => {
    const store = storeAt(s3.endpoint)
    const { backend, log } = makeBackend(client, store, { tags: { role: 'web' } })
    const id = '2024-05-01T00-00-00Z-aaa1111'
    const history = {
      deploy_id: id,
      manifest_url: manifest(id),
      src_url: manifest(id).replace('.yml', '.tgz'),
      checksum: 'abc',
      published_at: '2024-05-01T00:00:00Z'
    }
    const before = Date.now()
    const { sent, fleet, changes } = await deploy(backend, id, web, {
      send: { pointer: { manifestUrl: manifest(id), history } },
      untargeted: ['node-1', 'node-6']
    })
    assert.equal(decodeMark(sent.baseline).kind, 'event')
    assert.ok(sent.firedAt >= before)
    assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
    assert.deepEqual(statuses(fleet), Object.fromEntries(web.map((n) => [n, 'success'])))
    const lastSeen = Math.max(...changes.map((c) => c.noticedMs ?? 0))
    t.diagnostic(`event → last of ${web.length} tags seen: ${lastSeen} ms`)
    assert.ok(lastSeen < 15_000, `${lastSeen} ms`)
    // the pointer and history, as the next run reads them
    const keys = serfObjectKeys('apps', APP)
    assert.equal(await store.readText(keys.latest), `${manifest(id)}\n`)
    const pointer = await backend.releasePointer()
    assert.deepEqual(pointer, { manifestUrl: manifest(id), deployId: id, history })
    assert.deepEqual(await backend.history(id), {
      found: true,
      where: `s3://releases/${keys.history(id)}`,
      record: history
    })
    assert.deepEqual(await backend.recentDeployIds(), [id])
    assert.ok(
      log.lines.some((l) => l.startsWith(`s3://releases/apps/web/latest → ${manifest(id)}`))
    )
    // node-6 ran it too (a user event reaches every member) but is not this run's business
    const deadline = Date.now() + 20_000
    while ((await backend.lastResults()).get('node-6')?.deployId !== id) {
      assert.ok(Date.now() < deadline, 'node-6 reported too')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })

  it('a wave is sent as a query to its nodes only; the mark is the query clock', async (t) => {
    const { backend } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T01-00-00Z-bbb2222'
    const wave = ['node-3', 'node-4']
    const { sent, fleet, changes } = await deploy(backend, id, wave, {
      send: { byFilters: false }
    })
    assert.equal(decodeMark(sent.baseline).kind, 'query')
    assert.deepEqual(statuses(fleet), { 'node-3': 'success', 'node-4': 'success' })
    t.diagnostic(
      `query → last of 2 tags seen: ${Math.max(...changes.map((c) => c.noticedMs ?? 0))} ms`
    )
    const results = await backend.lastResults()
    assert.match(results.get('node-3')?.deployId ?? '', /bbb2222/)
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const node of ['node-2', 'node-5', 'node-6'])
      assert.ok(!nodeLog(agents, node).includes(id), `${node} did not get the wave's query`)
    assert.match(nodeLog(agents, 'node-3'), new RegExp(`query .*${id}`))
  })

  it('a re-used deploy ID (rollback-to): a tag of its earlier deploy does not count', async () => {
    const { backend } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T02-00-00Z-ccc3333'
    const first = await deploy(backend, id, web)
    assert.equal(first.fleet.verdict().done && first.fleet.counts().succeeded, 4)
    const deaf = join(agents.nodeDir('node-4'), 'deaf')
    writeFileSync(deaf, '')
    try {
      // node-4 keeps `<id>:success:<earlier clock>` and does not run it again
      const others = ['node-2', 'node-3', 'node-5']
      const again = await deploy(backend, id, web, {
        until: (f) => f.nodesByStatus('success').join() === others.join()
      })
      assert.deepEqual(statuses(again.fleet), {
        'node-2': 'success',
        'node-3': 'success',
        'node-4': 'pending',
        'node-5': 'success'
      })
      assert.equal(
        (await backend.lastResults()).get('node-4')?.deployId,
        id,
        'the old tag is there'
      )
    } finally {
      rmSync(deaf)
    }
  })

  it('joiners: a matching alive member that was not targeted and reports this deploy joins; others stay out', async () => {
    const { backend } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T02-30-00Z-eee5555'
    const deaf = join(agents.nodeDir('node-2'), 'deaf')
    writeFileSync(deaf, '')
    try {
      const { fleet } = await deploy(backend, id, ['node-2'], {
        admitJoiners: true,
        until: (f) =>
          f.nodesByStatus('success').join() === 'node-3,node-4,node-5' && f.isKnown('node-6')
      })
      assert.deepEqual(statuses(fleet), {
        'node-2': 'pending',
        'node-3': 'success',
        'node-4': 'success',
        'node-5': 'success'
      })
      assert.ok(fleet.list().every((n) => Boolean(n.joined) === (n.node !== 'node-2')))
      assert.ok(!fleet.isTarget('node-6'), 'node-6 does not match role=web')
    } finally {
      rmSync(deaf)
    }
  })

  it('layout: releases: the prepare counts prepare tags, the switch switch tags; a node stuck at its prepare is not switched', async () => {
    const { backend } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T02-45-00Z-fff6666'
    const prepare = await deploy(backend, id, web, { phase: 'prepare' })
    assert.deepEqual(statuses(prepare.fleet), Object.fromEntries(web.map((n) => [n, 'success'])))
    assert.ok(prepare.fleet.list().every((n) => n.phase === 'prepare'))
    const stuck = join(agents.nodeDir('node-5'), 'stuck')
    writeFileSync(stuck, '')
    try {
      const others = ['node-2', 'node-3', 'node-4']
      const done = await deploy(backend, id, web, {
        phase: 'switch',
        until: (f) =>
          f.nodesByStatus('success').join() === others.join() &&
          f.list().some((n) => n.node === 'node-5' && n.note !== undefined)
      })
      assert.deepEqual(statuses(done.fleet), {
        'node-2': 'success',
        'node-3': 'success',
        'node-4': 'success',
        'node-5': 'pending'
      })
      assert.equal(
        done.fleet.list().find((n) => n.node === 'node-5')?.note,
        `reported the prepare phase of ${id}`
      )
      assert.equal((await backend.lastResults()).get('node-2')?.phase, 'switch')
    } finally {
      rmSync(stuck)
    }
  })

  it('an event a node missed: once most reported, the silent node is sent the deploy as a query, and its result on that clock counts', async () => {
    const { backend, log } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T02-50-00Z-ggg7777'
    const missed = join(agents.nodeDir('node-3'), 'missed')
    writeFileSync(missed, '')
    try {
      const { fleet, sent } = await deploy(backend, id, web)
      assert.equal(decodeMark(sent.baseline).kind, 'event')
      assert.deepEqual(fleet.verdict(), { done: true, ok: true, reason: 'converged' })
      const node3 = fleet.list().find((n) => n.node === 'node-3')
      assert.ok((node3?.noticedMs ?? 0) >= NUDGE_MIN_MS, `noticed at ${node3?.noticedMs} ms`)
      assert.match(nodeLog(agents, 'node-3'), new RegExp(`^query \\S+/${id}\\.yml$`, 'm'))
      assert.doesNotMatch(nodeLog(agents, 'node-2'), new RegExp(`^query \\S+/${id}\\.yml$`, 'm'))
      assert.ok(
        log.lines.some((l) =>
          /1 node\(s\) silent \d+ s after the event while \d of \d reported .*: node-3$/.test(l)
        ),
        log.lines.join('\n')
      )
    } finally {
      rmSync(missed)
    }
  })

  it('an event a node missed while another never reports (1 of 3 reported): the silent ones are sent the query once half the wait is gone', async () => {
    const { backend, log } = makeBackend(client, storeAt(s3.endpoint), { tags: { role: 'web' } })
    const id = '2024-05-01T02-55-00Z-hhh8888'
    const missed = join(agents.nodeDir('node-3'), 'missed')
    const deaf = join(agents.nodeDir('node-4'), 'deaf')
    writeFileSync(missed, '')
    writeFileSync(deaf, '')
    try {
      const deadlineMs = 24_000
      const { fleet } = await deploy(backend, id, ['node-2', 'node-3', 'node-4'], {
        deadlineMs,
        until: (f) => f.list().find((n) => n.node === 'node-3')?.status === 'success'
      })
      const node3 = fleet.list().find((n) => n.node === 'node-3')
      assert.equal(node3?.status, 'success', 'the query reached the node the event missed')
      assert.ok((node3?.noticedMs ?? 0) >= deadlineMs / 2, `noticed at ${node3?.noticedMs} ms`)
      assert.notEqual(fleet.list().find((n) => n.node === 'node-4')?.status, 'success')
      assert.match(nodeLog(agents, 'node-3'), new RegExp(`^query \\S+/${id}\\.yml$`, 'm'))
      assert.ok(
        log.lines.some((l) =>
          /2 node\(s\) silent 1\d s after the event while 1 of 3 reported .*: node-3, node-4$/.test(
            l
          )
        ),
        log.lines.join('\n')
      )
    } finally {
      rmSync(missed)
      rmSync(deaf)
    }
  })

  it('readLogs: a query to the failed nodes; each answer whole; no answer is an empty text, said so', async () => {
    const { backend, log } = makeBackend(client, storeAt(s3.endpoint))
    const logs = await backend.readLogs(['node-3', 'node-1'])
    assert.deepEqual(
      logs.map((l) => l.node),
      ['node-3', 'node-1']
    )
    assert.equal(logs[0]?.text, nodeLog(agents, 'node-3').slice(-900))
    assert.match(logs[0]?.text ?? '', /^(user|query) s3:\/\/releases\/apps\/web\//m)
    assert.equal(logs[1]?.text, '')
    assert.ok(
      log.lines.some((l) => /no answer to the log query stretcher-web-log from node-1/.test(l))
    )
  })

  it('a wave over 1 KB of names goes out as several queries, each accepted by the agent', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `absent-node-${i}`.padEnd(40, '-'))
    const calls: Array<{ nodes: number; error?: string }> = []
    const spy = {
      query: async (params: Parameters<SerfClient['query']>[0]) => {
        try {
          const result = await client.query({ ...params, timeoutMs: 300 })
          calls.push({ nodes: params.filterNodes?.length ?? 0 })
          return result
        } catch (error) {
          calls.push({ nodes: params.filterNodes?.length ?? 0, error: (error as Error).message })
          throw error
        }
      }
    } as unknown as SerfClient
    const acked = await queryNodes(
      spy,
      EVENT,
      manifest('2024-05-01T03-00-00Z-ddd'),
      names,
      'node-1'
    )
    assert.deepEqual(acked, [])
    assert.ok(calls.length >= 3, JSON.stringify(calls))
    assert.deepEqual(
      calls.filter((c) => c.error),
      [],
      'no query refused as too large'
    )
    assert.equal(
      calls.reduce((n, c) => n + c.nodes, 0),
      60
    )
  })

  it('an event over 512 bytes of name and URL fails before anything is written', async () => {
    const store = storeAt(s3.endpoint)
    const { backend } = makeBackend(client, store, { s3Prefix: 'big' })
    const url = `s3://releases/${'x'.repeat(520)}.yml`
    await assert.rejects(
      backend.send({
        deployId: 'big',
        eventUrl: url,
        nodes: web,
        byFilters: true,
        pointer: { manifestUrl: url }
      }),
      /the Serf event deploy would carry 544 bytes of name and manifest URL, over Serf's 512-byte limit/
    )
    assert.equal(await store.readText(serfObjectKeys('big', APP).latest), undefined)
  })
})

describe('the Serf backend when nodes fail', { timeout: 240_000 }, () => {
  let agents: SerfAgents
  let client: SerfClient
  before(async () => {
    agents = await startCluster({}, 7)
    client = await connectSerf(agents.rpcAddr('node-1'))
    writeFileSync(join(agents.nodeDir('node-3'), 'deaf'), '')
    writeFileSync(join(agents.nodeDir('node-4'), 'deaf'), '')
  })
  after(async () => {
    await client?.close()
    await agents?.stop()
  })

  it('a silent node is silent at the deadline, not before', async () => {
    const { backend } = makeBackend(client, storeAt(s3.endpoint), { nodeFilter: '^node-[23]$' })
    const { fleet, watchMs } = await deploy(backend, 'silent-1', ['node-2', 'node-3'], {
      deadlineMs: 5000
    })
    assert.deepEqual(statuses(fleet), { 'node-2': 'success', 'node-3': 'silent' })
    assert.deepEqual(fleet.verdict(), { done: true, ok: false, reason: 'timed_out' })
    assert.ok(watchMs >= 4900 && watchMs < 7000, `${watchMs} ms`)
  })

  // node-4, node-6 and node-7 are killed: concurrently, after the event above reached everyone
  describe('a member that fails', { concurrency: true }, () => {
    it('a node killed during the wait is lost well before the deadline', async (t: TestContext) => {
      const { backend } = makeBackend(client, storeAt(s3.endpoint))
      const id = 'lost-1'
      const sent = (await backend.send({
        deployId: id,
        eventUrl: manifest(id),
        nodes: ['node-5', 'node-4'],
        byFilters: false
      })) as Sent
      const fleet = new FleetState({
        deployId: id,
        baselineIndex: sent.baseline,
        maxFailures: 1,
        targets: ['node-5', 'node-4']
      })
      const started = Date.now()
      const killing = agents.kill('node-4')
      await backend.watch({ sent, fleet, deadline: Date.now() + 40_000, admitJoiners: false })
      await killing
      const took = Date.now() - started
      t.diagnostic(`killed node seen lost after ${took} ms`)
      assert.deepEqual(statuses(fleet), { 'node-4': 'lost', 'node-5': 'success' })
      // Lost (at the deadline it would be silent), not waited for: the wait ended on
      // the verdict, before its 40 s deadline. How soon Serf declares a killed member
      // failed is Serf's (~8 s here; 27 s once on a loaded machine).
      assert.ok(took < 40_000, `${took} ms`)
    })

    it('a node that did not ack the query is sent it again once it is back', async (t: TestContext) => {
      const { backend, log } = makeBackend(client, storeAt(s3.endpoint))
      const id = 'resend-1'
      await agents.kill('node-7') // still alive in the members for seconds: gossip has not noticed
      const sent = (await backend.send({
        deployId: id,
        eventUrl: manifest(id),
        nodes: ['node-7'],
        byFilters: false
      })) as Sent
      const fleet = new FleetState({
        deployId: id,
        baselineIndex: sent.baseline,
        maxFailures: 0,
        targets: ['node-7']
      })
      await agents.restart('node-7')
      const started = Date.now()
      await backend.watch({ sent, fleet, deadline: Date.now() + 20_000, admitJoiners: false })
      t.diagnostic(`restarted node reported ${Date.now() - started} ms after the watch began`)
      assert.deepEqual(statuses(fleet), { 'node-7': 'success' })
      assert.ok(
        log.lines.some((l) =>
          /^sending the query again to 1 node\(s\) that did not ack it within 3 s: node-7$/.test(l)
        ),
        log.lines.join('\n')
      )
      assert.equal(nodeLog(agents, 'node-7').match(/query .*resend-1/g)?.length, 1)
    })

    it('the bake gate fails when a member of the wave fails; passes while all stay alive', async () => {
      const { backend } = makeBackend(client, storeAt(s3.endpoint))
      assert.deepEqual(await backend.health(['node-2', 'node-6'], 300), [])
      const started = Date.now()
      const killing = new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
        agents.kill('node-6')
      )
      const failures = await backend.health(['node-2', 'node-6'], 30_000)
      await killing
      assert.deepEqual(failures, [
        { node: 'node-6', checkId: 'serf:member', name: 'member status', output: 'failed' }
      ])
      assert.ok(Date.now() - started < 20_000)
    })
  })
})

describe('the deploy lock in S3', { timeout: 30_000 }, () => {
  let agents: SerfAgents
  let client: SerfClient
  before(async () => {
    agents = await startSerfAgents({ nodes: 1 })
    client = await connectSerf(agents.rpcAddr('node-1'))
  })
  after(async () => {
    await client?.close()
    await agents?.stop()
  })
  const holder = (deploy_id: string) => ({
    deploy_id,
    run_url: `https://github.com/o/r/actions/runs/${deploy_id}`,
    started_at: new Date().toISOString()
  })

  it('a second taker waits, saying who holds it, and gets it once the first releases it', async () => {
    const first = makeBackend(client, storeAt(conditional.endpoint), { s3Prefix: 'lock1' })
    const second = makeBackend(client, storeAt(conditional.endpoint), { s3Prefix: 'lock1' })
    assert.equal(first.backend.lockName, `s3://releases/lock1/${APP}/lock`)
    assert.deepEqual(await first.backend.lockState(), { held: false })
    const a = await first.backend.lock({
      holder: holder('run-a'),
      deadline: Date.now() + 5000,
      log: first.log
    })
    assert.ok(a.held)
    const state = await second.backend.lockState()
    assert.ok(state.held && state.session === a.sessionId && state.holder?.deploy_id === 'run-a')
    // a short deadline gives up, naming the holder
    await assert.rejects(
      second.backend.lock({ holder: holder('run-x'), deadline: Date.now() + 300, log: second.log }),
      /gave up waiting for the deploy lock s3:\/\/releases\/lock1\/web\/lock: still held by https:\/\/github.com\/o\/r\/actions\/runs\/run-a, deploy run-a, since .+ \(if that run is gone, delete the object\)$/
    )
    const waiting = second.backend.lock({
      holder: holder('run-b'),
      deadline: Date.now() + 10_000,
      log: second.log
    })
    await new Promise((resolve) => setTimeout(resolve, 2200))
    // said once per waiting call (then every ~10 s), not at every try (each second), naming the holder
    assert.equal(
      second.log.lines.filter((l) =>
        /^waiting for the deploy lock s3:\/\/releases\/lock1\/web\/lock, held by .*deploy run-a/.test(
          l
        )
      ).length,
      2,
      second.log.lines.join('\n')
    )
    const releasedAt = Date.now()
    await a.release()
    const b = await waiting
    assert.ok(Date.now() - releasedAt < 2500)
    const now = await first.backend.lockState()
    assert.ok(now.held && now.session === b.sessionId && now.holder?.deploy_id === 'run-b')
    // a release by a session that no longer holds it leaves the other's lock alone
    await a.release()
    assert.ok((await first.backend.lockState()).held)
    await b.release()
    assert.deepEqual(await first.backend.lockState(), { held: false })
  })

  it('an endpoint that ignores If-None-Match (a raw s3rver) is detected; the lock is not taken', async () => {
    const raw = makeBackend(client, storeAt(s3.endpoint), { s3Prefix: 'lock2' })
    await assert.rejects(
      raw.backend.lock({ holder: holder('run-c'), deadline: Date.now() + 5000, log: raw.log }),
      /^Error: the S3 endpoint ignores If-None-Match \(a second conditional write of s3:\/\/releases\/lock2\/web\/lock succeeded\), so the deploy lock cannot be trusted/
    )
    assert.deepEqual(await raw.backend.lockState(), { held: false })
  })

  it('the rollout record is written and deleted', async () => {
    const store = storeAt(s3.endpoint)
    const { backend } = makeBackend(client, store, { s3Prefix: 'rec' })
    const record = { deploy_id: 'd', waves: [1, 3], completed: 1, nodes: ['a'] }
    await backend.recordRollout(record)
    assert.deepEqual(JSON.parse((await store.readText('rec/web/rollout')) ?? ''), record)
    await backend.recordRollout(undefined)
    assert.equal(await store.readText('rec/web/rollout'), undefined)
    assert.deepEqual(await backend.datacenters({ kind: 'agent' } as never), [undefined])
  })
})
