// The YAML nodes the manifest code builds and the names it reads them by
// (js-yaml's tags and styles), shared by the template's parser and the renderer.
import * as yaml from 'js-yaml'
import type { ScalarNode } from 'js-yaml'

/** A template scalar that holds `{{`: its style and its actions as written. */
export interface ActionScalar {
  readonly style: number
  readonly actions: readonly string[]
}

export const STR_TAG = 'tag:yaml.org,2002:str'
export const NULL_TAG = 'tag:yaml.org,2002:null'
export const MAP_TAG = 'tag:yaml.org,2002:map'
export const SEQ_TAG = 'tag:yaml.org,2002:seq'
export const MERGE_TAG = 'tag:yaml.org,2002:merge'
export const { PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED } = yaml.SCALAR_STYLE
export const { BLOCK } = yaml.COLLECTION_STYLE

/**
 * One text/template action as written: from `{{` to the next `}}` on the same
 * line (or to the end of the line when it is not closed there).
 */
export const ACTION = /\{\{.*?(?:\}\}|$)/gm

export function plainKey(name: string): ScalarNode {
  return { kind: 'scalar', tag: STR_TAG, tagged: false, style: PLAIN, value: name }
}

/** A value from the action: double-quoted, so any text stays one string. */
export function quoted(value: string): ScalarNode {
  return { kind: 'scalar', tag: STR_TAG, tagged: false, style: DOUBLE_QUOTED, value }
}
