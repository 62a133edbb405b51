// The manifest as stretcher v2 reads it: Go text/template with env, must_env and
// json_escape (research/stretcher.md §1), then yaml.v2-style YAML 1.1 decoding.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseManifest } from '../../fleet/stretcher-manifest.ts'
import { renderTemplate, TemplateError } from '../../fleet/stretcher-template.ts'

describe('template', () => {
  const env = { APP: 'shop', EMPTY: '' }

  test('env takes the first non-empty variable, else the last argument itself', () => {
    assert.equal(renderTemplate('a: {{ env "APP" "x" }}', env), 'a: shop')
    assert.equal(renderTemplate('a: {{ env "NOPE" "fallback" }}', env), 'a: fallback')
    assert.equal(renderTemplate('a: {{ env "EMPTY" "d" }}', env), 'a: d')
    assert.equal(renderTemplate('a: {{env "NOPE"}}', env), 'a: NOPE')
  })

  test('must_env: set (even empty) passes, missing fails', () => {
    assert.equal(renderTemplate('{{ must_env "EMPTY" }}|{{ must_env `APP` }}', env), '|shop')
    assert.throws(() => renderTemplate('x: {{ must_env "NOPE" }}', env), /NOPE is not defined/)
  })

  test('string literals, pipes, json_escape, comments and trim markers', () => {
    assert.equal(
      renderTemplate(`docker ps --format '{{ "{{.ID}}" }}'`, {}),
      `docker ps --format '{{.ID}}'`
    )
    assert.equal(renderTemplate('{{ "a\\"b\\n" | json_escape }}', {}), 'a\\"b\\n')
    assert.equal(renderTemplate('a {{/* note */}}b', {}), 'a b')
    assert.equal(renderTemplate('a  \n {{- "x" -}}  \n b', {}), 'axb')
    assert.equal(renderTemplate('no actions: { } }} {', {}), 'no actions: { } }} {')
  })

  test('anything else is a template error', () => {
    for (const bad of [
      '{{ .ID }}',
      '{{ printf "%s" "x" }}',
      '{{ env "A"',
      '{{ }}',
      '{{ "a" "b" }}'
    ])
      assert.throws(() => renderTemplate(bad, env), TemplateError, bad)
  })
})

describe('YAML 1.1 into the Manifest struct', () => {
  test('defaults', () => {
    assert.deepEqual(parseManifest('commands:\n  pre: ["true"]\n'), {
      src: '',
      checksum: '',
      dest: '',
      destMode: 0o755,
      commands: { pre: ['true'], post: [], success: [], failure: [] },
      excludes: [],
      excludeFrom: '',
      syncStrategy: ''
    })
  })

  test('dest_mode 0755 is octal, 493 decimal; a quoted mode is an error', () => {
    assert.equal(parseManifest('dest_mode: 0755').destMode, 493)
    assert.equal(parseManifest('dest_mode: 493').destMode, 493)
    assert.equal(parseManifest('dest_mode: 0750').destMode, 0o750)
    assert.equal(parseManifest('dest_mode: ~').destMode, 0o755)
    assert.throws(() => parseManifest('dest_mode: "0755"'))
    assert.throws(() => parseManifest('dest_mode: -1'))
  })

  test('any scalar reaches a string field as its source text; unknown keys are ignored', () => {
    const m = parseManifest(
      'src: s3://b/k\nchecksum: 0123\ndest: /srv/app\nexcludes: [yes, 1.50, "a: b"]\nunknown: [1]\nn: 1\n'
    )
    assert.equal(m.checksum, '0123')
    assert.deepEqual(m.excludes, ['yes', '1.50', 'a: b'])
  })

  test('errors: src without dest, a scalar for a list, bad YAML, an unquoted ": " in a command', () => {
    assert.throws(() => parseManifest('src: s3://b/k\nchecksum: abc\n'), /dest is required/)
    assert.throws(() => parseManifest('excludes: foo\n'))
    assert.throws(() => parseManifest('commands:\n  pre: [\n'))
    assert.throws(() => parseManifest('commands:\n  pre:\n    - echo a: b: c\n'))
  })
})
