import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CatalogNode } from '../src/targets.ts'
import { matchesFilters, selectTargets } from '../src/targets.ts'

const catalog: CatalogNode[] = [
  { node: 'consul-server-1', services: [{ name: 'consul', tags: [] }], serfHealth: 'passing' },
  { node: 'web-1', services: [{ name: 'web', tags: ['blue', 'v2'] }], serfHealth: 'passing' },
  {
    node: 'web-2',
    services: [
      { name: 'web', tags: ['green'] },
      { name: 'metrics', tags: ['blue'] }
    ],
    serfHealth: 'passing'
  },
  { node: 'web-3', services: [{ name: 'web', tags: ['blue'] }], serfHealth: 'critical' },
  { node: 'db-1', services: [{ name: 'postgres', tags: ['primary'] }], serfHealth: 'passing' },
  { node: 'external-cdn', services: [{ name: 'web', tags: ['blue'] }] }
]

test('no filter: every live node, Consul servers included', () => {
  const s = selectTargets(catalog, {})
  assert.deepEqual(s.targets, ['consul-server-1', 'db-1', 'web-1', 'web-2'])
  assert.deepEqual(s.notLive, ['external-cdn', 'web-3'])
})

test('service filter is an unanchored regex on service names, like Go regexp.MatchString', () => {
  assert.deepEqual(selectTargets(catalog, { service: 'web' }).targets, ['web-1', 'web-2'])
  assert.deepEqual(selectTargets(catalog, { service: '^we' }).targets, ['web-1', 'web-2'])
  assert.deepEqual(selectTargets(catalog, { service: 'gres$' }).targets, ['db-1'])
})

test("tag filter applies to the matching service's tags, not to other services on the node", () => {
  // web-2 has "blue" only on its metrics service: not a match for service=web, tag=blue.
  assert.deepEqual(selectTargets(catalog, { service: '^web$', tag: '^blue$' }).targets, ['web-1'])
})

test('node filter on the node name, combined with a service filter', () => {
  assert.deepEqual(selectTargets(catalog, { node: '-[12]$' }).targets, [
    'consul-server-1',
    'db-1',
    'web-1',
    'web-2'
  ])
  assert.deepEqual(selectTargets(catalog, { node: '^web', service: 'metrics' }).targets, ['web-2'])
  assert.deepEqual(selectTargets(catalog, { node: '^web', service: 'metrics' }).filteredOut, [
    'consul-server-1',
    'db-1',
    'external-cdn',
    'web-1',
    'web-3'
  ])
})

test('a node with no services never matches a service filter', () => {
  assert.equal(
    matchesFilters({ node: 'bare', services: [], serfHealth: 'passing' }, { service: '.*' }),
    false
  )
  assert.equal(matchesFilters({ node: 'bare', services: [], serfHealth: 'passing' }, {}), true)
})
