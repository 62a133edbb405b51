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
 *
 * template.ts parses and checks the template (its fields in template-fields.ts),
 * render.ts renders; this module is what the rest of the action imports.
 */
import type { ManifestTemplate } from './template.ts'

export type { ManifestTemplate } from './template.ts'
export { parseManifestTemplate } from './template.ts'
export type { ManifestValues } from './render.ts'
export { renderManifest } from './render.ts'

/** The template's dest, if it has a non-empty one. */
export function manifestDest(template: ManifestTemplate | undefined): string | undefined {
  return template?.dest
}
