// The Serf RPC client against real agents (Debian's serf package, started by
// fleet/serf/agents.ts on loopback): every command the action uses, the
// handlers it relies on, and how calls end when the agent fails them.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { startSerfAgents } from '../fleet/serf/agents.ts'
import type { SerfAgents } from '../fleet/serf/agents.ts'
import { freePort } from '../fleet/serf/free-port.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import { SerfConnection } from '../src/serf/rpc-connection.ts'
import type { SerfClient, SerfClientOptions } from '../src/serf/rpc-client.ts'
import type { StreamRecord, UserEventRecord } from '../src/serf/rpc-types.ts'

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/**
 * How long a tag change may take to reach another agent: gossip on loopback
 * takes about a second, but a missed broadcast waits for the next full sync
 * (research/serf.md: ~16 s, once in ~600 changes).
 */
const GOSSIP_MS = 35_000

/** Polls `check` until it returns a value other than undefined. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A client of `node`'s agent, closed when the test ends. */
async function client(
  t: TestContext,
  agents: SerfAgents,
  node: string,
  opts: SerfClientOptions = {}
) {
  const c = await connectSerf(agents.rpcAddr(node), opts)
  t.after(() => c.close())
  return c
}

/** Records of a stream, and a wait for the first one that matches. */
async function recorder(c: SerfClient, type: string) {
  const records: StreamRecord[] = []
  const stream = await c.stream(type, (r) => records.push(r))
  const first = <R extends StreamRecord>(
    what: string,
    match: (r: StreamRecord) => r is R,
    ms = 10_000
  ) => until(what, () => records.find(match), ms)
  return { records, stream, first }
}

const isUser =
  (name: string) =>
  (r: StreamRecord): r is UserEventRecord =>
    r.event === 'user' && r.name === name

describe('Serf RPC: a cluster of three', { concurrency: true, timeout: 60_000 }, () => {
  let agents: SerfAgents
  before(async () => {
    agents = await startSerfAgents({
      nodes: 3,
      tags: (name): Record<string, string> =>
        ({
          'node-1': { role: 'web' },
          'node-2': { role: 'web', canary: 'yes' },
          'node-3': { role: 'db' }
        })[name] ?? {},
      eventHandlers: [
        'user:ping=cat > "$FLEET_NODE_DIR/ping.tmp" && echo "$SERF_USER_LTIME" > "$FLEET_NODE_DIR/ping.ltime" && mv "$FLEET_NODE_DIR/ping.tmp" "$FLEET_NODE_DIR/ping.payload"',
        `query:hello=printf 'hello from %s (%s)' "$SERF_SELF_NAME" "$SERF_QUERY_LTIME"`,
        'query:big=yes x | head -c 2000'
      ]
    })
  })
  after(() => agents?.stop())

  it('members: every node alive with its address, port and tags', async (t) => {
    const c = await client(t, agents, 'node-1')
    const members = (await c.members()).sort((a, b) => a.name.localeCompare(b.name))
    assert.deepEqual(
      members.map((m) => [m.name, m.addr, m.port, m.status, m.tags]),
      [
        [
          'node-1',
          '127.0.0.1',
          Number(agents.bindAddr('node-1').split(':')[1]),
          'alive',
          { role: 'web' }
        ],
        [
          'node-2',
          '127.0.0.1',
          Number(agents.bindAddr('node-2').split(':')[1]),
          'alive',
          { role: 'web', canary: 'yes' }
        ],
        [
          'node-3',
          '127.0.0.1',
          Number(agents.bindAddr('node-3').split(':')[1]),
          'alive',
          { role: 'db' }
        ]
      ]
    )
  })

  it('handshake {Version: 1} comes first, once', async (t) => {
    const raw = await SerfConnection.open(agents.rpcAddr('node-1'), 2000)
    t.after(() => raw.close())
    await assert.rejects(
      raw.call('handshake', { Version: 2 }),
      /handshake: Unsupported IPC version$/
    )
    await raw.call('handshake', { Version: 1 })
    await assert.rejects(
      raw.call('handshake', { Version: 1 }),
      /handshake: Handshake already performed$/
    )
    const early = await SerfConnection.open(agents.rpcAddr('node-1'), 2000)
    t.after(() => early.close())
    await assert.rejects(early.call('members'), /members: Handshake required$/)
    await assert.rejects(early.call('stats'), /stats: the agent closed the connection$/)
  })

  it('members-filtered: a bad regex makes the agent close the connection, with no reply', async (t) => {
    const c = await client(t, agents, 'node-3')
    await assert.rejects(
      c.membersFiltered({ name: '(' }),
      /members-filtered: the agent closed the connection$/
    )
  })

  it('members-filtered: anchored regexes on tags, name and status', async (t) => {
    const c = await client(t, agents, 'node-2')
    const names = async (filter: Parameters<SerfClient['membersFiltered']>[0]) =>
      (await c.membersFiltered(filter)).map((m) => m.name).sort()
    assert.deepEqual(await names({ tags: { role: 'web' } }), ['node-1', 'node-2'])
    assert.deepEqual(await names({ tags: { role: 'we' } }), [], 'anchored')
    assert.deepEqual(await names({ tags: { canary: '.+' }, status: 'alive' }), ['node-2'])
    // a member without the tag is matched against "": `.*` takes everyone
    assert.deepEqual(await names({ tags: { canary: '.*' } }), ['node-1', 'node-2', 'node-3'])
    assert.deepEqual(await names({ name: 'node-[23]' }), ['node-2', 'node-3'])
    assert.deepEqual(await names({ status: 'failed' }), [])
  })

  it('event: a handler on another node gets the payload (and a newline) and SERF_USER_LTIME', async (t) => {
    const c = await client(t, agents, 'node-1')
    const { first } = await recorder(c, 'user:ping')
    const url = 's3://releases/app/2024-01-01T00-00-00Z-abc.yml'
    await c.event('ping', url)
    const seen = await first('the ping on the stream', isUser('ping'))
    assert.equal(text(seen.payload), url)
    assert.equal(seen.coalesce, false)
    const dir = agents.nodeDir('node-3')
    await until('the handler on node-3', () => existsSync(join(dir, 'ping.payload')) || undefined)
    assert.equal(readFileSync(join(dir, 'ping.payload'), 'utf8'), `${url}\n`)
    assert.equal(readFileSync(join(dir, 'ping.ltime'), 'utf8'), `${seen.ltime}\n`)
  })

  it('stats: the Lamport clocks as numbers; an event takes at least the event clock read before it', async (t) => {
    const c = await client(t, agents, 'node-2')
    const before = await c.stats()
    assert.ok(
      Number.isSafeInteger(before.eventTime) && before.eventTime >= 1,
      `${before.eventTime}`
    )
    assert.ok(
      Number.isSafeInteger(before.queryTime) && before.queryTime >= 1,
      `${before.queryTime}`
    )
    assert.equal(before.sections.agent?.name, 'node-2')
    const { first } = await recorder(c, 'user:tick')
    await c.event('tick', new Uint8Array([0, 1, 2, 255]))
    const seen = await first('the tick on the stream', isUser('tick'))
    assert.deepEqual([...seen.payload], [0, 1, 2, 255], 'payload bytes as sent')
    assert.ok(
      seen.ltime >= before.eventTime,
      `LTime ${seen.ltime} < event_time ${before.eventTime}`
    )
    const afterwards = await c.stats()
    assert.ok(
      afterwards.eventTime > seen.ltime,
      `event_time ${afterwards.eventTime} <= ${seen.ltime}`
    )
  })

  it('tags: set on one agent, seen by another in members, then removed', async (t) => {
    const node3 = await client(t, agents, 'node-3')
    const node1 = await client(t, agents, 'node-1')
    const tagsOfNode3 = async () => (await node1.members()).find((m) => m.name === 'node-3')?.tags
    await node3.tags({ set: { 'stretcher-app': 'd1:success:7' } })
    await until(
      'node-3 tag seen by node-1',
      async () => ((await tagsOfNode3())?.['stretcher-app'] === 'd1:success:7' ? true : undefined),
      GOSSIP_MS
    )
    assert.deepEqual(await tagsOfNode3(), { role: 'db', 'stretcher-app': 'd1:success:7' })
    await node3.tags({ remove: ['stretcher-app'] })
    await until(
      'the removal seen by node-1',
      async () => ((await tagsOfNode3())?.['stretcher-app'] === undefined ? true : undefined),
      GOSSIP_MS
    )
    assert.deepEqual(await tagsOfNode3(), { role: 'db' })
  })

  it('stream of member-update: a tag change on another node; nothing after stop()', async (t) => {
    const node1 = await client(t, agents, 'node-1')
    const node2 = await client(t, agents, 'node-2')
    const stopped = await recorder(node1, 'member-update')
    const watching = await recorder(node1, 'member-update')
    const build =
      (value: string | undefined) =>
      (r: StreamRecord): r is StreamRecord =>
        r.event === 'member-update' &&
        r.members.some((m) => m.name === 'node-2' && m.tags.build === value)
    await node2.tags({ set: { build: '42' } })
    const update = await stopped.first('the member-update', build('42'), GOSSIP_MS)
    assert.equal(update.event, 'member-update')
    await stopped.stream.stop()
    assert.equal(await stopped.stream.ended, undefined)
    const count = stopped.records.length
    await node2.tags({ remove: ['build'] })
    await watching.first('the removal on the stream still open', build(undefined), GOSSIP_MS)
    assert.equal(stopped.records.length, count, 'no record after stop')
  })

  it('query: acks and handler responses from FilterNodes only, resolved when all answered', async (t) => {
    const c = await client(t, agents, 'node-1')
    const started = Date.now()
    const seen: string[] = []
    const result = await c.query({
      name: 'hello',
      filterNodes: ['node-2', 'node-3'],
      requestAck: true,
      timeoutMs: 8000,
      onRecord: (r) => seen.push(r.type)
    })
    assert.equal(result.ended, 'answered')
    assert.ok(Date.now() - started < 5000, 'before the deadline')
    assert.deepEqual(result.unanswered, [])
    assert.deepEqual([...result.acks].sort(), ['node-2', 'node-3'])
    const answers = result.responses.map((r) => [r.from, text(r.payload)]).sort()
    assert.equal(answers.length, 2)
    for (const [from, payload] of answers)
      assert.match(payload!, new RegExp(`^hello from ${from} \\(\\d+\\)$`))
    assert.ok(!seen.includes('done'))
  })

  it('query: a node answering over 1 KB is dropped by Serf; the call ends at the deadline and names it', async (t) => {
    const c = await client(t, agents, 'node-3')
    const started = Date.now()
    const result = await c.query({
      name: 'big',
      filterNodes: ['node-2'],
      requestAck: true,
      timeoutMs: 1500
    })
    const took = Date.now() - started
    assert.equal(result.ended, 'done')
    assert.deepEqual(result.acks, ['node-2'])
    assert.deepEqual(result.responses, [])
    assert.deepEqual(result.unanswered, ['node-2'])
    assert.ok(took >= 1400 && took < 5000, `${took} ms`)
    // the same client works on: the records of the query ended with `done`
    assert.equal((await c.members()).length, 3)
  })

  it('respond: a query seen on a stream is answered through RPC', async (t) => {
    const node1 = await client(t, agents, 'node-1')
    const node2 = await client(t, agents, 'node-2')
    const responding: Promise<void>[] = []
    await node1.stream('query:ask', (r) => {
      if (r.event === 'query') responding.push(node1.respond(r.id, `answer to ${text(r.payload)}`))
    })
    const result = await node2.query({
      name: 'ask',
      payload: 'q1',
      filterNodes: ['node-1'],
      timeoutMs: 5000
    })
    assert.equal(result.ended, 'answered')
    assert.deepEqual(
      result.responses.map((r) => [r.from, text(r.payload)]),
      [['node-1', 'answer to q1']]
    )
    assert.equal(responding.length, 1)
    await Promise.all(responding)
  })
})

describe('Serf RPC: rpc_auth', { concurrency: true, timeout: 30_000 }, () => {
  let agents: SerfAgents
  const key = 'e2e-secret-key'
  before(async () => {
    agents = await startSerfAgents({ nodes: 1, rpcAuth: key })
  })
  after(() => agents?.stop())

  it('the right key: commands work', async (t) => {
    const c = await client(t, agents, 'node-1', { authKey: key })
    assert.deepEqual(
      (await c.members()).map((m) => m.name),
      ['node-1']
    )
  })

  it('a wrong key: connecting fails in one line naming the agent', async () => {
    await assert.rejects(connectSerf(agents.rpcAddr('node-1'), { authKey: 'nope' }), {
      name: 'SerfRpcError',
      message: `Serf agent ${agents.rpcAddr('node-1')}: auth: Invalid authentication token`
    })
  })

  it('no key: each command fails with "Authentication required", body or not, and the connection stays in step', async (t) => {
    const c = await client(t, agents, 'node-1')
    const required = (command: string) => ({
      message: `Serf agent ${agents.rpcAddr('node-1')}: ${command}: Authentication required`
    })
    await assert.rejects(c.members(), required('members'))
    // a body the agent does not read before auth: it answers it as a request on Seq 0
    await assert.rejects(c.event('ping', 'payload'), required('event'))
    await assert.rejects(c.stats(), required('stats'))
    await assert.rejects(c.membersFiltered({ name: 'node-1' }), required('members-filtered'))
  })
})

describe('Serf RPC: an agent that fails', { timeout: 30_000 }, () => {
  let agents: SerfAgents
  before(async () => {
    agents = await startSerfAgents({ nodes: 1 })
  })
  after(() => agents?.stop())

  it('close(): pending calls reject, streams end, later calls reject, no socket or timer stays', async () => {
    const open = () => {
      const info = process.getActiveResourcesInfo()
      return {
        sockets: info.filter((r) => r === 'TCPSocketWrap').length,
        timers: info.filter((r) => r === 'Timeout').length
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100)) // the fleet's own clients have closed
    const before = open()
    const c = await connectSerf(agents.rpcAddr('node-1'))
    const stream = await c.stream('user', () => {})
    const pending = c.query({ name: 'nobody', timeoutMs: 20_000, expect: ['node-9'] })
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(
      open().sockets > before.sockets && open().timers > before.timers,
      'a socket and timers while open'
    )
    const closing = c.close()
    await assert.rejects(pending, {
      name: 'SerfRpcError',
      message: `Serf agent ${agents.rpcAddr('node-1')}: query: the client is closed`
    })
    assert.match(String(await stream.ended), /stream: the client is closed$/)
    await assert.rejects(c.members(), {
      message: `Serf agent ${agents.rpcAddr('node-1')}: members: the client is closed`
    })
    await assert.rejects(c.event('ping', 'x'), /event: the client is closed$/)
    await closing
    assert.deepEqual(open(), before)
  })

  it('a hung agent (SIGSTOP): the call times out; the late reply is read in step', async (t) => {
    const c = await client(t, agents, 'node-1', { timeoutMs: 2000 })
    await agents.pause('node-1')
    let resumed = false
    t.after(async () => {
      if (!resumed) await agents.resume('node-1')
    })
    const started = Date.now()
    await assert.rejects(c.stats({ timeoutMs: 300 }), {
      message: `Serf agent ${agents.rpcAddr('node-1')}: stats: no reply within 300 ms`
    })
    assert.ok(Date.now() - started < 1500)
    await agents.resume('node-1')
    resumed = true
    assert.deepEqual(
      (await c.members()).map((m) => m.name),
      ['node-1']
    )
    assert.ok((await c.stats()).eventTime >= 1)
  })

  it('killed mid-call: the pending query rejects at once, the stream ends, later calls reject', async (t) => {
    const c = await client(t, agents, 'node-1')
    const stream = await c.stream('user', () => {})
    const pending = assert.rejects(
      c.query({ name: 'nobody', timeoutMs: 30_000, expect: ['node-1'] }),
      {
        message: `Serf agent ${agents.rpcAddr('node-1')}: query: the agent closed the connection`
      }
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    const started = Date.now()
    await agents.kill('node-1')
    await pending
    assert.ok(Date.now() - started < 2000)
    assert.match(String(await stream.ended), /stream: the agent closed the connection$/)
    await assert.rejects(c.members(), /members: the agent closed the connection$/)
  })

  it('connecting where no agent listens fails in one line', async () => {
    const addr = `127.0.0.1:${await freePort()}`
    await assert.rejects(connectSerf(addr, { timeoutMs: 2000 }), {
      name: 'SerfRpcError',
      message: `Serf agent ${addr}: connect: connect ECONNREFUSED ${addr}`
    })
  })

  it('restart: the agent comes back on its address, with the tags of its tags file', async (t) => {
    await agents.kill('node-1') // if the test before did not
    await agents.restart('node-1')
    const before = await client(t, agents, 'node-1')
    await before.tags({ set: { 'stretcher-app': 'd2:failure:q5' } })
    await agents.kill('node-1')
    await agents.restart('node-1')
    const c = await client(t, agents, 'node-1')
    assert.deepEqual(
      (await c.members()).map((m) => [m.name, m.status, m.tags]),
      [['node-1', 'alive', { 'stretcher-app': 'd2:failure:q5' }]]
    )
  })
})
