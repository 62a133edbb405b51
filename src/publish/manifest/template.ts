// The manifest template parsed and checked: what stretcher would refuse or
// misread is refused here, each error at its file:line:col.
import * as yaml from 'js-yaml'
import type { Document, Event, MappingNode, Node, ScalarNode, SequenceNode } from 'js-yaml'
import { InputError } from '../../shared/errors.ts'
import { Places } from './places.ts'
import { checkFields } from './template-fields.ts'
import type { ActionScalar } from './yaml-nodes.ts'
import { ACTION } from './yaml-nodes.ts'

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

/** Each scalar's source text, as [start, end) offsets. */
type ScalarSources = Map<ScalarNode, [number, number]>

/**
 * Parse a manifest template. Throws InputError('manifest', 'file:line:col: why')
 * for YAML errors and for anything stretcher would refuse or misread.
 */
export function parseManifestTemplate(text: string, fileName: string): ManifestTemplate {
  const places = new Places(fileName, text)
  const { events, document } = parseSyntax(text, fileName)
  if (!document || !document.contents) {
    return places.fail(0, 'is empty; expected a mapping of stretcher fields')
  }
  const scalarSources = locateNodes(events, document.contents, places.offsets)
  refuseBareActions(text, scalarSources, places)
  const actionScalars = actionScalarsOf(text, scalarSources)

  // load() checks what the syntax tree does not: duplicate keys, one document.
  try {
    yaml.load(text, { schema: yaml.YAML11_SCHEMA, filename: fileName })
  } catch (error) {
    yamlError(error, text, fileName)
  }

  const root = document.contents
  if (root.kind !== 'mapping') {
    return places.refuse(
      root,
      `must be a mapping of stretcher fields (src, dest, commands, ...), not a ${root.kind === 'alias' ? 'alias' : root.kind}`
    )
  }
  if (root.anchor !== undefined)
    places.refuse(root, 'anchors (&) on the document are not supported')
  const { dest, warnings } = checkFields(root, places)
  return { fileName, dest, warnings, document, actionScalars }
}

/** The event stream and the syntax tree of the first document. */
function parseSyntax(
  text: string,
  fileName: string
): { events: Event[]; document: Document | undefined } {
  try {
    const events = yaml.parseEvents(text, { filename: fileName })
    const documents = yaml.eventsToAst(events, {
      source: text,
      schema: yaml.YAML11_SCHEMA
    })
    return { events, document: documents[0] }
  } catch (error) {
    return yamlError(error, text, fileName)
  }
}

function yamlError(error: unknown, text: string, fileName: string): never {
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

/**
 * Walk the events alongside the tree to learn where each node starts (into
 * `offsets`) and which source text each scalar came from (returned).
 */
function locateNodes(events: Event[], contents: Node, offsets: Map<Node, number>): ScalarSources {
  const scalarSources: ScalarSources = new Map()
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
  attach(contents)
  return scalarSources
}

/**
 * An action outside a scalar (say `dest: {{ env "D" }}`, read as a flow
 * mapping) cannot be kept byte for byte. One in a comment is dropped with it.
 */
function refuseBareActions(text: string, scalarSources: ScalarSources, places: Places): void {
  const sourceRanges = [...scalarSources.values()]
  for (const match of text.matchAll(/\{\{/g)) {
    const start = match.index
    if (sourceRanges.some(([from, to]) => from <= start && start + 2 <= to)) {
      continue
    }
    const lineStart = text.lastIndexOf('\n', start) + 1
    if (/(^|\s)#/.test(text.slice(lineStart, start))) continue
    places.fail(
      start,
      `"{{" outside a string: stretcher runs text/template before YAML, and an action is only kept as written inside a quoted string, e.g. '{{ env "X" "default" }}'`
    )
  }
}

function actionScalarsOf(
  text: string,
  scalarSources: ScalarSources
): Map<ScalarNode, ActionScalar> {
  const actionScalars = new Map<ScalarNode, ActionScalar>()
  for (const [node, [from, to]] of scalarSources) {
    const actions = text.slice(from, to).match(ACTION)
    if (actions) actionScalars.set(node, { style: node.style, actions })
  }
  return actionScalars
}
