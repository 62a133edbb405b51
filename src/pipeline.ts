// The stages of one run, wired together. Every client is passed in, so tests run
// the whole pipeline against local servers.
import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import type { Config } from './config.ts'
import { InputError, quote } from './errors.ts'
import type { Log } from './log.ts'
import type { ManifestTemplate } from './manifest.ts'
import { parseManifestTemplate } from './manifest.ts'
import type { Release, ReportingCommands } from './publish.ts'
import { checkManifestRenders, publish } from './publish.ts'
import type { ReleaseStore } from './store.ts'

export type OutputName =
  | 'deploy-id'
  | 'manifest-url'
  | 'src-url'
  | 'checksum'
  | 'nodes-total'
  | 'nodes-succeeded'
  | 'nodes-failed'
  | 'nodes-pending'
  | 'results'

export interface PipelineDeps {
  store: ReleaseStore
  log: Log
  setOutput: (name: OutputName, value: string) => void
}

export interface PipelineResult {
  release: Release
}

async function loadTemplate(config: Config, log: Log): Promise<ManifestTemplate | undefined> {
  if (!config.manifestFile) return undefined
  let text: string
  try {
    text = await readFile(config.manifestFile, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new InputError('manifest', `cannot be read: ${quote(config.manifestFile)} (${code})`)
  }
  const template = parseManifestTemplate(
    text,
    relative(process.cwd(), config.manifestFile) || config.manifestFile
  )
  for (const warning of template.warnings ?? []) log.warning(warning)
  return template
}

/** Reporting commands the nodes run after a deploy; issue #3 fills these in. */
export function reportingCommands(_config: Config): ReportingCommands {
  return { success: [], failure: [] }
}

export async function runPipeline(config: Config, deps: PipelineDeps): Promise<PipelineResult> {
  const { log, store, setOutput } = deps
  // Plan: everything that can be wrong with the inputs is found before any upload.
  const template = await loadTemplate(config, log)
  const commands = reportingCommands(config)
  checkManifestRenders(config, template, commands)
  log.info(`deploy ${config.deployId} of ${config.app} from ${config.path}`)

  const release = await publish({ config, template, commands, store, log, onFact: setOutput })
  return { release }
}
