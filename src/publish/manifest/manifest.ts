/**
 * The stretcher manifest: parse the user's template, render the release's
 * manifest. Pure: no I/O.
 *
 * Stretcher v2 reads a manifest in two passes on each node: Go text/template
 * over the raw bytes, then gopkg.in/yaml.v2 (YAML 1.1) into its Manifest
 * struct. So the template is edited as a YAML syntax tree, never as objects:
 * every template scalar keeps its text and style (`0755` stays the octal 493,
 * `yes` stays `yes`), every `{{ ... }}` action of the template comes out byte
 * for byte, and values from the action are emitted as double-quoted scalars
 * that can neither add a key nor hold an action. Comments are not kept.
 */
import * as yaml from 'js-yaml'
import type {
  Document,
  Event,
  MappingNode,
  Node,
  ScalarLayout,
  ScalarNode,
  SequenceNode
} from 'js-yaml'
import { InputError, quote } from '../../shared/errors.ts'
import {
  destWord,
  prepareCommand,
  pruneCommand,
  releaseDir,
  switchCommand
} from './release-layout.ts'

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

interface ActionScalar {
  readonly style: number
  readonly actions: readonly string[]
}

export interface ManifestValues {
  /** URL of the archive. */
  readonly src: string
  /** Hex digest of the archive (md5, sha1, sha256 or sha512 by length). */
  readonly checksum: string
  /** The `dest` input; overrides the template's. Empty means not given. */
  readonly dest?: string
  /** Appended after the template's own `commands.success`. */
  readonly successCommands: readonly string[]
  /** Appended after the template's own `commands.failure`. */
  readonly failureCommands: readonly string[]
  /**
   * `layout: releases` (contract 9): which of the three manifests. `prepare`
   * syncs into <dest>/releases/<id> and runs `pre`; `switch` has no src, dest
   * or sync fields and points <dest>/current at the release, runs `post`, then
   * prunes; `combined` does both in one run (what `latest` names). The
   * template's `success` runs at the switch only; `failure` in every phase.
   * The success/failure commands given are the ones for this phase.
   */
  readonly layout?: {
    readonly phase: 'prepare' | 'switch' | 'combined'
    readonly deployId: string
    readonly keepReleases: number
  }
}

/** Fields a manifest without src leaves unused: the switch manifest drops them. */
const SYNC_FIELDS = [
  'src',
  'checksum',
  'dest',
  'dest_mode',
  'excludes',
  'exclude_from',
  'sync_strategy'
]

const STR_TAG = 'tag:yaml.org,2002:str'
const NULL_TAG = 'tag:yaml.org,2002:null'
const MAP_TAG = 'tag:yaml.org,2002:map'
const SEQ_TAG = 'tag:yaml.org,2002:seq'
const MERGE_TAG = 'tag:yaml.org,2002:merge'
const { PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED } = yaml.SCALAR_STYLE
const { BLOCK } = yaml.COLLECTION_STYLE

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
 * One text/template action as written: from `{{` to the next `}}` on the same
 * line (or to the end of the line when it is not closed there).
 */
const ACTION = /\{\{.*?(?:\}\}|$)/gm

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

/** The template's dest, if it has a non-empty one. */
export function manifestDest(template: ManifestTemplate | undefined): string | undefined {
  return template?.dest
}

/**
 * Render the release's manifest: the template's fields kept, src and checksum
 * set, dest from the input or the template, the action's commands appended to
 * commands.success and commands.failure.
 */
export function renderManifest(
  template: ManifestTemplate | undefined,
  values: ManifestValues
): string {
  const refuseValue = (value: string, what: string, error: (reason: string) => Error): void => {
    if (value.includes('{{')) {
      throw error(
        `${what}must not contain "{{": stretcher would run it as a template action on the node (${quote(value)})`
      )
    }
    // A lone surrogate cannot be written as UTF-8.
    if (/\p{Cs}/u.test(value)) throw error(`${what}is not well-formed Unicode`)
  }
  const plainError = (reason: string): Error => new Error(reason)
  const layout = values.layout
  const syncs = layout?.phase !== 'switch'
  if (!values.src) throw new Error('manifest src is empty')
  refuseValue(values.src, 'the archive URL ', (reason) => new InputError('s3-url', reason))
  if (
    !/^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/.test(values.checksum)
  ) {
    throw new Error(
      `manifest checksum must be hex md5, sha1, sha256 or sha512, not ${quote(values.checksum)}`
    )
  }
  // With layout: releases the action's commands name dest, whose template actions
  // (if any) are the template's own: only those may appear in them.
  const layoutDest = layout ? ((values.dest || undefined) ?? template?.dest) : undefined
  const layoutWord = layout && layoutDest !== undefined ? destWord(layoutDest) : undefined
  const ownText = (command: string): string =>
    layoutWord ? command.split(layoutWord).join('') : command
  values.successCommands.forEach((command, i) =>
    refuseValue(ownText(command), `success command ${i} `, plainError)
  )
  values.failureCommands.forEach((command, i) =>
    refuseValue(ownText(command), `failure command ${i} `, plainError)
  )
  const destInput = values.dest || undefined
  if (destInput !== undefined) {
    refuseValue(destInput, '', (reason) => new InputError('dest', reason))
  } else if (template?.dest === undefined) {
    throw new InputError(
      'dest',
      template
        ? `is required: the manifest template ${template.fileName} has no dest`
        : 'is required when no manifest template is given'
    )
  }

  const templateRoot = template?.document.contents as MappingNode | undefined
  const items = [...(templateRoot?.items ?? [])]
  const indexOf = (name: string): number =>
    items.findIndex(({ key }) => key.kind === 'scalar' && key.value === name)
  const setField = (name: string, value: Node, front: number): void => {
    const index = indexOf(name)
    if (index >= 0) items[index] = { key: items[index]!.key, value }
    else items.splice(front, 0, { key: plainKey(name), value })
  }
  // Scalars the action writes that carry the template's dest actions, with their style.
  const generated = new Map<ScalarNode, ActionScalar>()
  const actionAware = (value: string, style: ScalarNode['style'] = SINGLE_QUOTED): ScalarNode => {
    const actions = value.match(ACTION)
    if (!actions) return quoted(value)
    const node: ScalarNode = { kind: 'scalar', tag: STR_TAG, tagged: false, style, value }
    generated.set(node, { style, actions })
    return node
  }
  if (syncs) {
    setField('src', quoted(values.src), 0)
    setField('checksum', quoted(values.checksum), 1)
  }
  if (layout && layoutDest !== undefined) {
    if (syncs) {
      const dir = releaseDir(layoutDest, layout.deployId)
      const destNode = indexOf('dest') >= 0 ? items[indexOf('dest')]!.value : undefined
      const style =
        destInput === undefined && destNode?.kind === 'scalar' ? destNode.style : DOUBLE_QUOTED
      setField('dest', actionAware(dir, style), 2)
    }
  } else if (destInput !== undefined) setField('dest', quoted(destInput), 2)
  if (!syncs)
    for (const name of SYNC_FIELDS) {
      const index = indexOf(name)
      if (index >= 0) items.splice(index, 1)
    }

  const appended: Array<[string, readonly string[]]> = [
    ['success', values.successCommands],
    ['failure', values.failureCommands]
  ]
  // The lists each phase keeps from the template, and the action's commands around them.
  const layoutLists = new Map<string, { keep: boolean; before: string[]; after: string[] }>()
  if (layout && layoutDest !== undefined) {
    const prepares = layout.phase !== 'switch'
    const switches = layout.phase !== 'prepare'
    layoutLists.set('pre', {
      keep: prepares,
      before: prepares ? [prepareCommand(layoutDest)] : [],
      after: []
    })
    layoutLists.set('post', {
      keep: switches,
      before: switches ? [switchCommand(layoutDest, layout.deployId)] : [],
      after: switches ? [pruneCommand(layoutDest, layout.keepReleases)] : []
    })
    layoutLists.set('success', { keep: switches, before: [], after: [] })
  }
  if (layoutLists.size > 0 || appended.some(([, commands]) => commands.length > 0)) {
    const commandsIndex = indexOf('commands')
    const existing = commandsIndex >= 0 ? items[commandsIndex]!.value : undefined
    const commands: MappingNode =
      existing?.kind === 'mapping'
        ? { ...existing, items: [...existing.items] }
        : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK, items: [] }
    for (const [list, change] of layoutLists) {
      const index = commands.items.findIndex(
        ({ key }) => key.kind === 'scalar' && key.value === list
      )
      const current = index >= 0 ? commands.items[index]!.value : undefined
      const kept = change.keep && current?.kind === 'sequence' ? current.items : []
      const all = [
        ...change.before.map((c) => actionAware(c)),
        ...kept,
        ...change.after.map((c) => actionAware(c))
      ]
      if (all.length === 0) {
        if (index >= 0) commands.items.splice(index, 1)
        continue
      }
      const sequence: SequenceNode =
        current?.kind === 'sequence'
          ? { ...current, items: all }
          : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK, items: all }
      if (index >= 0) commands.items[index] = { key: commands.items[index]!.key, value: sequence }
      else commands.items.push({ key: plainKey(list), value: sequence })
    }
    for (const [list, additions] of appended) {
      if (additions.length === 0) continue
      const index = commands.items.findIndex(
        ({ key }) => key.kind === 'scalar' && key.value === list
      )
      const current = index >= 0 ? commands.items[index]!.value : undefined
      const sequence: SequenceNode =
        current?.kind === 'sequence'
          ? { ...current, items: [...current.items] }
          : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK, items: [] }
      sequence.items.push(...additions.map((c) => actionAware(c)))
      if (index >= 0) commands.items[index] = { key: commands.items[index]!.key, value: sequence }
      else commands.items.push({ key: plainKey(list), value: sequence })
    }
    if (commandsIndex >= 0)
      items[commandsIndex] = { key: items[commandsIndex]!.key, value: commands }
    else items.push({ key: plainKey('commands'), value: commands })
  }

  const root: MappingNode = templateRoot
    ? { ...templateRoot, items }
    : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK, items }
  const document: Document = template
    ? { ...template.document, contents: root }
    : { contents: root, directives: [] }

  // Record the style the presenter settles on for each scalar, to prove the
  // template's actions come out as written.
  const styles = new Map<ScalarNode, number>()
  const recordStyle = (layout: ScalarLayout): void => {
    styles.set(layout.node as ScalarNode, layout.style)
  }
  const output = yaml.present([document], {
    schema: yaml.YAML11_SCHEMA,
    lineWidth: -1,
    scalarStyleRules: [...Object.values(yaml.DEFAULT_SCALAR_STYLE_RULES), recordStyle]
  })

  const expected: string[] = []
  yaml.visit([document], (node) => {
    const source =
      node.kind === 'scalar'
        ? (template?.actionScalars.get(node) ?? generated.get(node as ScalarNode))
        : undefined
    if (!source) return
    if (styles.get(node as ScalarNode) !== source.style) {
      throw new InputError(
        'manifest',
        `${template?.fileName ?? '(none)'}: a value holding ${quote(source.actions[0]!)} cannot be written back in the same style; quote it on one line`
      )
    }
    expected.push(...source.actions)
  })
  const actual = output.match(ACTION) ?? []
  if (actual.length !== expected.length || actual.some((action, i) => action !== expected[i])) {
    throw new InputError(
      'manifest',
      `${template?.fileName ?? '(none)'}: its {{ ... }} actions cannot be kept as written; write each on one line inside a quoted string`
    )
  }
  return output
}

function plainKey(name: string): ScalarNode {
  return { kind: 'scalar', tag: STR_TAG, tagged: false, style: PLAIN, value: name }
}

/** A value from the action: double-quoted, so any text stays one string. */
function quoted(value: string): ScalarNode {
  return { kind: 'scalar', tag: STR_TAG, tagged: false, style: DOUBLE_QUOTED, value }
}
