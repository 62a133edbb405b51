// `npm run report:preview`: the job summary and the check run's output, rendered
// as GitHub shows them (scripts/report-render.ts) to .tmp/report-preview/*.html
// and screenshotted with headless Chromium.
//   (default)   fixed fleets (__tests__/helpers/report-fixtures.ts)
//   --fleet     real runs of dist/index.js on the local fleet (scripts/report-scenarios.ts:
//               issue #19's cases 1-6 and a 1,000-node three-wave rollout failing in
//               wave 2); `npm run package` first; the summary as written to
//               GITHUB_STEP_SUMMARY, the check run as the GitHub API stand-in recorded it
// `--no-shots` writes the HTML only; `--only=a,b` picks fixtures or scenarios;
// `--out=DIR` another folder. Emoji need a colour emoji font (Debian:
// fonts-noto-color-emoji), or they show as boxes. Nothing here is bundled.
import { resolve } from 'node:path'
import { checkOutput } from '../src/report/check-report.ts'
import { summaryMarkdown } from '../src/report/report.ts'
import { fixtures } from '../__tests__/helpers/report-fixtures.ts'
import type { CheckOutputText } from './report-render.ts'
import { prepareOut, screenshot, writePages } from './report-render.ts'

const OUT = resolve(
  process.argv.find((a) => a.startsWith('--out='))?.slice(6) ?? '.tmp/report-preview'
)
const SHOTS = !process.argv.includes('--no-shots')
const FLEET = process.argv.includes('--fleet')
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  ?.split(',')

/** What a run (or a fixture) leaves to look at: its summary and its check run's output. */
interface Shown {
  summary: string
  check: CheckOutputText | undefined
}

async function* fromFixtures(): AsyncGenerator<[string, Shown]> {
  for (const [name, report] of Object.entries(fixtures()))
    yield [name, { summary: summaryMarkdown(report), check: checkOutput(report) }]
}

async function* fromFleet(): AsyncGenerator<[string, Shown]> {
  const { runScenarios } = await import('./report-scenarios.ts')
  yield* runScenarios(ONLY)
}

async function main() {
  await prepareOut(OUT)
  const pages: string[] = []
  for await (const [name, shown] of FLEET ? fromFleet() : fromFixtures()) {
    if (ONLY && !ONLY.includes(name)) continue
    pages.push(...(await writePages(OUT, name, shown.summary, shown.check)))
    const first = shown.summary.split('\n').find((l) => l.trim()) ?? ''
    console.log(
      `${name}: summary ${Buffer.byteLength(shown.summary)} bytes, check summary ${shown.check?.summary.length ?? 0} + text ${shown.check?.text?.length ?? 0} characters\n  first line: ${first}\n  check title: ${shown.check?.title ?? '(no check run)'}`
    )
  }
  if (SHOTS) await screenshot(OUT, pages)
}

await main()
