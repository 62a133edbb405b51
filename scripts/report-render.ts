// Renders a job summary and a check run's output as GitHub shows them (GFM with
// GitHub's markdown CSS, Mermaid in GitHub's light and dark themes) to HTML, and
// screenshots the pages with headless Chromium (Debian's; CHROMIUM=path to use
// another). Shared by `npm run report:preview` (fixed fleets) and its `--fleet`
// mode (real runs on the local fleet). Nothing here is bundled.
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Marked } from 'marked'

export interface CheckOutputText {
  title: string
  summary: string
  text?: string
}

const escapeHtml = (t: string) =>
  t.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string
  )

/** GFM as GitHub renders it; a ```mermaid block becomes a diagram for Mermaid to draw. */
function render(markdown: string): string {
  const marked = new Marked({ gfm: true })
  marked.use({
    renderer: {
      code({ text, lang }) {
        if (lang === 'mermaid') return `<pre class="mermaid">${escapeHtml(text)}</pre>\n`
        return false
      }
    }
  })
  return marked.parse(markdown, { async: false })
}

type Mode = 'light' | 'dark'

function page(title: string, body: string, mode: Mode): string {
  const bg = mode === 'dark' ? '#0d1117' : '#ffffff'
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="github-markdown-${mode}.css">
<style>
  body { background: ${bg}; margin: 0; }
  .markdown-body { box-sizing: border-box; max-width: 1012px; margin: 0 auto; padding: 24px 32px; }
  .frame { border: 1px solid ${mode === 'dark' ? '#30363d' : '#d0d7de'}; border-radius: 6px; margin: 16px auto; max-width: 1012px; }
  .caption { font: 12px monospace; color: #8c959f; padding: 4px 32px; }
</style>
<script src="mermaid.min.js"></script>
</head><body>
<div class="caption">${escapeHtml(title)} (${mode})</div>
<div class="frame"><article class="markdown-body">
${body}
</article></div>
<script>
  mermaid.initialize({ startOnLoad: false, theme: ${JSON.stringify(mode === 'dark' ? 'dark' : 'default')}, securityLevel: 'strict' });
  mermaid.run({ querySelector: 'pre.mermaid' })
    .then(() => { document.body.dataset.rendered = 'yes' })
    .catch((e) => { document.body.dataset.rendered = 'error: ' + e.message });
</script>
</body></html>
`
}

/** Mermaid and GitHub's CSS beside the pages. */
export async function prepareOut(out: string): Promise<void> {
  await mkdir(out, { recursive: true })
  await copyFile(join('node_modules', 'mermaid/dist/mermaid.min.js'), join(out, 'mermaid.min.js'))
  for (const mode of ['light', 'dark'] as const)
    await copyFile(
      join('node_modules', 'github-markdown-css', `github-markdown-${mode}.css`),
      join(out, `github-markdown-${mode}.css`)
    )
}

/**
 * `name`'s job summary (light and dark) and check run (light and dark, when
 * there is one) as Markdown, JSON and HTML; returns the pages to screenshot.
 */
export async function writePages(
  out: string,
  name: string,
  summary: string,
  check: CheckOutputText | undefined
): Promise<string[]> {
  const pages: string[] = []
  await writeFile(join(out, `${name}.summary.md`), summary)
  for (const mode of ['light', 'dark'] as const) {
    await writeFile(
      join(out, `${name}.summary.${mode}.html`),
      page(`${name}: job summary`, render(summary), mode)
    )
    pages.push(`${name}.summary.${mode}`)
  }
  if (!check) return pages
  await writeFile(join(out, `${name}.check.json`), JSON.stringify(check, null, 2))
  const checkBody = `<h2>Check run: ${escapeHtml(check.title)}</h2>\n${render(check.summary)}${check.text ? `<hr>${render(check.text)}` : ''}`
  for (const mode of ['light', 'dark'] as const) {
    await writeFile(
      join(out, `${name}.check.${mode}.html`),
      page(`${name}: check run`, checkBody, mode)
    )
    pages.push(`${name}.check.${mode}`)
  }
  return pages
}

/** Each page's top (what shows first), whole, and in screen-sized parts, as PNG. */
export async function screenshot(out: string, pages: readonly string[]): Promise<void> {
  const { chromium } = await import('playwright-core')
  // Playwright gives the browser a fresh profile of its own each launch.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  })
  try {
    for (const name of pages) {
      const context = await browser.newContext({
        viewport: { width: 1080, height: 1200 },
        colorScheme: name.endsWith('dark') ? 'dark' : 'light'
      })
      const tab = await context.newPage()
      // Nothing leaves the machine: every request but file:// is refused.
      await tab.route(/^(?!file:)/, (route) => route.abort())
      await tab.goto(`file://${join(out, `${name}.html`)}`)
      await tab.waitForFunction('document.body.dataset.rendered !== undefined', undefined, {
        timeout: 30_000
      })
      const state = await tab.evaluate<string | undefined>('document.body.dataset.rendered')
      if (state !== 'yes') console.log(`${name}: Mermaid says ${state}`)
      // <details> stay as GitHub first shows them: the first cause's log open, the rest closed.
      await tab.screenshot({ path: join(out, `${name}.top.png`) })
      await tab.screenshot({ path: join(out, `${name}.full.png`), fullPage: true })
      // The long page in screen-sized parts, to look at one by one.
      const height = await tab.evaluate<number>('document.documentElement.scrollHeight')
      for (let y = 0, part = 1; y < height; y += 1200, part++)
        await tab.screenshot({
          path: join(out, `${name}.part-${part}.png`),
          fullPage: true,
          clip: { x: 0, y, width: 1080, height: Math.min(1200, height - y) }
        })
      await context.close()
    }
  } finally {
    await browser.close()
  }
  console.log(`screenshots in ${out}`)
}
