// Reads a rendered manifest into stretcher's Manifest struct the way yaml.v2's
// non-strict Unmarshal does (research/stretcher.md §1): YAML 1.1 scalars, unknown
// keys ignored, any scalar accepted as a string (its source text), dest_mode an
// unsigned int, and a type mismatch an error (go-config returns it, stretcher stops).
import { isMap, isScalar, isSeq, parseDocument } from 'yaml'
import type { Node as YamlNode } from 'yaml'

export interface Commands {
  pre: string[]
  post: string[]
  success: string[]
  failure: string[]
}

export interface Manifest {
  src: string
  checksum: string
  dest: string
  /** manifest.go DefaultDestMode 0755 when absent */
  destMode: number
  commands: Commands
  excludes: string[]
  excludeFrom: string
  syncStrategy: string
}

export class ManifestError extends Error {
  override name = 'ManifestError'
}

function keyOf(node: unknown): string {
  if (!isScalar(node)) return ''
  return typeof node.value === 'string' ? node.value : String(node.source ?? node.value)
}

function toStr(node: YamlNode | null | undefined, field: string): string {
  if (node === null || node === undefined) return ''
  if (!isScalar(node))
    throw new ManifestError(`yaml: unmarshal errors: cannot unmarshal into string (${field})`)
  if (node.value === null) return ''
  if (typeof node.value === 'string') return node.value
  return String(node.source ?? node.value)
}

function toList(node: YamlNode | null | undefined, field: string): string[] {
  if (node === null || node === undefined) return []
  if (isScalar(node) && node.value === null) return []
  if (!isSeq(node))
    throw new ManifestError(`yaml: unmarshal errors: cannot unmarshal into []string (${field})`)
  return node.items.map((item) => toStr(item as YamlNode, field))
}

function toMode(node: YamlNode | null | undefined): number | undefined {
  if (node === null || node === undefined) return undefined
  if (!isScalar(node))
    throw new ManifestError('yaml: unmarshal errors: cannot unmarshal into os.FileMode')
  const value = node.value
  if (value === null) return undefined
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 32)
    return value
  throw new ManifestError(
    `yaml: unmarshal errors: cannot unmarshal !!${typeof value === 'string' ? 'str' : typeof value} \`${String(node.source ?? value)}\` into os.FileMode`
  )
}

export function parseManifest(text: string): Manifest {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false })
  if (doc.errors.length > 0)
    throw new ManifestError(`yaml: ${doc.errors[0]!.message.split('\n')[0]}`)
  const root = doc.contents
  const fields = new Map<string, YamlNode | null>()
  if (isMap(root)) {
    for (const pair of root.items) fields.set(keyOf(pair.key), pair.value as YamlNode | null)
  } else if (root !== null && !(isScalar(root) && root.value === null)) {
    throw new ManifestError('yaml: unmarshal errors: cannot unmarshal into config.Manifest')
  }
  const commandFields = new Map<string, YamlNode | null>()
  const commands = fields.get('commands')
  if (isMap(commands)) {
    for (const pair of commands.items)
      commandFields.set(keyOf(pair.key), pair.value as YamlNode | null)
  } else if (
    commands !== undefined &&
    commands !== null &&
    !(isScalar(commands) && commands.value === null)
  ) {
    throw new ManifestError('yaml: unmarshal errors: cannot unmarshal into stretcher.Commands')
  }
  const manifest: Manifest = {
    src: toStr(fields.get('src'), 'src'),
    checksum: toStr(fields.get('checksum'), 'checksum'),
    dest: toStr(fields.get('dest'), 'dest'),
    destMode: toMode(fields.get('dest_mode')) ?? 0o755,
    commands: {
      pre: toList(commandFields.get('pre'), 'commands.pre'),
      post: toList(commandFields.get('post'), 'commands.post'),
      success: toList(commandFields.get('success'), 'commands.success'),
      failure: toList(commandFields.get('failure'), 'commands.failure')
    },
    excludes: toList(fields.get('excludes'), 'excludes'),
    excludeFrom: toStr(fields.get('exclude_from'), 'exclude_from'),
    syncStrategy: toStr(fields.get('sync_strategy'), 'sync_strategy')
  }
  // manifest.go:221-223, checked while parsing: no success/failure commands run.
  if (manifest.src !== '' && manifest.dest === '') throw new ManifestError('dest is required')
  return manifest
}
