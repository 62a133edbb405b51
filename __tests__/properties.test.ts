// Property tests: the fleet state machine under random interleavings of
// reports, health changes, joins and timeouts; and manifest rendering with
// random templates (the dest/commands property lives in manifest.test.ts).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { parse } from 'yaml'
import { FleetState } from '../src/fleet-state/fleet-state.ts'
import { parseManifestTemplate, renderManifest } from '../src/publish/manifest/manifest.ts'

const ID = 'this-deploy-1'
const BASELINE = 100

type Event =
  | {
      kind: 'report'
      node: string
      deployId: string
      status: string
      index: number
      garbage: boolean
    }
  | { kind: 'critical'; node: string }
  | { kind: 'expire' }

const nodeName = fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5', 'joiner', 'filtered')
const event: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      node: nodeName,
      deployId: fc.constantFrom(ID, 'other-deploy-2'),
      status: fc.constantFrom('success', 'failure', 'pending', 'SUCCESS'),
      index: fc.integer({ min: 1, max: 2 * BASELINE }),
      garbage: fc.boolean()
    })
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('critical' as const), node: nodeName }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'expire' as const }) }
)

/** What the contract says counts: this deploy's ID, written after the event, first answer. */
function model(targets: string[], events: Event[], maxFailures: number) {
  const state = new Map<string, string>(targets.map((t) => [t, 'pending']))
  let expired = false
  for (const e of events) {
    if (expired) break
    if (e.kind === 'expire') {
      expired = true
      continue
    }
    if (e.kind === 'critical') {
      if (state.get(e.node) === 'pending') state.set(e.node, 'lost')
      continue
    }
    const valid =
      !e.garbage &&
      e.index > BASELINE &&
      e.deployId === ID &&
      (e.status === 'success' || e.status === 'failure') &&
      e.node !== 'filtered'
    if (!valid) continue
    const current = state.get(e.node)
    if (current === undefined || current === 'pending' || current === 'lost')
      state.set(e.node, e.status)
  }
  return { state, expired, maxFailures }
}

describe('FleetState under random interleavings (property)', () => {
  test('never success while a target is silent beyond max-failures; counts add up; stale results never count', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'), {
          minLength: 0,
          maxLength: 5
        }),
        fc.array(event, { maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        (targets, events, maxFailures) => {
          const fleet = new FleetState({
            deployId: ID,
            baselineIndex: BASELINE,
            maxFailures,
            targets,
            untargeted: ['filtered']
          })
          let expired = false
          for (const e of events) {
            // the await loop stops at the deadline: nothing is applied after it
            if (expired) break
            if (e.kind === 'expire') {
              fleet.expire()
              expired = true
            } else if (e.kind === 'critical') fleet.markLost(e.node)
            else
              fleet.applyResults([
                {
                  node: e.node,
                  value: e.garbage
                    ? '{"deploy_id": ' + JSON.stringify(e.deployId)
                    : JSON.stringify({
                        deploy_id: e.deployId,
                        status: e.status,
                        node: e.node,
                        at: 1
                      }),
                  modifyIndex: e.index
                }
              ])
            const c = fleet.counts()
            const list = fleet.list()
            // counts add up, over the nodes listed
            assert.equal(c.total, list.length)
            assert.equal(c.succeeded + c.failed + c.pending, c.total)
            assert.equal(c.succeeded, list.filter((s) => s.status === 'success').length)
            // every target stays listed; the filtered-out node never is
            for (const t of targets) assert.ok(fleet.isTarget(t))
            assert.ok(!fleet.isTarget('filtered'))
            // a counted node carries this deploy's ID
            for (const s of list)
              if (s.status === 'success' || s.status === 'failure') assert.equal(s.deployId, ID)
            const v = fleet.verdict()
            if (v.done && v.ok) {
              // success: every target answered, or at most max-failures did not
              const unanswered = targets.filter((t) => {
                const s = list.find((n) => n.node === t)?.status
                return s !== 'success'
              })
              assert.ok(
                unanswered.length <= maxFailures,
                `ok with ${unanswered.join(',')} not done`
              )
              assert.ok(c.succeeded > 0 || targets.length <= maxFailures)
            }
            if (!expired && c.pending > 0 && c.failed <= maxFailures) assert.equal(v.done, false)
            // nobody to wait for is a failure, never an empty success
            if (list.length === 0)
              assert.deepEqual(v, { done: true, ok: false, reason: 'no_targets' })
          }
          // the machine agrees with the contract's model, node by node
          const m = model(targets, events, maxFailures)
          const fromMachine = new Map(fleet.list().map((s) => [s.node, s.status]))
          for (const [node, status] of m.state) {
            const actual = fromMachine.get(node)
            if (m.expired && status === 'pending') assert.equal(actual, 'silent', node)
            else assert.equal(actual, status, node)
          }
          // nothing counted that the model did not count (stale, garbage, other IDs, filtered)
          for (const [node, status] of fromMachine)
            if (status === 'success' || status === 'failure')
              assert.equal(m.state.get(node), status, `${node} counted ${status}`)
        }
      ),
      { numRuns: 500 }
    )
  })
})

// --- manifest rendering with random templates ----------------------------------

/** A YAML 1.1 reader independent of the renderer's. */
const read = (text: string) => parse(text, { version: '1.1' }) as Record<string, unknown>

const scalar = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    'yes',
    'no',
    'on',
    'off',
    '~',
    'null',
    '0755',
    '1:20',
    '1e3',
    '.inf',
    '- a',
    'a: b',
    '#x',
    '{{ .Env.A }}',
    "'",
    '"',
    '|',
    '>',
    '*a',
    '&a',
    '!!str',
    '%TAG',
    '@x',
    '`x`'
  )
)

describe('renderManifest with random templates (property)', () => {
  test('random keys and values: the action adds exactly src, checksum, dest, commands, no {{ of its own, and the rest reads back unchanged', () => {
    // x_ keys: a bare key like `n` or `e0` has a meaning of its own in YAML 1.1 readers
    const fieldName = fc.stringMatching(/^x_[a-z0-9_]{0,10}$/)
    let rendered = 0
    fc.assert(
      fc.property(
        fc.dictionary(fieldName, scalar, { maxKeys: 4 }),
        fc.array(
          scalar.filter((s) => s.trim() !== ''),
          { maxLength: 3 }
        ),
        fc.array(
          scalar.filter((s) => s.trim() !== ''),
          { maxLength: 3 }
        ),
        scalar.filter((s) => s !== '' && !s.includes('{{')),
        (extra, pre, excludes, destTail) => {
          // The template, written the way a user would: every value single-quoted.
          const q = (s: string) => `'${s.replace(/'/g, "''")}'`
          // YAML cannot carry every code point in a quoted scalar; skip those inputs.
          const printable = (s: string) =>
            // eslint-disable-next-line no-control-regex
            !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]/.test(s)
          fc.pre(
            [...Object.values(extra), ...pre, ...excludes].every(printable) &&
              !/[\n\r]/.test([...pre, ...excludes].join(''))
          )
          const lines = [
            ...Object.entries(extra).map(([k, v]) => `${k}: ${q(v)}`),
            `excludes: [${excludes.map(q).join(', ')}]`,
            'commands:',
            `  pre: [${pre.map(q).join(', ')}]`
          ]
          const text = `${lines.join('\n')}\n`
          let template
          try {
            template = parseManifestTemplate(text, 't.yml')
          } catch {
            return // a refusal is an answer; only what renders is checked here
          }
          const dest = `/srv/${destTail.replace(/[\0\n\r]/g, '_')}`
          fc.pre(printable(dest))
          let out: string
          try {
            out = renderManifest(template, {
              src: 's3://b/app/x.tgz',
              checksum: 'ab'.repeat(32),
              dest,
              successCommands: ['echo ok'],
              failureCommands: ['echo failed']
            })
          } catch {
            return
          }
          rendered++
          const manifest = read(out)
          assert.deepEqual(
            Object.keys(manifest).sort(),
            [
              ...new Set([...Object.keys(extra), 'excludes', 'commands', 'src', 'checksum', 'dest'])
            ].sort()
          )
          for (const [k, v] of Object.entries(extra)) assert.equal(manifest[k], v, k)
          assert.deepEqual(manifest.excludes, excludes)
          assert.equal(manifest.dest, dest)
          const commands = manifest.commands as Record<string, unknown>
          assert.deepEqual(commands.pre, pre)
          assert.deepEqual(commands.success, ['echo ok'])
          assert.deepEqual(commands.failure, ['echo failed'])
          // every {{ in the output was in the template
          const count = (s: string) => s.split('{{').length - 1
          assert.equal(count(JSON.stringify(manifest)), count(JSON.stringify(read(text))))
        }
      ),
      { numRuns: 300 }
    )
    // most random templates are rendered and checked, not refused or skipped
    assert.ok(rendered > 150, `only ${rendered} of 300 rendered`)
  })
})
