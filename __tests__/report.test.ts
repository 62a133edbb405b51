import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ResultEntry } from '../src/fleet-state.ts'
import { FleetState } from '../src/fleet-state.ts'
import {
  codeSpan,
  failedLogsMarkdown,
  fleetChartMarkdown,
  markdownText,
  mermaidLabel,
  nodeTableMarkdown,
  summaryMarkdown
} from '../src/report.ts'

const ID = '20261122-021441-3f9c2ab-r1.1'
const result = (node: string, status: string, index: number): ResultEntry => ({
  node,
  modifyIndex: index,
  value: JSON.stringify({ deploy_id: ID, status, node, at: 1_790_000_000 })
})
function fleetOf(nodes: Array<[string, 'success' | 'failure' | 'pending']>, maxFailures = 0) {
  const f = new FleetState({
    deployId: ID,
    baselineIndex: 1,
    maxFailures,
    targets: nodes.map(([n]) => n)
  })
  nodes.forEach(([n, s], i) => {
    if (s !== 'pending') f.applyResults([result(n, s, 10 + i)], 1000 * (i + 1))
  })
  return f
}

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
  'line\nbreak\r\n| injected | row |'
]

/** No raw markup a renderer would act on. */
function assertInert(md: string) {
  assert.doesNotMatch(md, /<script|<img|onerror=|\]\(|https?:\/\/evil|www\.evil|@evil/i)
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(md, /[\x00-\x08\x0b-\x1f\x7f]/)
}

describe('markdownText', () => {
  test('neutralises HTML, links, autolinks, emphasis, pipes and terminal escapes', () => {
    for (const text of HOSTILE) {
      const out = markdownText(text)
      assertInert(out)
      assert.doesNotMatch(out, /[|<>[\]*_`\n]/)
    }
  })

  test('is bounded whatever the input', () => {
    assert.ok(markdownText('|'.repeat(100_000), 80).length <= 80 * 6)
  })

  test('codeSpan cannot be closed from inside', () => {
    assert.equal(codeSpan('a`b\nc'), "`a'b c`")
  })
})

describe('node table', () => {
  test('hostile node names stay inside one cell of one row', () => {
    const f = fleetOf(HOSTILE.map((n) => [n, 'failure'] as [string, 'failure']))
    const { markdown } = nodeTableMarkdown(f, 100_000)
    assertInert(markdown)
    const rows = markdown.trim().split('\n')
    assert.equal(rows.length, 2 + HOSTILE.length)
    for (const row of rows) assert.equal(row.split('|').length, 6, row)
  })

  test('cut to the budget, with a note counting the nodes left out', () => {
    const f = fleetOf(
      Array.from({ length: 1000 }, (_, i) => [`node-${i}`, 'success'] as [string, 'success'])
    )
    const { markdown, shown, omitted } = nodeTableMarkdown(f, 5000)
    assert.ok(markdown.length <= 5000, String(markdown.length))
    assert.equal(shown + omitted, 1000)
    assert.ok(omitted > 0)
    assert.match(markdown, new RegExp(`and ${omitted} more nodes left out`))
  })

  test('failed nodes come first', () => {
    const f = fleetOf([
      ['a', 'success'],
      ['z', 'failure']
    ])
    const { markdown } = nodeTableMarkdown(f, 10_000)
    assert.ok(markdown.indexOf('| z |') < markdown.indexOf('| a |'))
  })
})

describe('failedLogsMarkdown', () => {
  test('a log cannot close its fence, open HTML or inject a link', () => {
    const text = [
      '```',
      '</details><script>alert(1)</script>',
      '````',
      '\x1b[1mbold\x1b[0m',
      'error: boom'
    ].join('\n')
    const md = failedLogsMarkdown([{ node: 'web-<b>1</b>', text }])
    const fence = /^(`{3,})text$/m.exec(md)?.[1] ?? ''
    assert.equal(fence.length, 5)
    // The only closing fence is the last one.
    assert.equal(md.split('\n').filter((l) => l === fence).length, 1)
    assert.match(md, /<summary>web-&#60;b&#62;1&#60;\/b&#62;: log<\/summary>/)
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(md, /\x1b/)
    assert.match(md, /error: boom/)
  })

  test('over the budget: keeps each log tail, then counts nodes and lines left out', () => {
    const big = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(300)}`).join('\n')
    const excerpts = Array.from({ length: 10 }, (_, i) => ({ node: `n${i}`, text: big }))
    const md = failedLogsMarkdown(excerpts, 20_000)
    assert.ok(md.length <= 20_000, String(md.length))
    assert.match(md, /line 199 /) // the tail survives
    assert.match(md, /earlier lines left out/)
    const note = /… (\d+) log lines from (\d+) more failed nodes left out/.exec(md)
    assert.ok(note, md.slice(-300))
    assert.equal(Number(note[1]), Number(note[2]) * 200)
  })

  test('huge single lines are cut to 400 characters', () => {
    const md = failedLogsMarkdown([{ node: 'n', text: 'y'.repeat(1_000_000) }])
    assert.ok(md.length < 1000)
  })
})

describe('Mermaid picture', () => {
  test('outcome pie and a timeline of when each node reported', () => {
    const f = fleetOf([
      ['web-1', 'success'],
      ['web-2', 'failure'],
      ['web-3', 'pending']
    ])
    const md = fleetChartMarkdown(f)
    assert.match(md, /```mermaid\npie showData title 1\/3 nodes on/)
    assert.match(md, /"succeeded" : 1\n {2}"failed" : 1\n {2}"waiting" : 1/)
    assert.match(md, /gantt\n[\s\S]*✔ web-1 :done, 0, 1000\n {2}✘ web-2 :crit, 0, 2000\n```/)
  })

  test('hostile node names cannot break out of Mermaid syntax', () => {
    for (const name of [
      'a : crit, 0, 9\nsection x',
      'click a call alert(1)',
      '%%{init: {}}%%',
      '"quoted"; x --> y'
    ])
      assert.match(mermaidLabel(name), /^[A-Za-z0-9._-]*$/)
    const f = fleetOf([['section x\ntitle y : done, 0, 5', 'success']])
    const lines = fleetChartMarkdown(f).split('\n')
    const task = lines.filter((l) => l.includes(':done'))
    assert.equal(task.length, 1)
    assert.match(task[0] ?? '', /^ {2}✔ section_x_title_y___done__0__5 :done, 0, 1000$/)
  })

  test('no timeline for a fleet too big to read', () => {
    const f = fleetOf(
      Array.from({ length: 61 }, (_, i) => [`n${i}`, 'success'] as [string, 'success'])
    )
    assert.doesNotMatch(fleetChartMarkdown(f), /gantt/)
  })
})

describe('summaryMarkdown', () => {
  test('verdict, facts, table and failed logs', () => {
    const f = fleetOf([
      ['web-1', 'success'],
      ['web-2', 'failure']
    ])
    const md = summaryMarkdown(
      f,
      f.verdict(),
      {
        manifestUrl: 's3://b/app/x.yml',
        checksum: 'ab'.repeat(32),
        commit: 'c'.repeat(40),
        durationMs: 61_000,
        srcUrl: 's3://b/app/x.tgz'
      },
      500,
      { excerpts: [{ node: 'web-2', text: 'simulated failure on web-2' }] }
    )
    assert.match(md, /^### ❌ 1\/2 nodes on /)
    assert.match(md, /\*\*Manifest:\*\* `s3:\/\/b\/app\/x.yml`/)
    assert.match(md, /\*\*Checksum \(sha256\):\*\* `(ab){32}`/)
    assert.match(md, /\*\*Commit:\*\* `c{40}`/)
    assert.match(md, /\*\*Duration:\*\* 1m1s/)
    assert.match(md, /\| web-1 \| ✅ success \|/)
    assert.match(md, /<details><summary>web-2: log<\/summary>[\s\S]*simulated failure on web-2/)
    assert.match(md, /```mermaid/)
  })

  test('stays under the bound (well under 1 MiB) with a huge hostile fleet and logs', () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `${'|<'.repeat(100)}${i}`)
    const f = fleetOf(names.map((n) => [n, 'failure'] as [string, 'failure']))
    const excerpts = names.slice(0, 10).map((node) => ({ node, text: '`|<'.repeat(50_000) }))
    const md = summaryMarkdown(f, f.verdict(), {}, 500, { excerpts })
    assert.ok(Buffer.byteLength(md) < 1024 * 1024 * 0.8, String(Buffer.byteLength(md)))
    assert.match(md, /more nodes left out of this table/)
    assertInert(md)
  })

  test('the old call (three arguments) still works', () => {
    const f = fleetOf([['a', 'success']])
    const md = summaryMarkdown(f, f.verdict(), { manifestUrl: 's3://b/k.yml' })
    assert.match(md, /^### ✅ 1\/1 nodes on /)
    assert.doesNotMatch(md, /Failed nodes/)
  })

  test('a cancelled wait says so', () => {
    const f = fleetOf([['a', 'pending']])
    assert.match(
      summaryMarkdown(f, f.verdict(), { cancelled: true }),
      /^### ⛔ cancelled while waiting: 0\/1 done/
    )
  })
})
