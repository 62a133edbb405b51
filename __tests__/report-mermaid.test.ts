// Every Mermaid block the job summary carries goes through Mermaid's own parser
// (the one GitHub's renderer runs): a syntax error fails the test. The check
// run carries none.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { JSDOM } from 'jsdom'
import { checkOutput } from '../src/report/check-report.ts'
import { summaryMarkdown } from '../src/report/report.ts'
import type { NodeSpec } from './helpers/report-fixtures.ts'
import { fixtures, fleetOf, timeOf } from './helpers/report-fixtures.ts'

type Mermaid = {
  parse: (text: string) => Promise<{ diagramType: string; config: Record<string, unknown> }>
}
let mermaid: Mermaid

before(async () => {
  // Mermaid sanitises labels with DOMPurify, which needs a window.
  const { window } = new JSDOM('')
  Object.assign(globalThis, { window, document: window.document })
  mermaid = (await import('mermaid')).default as unknown as Mermaid
})

function blocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1] as string)
}

describe("Mermaid's parser", () => {
  test('a broken block is refused (the check has teeth)', async () => {
    await assert.rejects(mermaid.parse('xychart-beta\n  x-axis 0 -- 10'))
    await assert.rejects(mermaid.parse('pie\n  "a" : x'))
  })

  for (const [name, report] of Object.entries(fixtures()))
    test(`${name}: every block parses`, async () => {
      const found = blocks(summaryMarkdown(report))
      // Nothing reported (wait: false): no picture; otherwise at least the pie.
      assert.ok(found.length > 0 || name === 'not-waiting', 'the summary has pictures')
      for (const block of found) {
        const parsed = await mermaid.parse(block)
        assert.match(parsed.diagramType, /^(pie|xychart|flowchart-v2)$/)
      }
      const check = checkOutput(report)
      assert.deepEqual(
        blocks(`${check.summary}\n${check.text ?? ''}`),
        [],
        'no Mermaid in the check run'
      )
    })

  test('the fixed colours reach Mermaid as theme variables (no theme forced: GitHub picks light or dark)', async () => {
    const md = summaryMarkdown(fixtures()['nodes-1000'] as never)
    const [pie, chart] = blocks(md)
    const pieConfig = (await mermaid.parse(pie as string)).config
    assert.equal(pieConfig.theme, undefined)
    assert.deepEqual(
      ['pie1', 'pie2', 'pie3'].map((k) => (pieConfig.themeVariables as Record<string, string>)[k]),
      ['#2da44e', '#cf222e', '#6e7781']
    )
    const chartConfig = (await mermaid.parse(chart as string)).config
    assert.deepEqual(chartConfig.themeVariables, {
      xyChart: { plotColorPalette: '#2da44e, #cf222e' }
    })
  })

  test('hostile node names and a 20-wave rollout still parse', async () => {
    const specs: NodeSpec[] = [
      'a : crit, 0, 9\nsection x',
      'click a call alert(1)',
      '%%{init: {}}%%',
      '"quoted"; x --> y',
      '```',
      '[x](https://evil.example)'
    ].map((node, i) => ({ node, outcome: i % 2 ? 'failure' : 'success', ms: timeOf(i) }))
    const fleet = fleetOf(specs)
    const waves = specs.map((s, i) => ({
      wave: i + 1,
      nodes: [s.node],
      startedAt: 1000 * i,
      endedAt: 1000 * i + 500,
      gate: `check "web" critical on ${s.node}; ]]> --> %%`,
      passed: i % 2 === 0
    }))
    const md = summaryMarkdown({
      fleet,
      verdict: fleet.verdict(),
      facts: { firedAt: 0 },
      excerpts: [],
      waves
    })
    const found = blocks(md)
    assert.equal(found.length, 3)
    for (const block of found) await mermaid.parse(block)
  })
})
