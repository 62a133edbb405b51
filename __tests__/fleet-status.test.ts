// status and history (contract 12), the pure parts: rows from the catalog and
// KV entries, the order, the verdict, the text and the --json form.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  fleetStatus,
  formatAge,
  formatUtc,
  statusJson,
  statusText
} from '../src/cli/fleet-status.ts'
import type { StatusInput } from '../src/cli/fleet-status.ts'
import { historyJson, historyText, releaseHistory } from '../src/cli/release-history.ts'
import type { CatalogNode } from '../src/consul/targets.ts'

const OLD = '20261130-110000-1111111-r1.1'
const CUR = '20261130-120000-2222222-r2.1'
const NEW = '20261130-130000-3333333-r3.1'
const AT = Date.parse('2026-11-30T12:00:05Z') / 1000
const NOW = Date.parse('2026-11-30T12:02:10Z')

const web = (node: string, serf: CatalogNode['serfHealth'] = 'passing'): CatalogNode => ({
  node,
  services: [{ name: 'web', tags: [] }],
  serfHealth: serf
})
const result = (deployId: string, status: 'success' | 'failure', at = AT) =>
  JSON.stringify({ deploy_id: deployId, status, node: 'x', at })

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    app: 'web',
    kvPrefix: 'stretcher/web',
    filters: { service: '^web$' },
    current: CUR,
    catalog: [
      web('node-10'),
      web('node-2'),
      web('node-1'),
      web('node-3'),
      web('node-4'),
      web('node-5'),
      { node: 'consul-server-1', services: [], serfHealth: 'passing' }
    ],
    results: [
      { node: 'node-1', value: result(CUR, 'success') },
      { node: 'node-10', value: result(CUR, 'success') },
      { node: 'node-2', value: result(OLD, 'success') },
      { node: 'node-3', value: result(CUR, 'failure') },
      { node: 'node-5', value: result(NEW, 'success') },
      { node: 'retired-7', value: result(OLD, 'success') }
    ],
    ...over
  }
}

describe('fleetStatus', () => {
  test('standing of each matching node, worst first, natural order within; servers filtered out', () => {
    const s = fleetStatus(input())
    assert.deepEqual(
      s.rows.map((r) => [r.node, r.standing, r.deployId ?? null]),
      [
        ['node-3', 'failed', CUR],
        ['node-4', 'silent', null],
        ['node-2', 'behind', OLD],
        ['node-5', 'ahead', NEW],
        ['node-1', 'current', CUR],
        ['node-10', 'current', CUR]
      ]
    )
    assert.deepEqual(s.counts, {
      total: 6,
      live: 6,
      down: 0,
      failed: 1,
      silent: 1,
      behind: 1,
      ahead: 1,
      current: 2
    })
    assert.deepEqual(s.gone, ['retired-7'])
    assert.equal(s.ok, false)
    assert.equal(
      s.message,
      `4 of 6 live nodes not on ${CUR}: 1 failed, 1 silent, 1 behind, 1 ahead`
    )
  })

  test('ok when every live matching node succeeded on the current release; down nodes are not counted', () => {
    const s = fleetStatus(
      input({
        catalog: [web('node-1'), web('node-2', 'critical')],
        results: [{ node: 'node-1', value: result(CUR, 'success') }]
      })
    )
    assert.equal(s.ok, true)
    assert.equal(s.message, `the 1 live node on ${CUR}`)
    assert.deepEqual(
      s.rows.map((r) => [r.node, r.standing, r.live]),
      [
        ['node-2', 'silent', false],
        ['node-1', 'current', true]
      ]
    )
    assert.match(
      statusText(s, NOW),
      /1 matching node is down \(serfHealth not passing\): listed, not counted/
    )
    assert.match(statusText(s, NOW), /node-2 +silent \(down\) +- +- +never/)
  })

  test('not ok: no current release, no matching node, no live one', () => {
    const none = fleetStatus(input({ current: undefined }))
    assert.equal(none.ok, false)
    assert.equal(
      none.message,
      'no current release: stretcher/web/deploy-id is not set (nothing published yet?)'
    )
    assert.ok(none.rows.every((r) => r.standing !== 'current'))
    const empty = fleetStatus(input({ filters: { service: '^api$' } }))
    assert.equal(empty.ok, false)
    assert.equal(
      empty.message,
      'no node matching service-filter ^api$ (a token without node:read sees none)'
    )
    const down = fleetStatus(input({ catalog: [web('node-1', 'critical')] }))
    assert.equal(down.message, 'none of the 1 matching node is live')
  })

  test('a result that is not one is silent, with the reason', () => {
    const s = fleetStatus(
      input({ catalog: [web('node-1')], results: [{ node: 'node-1', value: 'oops' }] })
    )
    assert.deepEqual(s.rows[0], {
      node: 'node-1',
      standing: 'silent',
      live: true,
      note: 'result is not JSON'
    })
    assert.match(statusText(s, NOW), /node-1 +silent +- +- +result is not JSON/)
  })

  test('ahead and behind in natural order of deploy IDs: attempt .10 is after .9', () => {
    const nine = '20261130-120000-2222222-r2.9'
    const s = fleetStatus(
      input({
        current: nine,
        catalog: [web('node-1'), web('node-2')],
        results: [
          { node: 'node-1', value: result('20261130-120000-2222222-r2.10', 'success') },
          { node: 'node-2', value: result('20261130-120000-2222222-r2.8', 'success') }
        ]
      })
    )
    assert.deepEqual(
      s.rows.map((r) => [r.node, r.standing]),
      [
        ['node-2', 'behind'],
        ['node-1', 'ahead']
      ]
    )
    const h = releaseHistory({
      app: 'web',
      kvPrefix: 'stretcher/web',
      entries: ['r2.9', 'r2.10', 'r2.8'].map((a) => ({
        deployId: `20261130-120000-2222222-${a}`,
        value: '{}'
      }))
    })
    assert.deepEqual(
      h.rows.map((r) => r.deployId.slice(-5)),
      ['r2.10', '-r2.9', '-r2.8']
    )
  })

  test('no filter: every catalog node, and the heading says so', () => {
    const s = fleetStatus(input({ filters: {} }))
    assert.equal(s.counts.total, 7)
    assert.match(
      statusText(s, NOW),
      /^web \(stretcher\/web\): 7 nodes in the catalog \(no filter\); current release /
    )
  })
})

describe('status text and json', () => {
  test('the table: heading, worst first, UTC times with their age; nodes gone from the catalog', () => {
    const text = statusText(fleetStatus(input()), NOW)
    assert.equal(
      text,
      [
        `web (stretcher/web): 6 nodes matching service-filter ^web$; current release ${CUR}`,
        '',
        'NODE     STANDING  RELEASE                       STATUS   REPORTED',
        `node-3   failed    ${CUR}  failure  2026-11-30 12:00:05 UTC (2m5s ago)`,
        'node-4   silent    -                             -        never',
        `node-2   behind    ${OLD}  success  2026-11-30 12:00:05 UTC (2m5s ago)`,
        `node-5   ahead     ${NEW}  success  2026-11-30 12:00:05 UTC (2m5s ago)`,
        `node-1   current   ${CUR}  success  2026-11-30 12:00:05 UTC (2m5s ago)`,
        `node-10  current   ${CUR}  success  2026-11-30 12:00:05 UTC (2m5s ago)`,
        '',
        'results of nodes no longer in the catalog: retired-7',
        ''
      ].join('\n')
    )
  })

  test('node names and IDs from the fleet reach the terminal without control sequences', () => {
    const evil = 'node-\x1b]0;pwned\x07x\x1b[2J'
    const s = fleetStatus(
      input({
        catalog: [web(evil)],
        results: [{ node: evil, value: result('id-\x1b[31mred', 'success') }]
      })
    )
    const text = statusText(s, NOW)
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\x9b]/.test(text), JSON.stringify(text))
    assert.match(text, /node-x +ahead +id-red/)
    // --json carries the values as they are (JSON escapes them)
    assert.equal(statusJson(s).nodes[0]?.node, evil)
  })

  test('--json: snake_case rows like the results output, nulls where nothing is known', () => {
    const json = statusJson(fleetStatus(input()))
    assert.equal(json.current, CUR)
    assert.equal(json.kv_prefix, 'stretcher/web')
    assert.deepEqual(json.nodes[1], {
      node: 'node-4',
      standing: 'silent',
      deploy_id: null,
      status: null,
      at: null,
      live: true
    })
    assert.deepEqual(json.nodes[0], {
      node: 'node-3',
      standing: 'failed',
      deploy_id: CUR,
      status: 'failure',
      at: AT,
      live: true
    })
    assert.deepEqual(json.gone, ['retired-7'])
  })

  test('times: UTC with the zone written; ages in the Go duration format', () => {
    assert.equal(formatUtc(0), '1970-01-01 00:00:00 UTC')
    assert.equal(formatAge(AT, AT * 1000 + 3_725_400), '1h2m5s ago')
    assert.equal(formatAge(AT, AT * 1000), '0s ago')
    assert.equal(formatAge(AT, AT * 1000 - 60_000), 'in the future')
  })
})

describe('releaseHistory', () => {
  const record = (id: string, publishedAt: string, commit: string) =>
    JSON.stringify({
      deploy_id: id,
      manifest_url: `s3://releases/web/${id}.yml`,
      src_url: `s3://releases/web/${id}.tgz`,
      checksum: 'ab'.repeat(32),
      commit,
      run_url: `https://github.com/acme/web/actions/runs/1/attempts/${id.slice(-1)}`,
      published_at: publishedAt
    })
  const entries = [
    { deployId: OLD, value: record(OLD, '2026-11-30T11:00:00.000Z', '1111111aaaa') },
    { deployId: NEW, value: record(NEW, '2026-11-30T13:00:00.000Z', '3333333cccc') },
    { deployId: CUR, value: record(CUR, '2026-11-30T12:00:00.000Z', '2222222bbbb') },
    { deployId: 'broken', value: '{' }
  ]

  test('newest first, the current one marked (after a rollback, not the newest)', () => {
    const h = releaseHistory({ app: 'web', kvPrefix: 'stretcher/web', current: CUR, entries })
    assert.deepEqual(
      h.rows.map((r) => [r.deployId, r.current]),
      [
        [NEW, false],
        [CUR, true],
        [OLD, false],
        ['broken', false]
      ]
    )
    assert.equal(h.currentUnrecorded, false)
    assert.equal(
      historyText(h),
      [
        `web (stretcher/web): 4 releases, newest first; current: ${CUR}`,
        '',
        '   DEPLOY ID                     COMMIT   PUBLISHED                RUN',
        `   ${NEW}  3333333  2026-11-30 13:00:00 UTC  https://github.com/acme/web/actions/runs/1/attempts/1`,
        `*  ${CUR}  2222222  2026-11-30 12:00:00 UTC  https://github.com/acme/web/actions/runs/1/attempts/1`,
        `   ${OLD}  1111111  2026-11-30 11:00:00 UTC  https://github.com/acme/web/actions/runs/1/attempts/1`,
        '   broken                        -        record is not JSON',
        ''
      ].join('\n')
    )
    const json = historyJson(h)
    assert.equal(json.current, CUR)
    assert.deepEqual(json.releases[1], {
      deploy_id: CUR,
      current: true,
      commit: '2222222bbbb',
      published_at: '2026-11-30T12:00:00.000Z',
      run_url: 'https://github.com/acme/web/actions/runs/1/attempts/1',
      manifest_url: `s3://releases/web/${CUR}.yml`,
      src_url: `s3://releases/web/${CUR}.tgz`,
      checksum: 'ab'.repeat(32)
    })
    assert.equal(json.releases[3]?.note, 'record is not JSON')
  })

  test('nothing published; a current ID with no record', () => {
    const none = releaseHistory({ app: 'web', kvPrefix: 'stretcher/web', entries: [] })
    assert.equal(
      historyText(none),
      'web (stretcher/web): no release published yet; current: none\n'
    )
    const odd = releaseHistory({
      app: 'web',
      kvPrefix: 'stretcher/web',
      current: 'manual-1',
      entries: entries.slice(0, 1)
    })
    assert.equal(odd.currentUnrecorded, true)
    assert.match(historyText(odd), /current: manual-1 \(not in stretcher\/web\/history\/\)/)
  })
})
