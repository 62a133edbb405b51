// Renders the inputs/outputs tables of README.md from action.yml, so the two
// cannot drift: `npm run docs` rewrites them, a test checks they are current.
import { readFileSync, writeFileSync } from 'node:fs'
import * as yaml from 'js-yaml'

interface ActionYml {
  inputs: Record<string, { description: string; default?: string; required?: boolean }>
  outputs: Record<string, { description: string }>
}

const BEGIN = '<!-- action-tables:begin (generated from action.yml by `npm run docs`) -->'
const END = '<!-- action-tables:end -->'

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function renderTables(actionYml: string): string {
  const action = yaml.load(actionYml) as ActionYml
  const inputs = Object.entries(action.inputs).map(([name, spec]) => {
    const def = spec.required
      ? '**required**'
      : spec.default !== undefined
        ? `\`${cell(spec.default)}\``
        : ''
    return `| \`${name}\` | ${def} | ${cell(spec.description)} |`
  })
  const outputs = Object.entries(action.outputs).map(
    ([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`
  )
  return [
    BEGIN,
    '### Inputs',
    '',
    '| input | default | description |',
    '| --- | --- | --- |',
    ...inputs,
    '',
    '### Outputs',
    '',
    '| output | description |',
    '| --- | --- |',
    ...outputs,
    END
  ].join('\n')
}

export function replaceTables(readme: string, tables: string): string {
  const start = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error('README.md has no action-tables markers')
  return readme.slice(0, start) + tables + readme.slice(end + END.length)
}

if (import.meta.main) {
  const readme = readFileSync('README.md', 'utf8')
  writeFileSync(
    'README.md',
    replaceTables(readme, renderTables(readFileSync('action.yml', 'utf8')))
  )
}
