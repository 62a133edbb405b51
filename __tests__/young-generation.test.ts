// The action's entry keeps V8's young generation at its start size (issue #19:
// peak RSS at 10,000 nodes). The flag is set at run time, which works only
// because V8 reads the growth factor each time it would grow: a V8 that stops
// doing so fails here, not silently in the memory bench.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MODULE = fileURLToPath(new URL('../src/shared/young-generation.ts', import.meta.url))

// Megabytes of parsed JSON that survive a few scavenges each, as a blocking
// read's 10,000 results do; prints the young generation's size in MB at the end.
const WORKLOAD = `
import v8 from 'node:v8'
const body = JSON.stringify(Array.from({ length: 10000 }, (_, i) => ({
  Key: 'stretcher/app/results/web-' + i, Value: 'eyJzdGF0dXMiOiJvayJ9', ModifyIndex: i })))
const kept = []
for (let r = 0; r < 30; r++) {
  kept.push(JSON.parse(body))
  if (kept.length > 2) kept.shift()
  await new Promise((ok) => setTimeout(ok, 1))
}
const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
console.log(young.space_size / 2 ** 20)
`

function youngGenerationMB(nodeArgs: string[]): number {
  const out = execFileSync(
    process.execPath,
    [...nodeArgs, '--input-type=module', '--eval', WORKLOAD],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }
  )
  return Number(out.trim())
}

test('without the module the young generation grows under big surviving answers', () => {
  // The control: if this stops growing, the test below proves nothing.
  assert.ok(youngGenerationMB([]) > 16)
})

test('with the module first the young generation stays at a few MB', () => {
  assert.ok(youngGenerationMB(['--import', MODULE]) <= 8)
})
