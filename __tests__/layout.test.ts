// src/ keeps its layout: folders by stage, imports one way, pure rooms free of
// network code, no import cycle (DESIGN "Rooms"). The rules fail on a fixture
// that breaks each of them, so a passing run means something.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, describe, test } from 'node:test'
import { functionLengths } from './helpers/function-lengths.ts'
import { cycles, layoutProblems, readLayout } from './helpers/layout-rules.ts'

const SRC = new URL('../src', import.meta.url).pathname

const fixtures = mkdtempSync(join(tmpdir(), 'stretcher-layout-'))
after(() => rmSync(fixtures, { recursive: true, force: true }))

/** A small src/ tree in a temp dir: path -> content. */
function tree(name: string, files: Record<string, string>): string {
  const root = join(fixtures, name)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

const GOOD = {
  'shared/text.ts': 'export const a = 1\n',
  'config/config.ts': "import { a } from '../shared/text.ts'\nexport const b = a\n",
  'consul/client.ts': "import { b } from '../config/config.ts'\nexport const c = b\n",
  'rollout/plan/plan.ts':
    "import type { c } from '../../consul/client.ts'\nimport { a } from '../../shared/text.ts'\nexport const d: typeof c = a\n",
  'rollout/rollout.ts': "import { c } from '../consul/client.ts'\nexport const e = c\n",
  'pipeline/pipeline.ts': "import { e } from '../rollout/rollout.ts'\nexport const f = e\n"
}

describe('the layout of src/', () => {
  test('src/ holds every rule: rooms, one-way imports, pure rooms, no cycle', () => {
    const layout = readLayout(SRC)
    assert.ok(layout.files.length > 40, `read ${layout.files.length} files`)
    assert.ok(layout.edges.length > 100, `read ${layout.edges.length} imports`)
    assert.deepEqual(layoutProblems(layout), [])
  })

  test('a fixture that keeps the rules passes', () => {
    assert.deepEqual(layoutProblems(readLayout(tree('good', GOOD))), [])
  })

  test('a back-import (shared importing rollout) is named', () => {
    const root = tree('back-import', {
      ...GOOD,
      'shared/text.ts': "import { e } from '../rollout/rollout.ts'\nexport const a = e\n"
    })
    const problems = layoutProblems(readLayout(root))
    assert.ok(
      problems.includes('shared/text.ts: imports rollout/rollout.ts (rollout is not below shared)'),
      problems.join('\n')
    )
    // the back-import closes a loop too: shared -> rollout -> consul -> config -> shared
    assert.ok(
      problems.some((p) => p.startsWith('cycle: ')),
      problems.join('\n')
    )
  })

  test('a multi-line, side-effect and dynamic import are read too', () => {
    const root = tree('shapes', {
      ...GOOD,
      'config/config.ts':
        "import {\n  e\n} from '../rollout/rollout.ts'\nimport '../github/reporter.ts'\nexport const b = () => import('../report/report.ts')\nexport const x = e\n",
      'github/reporter.ts': 'export {}\n',
      'report/report.ts': 'export {}\n'
    })
    const problems = layoutProblems(readLayout(root))
    for (const to of ['rollout/rollout.ts', 'github/reporter.ts', 'report/report.ts'])
      assert.ok(
        problems.some((p) => p.startsWith(`config/config.ts: imports ${to}`)),
        `${to}: ${problems.join('\n')}`
      )
  })

  test('two backends never import each other', () => {
    const root = tree('backends', {
      ...GOOD,
      'serf/client.ts': "import { c } from '../consul/client.ts'\nexport const s = c\n"
    })
    assert.deepEqual(layoutProblems(readLayout(root)), [
      'serf/client.ts: imports consul/client.ts (consul is not below serf)'
    ])
  })

  test('a pure room may take types from a backend, not code or a network package', () => {
    const root = tree('impure', {
      ...GOOD,
      'rollout/plan/plan.ts':
        "import { c } from '../../consul/client.ts'\nimport { request } from 'node:http'\nexport const d = [c, request]\n"
    })
    assert.deepEqual(layoutProblems(readLayout(root)).sort(), [
      'rollout/plan/plan.ts: pure room rollout/plan imports consul/client.ts at run time',
      'rollout/plan/plan.ts: pure room rollout/plan imports network package node:http'
    ])
  })

  test('a file outside every room, and an import of a missing file, are named', () => {
    const root = tree('stray', {
      ...GOOD,
      'helpers/misc.ts': "import { gone } from '../shared/gone.ts'\nexport const m = gone\n"
    })
    const problems = layoutProblems(readLayout(root))
    assert.ok(problems.some((p) => p.startsWith('helpers/misc.ts: not in a room')))
    assert.ok(problems.includes('helpers/misc.ts: imports shared/gone.ts, not a file of src/'))
  })

  test('a cycle inside one room is found, each cycle once', () => {
    const root = tree('cycle', {
      ...GOOD,
      'consul/a.ts': "import { y } from './b.ts'\nexport const x = y\n",
      'consul/b.ts': "import type { x } from './a.ts'\nexport const y = 1 as typeof x\n"
    })
    assert.deepEqual(cycles(readLayout(root)), [['consul/a.ts', 'consul/b.ts']])
  })
})

describe('the functions of src/', () => {
  const lengths = functionLengths(SRC)

  test('are read: every kind of function, with its name', () => {
    assert.ok(lengths.length > 500, `read ${lengths.length} functions`)
    const named = (file: string, name: string) =>
      lengths.some((f) => f.file === file && f.name === name)
    assert.ok(named('pipeline/pipeline.ts', 'runPipeline'), 'a function declaration')
    assert.ok(named('rollout/rollout.ts', 'runRollout'), 'an exported async function')
  })

  test('stay short: none over 120 lines, at most three over 80, runPipeline under 60', () => {
    const over = (n: number) =>
      lengths.filter((f) => f.lines > n).map((f) => `${f.file} ${f.name} ${f.lines}`)
    assert.deepEqual(over(120), [])
    assert.ok(over(80).length <= 3, over(80).join('\n'))
    const pipeline = lengths.find(
      (f) => f.file === 'pipeline/pipeline.ts' && f.name === 'runPipeline'
    )
    assert.ok(pipeline && pipeline.lines < 60, `runPipeline: ${pipeline?.lines} lines`)
  })
})
