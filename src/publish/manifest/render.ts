// The release's manifest rendered from the template: the template's syntax
// tree copied where it changes, then checked to carry its actions as written.
import * as yaml from 'js-yaml'
import type { Document, MappingNode, Node, ScalarLayout, ScalarNode, SequenceNode } from 'js-yaml'
import { InputError, quote } from '../../shared/errors.ts'
import {
  destWord,
  prepareCommand,
  pruneCommand,
  releaseDir,
  switchCommand
} from './release-layout.ts'
import type { ManifestTemplate } from './template.ts'
import type { ActionScalar } from './yaml-nodes.ts'
import {
  ACTION,
  BLOCK,
  DOUBLE_QUOTED,
  MAP_TAG,
  SEQ_TAG,
  SINGLE_QUOTED,
  STR_TAG,
  plainKey,
  quoted
} from './yaml-nodes.ts'

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

/**
 * Render the release's manifest: the template's fields kept, src and checksum
 * set, dest from the input or the template, the action's commands appended to
 * commands.success and commands.failure.
 */
export function renderManifest(
  template: ManifestTemplate | undefined,
  values: ManifestValues
): string {
  checkValues(template, values)
  const layout = values.layout
  const layoutDest = layout ? ((values.dest || undefined) ?? template?.dest) : undefined
  const templateRoot = template?.document.contents as MappingNode | undefined
  const edit = new FieldsEdit(templateRoot)
  setSyncFields(edit, values, layoutDest)
  const lists = layout && layoutDest !== undefined ? layoutLists(layout, layoutDest) : new Map()
  editCommands(edit, values, lists)

  const root: MappingNode = templateRoot
    ? { ...templateRoot, items: edit.items }
    : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK, items: edit.items }
  const document: Document = template
    ? { ...template.document, contents: root }
    : { contents: root, directives: [] }
  const { output, styles } = present(document)
  checkActionsKept(template, edit.generated, document, styles, output)
  return output
}

type ErrorFor = (reason: string) => Error

const plainError: ErrorFor = (reason) => new Error(reason)

/** The action's values, refused before anything is rendered. */
function checkValues(template: ManifestTemplate | undefined, values: ManifestValues): void {
  const layout = values.layout
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
}

function refuseValue(value: string, what: string, error: ErrorFor): void {
  if (value.includes('{{')) {
    throw error(
      `${what}must not contain "{{": stretcher would run it as a template action on the node (${quote(value)})`
    )
  }
  // A lone surrogate cannot be written as UTF-8.
  if (/\p{Cs}/u.test(value)) throw error(`${what}is not well-formed Unicode`)
}

/**
 * The manifest's top-level fields as they are edited (the template's copied,
 * never mutated), and the scalars the action writes that carry the template's
 * dest actions, with their style (checked once presented).
 */
class FieldsEdit {
  readonly items: MappingNode['items']
  readonly generated = new Map<ScalarNode, ActionScalar>()

  constructor(templateRoot: MappingNode | undefined) {
    this.items = [...(templateRoot?.items ?? [])]
  }

  indexOf(name: string): number {
    return this.items.findIndex(({ key }) => key.kind === 'scalar' && key.value === name)
  }

  valueOf(name: string): Node | undefined {
    const index = this.indexOf(name)
    return index >= 0 ? this.items[index]!.value : undefined
  }

  /** replaces the field's value in place, or adds the field at `front` */
  set(name: string, value: Node, front: number): void {
    const index = this.indexOf(name)
    if (index >= 0) this.items[index] = { key: this.items[index]!.key, value }
    else this.items.splice(front, 0, { key: plainKey(name), value })
  }

  remove(name: string): void {
    const index = this.indexOf(name)
    if (index >= 0) this.items.splice(index, 1)
  }

  /** a scalar for `value`, recorded when it holds the template's actions */
  actionAware(value: string, style: ScalarNode['style'] = SINGLE_QUOTED): ScalarNode {
    const actions = value.match(ACTION)
    if (!actions) return quoted(value)
    const node: ScalarNode = { kind: 'scalar', tag: STR_TAG, tagged: false, style, value }
    this.generated.set(node, { style, actions })
    return node
  }
}

/** src, checksum and dest set; the switch manifest has none of the sync fields. */
function setSyncFields(
  edit: FieldsEdit,
  values: ManifestValues,
  layoutDest: string | undefined
): void {
  const layout = values.layout
  const syncs = layout?.phase !== 'switch'
  const destInput = values.dest || undefined
  if (syncs) {
    edit.set('src', quoted(values.src), 0)
    edit.set('checksum', quoted(values.checksum), 1)
  }
  if (layout && layoutDest !== undefined) {
    if (syncs) {
      const dir = releaseDir(layoutDest, layout.deployId)
      const destNode = edit.valueOf('dest')
      const style =
        destInput === undefined && destNode?.kind === 'scalar' ? destNode.style : DOUBLE_QUOTED
      edit.set('dest', edit.actionAware(dir, style), 2)
    }
  } else if (destInput !== undefined) edit.set('dest', quoted(destInput), 2)
  if (!syncs) for (const name of SYNC_FIELDS) edit.remove(name)
}

/** A command list with layout: releases: whether the template's is kept, and the action's around it. */
interface ListChange {
  keep: boolean
  before: string[]
  after: string[]
}

/** The lists each phase keeps from the template, and the action's commands around them. */
function layoutLists(
  layout: NonNullable<ManifestValues['layout']>,
  layoutDest: string
): Map<string, ListChange> {
  const prepares = layout.phase !== 'switch'
  const switches = layout.phase !== 'prepare'
  return new Map([
    ['pre', { keep: prepares, before: prepares ? [prepareCommand(layoutDest)] : [], after: [] }],
    [
      'post',
      {
        keep: switches,
        before: switches ? [switchCommand(layoutDest, layout.deployId)] : [],
        after: switches ? [pruneCommand(layoutDest, layout.keepReleases)] : []
      }
    ],
    ['success', { keep: switches, before: [], after: [] }]
  ])
}

/** commands: the layout's lists changed, then the action's success and failure commands appended. */
function editCommands(
  edit: FieldsEdit,
  values: ManifestValues,
  lists: ReadonlyMap<string, ListChange>
): void {
  const appended: Array<[string, readonly string[]]> = [
    ['success', values.successCommands],
    ['failure', values.failureCommands]
  ]
  if (lists.size === 0 && !appended.some(([, commands]) => commands.length > 0)) return
  const existing = edit.valueOf('commands')
  const commands: MappingNode =
    existing?.kind === 'mapping'
      ? { ...existing, items: [...existing.items] }
      : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK, items: [] }
  for (const [list, change] of lists) changeList(edit, commands, list, change)
  for (const [list, additions] of appended) {
    if (additions.length > 0) appendToList(edit, commands, list, additions)
  }
  edit.set('commands', commands, edit.items.length)
}

function changeList(edit: FieldsEdit, commands: MappingNode, list: string, change: ListChange) {
  const index = listIndex(commands, list)
  const current = index >= 0 ? commands.items[index]!.value : undefined
  const kept = change.keep && current?.kind === 'sequence' ? current.items : []
  const all = [
    ...change.before.map((c) => edit.actionAware(c)),
    ...kept,
    ...change.after.map((c) => edit.actionAware(c))
  ]
  if (all.length === 0) {
    if (index >= 0) commands.items.splice(index, 1)
    return
  }
  const sequence: SequenceNode =
    current?.kind === 'sequence'
      ? { ...current, items: all }
      : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK, items: all }
  setList(commands, index, list, sequence)
}

function appendToList(
  edit: FieldsEdit,
  commands: MappingNode,
  list: string,
  additions: readonly string[]
): void {
  const index = listIndex(commands, list)
  const current = index >= 0 ? commands.items[index]!.value : undefined
  const sequence: SequenceNode =
    current?.kind === 'sequence'
      ? { ...current, items: [...current.items] }
      : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK, items: [] }
  sequence.items.push(...additions.map((c) => edit.actionAware(c)))
  setList(commands, index, list, sequence)
}

function listIndex(commands: MappingNode, list: string): number {
  return commands.items.findIndex(({ key }) => key.kind === 'scalar' && key.value === list)
}

function setList(commands: MappingNode, index: number, list: string, sequence: SequenceNode) {
  if (index >= 0) commands.items[index] = { key: commands.items[index]!.key, value: sequence }
  else commands.items.push({ key: plainKey(list), value: sequence })
}

/**
 * The manifest's text, and the style the presenter settled on for each scalar
 * (recorded to prove the template's actions come out as written).
 */
function present(document: Document): { output: string; styles: Map<ScalarNode, number> } {
  const styles = new Map<ScalarNode, number>()
  const recordStyle = (layout: ScalarLayout): void => {
    styles.set(layout.node as ScalarNode, layout.style)
  }
  const output = yaml.present([document], {
    schema: yaml.YAML11_SCHEMA,
    lineWidth: -1,
    scalarStyleRules: [...Object.values(yaml.DEFAULT_SCALAR_STYLE_RULES), recordStyle]
  })
  return { output, styles }
}

/** Every action of the template (and of dest in generated commands) is in the output, byte for byte. */
function checkActionsKept(
  template: ManifestTemplate | undefined,
  generated: ReadonlyMap<ScalarNode, ActionScalar>,
  document: Document,
  styles: ReadonlyMap<ScalarNode, number>,
  output: string
): void {
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
}
