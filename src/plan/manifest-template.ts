// The manifest template (input `manifest`), read and parsed in the plan stage:
// a file that cannot be read is an input error before anything is written.
import { readFile } from 'node:fs/promises'
import type { Config } from '../config/config.ts'
import type { ManifestTemplate } from '../publish/manifest/manifest.ts'
import { parseManifestTemplate } from '../publish/manifest/manifest.ts'
import { InputError, quote } from '../shared/errors.ts'
import type { Log } from '../shared/log.ts'

export async function loadTemplate(
  config: Config,
  log: Log
): Promise<ManifestTemplate | undefined> {
  if (!config.manifestFile) return undefined
  let text: string
  try {
    text = await readFile(config.manifestFile, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new InputError('manifest', `cannot be read: ${quote(config.manifestFile)} (${code})`)
  }
  const template = parseManifestTemplate(text, config.manifestName ?? config.manifestFile)
  for (const warning of template.warnings) log.warning(warning)
  return template
}
