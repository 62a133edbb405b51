import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { parse } from 'yaml'
import { InputError } from '../src/shared/errors.ts'
import {
  manifestDest,
  parseManifestTemplate,
  renderManifest
} from '../src/publish/manifest/manifest.ts'
import type { ManifestValues } from '../src/publish/manifest/manifest.ts'

/** An independent YAML 1.1 reader (eemeli/yaml), to check what js-yaml wrote. */
function read(text: string): Record<string, unknown> {
  return parse(text, { version: '1.1' }) as Record<string, unknown>
}

const CHECKSUM = 'ab'.repeat(32)
const SRC = 's3://bucket/app/releases/20250101-abc1234.tar.gz'
const values = (extra: Partial<ManifestValues> = {}): ManifestValues => ({
  src: SRC,
  checksum: CHECKSUM,
  successCommands: [],
  failureCommands: [],
  ...extra
})

const RICH_TEMPLATE = `# a template exercising YAML 1.1
dest: /srv/app
dest_mode: 0755
sync_strategy: rsync
exclude_from: .stretcherignore
excludes:
  - '*.log'
  - tmp/
commands:
  pre:
    - echo {{ env "STAGE" "production" }}
    - 'test -d {{ env "HOME" "/root" }} && echo it''s there'
    - yes
    - on
    - 12
    - 1:20
    - 0o755
    - 1e3
    - "quoted: colon"
  post:
    - |
      set -e
      systemctl reload app
    - >
      folded
      command
  success: ['echo ok']
  failure: ["echo failed >&2"]
x-notes:
  bools: [yes, no, on, off, y, n, Yes, OFF, true]
  nulls: [~, null, Null]
  numbers: [0755, 0x1F, 1_000, 1:20, 190:20:30.15, .inf, -.Inf, .nan, 3.5]
  strings: ['0755', "yes", '~', '1:20', 0o17, 12abc]
  when: 2001-12-14
  nested: {a: [1, {b: c}]}
`

function renderRich(extra: Partial<ManifestValues> = {}): string {
  return renderManifest(parseManifestTemplate(RICH_TEMPLATE, 'web.yml'), values(extra))
}

/** Assert that the function throws an InputError for `input` whose message matches. */
function assertInputError(fn: () => unknown, input: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InputError, `not an InputError: ${error}`)
    assert.equal(error.input, input)
    assert.match(error.message, message)
    assert.doesNotMatch(error.message, /\n/)
    return true
  })
}

function refuses(template: string, message: RegExp): void {
  assertInputError(() => parseManifestTemplate(template, 'web.yml'), 'manifest', message)
}

describe('renderManifest fidelity (read back with eemeli/yaml, YAML 1.1)', () => {
  it('keeps every template field and means the same', () => {
    const template = read(RICH_TEMPLATE)
    const rendered = read(
      renderRich({
        successCommands: ['report success'],
        failureCommands: ['report failure']
      })
    )
    const commands = template.commands as Record<string, unknown[]>
    assert.deepEqual(rendered, {
      src: SRC,
      checksum: CHECKSUM,
      ...template,
      commands: {
        ...commands,
        success: [...commands.success!, 'report success'],
        failure: [...commands.failure!, 'report failure']
      }
    })
  })

  it('writes dest_mode 0755 as octal (493), not decimal 755', () => {
    const text = renderRich()
    assert.match(text, /^dest_mode: 0755$/m)
    assert.equal(read(text).dest_mode, 0o755)
  })

  it('keeps YAML 1.1 booleans, numbers and nulls as written', () => {
    const text = renderRich()
    const notes = read(text)['x-notes'] as Record<string, unknown>
    assert.deepEqual(notes.bools, [true, false, true, false, true, false, true, false, true])
    assert.deepEqual(notes.nulls, [null, null, null])
    assert.deepEqual(notes.strings, ['0755', 'yes', '~', '1:20', '0o17', '12abc'])
    assert.equal((notes.numbers as unknown[])[3], 80)
    // Raw text is what yaml.v2 puts in a string field: `- yes` is the command "yes".
    for (const line of ['    - yes', '    - on', '    - 12', '    - 1:20', '    - 0o755']) {
      assert.ok(text.includes(`${line}\n`), `missing ${JSON.stringify(line)}`)
    }
  })

  it("passes the template's own {{ }} actions through byte for byte", () => {
    const text = renderRich()
    const actions = (s: string): string[] => s.match(/\{\{.*?\}\}/g) ?? []
    assert.deepEqual(actions(text), actions(RICH_TEMPLATE))
    assert.ok(text.includes(`- echo {{ env "STAGE" "production" }}\n`))
    assert.ok(text.includes(`- 'test -d {{ env "HOME" "/root" }} && echo it''s there'\n`))
  })

  it('keeps a template dest with an action when no dest input is given', () => {
    const template = parseManifestTemplate(`dest: '{{ env "DEST" "/srv/app" }}'\n`, 'web.yml')
    assert.equal(manifestDest(template), '{{ env "DEST" "/srv/app" }}')
    const text = renderManifest(template, values())
    assert.match(text, /^dest: '\{\{ env "DEST" "\/srv\/app" \}\}'$/m)
    // An input dest replaces it, and its action with it.
    const overridden = renderManifest(template, values({ dest: '/opt/app' }))
    assert.doesNotMatch(overridden, /\{\{/)
    assert.equal(read(overridden).dest, '/opt/app')
  })

  it('appends the action commands after the template ones', () => {
    const text = renderRich({
      successCommands: ['s1', 's2'],
      failureCommands: ['f1']
    })
    const commands = read(text).commands as Record<string, string[]>
    assert.deepEqual(commands.success, ['echo ok', 's1', 's2'])
    assert.deepEqual(commands.failure, ['echo failed >&2', 'f1'])
  })

  it('creates commands.success/failure when the template has none', () => {
    const template = parseManifestTemplate(
      'dest: /srv/app\ncommands:\n  pre: [make]\n  post:\n',
      'web.yml'
    )
    const text = renderManifest(
      template,
      values({ successCommands: ['s'], failureCommands: ['f'] })
    )
    assert.deepEqual(read(text).commands, {
      pre: ['make'],
      post: null,
      success: ['s'],
      failure: ['f']
    })
  })

  it('appends into flow-style collections', () => {
    const template = parseManifestTemplate(
      'dest: /srv/app\ncommands: {pre: [make], success: [a]}\n',
      'web.yml'
    )
    const text = renderManifest(
      template,
      values({ successCommands: ['b: c'], failureCommands: ['f'] })
    )
    assert.deepEqual(read(text).commands, {
      pre: ['make'],
      success: ['a', 'b: c'],
      failure: ['f']
    })
  })

  it('renders without a template', () => {
    const text = renderManifest(
      undefined,
      values({ dest: '/srv/app', successCommands: ['s'], failureCommands: ['f'] })
    )
    assert.deepEqual(read(text), {
      src: SRC,
      checksum: CHECKSUM,
      dest: '/srv/app',
      commands: { success: ['s'], failure: ['f'] }
    })
    assert.doesNotMatch(text, /\{\{/)
  })

  it('replaces src and checksum in place and lets the dest input win', () => {
    const template = parseManifestTemplate(
      'a: 1\nsrc: old\nchecksum: old\ndest: /old\nz: 2\n',
      'web.yml'
    )
    const text = renderManifest(template, values({ dest: '/new' }))
    assert.deepEqual(Object.keys(read(text)), ['a', 'src', 'checksum', 'dest', 'z'])
    assert.equal(read(text).dest, '/new')
    assert.equal(read(text).src, SRC)
  })

  it('does not change the template it is given', () => {
    const template = parseManifestTemplate(RICH_TEMPLATE, 'web.yml')
    const first = renderManifest(template, values({ successCommands: ['x'] }))
    const second = renderManifest(template, values({ successCommands: ['x'] }))
    assert.equal(first, second)
    assert.equal(
      (read(renderManifest(template, values())).commands as Record<string, unknown[]>).success!
        .length,
      1
    )
  })
})

const INJECTIONS = [
  '/srv/app\nsrc: evil',
  '/srv/app\n---\nsrc: evil',
  '/srv/app # comment\nx: 1',
  '/srv/app: x',
  'a: b',
  '*alias',
  '&anchor x',
  '!!binary aGk=',
  'it\'s "quoted"',
  '"\nsrc: evil\n"',
  "'\nsrc: evil\n'",
  '- item',
  '? key',
  '| block',
  '%YAML 1.1',
  '...',
  'yes',
  '0755',
  '~',
  '',
  ' ',
  '\t',
  '\r\nsrc: evil',
  '\u0085src: evil',
  '\u2028src: evil\u2029',
  '\u0000\u0007\u001b\u007f\u009f\ufeff',
  '{ a: 1 }',
  '[a, b]',
  '}} {',
  '{ {',
  '\\',
  'x'.repeat(5000)
]

describe('values from the action cannot add or change a key', () => {
  const base = parseManifestTemplate('dest: /srv/app\ncommands:\n  success: [t]\n', 'web.yml')
  for (const value of INJECTIONS) {
    it(`dest and commands ${JSON.stringify(value).slice(0, 40)}`, () => {
      const text = renderManifest(
        base,
        values({
          dest: value || undefined,
          successCommands: [value],
          failureCommands: [value]
        })
      )
      const manifest = read(text)
      assert.deepEqual(Object.keys(manifest), ['src', 'checksum', 'dest', 'commands'])
      assert.equal(manifest.dest, value || '/srv/app')
      assert.deepEqual(manifest.commands, {
        success: ['t', value],
        failure: [value]
      })
      assert.doesNotMatch(text, /\{\{/)
    })
  }

  it('src with YAML syntax stays one string', () => {
    const src = 'https://example.com/a.tgz?x=1#frag\nchecksum: 00'
    const manifest = read(renderManifest(base, values({ src })))
    assert.equal(manifest.src, src)
    assert.equal(manifest.checksum, CHECKSUM)
  })

  it('random dest and commands round-trip exactly and add no key (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('{{'))
    fc.assert(
      fc.property(
        text.filter((s) => s !== ''),
        fc.array(text, { maxLength: 3 }),
        fc.array(text, { maxLength: 3 }),
        (dest, success, failure) => {
          const manifest = read(
            renderManifest(
              base,
              values({ dest, successCommands: success, failureCommands: failure })
            )
          )
          assert.deepEqual(Object.keys(manifest), ['src', 'checksum', 'dest', 'commands'])
          assert.equal(manifest.dest, dest)
          assert.deepEqual(manifest.commands, {
            success: ['t', ...success],
            ...(failure.length > 0 ? { failure } : {})
          })
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe('renderManifest refusals', () => {
  const template = parseManifestTemplate('dest: /srv/app\n', 'web.yml')

  it('refuses {{ in the dest input', () => {
    assertInputError(
      () => renderManifest(template, values({ dest: '/srv/{{ env "X" }}' })),
      'dest',
      /^dest must not contain "\{\{"/
    )
  })

  it('refuses {{ in src, naming s3-url', () => {
    assertInputError(
      () => renderManifest(template, values({ src: 's3://b/{{x}}.tgz' })),
      's3-url',
      /\{\{/
    )
  })

  it('refuses {{ in appended commands with a plain Error', () => {
    for (const extra of [{ successCommands: ['echo {{'] }, { failureCommands: ['{{ x }}'] }]) {
      assert.throws(
        () => renderManifest(template, values(extra)),
        (error: unknown) =>
          error instanceof Error && !(error instanceof InputError) && /\{\{/.test(error.message)
      )
    }
  })

  it('refuses a lone surrogate in dest', () => {
    assertInputError(
      () => renderManifest(template, values({ dest: '/srv/\ud800' })),
      'dest',
      /well-formed/
    )
  })

  it('requires dest from the input or the template', () => {
    assertInputError(() => renderManifest(undefined, values()), 'dest', /required/)
    assertInputError(
      () =>
        renderManifest(
          parseManifestTemplate('commands: {pre: [a]}\ndest: ~\n', 'web.yml'),
          values({ dest: '' })
        ),
      'dest',
      /required: the manifest template web\.yml has no dest/
    )
  })

  it('refuses a checksum that is not a digest', () => {
    assert.throws(() => renderManifest(template, values({ checksum: 'abc' })), /checksum/)
  })
})

describe('parseManifestTemplate', () => {
  it('reports dest and warnings', () => {
    const template = parseManifestTemplate(
      'src: x\nchecksum: y\ndest: /srv\ncomands: [a]\ncommands:\n  prepare: [a]\n',
      'web.yml'
    )
    assert.equal(manifestDest(template), '/srv')
    assert.equal(manifestDest(undefined), undefined)
    assert.deepEqual(template.warnings, [
      "manifest web.yml:1:1: src is set by the action; the template's value is replaced",
      "manifest web.yml:2:1: checksum is set by the action; the template's value is replaced",
      'manifest web.yml:4:1: "comands" is kept, but stretcher ignores it',
      'manifest web.yml:6:3: commands.prepare is kept, but stretcher only runs pre, post, success and failure'
    ])
  })

  it('treats an empty dest as none', () => {
    assert.equal(manifestDest(parseManifestTemplate('dest:\n', 'w.yml')), undefined)
    assert.equal(manifestDest(parseManifestTemplate("dest: ''\n", 'w.yml')), undefined)
  })

  it('reports YAML errors as file:line:col', () => {
    refuses('dest: /srv\ncommands:\n  pre: [a\n', /^manifest web\.yml:4:1: /)
    refuses('dest: a: b\n', /^manifest web\.yml:1:8: bad indentation/)
    refuses('dest: /a\ndest: /b\n', /^manifest web\.yml:2:1: duplicated mapping key/)
    refuses('dest: /a\n---\ndest: /b\n', /^manifest web\.yml: .*single document/)
  })

  const refusals: Array<[string, string, RegExp]> = [
    ['an empty file', '# nothing\n', /web\.yml:1:1: is empty/],
    ['a list', '- a\n', /web\.yml:1:1: must be a mapping/],
    ['a scalar', 'dest\n', /web\.yml:1:1: must be a mapping/],
    ['commands as a list', 'commands:\n  - a\n', /web\.yml:2:3: commands must be a mapping/],
    [
      'commands.pre as a string',
      'commands:\n  pre: make\n',
      /web\.yml:2:8: commands\.pre must be a list of commands/
    ],
    [
      'an unquoted ": " in a command',
      'commands:\n  post:\n    - echo a: b\n',
      /web\.yml:3:7: commands\.post\[0\] is a mapping.*quote it/
    ],
    [
      'a nested list as a command',
      'commands:\n  success:\n    - [a]\n',
      /commands\.success\[0\] must be a string, not a sequence/
    ],
    [
      'an empty command',
      'commands:\n  failure:\n    - a\n    -\n',
      /commands\.failure\[1\] is an empty command/
    ],
    [
      'a tagged command',
      'commands:\n  pre: [!!binary aGk=]\n',
      /commands\.pre\[0\]: tag !!binary is not supported/
    ],
    [
      'excludes as a string',
      'excludes: "*.log"\n',
      /web\.yml:1:11: excludes must be a list of patterns/
    ],
    [
      'excludes as a mapping',
      'excludes: {a: b}\n',
      /excludes must be a list of patterns, not a mapping/
    ],
    [
      'sync_strategy copy',
      'sync_strategy: copy\n',
      /web\.yml:1:16: sync_strategy must be rsync or mv, not "copy"/
    ],
    ['sync_strategy as a list', 'sync_strategy: [mv]\n', /sync_strategy must be a string/],
    ['dest as a mapping', 'dest: {a: 1}\n', /dest must be a string, not a mapping/],
    ['exclude_from as a list', 'exclude_from: [a]\n', /exclude_from must be a string/],
    [
      'dest_mode quoted',
      "dest_mode: '0755'\n",
      /web\.yml:1:12: dest_mode must be an unquoted octal.*quoted/
    ],
    ['dest_mode tagged', 'dest_mode: !!int 0755\n', /dest_mode must be an unquoted octal.*tagged/],
    ['dest_mode 0o755', 'dest_mode: 0o755\n', /dest_mode must be .* not "0o755"/],
    ['dest_mode 1:20', 'dest_mode: 1:20\n', /not "1:20"/],
    ['dest_mode too big', 'dest_mode: 010000\n', /not "010000"/],
    ['dest_mode negative', 'dest_mode: -1\n', /not "-1"/],
    ['dest_mode float', 'dest_mode: 493.0\n', /not "493\.0"/],
    ['dest_mode bool', 'dest_mode: yes\n', /not "yes"/],
    ['dest_mode decimal 755', 'dest_mode: 755\n', /755 is decimal \(octal 01363\).*write 0755/],
    ['dest_mode decimal 1000', 'dest_mode: 1000\n', /1000 is decimal \(octal 01750\)/],
    ['dest_mode as a list', 'dest_mode: [1]\n', /dest_mode must be .* not a sequence/],
    [
      'an alias in a command list',
      'x: &c [a]\ncommands:\n  pre: *c\n',
      /web\.yml:3:8: commands\.pre must not be an alias \(\*c\)/
    ],
    ['an alias as dest', 'x: &d /srv\ndest: *d\n', /dest must not be an alias/],
    ['an anchor on dest', 'dest: &d /srv\nx: *d\n', /dest: anchors \(&d\) are not supported/],
    [
      'an anchor on commands.success',
      'commands:\n  success: &s [a]\nx: *s\n',
      /commands\.success: anchors/
    ],
    [
      'a merge key at the top',
      'base: &b {dest: /srv}\n<<: *b\n',
      /web\.yml:2:1: the top level: merge keys \(<<\) are not supported/
    ],
    ['a merge key in commands', 'p: &p {pre: [a]}\ncommands:\n  <<: *p\n', /commands: merge keys/],
    ['a complex key', '? [a]\n: b\n', /web\.yml:1:1: .*complex keys/],
    ['{{ outside a string', 'dest: {{ env "D" "/srv" }}\n', /web\.yml:1:7: "\{\{" outside a string/]
  ]
  for (const [what, template, message] of refusals) {
    it(`refuses ${what}`, () => refuses(template, message))
  }

  it('accepts dest_mode forms both YAML 1.1 and yaml.v2 read alike', () => {
    for (const mode of ['0755', '0644', '0', '00', '07777', '493', '4095', '~', '']) {
      const template = parseManifestTemplate(`dest: /srv\ndest_mode: ${mode}\n`, 'w.yml')
      assert.match(
        renderManifest(template, values()),
        new RegExp(`^dest_mode:${mode === '' ? '' : ` ${mode}`}$`, 'm')
      )
    }
  })

  it('keeps an action inside a literal block', () => {
    const template =
      'dest: /srv\ncommands:\n  pre:\n    - |\n      echo {{ env "A" "b" }}\n      echo two\n'
    const text = renderManifest(parseManifestTemplate(template, 'w.yml'), values())
    assert.ok(text.includes('    - |\n      echo {{ env "A" "b" }}\n      echo two\n'))
  })

  it('refuses an action that cannot be written back as it was', () => {
    const template = parseManifestTemplate('dest: /srv\nx: "a {{ b\n  c }}"\n', 'w.yml')
    assertInputError(
      () => renderManifest(template, values()),
      'manifest',
      /^manifest w\.yml: .*actions cannot be kept as written/
    )
  })

  it('hints at actions when YAML fails to parse', () => {
    refuses(
      'dest: /srv\n{{ if true }}y: 1{{ end }}\n',
      /web\.yml:2:14: .*must sit inside a YAML string/
    )
  })

  it('ignores {{ in comments (they are dropped)', () => {
    const template = parseManifestTemplate('# {{ must_env "X" }}\ndest: /srv # {{ x }}\n', 'w.yml')
    assert.doesNotMatch(renderManifest(template, values()), /\{\{|#/)
  })

  it('keeps anchors and aliases outside the fields the action edits', () => {
    const text = renderManifest(
      parseManifestTemplate('dest: /srv\nx-a: &a [1, yes]\nx-b: *a\n', 'w.yml'),
      values()
    )
    assert.deepEqual(read(text)['x-b'], [1, true])
  })
})

// Go's yaml.v2 with stretcher's Manifest struct: the reader that matters. Runs
// when `go` and Debian's golang-gopkg-yaml.v2-dev are installed; set
// REQUIRE_GO_YAML=1 to make their absence a failure (e.g. in CI that installs them).
const GOPATH = '/usr/share/gocode'
const goAvailable =
  spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 &&
  existsSync(join(GOPATH, 'src/gopkg.in/yaml.v2'))

interface GoResult {
  manifest?: {
    Src: string
    CheckSum: string
    Dest: string
    DestMode: number | null
    Commands: Record<'Pre' | 'Post' | 'Success' | 'Failure', string[] | null>
    Excludes: string[] | null
    ExcludeFrom: string
    SyncStrategy: string
  }
  keys?: string[]
  error?: string
}

describe(
  'stretcher reads the rendered manifest (Go yaml.v2)',
  {
    skip:
      goAvailable || process.env.REQUIRE_GO_YAML === '1'
        ? false
        : 'go or golang-gopkg-yaml.v2-dev not installed'
  },
  () => {
    let decoder = ''
    let workDir = ''
    const decode = (manifests: string[]): GoResult[] => {
      if (!decoder) {
        workDir = mkdtempSync(join(tmpdir(), 'go-yaml-'))
        decoder = join(workDir, 'decode')
        const source = fileURLToPath(new URL('go-yaml/decode.go', import.meta.url))
        execFileSync('go', ['build', '-o', decoder, source], {
          env: { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '' },
          stdio: ['ignore', 'ignore', 'inherit']
        })
      }
      const out = execFileSync(decoder, {
        input: JSON.stringify(manifests),
        env: { PATH: process.env.PATH, STAGE: 'staging' },
        maxBuffer: 64 << 20
      })
      return JSON.parse(out.toString()) as GoResult[]
    }
    after(() => {
      if (workDir) rmSync(workDir, { recursive: true, force: true })
    })

    it('decodes the rich template as the template meant', () => {
      const [result] = decode([
        renderRich({ successCommands: ['report ok'], failureCommands: ['report failed'] })
      ])
      assert.equal(result?.error, undefined)
      assert.deepEqual(result?.manifest, {
        Src: SRC,
        CheckSum: CHECKSUM,
        Dest: '/srv/app',
        DestMode: 0o755,
        Commands: {
          Pre: [
            'echo staging',
            "test -d /root && echo it's there",
            'yes',
            'on',
            '12',
            '1:20',
            '0o755',
            '1e3',
            'quoted: colon'
          ],
          Post: ['set -e\nsystemctl reload app\n', 'folded command\n'],
          Success: ['echo ok', 'report ok'],
          Failure: ['echo failed >&2', 'report failed']
        },
        Excludes: ['*.log', 'tmp/'],
        ExcludeFrom: '.stretcherignore',
        SyncStrategy: 'rsync'
      })
    })

    it('evaluates a template dest action on the node', () => {
      const template = parseManifestTemplate(`dest: '{{ env "DEST" "/srv/default" }}'\n`, 'w.yml')
      assert.equal(decode([renderManifest(template, values())])[0]?.manifest?.Dest, '/srv/default')
    })

    it('reads injected and random values exactly, with no extra key', () => {
      const base = parseManifestTemplate('dest: /srv/app\n', 'w.yml')
      const samples = [
        ...INJECTIONS.filter((s) => s !== ''),
        ...fc.sample(
          fc
            .string({ unit: 'binary', minLength: 1, maxLength: 60 })
            .filter((s) => !s.includes('{{')),
          { numRuns: 300, seed: 42 }
        )
      ]
      const results = decode(
        samples.map((s) =>
          renderManifest(base, values({ dest: s, successCommands: [s], failureCommands: [s] }))
        )
      )
      results.forEach((result, i) => {
        const sample = samples[i]!
        assert.equal(result.error, undefined, JSON.stringify(sample))
        assert.deepEqual(result.keys, ['src', 'checksum', 'dest', 'commands'])
        assert.equal(result.manifest?.Dest, sample, JSON.stringify(sample))
        assert.deepEqual(result.manifest?.Commands.Success, [sample])
        assert.deepEqual(result.manifest?.Commands.Failure, [sample])
      })
    })

    it('dest_mode forms accepted by the parser reach the node as that number', () => {
      const forms: Array<[string, number | null]> = [
        ['0755', 0o755],
        ['0644', 0o644],
        ['0', 0],
        ['07777', 0o7777],
        ['493', 493],
        ['~', null]
      ]
      const results = decode(
        forms.map(([mode]) =>
          renderManifest(
            parseManifestTemplate(`dest: /srv\ndest_mode: ${mode}\n`, 'w.yml'),
            values()
          )
        )
      )
      assert.deepEqual(
        results.map((r) => r.manifest?.DestMode),
        forms.map(([, mode]) => mode)
      )
    })
  }
)
