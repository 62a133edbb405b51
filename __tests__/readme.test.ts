import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { renderTables, replaceTables } from '../scripts/readme-tables.ts'

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')

test("README's inputs/outputs tables are the ones action.yml generates (npm run docs)", () => {
  const readme = read('README.md')
  assert.equal(replaceTables(readme, renderTables(read('action.yml'))), readme)
})

test('the README names the test command that .ci/run runs', () => {
  assert.match(read('README.md'), /npm ci && npm test/)
  // run as the last step, its output kept to repeat the counts on a closing line
  assert.match(read('.ci/run'), /^npm test( 2>&1 \| tee "\$log")?$/m)
})
