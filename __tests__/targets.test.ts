import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { EventFilters } from '../src/shared/filters.ts'
import type { CatalogNode } from '../src/consul/targets.ts'
import { compileFilter, matchesFilters } from '../src/shared/filters.ts'
import { selectTargets } from '../src/consul/targets.ts'

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
  assert.equal(matchesFilters({ node: 'bare', services: [] }, { service: '.*' }), false)
  assert.equal(matchesFilters({ node: 'bare', services: [] }, {}), true)
})

describe('filters match as Go RE2 matches (regexp.MatchString), not as JavaScript RegExp', () => {
  const node = (name: string, services: CatalogNode['services'] = []): CatalogNode => ({
    node: name,
    services,
    serfHealth: 'passing'
  })
  const fleet: CatalogNode[] = [
    node('web-1', [{ name: 'Web', tags: ['Canary'] }]),
    node('WEB-2', [{ name: 'web', tags: ['blue'] }]),
    node('web-10', [{ name: 'api', tags: ['z'] }]),
    node('db', [{ name: 'postgres', tags: ['primary'] }]),
    node('café', [{ name: 'web', tags: ['v2'] }]),
    // names that the JavaScript reading of the same patterns would match
    node('pL'),
    node('a]'),
    node('web-1z')
  ]
  const targets = (filters: EventFilters) => selectTargets(fleet, filters).targets

  test('(?i) makes the rest of the pattern case-insensitive', () => {
    const pattern = '(?i)^web'
    assert.throws(() => new RegExp(pattern), SyntaxError, 'JavaScript refuses it')
    assert.deepEqual(targets({ node: pattern }), ['WEB-2', 'web-1', 'web-10', 'web-1z'])
    assert.deepEqual(targets({ service: '(?i)^web$', tag: '(?i)^canary$' }), ['web-1'])
  })

  test('POSIX classes [[:alpha:]] are classes, not a "[" set followed by "]"', () => {
    assert.ok(new RegExp('^[[:alpha:]]+$').test('a]'), 'JavaScript reads another pattern')
    assert.deepEqual(targets({ node: '^[[:alpha:]]+$' }), ['db', 'pL'])
    assert.deepEqual(targets({ node: '^[[:alpha:]]+-[[:digit:]]$' }), ['WEB-2', 'web-1'])
  })

  test('\\pL is a Unicode letter, not "pL"', () => {
    assert.ok(new RegExp('^\\pL$').test('pL'), 'JavaScript reads "pL"')
    assert.deepEqual(targets({ node: '^\\pL+$' }), ['café', 'db', 'pL'])
  })

  test('\\z is the end of the text, not "z"', () => {
    assert.ok(new RegExp('-1\\z').test('web-1z'), 'JavaScript reads "z"')
    assert.deepEqual(targets({ node: '-1\\z' }), ['web-1'])
    assert.deepEqual(targets({ service: 'api', tag: '\\Az\\z' }), ['web-10'])
  })

  test('lookaround and backreferences are refused with Go regexp.Compile messages', () => {
    const refuses = (pattern: string, message: string) =>
      assert.throws(() => compileFilter(pattern), { message })
    refuses('^(?!db)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`')
    refuses('(?=x)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`')
    refuses('(?<=x)y', 'error parsing regexp: invalid named capture: `(?<=x)y`')
    refuses('(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`')
  })
})
