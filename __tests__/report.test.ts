import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkTitle } from '../src/report/check-report.ts'
import { causeKey, digestLog, groupByCause } from '../src/report/log-digest.ts'
import type { FleetReport } from '../src/report/report.ts'
import {
  abandonedMarkdown,
  analyse,
  causeLogsMarkdown,
  headline,
  problemTableMarkdown,
  resultRows,
  summaryMarkdown,
  verdictMessage
} from '../src/report/report.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'
import { reportTimeChart } from '../src/report/charts.ts'
import {
  codeSpan,
  formatDuration,
  markdownText,
  mermaidLabel,
  utcTime
} from '../src/shared/text.ts'
import { compareNatural } from '../src/shared/natural-order.ts'
import type { NodeSpec } from './helpers/report-fixtures.ts'
import {
  FIRED_AT,
  ID,
  PREVIOUS,
  fixtures,
  fleetOf,
  names,
  stretcherLog,
  timeOf
} from './helpers/report-fixtures.ts'

const HOSTILE = [
  '<script>alert(1)</script>',
  '[click](https://evil.example/x)',
  'a|b|c',
  '**bold** _em_ `code`',
  '\x1b[31mred\x1b[0m\x1b]8;;https://evil.example\x07link\x1b]8;;\x07',
  'https://evil.example/login',
  'www.evil.example',
  'admin@evil.example',
  '<img src=x onerror=alert(1)>',
  'line\nbreak\r\n| injected | row |',
  '$\\sum$ math'
]

/**
 * No raw markup a renderer would act on outside code: fences and code spans
 * are cut out first (GitHub shows their content as text).
 */
function assertInert(md: string) {
  const prose = md
    .replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, '')
    .replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, '')
  assert.doesNotMatch(prose, /<script|<img|onerror=|\]\(|https?:\/\/evil|www\.evil|@evil/i)
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(md, /[\x00-\x08\x0b-\x1f\x7f]/)
  // Only the HTML the report writes itself.
  for (const tag of prose.match(/<\/?[a-z][^>]*>/gi) ?? [])
    assert.match(tag, /^<\/?(details|summary|b)( open)?>$/, tag)
}

const report = (name: string): FleetReport => fixtures()[name] as FleetReport

describe('text', () => {
  test('markdownText neutralises HTML, links, autolinks, emphasis, pipes, math and escapes', () => {
    for (const text of HOSTILE) {
      const out = markdownText(text)
      assertInert(out)
      assert.doesNotMatch(out, /[|<>[\]*_`\n$]/)
    }
  })

  test('codeSpan cannot be closed from inside', () => {
    assert.equal(codeSpan('a`b\nc'), "`a'b c`")
  })

  test('one duration format, Go’s, tenths below a minute', () => {
    assert.deepEqual(
      [0, 350, 1000, 4_240, 42_000, 59_990, 65_000, 600_000, 3_723_000].map(formatDuration),
      ['0s', '350ms', '1s', '4.2s', '42s', '1m0s', '1m5s', '10m0s', '1h2m3s']
    )
  })

  test('times in UTC with the zone written, whatever TZ says', () => {
    assert.equal(utcTime(FIRED_AT), '2026-11-30 11:57:30 UTC')
    assert.equal(utcTime('2026-11-28T16:04:11.000Z'), '2026-11-28 16:04:11 UTC')
  })

  test('natural sort: node-2 before node-10', () => {
    assert.deepEqual(['node-10', 'node-2', 'node-1', 'web-03', 'node-100'].sort(compareNatural), [
      'node-1',
      'node-2',
      'node-10',
      'node-100',
      'web-03'
    ])
  })
})

describe('log digest', () => {
  test('the cause is stretcher’s own last word, without the timestamp', () => {
    const d = digestLog('node-3', stretcherLog('node-3'))
    assert.equal(d.cause, 'test -z "$SIM_FAIL": exit status 1')
  })

  test('the lines that matter: the failing command and errors, not rsync’s file list', () => {
    const log = stretcherLog('node-3', {
      failing: 'systemctl restart web',
      output: ['Job for web.service failed because the control process exited with error code.'],
      files: 300
    })
    const d = digestLog('node-3', log)
    assert.equal(d.listing, 300 + 5) // the files, ./, the blank line and rsync's totals
    assert.ok(d.useful.length <= 10, d.useful.join('\n'))
    assert.ok(d.useful.every((l) => !/^app\//.test(l)))
    assert.match(
      d.useful.join('\n'),
      /invoking command: systemctl restart web\n.*Job for web.service failed/
    )
    assert.match(d.useful.at(-1) ?? '', /Deploy manifest failed/)
  })

  test('an error inside rsync’s output is kept', () => {
    const log = [
      '2026/11/30 11:57:32 rsync -av --delete /tmp/s/ /srv/web/',
      'app/a.js',
      'rsync: mkstemp "/srv/web/.a.js.x" failed: Permission denied (13)',
      'app/b.js',
      'rsync error: some files/attrs were not transferred (code 23)',
      '2026/11/30 11:57:33 Deploy manifest failed: failed: rsync: exit status 23'
    ].join('\n')
    const d = digestLog('n', log)
    assert.equal(d.cause, 'rsync: exit status 23')
    assert.match(d.useful.join('\n'), /Permission denied[\s\S]*code 23/)
    assert.equal(d.listing, 2)
  })

  test('no stretcher line: the last line that reads as an error; no log: said so', () => {
    assert.equal(digestLog('n', 'starting\nE: disk full\nbye\n').cause, 'E: disk full')
    assert.match(digestLog('n', '').cause, /^no log from the node/)
  })

  test('causes that differ only by node name, temp paths or hashes share a key', () => {
    assert.equal(
      causeKey('checksum mismatch on node-17: got 0d4c2b1a9e8f7a6b5c4d', 'node-17'),
      causeKey('checksum mismatch on node-64: got 7f6e5d4c3b2a19080706', 'node-64')
    )
    assert.notEqual(causeKey('exit status 1', 'a'), causeKey('exit status 2', 'a'))
  })

  test('grouping: largest first, nodes in natural order', () => {
    const digests = new Map(
      ['n-10', 'n-2', 'n-1', 'n-3'].map((n) => [
        n,
        digestLog(n, n === 'n-3' ? stretcherLog(n, { checksumMismatch: true }) : stretcherLog(n))
      ])
    )
    const groups = groupByCause(digests, compareNatural)
    assert.deepEqual(
      groups.map((g) => g.nodes),
      [['n-1', 'n-2', 'n-10'], ['n-3']]
    )
  })
})

describe('the verdict first, with its cause', () => {
  test('app, environment, counts and the first cause in the headline', () => {
    const r = report('one-failure-5')
    assert.equal(
      headline(r),
      'web → production: 1 of 5 nodes failed (node-3: test -z "$SIM_FAIL": exit status 1)'
    )
    const md = summaryMarkdown(r)
    assert.equal(
      md.split('\n')[0],
      '### ❌ web → production: 1 of 5 nodes failed &#40;node-3: `test -z "$SIM_FAIL": exit status 1`&#41;'
    )
  })

  test('the cause in the failed node’s row', () => {
    const r = report('one-failure-5')
    const { markdown } = problemTableMarkdown(analyse(r), r.fleet, 10_000)
    assert.match(
      markdown,
      /^\| node-3 \| ❌ failed \| 3\.1s \| `test -z "\$SIM_FAIL": exit status 1` \|$/m
    )
    assert.doesNotMatch(markdown, /node-1|node-2/, 'succeeded nodes are not rows')
  })

  test('several failures: grouped by cause with counts and the nodes', () => {
    const r = report('nodes-1000')
    const a = analyse(r)
    assert.deepEqual(
      a.groups.map((g) => [g.status, g.nodes.length]),
      [
        ['failure', 25],
        ['failure', 2],
        ['silent', 5]
      ]
    )
    const md = summaryMarkdown(r)
    assert.match(
      md,
      /^\| ❌ 25 \| `sh -c "systemctl restart web && curl -fsS localhost:8080\/health": exit status 1` \| node-8, node-48, node-88, /m
    )
    assert.match(md, /^\| ❌ 2 \| `checksum mismatch\. [^`]*` \| node-501, node-502 \|$/m)
    assert.match(
      md,
      /^\| 🔇 5 \| no report within 10m0s \| node-100, node-300, node-500, node-700, node-900 \|$/m
    )
    assert.match(
      headline(r),
      /^web → production: 27 of 1000 nodes failed, 5 silent \(node-8 and 24 more: sh -c .*exit status 1; 2 more causes\)$/
    )
  })

  test('the first group’s log is open, the lines that matter before the whole log', () => {
    const r = report('nodes-1000')
    const md = causeLogsMarkdown(r, analyse(r), 100_000)
    const blocks = md
      .split(/(?=<details(?: open)?><summary><b>)/)
      .filter((b) => b.startsWith('<details'))
    assert.equal(blocks.length, 2)
    assert.match(
      blocks[0] ?? '',
      /^<details open><summary><b>node-8<\/b> \(and 24 other nodes with this cause\): the lines that matter/
    )
    assert.match(blocks[1] ?? '', /^<details><summary><b>node-501<\/b>/)
    const first = blocks[0] ?? ''
    assert.ok(first.indexOf('Job for web.service failed') < first.indexOf('app/assets/file-0.js'))
    assert.ok(first.indexOf('app/assets/file-0.js') > first.indexOf('the whole log'))
  })

  test('timed out, tolerated and converged say so', () => {
    assert.match(
      headline(report('timed-out')),
      /^web → production: timed out after 10m0s: 2 of 5 nodes silent \(node-4, node-5\)$/
    )
    assert.equal(headline(report('happy-5')), `web → production: all 5 nodes on ${ID}`)
    const tolerated = fleetOf(
      [
        { node: 'a', outcome: 'success', ms: 100 },
        { node: 'b', outcome: 'failure', ms: 200 }
      ],
      1
    )
    const r: FleetReport = {
      fleet: tolerated,
      verdict: tolerated.verdict(),
      facts: {},
      excerpts: [{ node: 'b', text: 'E: disk full' }]
    }
    assert.equal(
      headline(r),
      `1 of 2 nodes on ${ID}; 1 did not, within max-failures 1 (b: E: disk full)`
    )
  })
})

describe('the run’s failure message', () => {
  test('the verdict line, then the first cause', () => {
    const r = report('nodes-1000')
    const m = verdictMessage(r)
    assert.match(m, /^968\/1000 nodes on \S+, more than 0 failed: failed: node-8, node-48, /)
    assert.match(m, / \(cause: node-8 and 24 more: sh -c "systemctl restart web .*exit status 1\)$/)
    assert.doesNotMatch(m, /\n/)
    assert.equal(verdictMessage(report('happy-5')), `5/5 nodes on ${ID}`)
    assert.doesNotMatch(verdictMessage(report('timed-out')), /cause:/)
  })
})

describe('nodes that joined during the deploy', () => {
  test('are said to have joined, among the successes', () => {
    const fleet = fleetOf([{ node: 'node-1', outcome: 'success', ms: 900 }])
    fleet.applyResults(
      [
        {
          node: 'node-late',
          modifyIndex: 99,
          value: JSON.stringify({ deploy_id: ID, status: 'success', node: 'node-late', at: 1 })
        }
      ],
      2000
    )
    const md = summaryMarkdown({ fleet, verdict: fleet.verdict(), facts: {} })
    assert.match(md, /✅ 2 nodes succeeded, 1 node of them joined during the deploy \(node-late\)/)
    assert.match(md, /^\| node-late \| 2s \| joined during the deploy \|$/m)
  })
})

describe('large fleets stay short', () => {
  test('1,000 nodes: every failed and silent node named, successes a count, well under 64 KiB', () => {
    const r = report('nodes-1000')
    const md = summaryMarkdown(r)
    assert.ok(Buffer.byteLength(md) < 64 * 1024, String(Buffer.byteLength(md)))
    const a = analyse(r)
    for (const node of [...a.failed, ...a.silent])
      assert.match(md, new RegExp(`\\b${node}\\b`), `${node} is named`)
    assert.match(md, /<details><summary>✅ 968 nodes succeeded<\/summary>/)
    // Succeeded nodes are not table rows.
    assert.doesNotMatch(md, /^\| node-1 \|/m)
  })

  test('natural order in every list', () => {
    const md = summaryMarkdown(report('nodes-1000'))
    const silent = /\| 🔇 5 \| [^|]* \| ([^|]*) \|/.exec(md)?.[1] ?? ''
    assert.equal(silent.trim(), 'node-100, node-300, node-500, node-700, node-900')
    const rows = [...md.matchAll(/^\| (node-\d+) \| ❌ failed/gm)].map((m) => m[1] as string)
    assert.deepEqual(rows, [...rows].sort(compareNatural))
    assert.equal(rows.length, 27)
  })

  test('10,000 nodes, all failed with hostile names and huge logs: under the 200,000-character bound (≤ 600 KB, GitHub allows 1 MiB)', () => {
    const specs: NodeSpec[] = Array.from({ length: 10_000 }, (_, i) => ({
      node: `${'|<'.repeat(30)}${i}`,
      outcome: i % 3 === 0 ? 'failure' : i % 3 === 1 ? 'silent' : 'success',
      ms: timeOf(i)
    }))
    const fleet = fleetOf(specs)
    const r: FleetReport = {
      fleet,
      verdict: fleet.verdict(),
      facts: { app: 'web', timeoutMs: 60_000 },
      excerpts: specs
        .filter((s) => s.outcome === 'failure')
        .slice(0, 200)
        .map((s, i) => ({ node: s.node, text: `${'`|<'.repeat(20_000)}\nE: boom ${i % 50}` }))
    }
    const md = summaryMarkdown(r)
    assert.ok(md.length <= 200_000, String(md.length))
    assert.ok(Buffer.byteLength(md) < 1024 * 1024 * 0.6, String(Buffer.byteLength(md)))
    assert.match(md, /more cause|more node/)
    assertInert(md)
  })

  test('10,000 plain nodes with 3,000 failed: every failed node still named', () => {
    const specs: NodeSpec[] = names(10_000, 'web-').map((node, i) => ({
      node,
      outcome: i % 10 < 3 ? 'failure' : 'success',
      ms: timeOf(i)
    }))
    const fleet = fleetOf(specs)
    const r: FleetReport = {
      fleet,
      verdict: fleet.verdict(),
      facts: {},
      excerpts: specs
        .filter((s) => s.outcome === 'failure')
        .map((s) => ({ node: s.node, text: 'E: boom' }))
    }
    const md = summaryMarkdown(r)
    assert.ok(md.length <= 200_000, String(md.length))
    const named = new Set(md.match(/web-\d+/g))
    for (const s of specs) if (s.outcome === 'failure') assert.ok(named.has(s.node), s.node)
  })
})

describe('pictures', () => {
  test('the pie’s colours follow the meaning, whichever slices are present', () => {
    const md = summaryMarkdown(report('timed-out'))
    const pie = /```mermaid\n(%%\{init: .*\}%%)\npie showData title [^\n]*\n([\s\S]*?)```/.exec(md)
    assert.ok(pie)
    const vars = JSON.parse((pie[1] as string).slice(8, -3)).themeVariables
    assert.deepEqual([vars.pie1, vars.pie2, vars.pie3], ['#2da44e', '#6e7781', undefined])
    assert.match(pie[2] as string, /^ {2}"succeeded" : 3\n {2}"not reported" : 2\n$/)
  })

  test('time in seconds from the event: bars up to 30 nodes, a cumulative line above', () => {
    const few = reportTimeChart([
      { node: 'b', ok: true, ms: 1200 },
      { node: 'a', ok: false, ms: 3100 }
    ])
    assert.match(few, /xychart-beta horizontal/)
    assert.match(few, /x-axis \["b", "a"\]/)
    assert.match(few, /y-axis "seconds after the event" 0 --> 4/)
    assert.match(few, /bar \[1\.2, -4\]\n {2}bar \[-4, 3\.1\]/)
    assert.doesNotMatch(few, /dateFormat|axisFormat|gantt/)
    const many = reportTimeChart(
      Array.from({ length: 500 }, (_, i) => ({ node: `n${i}`, ok: i % 50 !== 0, ms: timeOf(i) }))
    )
    assert.match(many, /x-axis "seconds after the event" 0 --> \d+/)
    assert.match(many, /line \[0, [\d, ]+, 490\]\n {2}line \[[\d, ]+, 10\]/)
  })

  test('hostile node names cannot break out of Mermaid syntax', () => {
    for (const name of [
      'a : crit, 0, 9\nsection x',
      'click a call alert(1)',
      '%%{init: {}}%%',
      '"quoted"; x --> y'
    ])
      assert.match(mermaidLabel(name), /^[A-Za-z0-9._-]*$/)
  })

  test('p50, p90, max time to report and the slowest nodes', () => {
    const md = summaryMarkdown(report('one-failure-5'))
    assert.match(
      md,
      /\*\*Time to report\*\* \(5 nodes\): p50 1\.6s · p90 3\.1s · max 3\.1s\. Slowest: node-3 3\.1s, node-2 2\.9s, node-4 1\.6s, node-5 1\.2s, node-1 1s\./
    )
  })

  test('a 3-wave rollout: boxes coloured by result and a table', () => {
    const md = summaryMarkdown(report('waves-3'))
    assert.match(
      md,
      /flowchart LR\n {2}w0\["wave 1: 1 node<br\/>✔ passed · 1 ok<br\/>\+0s → \+32s<br\/>gate: bake 30s: checks passing"\]:::passed/
    )
    assert.match(
      md,
      /w2\["wave 3: 6 nodes<br\/>✘ failed · 5 ok, 1 failed<br\/>\+1m25s → \+1m29s"\]:::failed/
    )
    assert.match(md, /w0 --> w1\n {2}w1 --> w2/)
    assert.match(
      md,
      /^\| 2 \| ✅ passed \| 3: web-2, web-3, web-4 \| 3 \| 0 \| 0 \| \+40s \| 38s \| bake 30s: checks passing \|$/m
    )
    assert.match(
      md,
      /^\| 3 \| ❌ failed \| 6: web-5, web-6, web-7, web-8, web-9, web-10 \| 5 \| 1 \| 0 \| \+1m25s \| 4s \| {2}\|$/m
    )
  })
})

describe('every run leaves a summary', () => {
  test('cancelled after the event: what was published, latest, the event, node states, who may still apply it, the rollback', () => {
    const md = summaryMarkdown(report('cancelled'))
    assert.match(
      md,
      new RegExp(
        `^### ⛔ web → production: cancelled after the event: 2 of 5 nodes on ${ID}, 3 may still be applying it`
      )
    )
    assert.match(md, /\*\*Published:\*\* yes: `s3:\/\/releases\/web\//)
    assert.match(
      md,
      new RegExp(
        `\\*\\*\`latest\` moved:\\*\\* yes: it names \`${ID}\` \\(it named \`${PREVIOUS}\`\\)`
      )
    )
    assert.match(md, /\*\*Event fired:\*\* yes, 2026-11-30 11:57:30 UTC/)
    assert.match(md, /\*\*Nodes then:\*\* 2 succeeded, 0 failed, 3 not reported \(of 5\)/)
    assert.match(
      md,
      /\*\*Still applying:\*\* yes: 3 nodes had not reported and may still be applying/
    )
    assert.match(
      md,
      new RegExp(`\\*\\*To roll back:\\*\\* re-run with \`rollback-to: ${PREVIOUS}\``)
    )
  })

  test('cancelled before the event: nothing was sent', () => {
    const r = report('cancelled')
    r.facts = { ...r.facts, eventFired: false, latestMoved: false, firedAt: undefined }
    const md = summaryMarkdown(r)
    assert.match(md, /cancelled before the event: no node was sent/)
    assert.match(md, new RegExp(`\`latest\` moved:\\*\\* no: it still names \`${PREVIOUS}\``))
    assert.match(md, /\*\*Still applying:\*\* no: the event was not fired/)
  })

  test('wait: false', () => {
    const md = summaryMarkdown(report('not-waiting'))
    assert.match(
      md,
      new RegExp(
        `^### 📣 web → production: ${ID} announced to 5 nodes; not waiting &#40;wait: false&#41;`
      )
    )
    assert.match(md, /What this run left behind/)
    assert.doesNotMatch(
      md,
      /```mermaid|Nodes that did not succeed/,
      'no empty pie, no table repeating the causes'
    )
    assert.match(
      md,
      /\| ⏳ 5 \| not waited for &#40;wait: false&#41; \| node-1, node-2, node-3, node-4, node-5 \|/
    )
  })

  test('an error after publishing', () => {
    const md = summaryMarkdown(report('error-after-publish'))
    assert.match(
      md,
      /^### ❌ web → production: stopped: Consul at http&#58;\/\/127\.0\.0\.1:8500 unreachable/
    )
    assert.match(md, /\*\*Nodes then:\*\* 3 succeeded, 0 failed, 2 not reported/)
    assert.match(md, /\*\*To roll back:\*\* re-run with `rollback-to: /)
  })
})

describe('a step killed before its verdict: the post step’s summary', () => {
  test('what the announcement left and the rollback line', () => {
    const md = abandonedMarkdown({
      app: 'web',
      environment: 'production',
      deployId: ID,
      manifestUrl: `s3://releases/web/${ID}.yml`,
      previousDeployId: PREVIOUS,
      latestMoved: true,
      eventFired: true
    })
    assert.match(md, /^### ⛔ web → production: the deploy step stopped before its verdict/)
    assert.match(md, new RegExp(`\\*\\*\`latest\` moved:\\*\\* yes: it names \`${ID}\``))
    assert.match(md, /\*\*Event fired:\*\* yes/)
    assert.match(md, /\*\*Still applying:\*\* the nodes that got the event may still be applying/)
    assert.match(
      md,
      new RegExp(`\\*\\*To roll back:\\*\\* re-run with \`rollback-to: ${PREVIOUS}\``)
    )
    const undone = abandonedMarkdown({
      deployId: ID,
      previousDeployId: PREVIOUS,
      latestMoved: false,
      eventFired: false
    })
    assert.match(undone, new RegExp(`moved:\\*\\* no: it still names \`${PREVIOUS}\``))
    assert.match(undone, /Still applying:\*\* no: the event was not fired/)
  })
})

describe('rollbacks named', () => {
  test('↩ rollback to <id> (commit, published <UTC>), replacing <id>', () => {
    const md = summaryMarkdown(report('rollback'))
    assert.match(md, new RegExp(`^### ✅ web → production: ↩ all 5 nodes back on ${ID}$`, 'm'))
    assert.match(
      md,
      new RegExp(
        `^↩ rollback to \`${ID}\` \\(commit \`1111111\`, published 2026-11-28 16:04:11 UTC\\), replacing \`20261130-101010-9d8c7b6-r1\\.1\``,
        'm'
      )
    )
    assert.doesNotMatch(md, /3f9c2ab7/, 'not the commit of the run')
    assert.match(
      checkTitle(report('rollback')),
      new RegExp(`^production: ↩ all 5 nodes back on ${ID}$`)
    )
  })
})

describe('hostile text stays inert', () => {
  test('names, logs, app and environment from anywhere', () => {
    const r = report('hostile')
    const md = summaryMarkdown(r)
    assertInert(md)
    // One row per node, four cells each.
    for (const row of md.split('\n').filter((l) => l.includes('❌ failed')))
      assert.equal(row.replace(/\\\|/g, '').split('|').length, 6, row)
    // The log's fence is longer than any backtick run inside it.
    for (const m of md.matchAll(/^(`{3,})text\n([\s\S]*?)\n\1$/gm))
      for (const run of (m[2] as string).match(/`+/g) ?? [])
        assert.ok(run.length < (m[1] as string).length)
  })
})

describe('several datacenters (contract 10)', () => {
  test('the summary and the check break the fleet down by datacenter, in rollout order', async () => {
    const { FleetState } = await import('../src/fleet-state/fleet-state.ts')
    const { checkOutput } = await import('../src/report/check-report.ts')
    const { summaryMarkdown, datacentersMarkdown } = await import('../src/report/report.ts')
    const part = (dc: string, nodes: string[], failing: string[]) => {
      const f = new FleetState({ deployId: 'r1', baselineIndex: 1, maxFailures: 0, targets: nodes })
      f.applyResults(
        nodes.map((node, i) => ({
          node,
          modifyIndex: 10 + i,
          value: JSON.stringify({
            deploy_id: 'r1',
            status: failing.includes(node) ? 'failure' : 'success',
            node,
            at: 1
          })
        }))
      )
      return { dc, f }
    }
    // The run's targets are (datacenter, name) pairs, as the executor plans them.
    const all = new FleetState({
      deployId: 'r1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: [
        ...['us-1', 'us-2'].map((node) => ({ node, datacenter: 'us-east' })),
        ...['eu-1', 'eu-2', 'eu-3'].map((node) => ({ node, datacenter: 'eu-west' }))
      ]
    })
    for (const { dc, f } of [
      part('us-east', ['us-1', 'us-2'], []),
      part('eu-west', ['eu-1', 'eu-2'], ['eu-2'])
    ])
      all.absorb(f, undefined, dc)
    all.noteNotSent('eu-3', 'not sent', undefined, 'eu-west')
    // eu-3 was never sent anything: not sent, in its datacenter's row.
    assert.equal(all.counts().total, 5)
    const table = datacentersMarkdown(all)
    assert.deepEqual(table.split('\n').slice(2), [
      '| us-east | 2 | 2 | 0 | 0 | 0 |',
      '| eu-west | 3 | 1 | 1 | 0 | 1 |'
    ])
    const report: FleetReport = { fleet: all, verdict: all.verdict(), facts: { app: 'web' } }
    assert.match(summaryMarkdown(report), /#### Datacenters\n\n\| datacenter \| nodes \|/)
    assert.match(checkOutput(report).summary, /### Datacenters\n\n\| datacenter \| nodes \|/)
    // Without datacenters there is no such section.
    const plain = new FleetState({
      deployId: 'r1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: ['a']
    })
    assert.equal(datacentersMarkdown(plain), '')
    assert.doesNotMatch(
      summaryMarkdown({ fleet: plain, verdict: plain.verdict(), facts: {} }),
      /Datacenters/
    )
  })
})

describe('the same node name in two datacenters (contract 8a)', () => {
  /** web-1 in dc1 and in dc2 both fail, each for its own reason; web-2 (dc1 only) succeeds. */
  function twoWebOnes(): FleetReport {
    const all = new FleetState({
      deployId: 'r1',
      baselineIndex: 0,
      maxFailures: 0,
      targets: [
        { node: 'web-1', datacenter: 'dc1' },
        { node: 'web-2', datacenter: 'dc1' },
        { node: 'web-1', datacenter: 'dc2' }
      ]
    })
    const reports = { dc1: { 'web-1': 'failure', 'web-2': 'success' }, dc2: { 'web-1': 'failure' } }
    for (const [dc, byNode] of Object.entries(reports)) {
      const nodes = Object.keys(byNode)
      const step = new FleetState({
        deployId: 'r1',
        baselineIndex: 1,
        maxFailures: 0,
        targets: nodes,
        datacenter: dc
      })
      step.applyResults(
        Object.entries(byNode).map(([node, status], i) => ({
          node,
          modifyIndex: 10 + i,
          value: JSON.stringify({ deploy_id: 'r1', status, at: 1 })
        })),
        500
      )
      all.absorb(step, 1, dc)
    }
    const log = (why: string) =>
      `2026/11/30 11:57:31 Executing manifest\n2026/11/30 11:57:32 Deploy manifest failed: ${why}`
    return {
      fleet: all,
      verdict: all.verdict(),
      facts: { app: 'web' },
      excerpts: [
        { node: 'web-1', datacenter: 'dc2', text: log('disk full in dc2') },
        { node: 'web-1', datacenter: 'dc1', text: log('permission denied in dc1') }
      ]
    }
  }

  test('each is named with its datacenter, and only they are', () => {
    const r = twoWebOnes()
    const a = analyse(r)
    assert.deepEqual(a.failed, ['web-1 (dc1)', 'web-1 (dc2)'])
    assert.deepEqual(a.succeeded, ['web-2'])
    assert.equal(a.counts.total, 3)
    assert.match(
      verdictMessage(r),
      /^1\/3 nodes on r1, more than 0 failed: failed: web-1 \(dc1\), web-1 \(dc2\)/
    )
  })

  test("each failure's cause is its own datacenter's log", () => {
    const r = twoWebOnes()
    const a = analyse(r)
    assert.equal(a.causeOf.get('web-1 (dc1)'), 'permission denied in dc1')
    assert.equal(a.causeOf.get('web-1 (dc2)'), 'disk full in dc2')
    assert.equal(a.groups.filter((g) => g.status === 'failure').length, 2)
    // Each datacenter's wave 1 is a box of its own, the second after the first.
    const summary = summaryMarkdown({
      ...r,
      waves: [
        { wave: 1, nodes: ['web-1 (dc1)', 'web-2'], passed: false },
        { wave: 1, nodes: ['web-1 (dc2)'], passed: false }
      ]
    })
    assert.match(summary, /^ {2}w0\["wave 1: 2 nodes.*\n {2}w1\["wave 1: 1 node.*\n {2}w0 --> w1$/m)
    assert.match(summary, /^\| web-1 &#40;dc1&#41; \| ❌ failed \| .*permission denied in dc1/m)
    assert.match(summary, /^\| web-1 &#40;dc2&#41; \| ❌ failed \| .*disk full in dc2/m)
    assert.deepEqual(
      resultRows(r.fleet).map((row) => `${row.datacenter}/${row.node} ${row.status}`),
      ['dc1/web-1 failure', 'dc2/web-1 failure', 'dc1/web-2 success']
    )
  })
})

/**
 * A fleet of `nodes` on release v2 as a staged run leaves it: `ok` and `bad`
 * reported success and failure (with `phase` under layout: releases), then each
 * of `back` went back to v1, `unsent` were never sent (wave 2), `prepared` only prepared.
 */
async function runFleet(opts: {
  nodes: string[]
  ok?: string[]
  bad?: string[]
  back?: string[]
  unsent?: string[]
  prepared?: string[]
}) {
  const { FleetState } = await import('../src/fleet-state/fleet-state.ts')
  const f = new FleetState({
    deployId: 'v2',
    baselineIndex: 1,
    maxFailures: 0,
    targets: opts.nodes
  })
  let index = 10
  const result = (node: string, status: string, phase?: string) => ({
    node,
    modifyIndex: index++,
    value: JSON.stringify({ deploy_id: 'v2', status, node, at: 1, ...(phase ? { phase } : {}) })
  })
  f.applyResults([
    ...(opts.ok ?? []).map((n) => result(n, 'success')),
    ...(opts.bad ?? []).map((n) => result(n, 'failure')),
    ...(opts.prepared ?? []).map((n) => result(n, 'success', 'prepare'))
  ])
  f.markPrepared()
  for (const n of opts.back ?? []) f.markRolledBack(n, { deployId: 'v1', at: 2 })
  for (const n of opts.unsent ?? []) f.noteNotSent(n, 'not sent: wave 2 did not start', 2)
  return f
}

describe('the first line says what happened and where the fleet is (issue #19)', () => {
  test('a failed node that auto-rollback sent back, with no log read: no "first 200" among 1 failure', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b'], bad: ['a'], back: ['a'], unsent: ['b'] })
    const r: FleetReport = {
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: {}
    }
    const text = headline(r)
    assert.match(
      text,
      /^1 of 2 nodes failed \(a: failed \(no log of it was found\)\); 1 rolled back to v1, 1 not sent$/
    )
    assert.doesNotMatch(summaryMarkdown(r), /first 200/)
    // Beyond 200 failed nodes the reason stands: the run reads 200 logs.
    const many = names(201, 'n-')
    const big = await runFleet({ nodes: many, bad: many })
    const shown = summaryMarkdown({ fleet: big, verdict: big.verdict(), facts: {} })
    assert.match(shown, /the run reads the first 200 failed nodes’ logs/)
  })

  test('a failed gate names where the fleet ended: rolled back to which release, not sent', async () => {
    const fleet = await runFleet({
      nodes: ['a', 'b', 'c', 'd'],
      ok: ['a'],
      back: ['a'],
      unsent: ['b', 'c', 'd']
    })
    const r: FleetReport = {
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: { app: 'web' },
      gateFailure: `a: service:web "Service 'web' check" (crashed)`,
      rollback: 'rolled back to v1: 1/1 nodes back on it'
    }
    assert.equal(
      headline(r),
      `web: health gate failed: a: service:web "Service 'web' check" (crashed) (0 of 4 nodes on v2); 1 rolled back to v1, 3 not sent`
    )
    assert.match(checkTitle(r), /; 1 rolled back to v1, 3 not sent$/)
    // They reported, or were never asked: not "had not reported".
    const md = summaryMarkdown(r)
    assert.match(md, /^#### 4 of 4 nodes not on v2$/m)
    assert.doesNotMatch(md, /had not reported/)
  })

  test('a cancelled run says what latest names and which nodes were never sent', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b', 'c'], unsent: ['b', 'c'] })
    const facts = { cancelled: true, eventFired: true, latestMoved: false }
    const r: FleetReport = { fleet, verdict: { done: false }, facts }
    assert.equal(
      headline(r),
      'cancelled after the event: 0 of 3 nodes on v2, 1 may still be applying it; 2 not sent; latest not moved'
    )
    const withPrevious = { ...r, facts: { ...facts, previousDeployId: 'v1' } }
    assert.match(headline(withPrevious), /; latest still names v1$/)
    const moved = { ...r, facts: { ...facts, latestMoved: true } }
    assert.match(headline(moved), /; latest names v2$/)
    // latest did not move and no earlier release is recorded: not "nothing to roll back to".
    const md = summaryMarkdown(r)
    assert.doesNotMatch(md, /nothing to roll back to/)
    assert.match(md, /\*\*To roll back:\*\* `latest` did not move: only nodes sent v2 have it/)
    // Only nodes not heard from yet: they had not reported.
    const waiting = await runFleet({ nodes: ['a', 'b'], ok: ['a'] })
    assert.match(
      summaryMarkdown({ fleet: waiting, verdict: { done: false }, facts }),
      /^#### 1 of 2 nodes had not reported$/m
    )
  })

  test('after auto-rollback the hint is for nodes it left behind, never rollback-to the failed release', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b'], ok: ['a'], bad: ['b'], back: ['a', 'b'] })
    const r: FleetReport = {
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: { previousDeployId: 'v1', latestMoved: true },
      rollback: 'rolled back to v1: 2/2 nodes back on it'
    }
    const md = summaryMarkdown(r)
    assert.match(
      md,
      /\*\*To roll back:\*\* auto-rollback ran \(above\); for any node it left on v2, re-run with `rollback-to: v1`/
    )
    assert.doesNotMatch(md, /rollback-to:? `?v2/)
    assert.match(headline(r), /; 2 rolled back to v1$/)
  })

  test('the pie puts every node in a slice: rolled back, prepared and not sent too', async () => {
    const fleet = await runFleet({
      nodes: ['a', 'b', 'c', 'd', 'e'],
      ok: ['a'],
      prepared: ['b', 'c'],
      unsent: ['d', 'e']
    })
    const md = summaryMarkdown({
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: {}
    })
    const pie = /```mermaid\n[^\n]*\npie[^`]*```/.exec(md)?.[0] ?? ''
    assert.match(pie, /"succeeded" : 1\n {2}"prepared" : 2\n {2}"not sent" : 2/)
    assert.match(pie, /"pie2":"#8250df","pie3":"#8c959f"/)
  })

  test('the prepare of layout: releases is named so; its prepared nodes count as done', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b', 'c'], ok: ['a'], prepared: ['b', 'c'] })
    const r: FleetReport = {
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: { firedAt: 0 },
      waves: [
        { wave: 0, nodes: ['a', 'b', 'c'], startedAt: 0, endedAt: 500, passed: true },
        { wave: 1, nodes: ['a'], startedAt: 600, endedAt: 900, passed: false },
        { wave: 2, nodes: ['b', 'c'] }
      ]
    }
    const md = summaryMarkdown(r)
    assert.match(md, /^\| prepare \| ✅ passed \| 3: a, b, c \| 3 \| 0 \| 0 \|/m)
    assert.match(md, /w0\["prepare: 3 nodes<br\/>✔ passed · 3 ok/)
    assert.doesNotMatch(md, /wave 0/)
  })

  test('waves of several datacenters: each its own box, named by datacenter; no box points at itself', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b'], bad: ['a'], unsent: ['b'] })
    const r: FleetReport = {
      fleet,
      verdict: { done: true, ok: false, reason: 'failures' },
      facts: { firedAt: 0 },
      waves: [
        { wave: 1, datacenter: 'dc1', nodes: ['a'], startedAt: 0, endedAt: 500, passed: false },
        { wave: 1, datacenter: 'dc2', nodes: ['b'] }
      ]
    }
    const md = summaryMarkdown(r)
    assert.match(md, /w0\["dc1 wave 1: 1 node/)
    assert.match(md, /w1\["dc2 wave 1: 1 node/)
    assert.match(md, /^ {2}w0 --> w1$/m)
    assert.doesNotMatch(md, /(w\d+) --> \1\b/)
    // Its node was never sent the event: 0 not reported.
    assert.match(md, /^\| dc2 wave 1 \| ⚪ not started \| 1: b \| 0 \| 0 \| 0 \|/m)
  })

  test('a wave under way when the run was cancelled is stopped, not running', async () => {
    const fleet = await runFleet({ nodes: ['a', 'b'], ok: ['a'] })
    const r: FleetReport = {
      fleet,
      verdict: { done: false },
      facts: { firedAt: 0, cancelled: true, eventFired: true },
      waves: [
        { wave: 1, nodes: ['a'], startedAt: 0, endedAt: 100, passed: true },
        { wave: 2, nodes: ['b'], startedAt: 200 }
      ]
    }
    const md = summaryMarkdown(r)
    assert.match(md, /^\| 2 \| ⛔ stopped \| 1: b \|/m)
    assert.match(md, /w1\["wave 2: 1 node<br\/>stopped · 0 ok/)
    assert.doesNotMatch(md, /running/)
  })

  test('quotes in a wave box stay quotes (typographic), not underscores', async () => {
    const { mermaidText } = await import('../src/report/charts.ts')
    assert.equal(
      mermaidText(`gate: a: service:web "Service 'web' check"`, 80),
      'gate: a: service:web “Service ’web’ check”'
    )
    assert.doesNotMatch(mermaidText('say "a" and "b'), /"/)
  })

  test('the datacenter table counts never-sent nodes apart from those that did not report', async () => {
    const { FleetState } = await import('../src/fleet-state/fleet-state.ts')
    const { datacentersMarkdown } = await import('../src/report/report.ts')
    const all = new FleetState({ deployId: 'v2', baselineIndex: 0, maxFailures: 0, targets: [] })
    const dc1 = await runFleet({ nodes: ['a', 'b'], ok: ['a'] })
    const dc2 = await runFleet({ nodes: ['c'] })
    all.absorb(dc1, 1, 'dc1')
    all.absorb(dc2, 1, 'dc2')
    all.noteNotSent('c', 'not sent: dc2 wave 1 did not start', 1, 'dc2')
    assert.deepEqual(datacentersMarkdown(all).split('\n').slice(2), [
      '| dc1 | 2 | 1 | 0 | 1 | 0 |',
      '| dc2 | 1 | 0 | 0 | 0 | 1 |'
    ])
  })
})
