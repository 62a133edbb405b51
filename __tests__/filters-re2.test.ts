// The nodes the action waits for are exactly the nodes Consul delivers the
// event to. Consul compiles node/service/tag filters with Go's RE2
// (agent/user_event.go: regexp.Compile, then an unanchored MatchString on each
// receiver), so the action (config, targets, joiner check) and the emulator
// that stands for Consul both match with re2js; a filter whose JavaScript
// reading differs (`(?i)`, `[[:alpha:]]`, `\pL`, `\z`) picks the same nodes on
// both sides, and a filter RE2 refuses is refused by both, in Go's words.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { EventFilters } from '../src/shared/filters.ts'
import { catalogJoinerCheck, readCatalog } from '../src/consul/await.ts'
import { ConsulClient } from '../src/consul/client.ts'
import { selectTargets } from '../src/consul/targets.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import type { ConsulEmulator } from '../fleet/consul/index.ts'

const NODES = [
  { name: 'consul-server-1', server: true },
  { name: 'web-1', services: [{ name: 'Web', tags: ['Canary', 'v2'] }] },
  { name: 'WEB-2', services: [{ name: 'web', tags: ['blue'] }] },
  { name: 'web-10', services: [{ name: 'web', tags: ['v10'] }] },
  { name: 'web-1z', services: [{ name: 'webz', tags: ['z'] }] },
  { name: 'api-1', services: [{ name: 'api', tags: ['v2'] }] },
  { name: 'café', services: [{ name: 'web', tags: ['ünï'] }] },
  { name: 'db', services: [{ name: 'postgres', tags: ['primary'] }] },
  // what the JavaScript readings of the patterns below would match instead
  { name: 'pL', services: [{ name: 'pL', tags: ['pL'] }] },
  { name: 'a]', services: [{ name: 'a]', tags: ['a]'] }] },
  { name: 'web-3', services: [{ name: 'web', tags: ['blue'] }] }
]

const FILTER_SETS: EventFilters[] = [
  {},
  { node: '(?i)^web' },
  { node: '(?i)^WEB-1' },
  { service: '(?i)^web$', tag: '(?i)canary' },
  { node: '^[[:alpha:]]+$' },
  { node: '^[[:alpha:]]+-[[:digit:]]+$' },
  { service: '^[[:lower:]]+$', tag: '^[[:alnum:]]+$' },
  { node: '^\\pL+$' },
  { service: '^\\pL+$', tag: '^\\p{L}+$' },
  { tag: '\\Av2\\z', service: '.' },
  { node: '-1\\z' },
  { node: '(?i)(?:^db|-1\\z)', service: '(?U)p.+s' },
  { node: '^web-\\d{1,2}$', service: 'web', tag: 'blue|v10' }
]

let emu: ConsulEmulator
let consul: ConsulClient

before(async () => {
  emu = await startConsulEmulator({ nodes: NODES })
  emu.setHealth('web-3', 'critical')
  consul = new ConsulClient({ addr: emu.url, retryForMs: 2000 })
})
after(() => emu.stop())

/** The nodes whose agent received the event with this payload (its buffer holds it). */
function deliveredTo(payload: string): string[] {
  return NODES.map((n) => n.name)
    .filter((name) => emu.events(name).some((e) => e.payload === payload))
    .sort()
}

describe('targets equal the nodes the emulated Consul delivers the event to', () => {
  FILTER_SETS.forEach((filters, i) => {
    test(JSON.stringify(filters), async () => {
      const catalog = await readCatalog(consul, filters)
      const { targets } = selectTargets(catalog, filters)
      const payload = `p${i}`
      await consul.fireEvent('deploy', payload, filters)
      assert.deepEqual(targets, deliveredTo(payload))
      // the late-joiner check agrees, node by node
      const admit = catalogJoinerCheck(consul, filters)
      for (const { name } of NODES)
        assert.equal(await admit(name), targets.includes(name), `joiner check on ${name}`)
    })
  })

  test('the sets differ from what JavaScript RegExp would pick (the tests would catch a regression)', () => {
    const js = (pattern: string) =>
      NODES.map((n) => n.name).filter((name) => new RegExp(pattern).test(name))
    assert.deepEqual(js('^[[:alpha:]]+$'), ['a]'])
    assert.deepEqual(js('^\\pL+$'), ['pL'])
    assert.deepEqual(js('-1\\z'), ['web-1z'])
    assert.throws(() => js('(?i)^web'), SyntaxError)
  })
})

describe('a filter RE2 refuses', () => {
  test('the emulator refuses the fire as Consul does, in Go regexp words', async () => {
    for (const [query, message] of [
      [
        'node=(%3F%3Dx)',
        'Invalid node filter: error parsing regexp: invalid or unsupported Perl syntax: `(?=`'
      ],
      [
        'service=(a)%5C1',
        'Invalid service filter: error parsing regexp: invalid escape sequence: `\\1`'
      ],
      [
        'service=web&tag=(%3F%3C!x)y',
        'Invalid tag filter: error parsing regexp: invalid named capture: `(?<!x)y`'
      ]
    ]) {
      const res = await fetch(`${emu.url}/v1/event/fire/deploy?${query}`, {
        method: 'PUT',
        body: 'x'
      })
      assert.equal(res.status, 500)
      assert.equal(await res.text(), message)
    }
  })
})
