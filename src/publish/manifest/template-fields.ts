// The template's stretcher fields checked, one group at a time, as yaml.v2
// would decode them on the node: what it would refuse or misread fails here.
import type { MappingNode, Node } from 'js-yaml'
import { quote } from '../../shared/errors.ts'
import type { Places } from './places.ts'
import { MERGE_TAG, NULL_TAG, PLAIN, SEQ_TAG, STR_TAG } from './yaml-nodes.ts'

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

/** The top-level fields checked: the template's dest, and the warnings worth logging. */
export function checkFields(
  root: MappingNode,
  places: Places
): { dest: string | undefined; warnings: string[] } {
  const warnings: string[] = []
  let dest: string | undefined
  for (const { key, value } of root.items) {
    const name = keyName(places, key, 'the top level')
    switch (name) {
      case 'src':
      case 'checksum':
        refuseAnchor(places, value, name)
        warnings.push(
          `manifest ${places.of(key)}: ${name} is set by the action; the template's value is replaced`
        )
        break
      case 'dest':
        refuseAnchor(places, value, name)
        dest = stringField(places, value, name) || undefined
        break
      case 'exclude_from':
        stringField(places, value, name)
        break
      case 'sync_strategy':
        checkSyncStrategy(places, value)
        break
      case 'dest_mode':
        checkDestMode(value, (reason) => places.refuse(value, `dest_mode ${reason}`))
        break
      case 'excludes':
        stringList(places, value, name, 'pattern')
        break
      case 'commands':
        checkCommands(places, value, warnings)
        break
      default:
        if (!KNOWN_KEYS.has(name)) {
          warnings.push(
            `manifest ${places.of(key)}: ${quote(name)} is kept, but stretcher ignores it`
          )
        }
    }
  }
  return { dest, warnings }
}

function keyName(places: Places, key: Node, path: string): string {
  if (key.kind !== 'scalar') {
    return places.refuse(key, `${path}: keys must be strings, not a ${key.kind}`)
  }
  if (key.tag === MERGE_TAG) {
    return places.refuse(
      key,
      `${path}: merge keys (<<) are not supported here; write the fields out`
    )
  }
  return key.value
}

function refuseAnchor(places: Places, node: Node, field: string): void {
  if (node.kind !== 'alias' && node.anchor !== undefined) {
    places.refuse(
      node,
      `${field}: anchors (&${node.anchor}) are not supported on a field the action edits`
    )
  }
}

// yaml.v2 decodes any scalar into a string field as its raw text, and null as "".
function stringField(places: Places, node: Node, field: string): string {
  if (node.kind === 'alias') {
    return places.refuse(
      node,
      `${field} must not be an alias (*${node.anchor}) in stretcher's fields`
    )
  }
  if (node.kind !== 'scalar') {
    return places.refuse(node, `${field} must be a string, not a ${node.kind}`)
  }
  if (node.tagged && node.tag !== '!!str' && node.tag !== STR_TAG) {
    return places.refuse(
      node,
      `${field}: tag ${node.tag} is not supported; stretcher expects a string`
    )
  }
  return !node.tagged && node.tag === NULL_TAG ? '' : node.value
}

function stringList(places: Places, node: Node, field: string, what: string): void {
  if (node.kind === 'alias') {
    places.refuse(node, `${field} must not be an alias (*${node.anchor}) in stretcher's fields`)
  }
  if (node.kind === 'scalar' && !node.tagged && node.tag === NULL_TAG) return
  if (node.kind !== 'sequence' || (node.tagged && node.tag !== '!!seq' && node.tag !== SEQ_TAG)) {
    places.refuse(
      node,
      `${field} must be a list of ${what}s, not a ${node.kind === 'sequence' ? node.tag : node.kind}`
    )
  }
  node.items.forEach((item, index) => {
    const itemField = `${field}[${index}]`
    if (item.kind === 'mapping') {
      places.refuse(
        item,
        `${itemField} is a mapping, not a ${what}; quote it (an unquoted ": " starts a mapping)`
      )
    }
    if (stringField(places, item, itemField) === '') {
      places.refuse(item, `${itemField} is an empty ${what}`)
    }
  })
}

function checkSyncStrategy(places: Places, value: Node): void {
  const strategy = stringField(places, value, 'sync_strategy')
  if (!SYNC_STRATEGIES.has(strategy)) {
    places.refuse(value, `sync_strategy must be rsync or mv, not ${quote(strategy)}`)
  }
}

/** commands: a mapping of the four lists stretcher runs; other keys are kept, with a warning. */
function checkCommands(places: Places, value: Node, warnings: string[]): void {
  refuseAnchor(places, value, 'commands')
  if (value.kind === 'alias') {
    places.refuse(value, `commands must not be an alias (*${value.anchor})`)
  }
  if (value.kind === 'scalar' && !value.tagged && value.tag === NULL_TAG) return
  if (value.kind !== 'mapping') {
    places.refuse(
      value,
      `commands must be a mapping of pre, post, success and failure lists, not a ${value.kind}`
    )
  }
  for (const item of value.items) {
    const list = keyName(places, item.key, 'commands')
    if ((COMMAND_LISTS as readonly string[]).includes(list)) {
      refuseAnchor(places, item.value, `commands.${list}`)
      stringList(places, item.value, `commands.${list}`, 'command')
    } else {
      warnings.push(
        `manifest ${places.of(item.key)}: commands.${list} is kept, but stretcher only runs pre, post, success and failure`
      )
    }
  }
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
