// resolveDatacenters: the plan stage's list of datacenters, from the input and
// what Consul lists; unknown names fail in one line naming each.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { parseDatacenters } from '../src/config/config.ts'
import { resolveDatacenters } from '../src/consul/datacenters.ts'
import { InputError } from '../src/shared/errors.ts'

const listed = ['us-east', 'us-west', 'eu-west']

describe('resolveDatacenters', () => {
  test('unset: the agent own datacenter, the first Consul lists', () => {
    assert.deepEqual(resolveDatacenters({ kind: 'agent' }, listed), ['us-east'])
    assert.deepEqual(resolveDatacenters({ kind: 'agent' }, []), [])
  })

  test('all: every listed datacenter, in Consul order', () => {
    assert.deepEqual(resolveDatacenters(parseDatacenters('all'), listed), listed)
  })

  test('names: in the order given, not Consul order', () => {
    assert.deepEqual(resolveDatacenters(parseDatacenters('eu-west, us-east'), listed), [
      'eu-west',
      'us-east'
    ])
  })

  test('unknown names: one line naming each, and what Consul knows', () => {
    const check = (raw: string, expected: string) =>
      assert.throws(
        () => resolveDatacenters(parseDatacenters(raw), listed),
        (error: unknown) => {
          assert.ok(error instanceof InputError)
          assert.equal(error.input, 'datacenters')
          assert.equal(error.message, expected)
          return true
        }
      )
    check(
      'us-east, ap-south',
      'datacenters names a datacenter Consul does not know: "ap-south" (it knows us-east, us-west, eu-west)'
    )
    check(
      'dc9, us-east, dc8',
      'datacenters names datacenters Consul does not know: "dc9", "dc8" (it knows us-east, us-west, eu-west)'
    )
  })

  test('an empty list from Consul cannot resolve all or names', () => {
    assert.throws(() => resolveDatacenters({ kind: 'all' }, []), /Consul lists no datacenters/)
    assert.throws(
      () => resolveDatacenters({ kind: 'named', names: ['dc1'] }, []),
      /Consul lists no datacenters/
    )
  })

  test('property: the result is a duplicate-free ordered pick of the listed datacenters', () => {
    const name = fc.stringMatching(/^[a-z0-9_-]{1,8}$/)
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(name, { minLength: 1, maxLength: 6 }),
        (known, wanted) => {
          const selection = { kind: 'named' as const, names: wanted }
          const unknown = wanted.filter((n) => !known.includes(n))
          if (unknown.length > 0) {
            assert.throws(
              () => resolveDatacenters(selection, known),
              (e: Error) => unknown.every((n) => e.message.includes(`"${n}"`))
            )
            return
          }
          assert.deepEqual(resolveDatacenters(selection, known), wanted)
        }
      )
    )
  })
})
