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
