// The manifest template parsed and checked: what stretcher would refuse or
// misread is refused here, each error at its file:line:col.
import * as yaml from 'js-yaml'
import type { Document, Event, MappingNode, Node, ScalarNode, SequenceNode } from 'js-yaml'
import { InputError, quote } from '../../shared/errors.ts'
import type { ActionScalar } from './yaml-nodes.ts'
import { ACTION, MERGE_TAG, NULL_TAG, PLAIN, SEQ_TAG, STR_TAG } from './yaml-nodes.ts'

/** A parsed manifest template. Treat it as opaque apart from the documented fields. */
export interface ManifestTemplate {
  readonly fileName: string
  /** The template's `dest` as stretcher reads it (actions unevaluated); undefined when absent or empty. */
  readonly dest: string | undefined
  /** One line each, worth logging: fields the action replaces, keys stretcher ignores. */
  readonly warnings: readonly string[]
  /** The syntax tree; renderManifest copies what it changes and never mutates it. */
  readonly document: Document
  /** The template scalars that hold `{{`, with their style and actions as written. */
  readonly actionScalars: ReadonlyMap<ScalarNode, ActionScalar>
}

const COMMAND_LISTS = ['pre', 'post', 'success', 'failure'] as const
const KNOWN_KEYS = new Set([
  'src',
  'checksum',
  'dest',
  'dest_mode',
  'commands',
  'excludes',
  'exclude_from',
  'sync_strategy'
])
const SYNC_STRATEGIES = new Set(['', 'rsync', 'mv'])
const MAX_DEST_MODE = 0o7777

/**
 * Parse a manifest template. Throws InputError('manifest', 'file:line:col: why')
 * for YAML errors and for anything stretcher would refuse or misread.
 */
export function parseManifestTemplate(text: string, fileName: string): ManifestTemplate {
  const lineStarts = [0]
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') lineStarts.push(i + 1)
  }
  const where = (offset: number): string => {
    let line = 0
    while (line + 1 < lineStarts.length && lineStarts[line + 1]! <= offset) {
      line++
    }
    return `${fileName}:${line + 1}:${offset - lineStarts[line]! + 1}`
  }
  const fail = (offset: number, reason: string): never => {
    throw new InputError('manifest', `${where(offset)}: ${reason}`)
  }

  const yamlError = (error: unknown): never => {
    if (error instanceof yaml.YAMLException) {
      const mark = error.mark
      const at = mark ? `${fileName}:${mark.line + 1}:${mark.column + 1}` : fileName
      // Actions outside YAML strings are the usual cause when a template has them.
      const hint = text.includes('{{')
        ? ' (a {{ ... }} action must sit inside a YAML string value)'
        : ''
      throw new InputError('manifest', `${at}: ${error.reason}${hint}`)
    }
    throw error
  }
  let events: Event[] = []
  let documents: Document[] = []
  try {
    events = yaml.parseEvents(text, { filename: fileName })
    documents = yaml.eventsToAst(events, {
      source: text,
      schema: yaml.YAML11_SCHEMA
    })
  } catch (error) {
    yamlError(error)
  }
  const document = documents[0]
  if (!document || !document.contents) {
    return fail(0, 'is empty; expected a mapping of stretcher fields')
  }

  // Walk the events alongside the tree to learn where each node starts and
  // which source text each scalar came from.
  const offsets = new Map<Node, number>()
  const scalarSources = new Map<ScalarNode, [number, number]>()
  let next = 1 // events[0] opens the document
  const attach = (node: Node): void => {
    const event = events[next++]!
    switch (event.type) {
      case yaml.EVENT_ID.SCALAR:
        // Point at the opening quote of a quoted scalar.
        offsets.set(
          node,
          event.style === yaml.SCALAR_STYLE.SINGLE_QUOTED ||
            event.style === yaml.SCALAR_STYLE.DOUBLE_QUOTED
            ? event.valueStart - 1
            : event.valueStart
        )
        scalarSources.set(node as ScalarNode, [event.valueStart, event.valueEnd])
        return
      case yaml.EVENT_ID.ALIAS:
        offsets.set(node, Math.max(0, event.anchorStart - 1))
        return
      case yaml.EVENT_ID.SEQUENCE:
        offsets.set(node, event.start)
        for (const item of (node as SequenceNode).items) attach(item)
        break
      case yaml.EVENT_ID.MAPPING:
        offsets.set(node, event.start)
        for (const { key, value } of (node as MappingNode).items) {
          attach(key)
          attach(value)
        }
        break
    }
    next++ // the POP closing the collection
  }
  attach(document.contents)
  const at = (node: Node): number => offsets.get(node) ?? 0

  // An action outside a scalar (say `dest: {{ env "D" }}`, read as a flow
  // mapping) cannot be kept byte for byte. One in a comment is dropped with it.
  const actionScalars = new Map<ScalarNode, ActionScalar>()
  const sourceRanges = [...scalarSources.values()]
  for (const match of text.matchAll(/\{\{/g)) {
    const start = match.index
    if (sourceRanges.some(([from, to]) => from <= start && start + 2 <= to)) {
      continue
    }
    const lineStart = text.lastIndexOf('\n', start) + 1
    if (/(^|\s)#/.test(text.slice(lineStart, start))) continue
    fail(
      start,
      `"{{" outside a string: stretcher runs text/template before YAML, and an action is only kept as written inside a quoted string, e.g. '{{ env "X" "default" }}'`
    )
  }
  for (const [node, [from, to]] of scalarSources) {
    const actions = text.slice(from, to).match(ACTION)
    if (actions) actionScalars.set(node, { style: node.style, actions })
  }

  // load() checks what the syntax tree does not: duplicate keys, one document.
  try {
    yaml.load(text, { schema: yaml.YAML11_SCHEMA, filename: fileName })
  } catch (error) {
    yamlError(error)
  }

  const warnings: string[] = []
  const root = document.contents
  if (root.kind !== 'mapping') {
    return fail(
      at(root),
      `must be a mapping of stretcher fields (src, dest, commands, ...), not a ${root.kind === 'alias' ? 'alias' : root.kind}`
    )
  }
  if (root.anchor !== undefined) fail(at(root), 'anchors (&) on the document are not supported')

  const keyName = (key: Node, path: string): string => {
    if (key.kind !== 'scalar') {
      return fail(at(key), `${path}: keys must be strings, not a ${key.kind}`)
    }
    if (key.tag === MERGE_TAG) {
      return fail(at(key), `${path}: merge keys (<<) are not supported here; write the fields out`)
    }
    return key.value
  }
  const refuseAnchor = (node: Node, field: string): void => {
    if (node.kind !== 'alias' && node.anchor !== undefined) {
      fail(
        at(node),
        `${field}: anchors (&${node.anchor}) are not supported on a field the action edits`
      )
    }
  }
  // yaml.v2 decodes any scalar into a string field as its raw text, and null as "".
  const stringField = (node: Node, field: string): string => {
    if (node.kind === 'alias') {
      return fail(at(node), `${field} must not be an alias (*${node.anchor}) in stretcher's fields`)
    }
    if (node.kind !== 'scalar') {
      return fail(at(node), `${field} must be a string, not a ${node.kind}`)
    }
    if (node.tagged && node.tag !== '!!str' && node.tag !== STR_TAG) {
      return fail(
        at(node),
        `${field}: tag ${node.tag} is not supported; stretcher expects a string`
      )
    }
    return !node.tagged && node.tag === NULL_TAG ? '' : node.value
  }
  const stringList = (node: Node, field: string, what: string): void => {
    if (node.kind === 'alias') {
      fail(at(node), `${field} must not be an alias (*${node.anchor}) in stretcher's fields`)
      return
    }
    if (node.kind === 'scalar' && !node.tagged && node.tag === NULL_TAG) return
    if (node.kind !== 'sequence' || (node.tagged && node.tag !== '!!seq' && node.tag !== SEQ_TAG)) {
      fail(
        at(node),
        `${field} must be a list of ${what}s, not a ${node.kind === 'sequence' ? node.tag : node.kind}`
      )
      return
    }
    node.items.forEach((item, index) => {
      const itemField = `${field}[${index}]`
      if (item.kind === 'mapping') {
        fail(
          at(item),
          `${itemField} is a mapping, not a ${what}; quote it (an unquoted ": " starts a mapping)`
        )
      }
      if (stringField(item, itemField) === '') {
        fail(at(item), `${itemField} is an empty ${what}`)
      }
    })
  }

  let dest: string | undefined
  for (const { key, value } of root.items) {
    const name = keyName(key, 'the top level')
    switch (name) {
      case 'src':
      case 'checksum':
        refuseAnchor(value, name)
        warnings.push(
          `manifest ${where(at(key))}: ${name} is set by the action; the template's value is replaced`
        )
        break
      case 'dest':
        refuseAnchor(value, name)
        dest = stringField(value, name) || undefined
        break
      case 'exclude_from':
        stringField(value, name)
        break
      case 'sync_strategy': {
        const strategy = stringField(value, name)
        if (!SYNC_STRATEGIES.has(strategy)) {
          fail(at(value), `sync_strategy must be rsync or mv, not ${quote(strategy)}`)
        }
        break
      }
      case 'dest_mode':
        checkDestMode(value, (reason) => fail(at(value), `dest_mode ${reason}`))
        break
      case 'excludes':
        stringList(value, name, 'pattern')
        break
      case 'commands':
        refuseAnchor(value, name)
        if (value.kind === 'alias') {
          fail(at(value), `commands must not be an alias (*${value.anchor})`)
        }
        if (value.kind === 'scalar' && !value.tagged && value.tag === NULL_TAG) break
        if (value.kind !== 'mapping') {
          fail(
            at(value),
            `commands must be a mapping of pre, post, success and failure lists, not a ${value.kind}`
          )
          break
        }
        for (const item of value.items) {
          const list = keyName(item.key, 'commands')
          if ((COMMAND_LISTS as readonly string[]).includes(list)) {
            refuseAnchor(item.value, `commands.${list}`)
            stringList(item.value, `commands.${list}`, 'command')
          } else {
            warnings.push(
              `manifest ${where(at(item.key))}: commands.${list} is kept, but stretcher only runs pre, post, success and failure`
            )
          }
        }
        break
      default:
        if (!KNOWN_KEYS.has(name)) {
          warnings.push(
            `manifest ${where(at(key))}: ${quote(name)} is kept, but stretcher ignores it`
          )
        }
    }
  }

  return { fileName, dest, warnings, document, actionScalars }
}

/**
 * dest_mode is decoded by yaml.v2 into an os.FileMode. Accept only the forms
 * that YAML 1.1 and yaml.v2 read alike: an unquoted decimal, or octal with a
 * leading 0; null keeps stretcher's default (0755).
 */
function checkDestMode(node: Node, refuse: (reason: string) => void): void {
  if (node.kind === 'alias') {
    refuse(`must not be an alias (*${node.anchor})`)
    return
  }
  if (node.kind !== 'scalar') {
    refuse(`must be an unquoted octal number such as 0755, not a ${node.kind}`)
    return
  }
  if (!node.tagged && node.tag === NULL_TAG) return
  const hint = 'must be an unquoted octal number from 0 to 07777 such as 0755'
  if (node.style !== PLAIN || node.tagged) {
    refuse(`${hint}; a quoted or tagged value fails to parse on the node`)
    return
  }
  const text = node.value
  const mode = /^0[0-7]*$/.test(text)
    ? parseInt(text, 8)
    : /^[1-9][0-9]*$/.test(text)
      ? parseInt(text, 10)
      : NaN
  if (!(mode <= MAX_DEST_MODE)) {
    refuse(`${hint}, not ${quote(text)}`)
  } else if (/^[1-7][0-7]{2,3}$/.test(text)) {
    // Decimal 755 is octal 01363 on the node: surely meant as 0755.
    refuse(
      `${text} is decimal (octal 0${mode.toString(8)}) on the node; write 0${text} for octal, as stretcher's YAML reads it`
    )
  }
}
