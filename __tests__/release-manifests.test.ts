// layout: releases (contract 9): the prepare, switch and combined manifests from
// one template. What each holds; every command the action adds runs under sh
// with any deploy ID the contract allows and any literal dest; and Go's yaml.v2
// (stretcher's reader) decodes all three as meant.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { parseManifest } from '../fleet/stretcher-manifest.ts'
import { renderTemplate } from '../fleet/stretcher-template.ts'
import { DEPLOY_ID_PATTERN } from '../src/config/deploy-id.ts'
import { InputError } from '../src/shared/errors.ts'
import type { ManifestTemplate } from '../src/publish/manifest/manifest.ts'
import { parseManifestTemplate, renderManifest } from '../src/publish/manifest/manifest.ts'
import { failureCommands, successCommands } from '../src/publish/manifest/node-report.ts'

const CHECKSUM = 'ab'.repeat(32)
const SRC = 's3://bucket/web/20261130T1200-abc1234.tgz'
const ID = '20261130T1200-abc1234'
type Phase = 'prepare' | 'switch' | 'combined'

const TEMPLATE = `dest: /srv/app
dest_mode: 0755
excludes:
  - "*.log"
sync_strategy: rsync
commands:
  pre:
    - echo pre
  post:
    - 'systemctl reload app: now'
  success:
    - echo ok
  failure:
    - echo failed
`

function render(
  template: ManifestTemplate | undefined,
  phase: Phase,
  opts: { deployId?: string; dest?: string; keep?: number } = {}
): string {
  const deployId = opts.deployId ?? ID
  const dest = opts.dest || template?.dest
  const report = {
    kvPrefix: 'stretcher/web',
    deployId,
    layout: { phase: phase === 'prepare' ? ('prepare' as const) : ('switch' as const), dest: dest! }
  }
  return renderManifest(template, {
    src: SRC,
    checksum: CHECKSUM,
    dest: opts.dest,
    successCommands: successCommands(report),
    failureCommands: failureCommands(report),
    layout: { phase, deployId, keepReleases: opts.keep ?? 2 }
  })
}

const template = parseManifestTemplate(TEMPLATE, 'stretcher.yml')

describe('the three manifests', () => {
  it('prepare: src and checksum, dest <dest>/releases/<id>, pre after mkdir, no post, no template success', () => {
    const m = parseManifest(render(template, 'prepare'))
    assert.equal(m.src, SRC)
    assert.equal(m.checksum, CHECKSUM)
    assert.equal(m.dest, `/srv/app/releases/${ID}`)
    assert.equal(m.destMode, 0o755)
    assert.deepEqual(m.excludes, ['*.log'])
    assert.deepEqual(m.commands.pre, ["mkdir -p '/srv/app'/releases", 'echo pre'])
    assert.deepEqual(m.commands.post, [])
    assert.equal(m.commands.success.length, 1)
    assert.match(m.commands.success[0]!, /"phase":"prepare"/)
    assert.equal(m.commands.failure[0], 'echo failed')
    assert.match(m.commands.failure[2]!, /"status":"failure","phase":"prepare"/)
  })

  it('switch: no src, no checksum, no dest, no sync fields; post is switch, template post, prune', () => {
    const text = render(template, 'switch')
    const m = parseManifest(text)
    for (const key of ['src:', 'checksum:', 'dest:', 'dest_mode:', 'excludes:', 'sync_strategy:'])
      assert.ok(!text.includes(`\n${key}`) && !text.startsWith(key), `${key} in ${text}`)
    assert.equal(m.src, '')
    assert.equal(m.dest, '')
    assert.deepEqual(m.commands.pre, [])
    assert.equal(m.commands.post.length, 3)
    assert.match(m.commands.post[0]!, /mv -T "\$d\/current\.tmp" "\$d\/current"/)
    assert.equal(m.commands.post[1], 'systemctl reload app: now')
    assert.match(m.commands.post[2]!, /rm -rf -- "\$r"/)
    assert.equal(m.commands.success[0], 'echo ok')
    assert.match(m.commands.success[1]!, /"phase":"switch"/)
  })

  it('combined: prepare then switch in one run; reports as a switch', () => {
    const m = parseManifest(render(template, 'combined'))
    assert.equal(m.src, SRC)
    assert.equal(m.dest, `/srv/app/releases/${ID}`)
    assert.deepEqual(m.commands.pre, ["mkdir -p '/srv/app'/releases", 'echo pre'])
    assert.equal(m.commands.post.length, 3)
    assert.match(m.commands.success[1]!, /"phase":"switch"/)
  })

  it('the dest input overrides the template dest; no template at all works', () => {
    assert.equal(
      parseManifest(render(template, 'prepare', { dest: '/opt/web' })).dest,
      `/opt/web/releases/${ID}`
    )
    assert.equal(
      parseManifest(render(undefined, 'combined', { dest: '/opt/web/' })).dest,
      `/opt/web/releases/${ID}`
    )
  })

  it('a template dest action is kept as written in dest and in every command', () => {
    const t = parseManifestTemplate(`dest: '{{ env "ROOT" "" }}/srv/app'\n`, 'w.yml')
    for (const phase of ['prepare', 'switch', 'combined'] as const) {
      const text = render(t, phase)
      const expanded = parseManifest(renderTemplate(text, { ROOT: '/data' }))
      if (phase !== 'switch') assert.equal(expanded.dest, `/data/srv/app/releases/${ID}`)
      for (const c of [...expanded.commands.pre, ...expanded.commands.post])
        assert.ok(c.includes("'/data/srv/app'"), c)
    }
  })

  it('a dest that cannot be quoted for sh is refused naming dest', () => {
    const t = parseManifestTemplate(`dest: '{{ env "ROOT" }}/it''s'\n`, 'w.yml')
    assert.throws(
      () => render(t, 'prepare'),
      (e: unknown) => e instanceof InputError && e.input === 'dest'
    )
  })
})

/** Runs one manifest's action commands (pre, post) as stretcher does, with the node's release synced in between. */
function runPhase(text: string, cwd: string): { code: number; output: string } {
  const m = parseManifest(text)
  let output = ''
  for (const line of m.commands.pre) {
    const r = spawnSync('sh', ['-c', line], { cwd, encoding: 'utf8' })
    output += r.stdout + r.stderr
    if (r.status !== 0) return { code: r.status ?? 1, output }
  }
  if (m.src !== '') mkdirSync(m.dest, { recursive: true }) // the sync
  for (const line of m.commands.post) {
    if (!line.startsWith('d=') && !line.startsWith('LC_ALL=C')) continue // the template's own
    const r = spawnSync('sh', ['-c', line], { cwd, encoding: 'utf8' })
    output += r.stdout + r.stderr
    if (r.status !== 0) return { code: r.status ?? 1, output }
  }
  return { code: 0, output }
}

describe('the commands run under sh with any deploy ID and dest', () => {
  const root = mkdtempSync(join(tmpdir(), 'release-layout-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const deployId = fc.stringMatching(DEPLOY_ID_PATTERN)
  // Literal dest text with what sh and YAML treat specially.
  const segment = fc.string({
    unit: fc.constantFrom(...'ab -_\'"$`\\;&|*?[]{}()<>!#~%:,\t'.split('')),
    minLength: 1,
    maxLength: 12
  })

  it('prepare, switch (current renamed, previous kept), prune to keep-releases, and sh -n on the reports', () => {
    let n = 0
    fc.assert(
      fc.property(
        fc.uniqueArray(deployId, { minLength: 3, maxLength: 4 }),
        segment.filter((s) => !s.includes('{{') && s.trim() !== ''),
        (ids, name) => {
          const base = join(root, String(n++), name)
          mkdirSync(join(root, String(n - 1)), { recursive: true })
          const sorted = [...ids].sort()
          for (const [i, id] of sorted.entries()) {
            const prepared = runPhase(
              render(template, 'prepare', { deployId: id, dest: base }),
              root
            )
            assert.equal(prepared.code, 0, prepared.output)
            assert.ok(existsSync(join(base, 'releases', id)))
            const switched = runPhase(
              render(template, 'switch', { deployId: id, dest: base }),
              root
            )
            assert.equal(switched.code, 0, switched.output)
            assert.equal(readlinkSync(join(base, 'current')), `releases/${id}`)
            assert.ok(lstatSync(join(base, 'current')).isSymbolicLink())
            if (i > 0)
              assert.equal(readlinkSync(join(base, 'previous')), `releases/${sorted[i - 1]}`)
            const kept = readdirSync(join(base, 'releases')).sort()
            assert.deepEqual(kept, sorted.slice(Math.max(0, i - 1), i + 1))
          }
          // A rollback to the previous release is a switch only; pruning spares both.
          const back = sorted[sorted.length - 2]!
          const switched = runPhase(
            render(template, 'switch', { deployId: back, dest: base }),
            root
          )
          assert.equal(switched.code, 0, switched.output)
          assert.equal(readlinkSync(join(base, 'current')), `releases/${back}`)
          assert.equal(
            readlinkSync(join(base, 'previous')),
            `releases/${sorted[sorted.length - 1]}`
          )
          // A release no longer kept: the switch fails and leaves current alone.
          const gone = runPhase(
            render(template, 'switch', { deployId: sorted[0]!, dest: base }),
            root
          )
          assert.notEqual(gone.code, 0)
          assert.match(gone.output, /is not prepared on this node/)
          assert.equal(readlinkSync(join(base, 'current')), `releases/${back}`)
          for (const phase of ['prepare', 'switch'] as const) {
            const m = parseManifest(render(template, phase, { deployId: sorted[0]!, dest: base }))
            for (const line of [...m.commands.success, ...m.commands.failure]) {
              const r = spawnSync('sh', ['-n', '-c', line], { encoding: 'utf8' })
              assert.equal(r.status, 0, `${line}\n${r.stderr}`)
            }
          }
        }
      ),
      { numRuns: 10, seed: 13 }
    )
  })

  it('a current that is a real directory (an in-place dest) is refused, not replaced', () => {
    const base = join(root, 'in-place')
    mkdirSync(join(base, 'current'), { recursive: true })
    runPhase(render(template, 'prepare', { dest: base }), root)
    const r = runPhase(render(template, 'switch', { dest: base }), root)
    assert.notEqual(r.code, 0)
    assert.match(r.output, /is a directory, not a symlink/)
    assert.ok(lstatSync(join(base, 'current')).isDirectory())
  })
})

describe('the result a node writes (sh, with a stand-in curl)', () => {
  it('is JSON with the phase and the releases kept (names outside the deploy-ID alphabet left out)', () => {
    const root = mkdtempSync(join(tmpdir(), 'release-report-'))
    try {
      const bin = join(root, 'bin')
      mkdirSync(bin)
      // curl: answers /v1/agent/self, records the body of the PUT.
      writeFileSync(
        join(bin, 'curl'),
        '#!/bin/sh\nfor a in "$@"; do case "$a" in */v1/agent/self) echo \'{"Config":{"Datacenter":"dc1","NodeName":"web-1"}}\'; exit 0;; esac; done\ncat > "$OUT"\n'
      )
      chmodSync(join(bin, 'curl'), 0o755)
      const base = join(root, "it's app")
      for (const dir of ['20261130-a', '20261130-b', 'not a release', '.hidden'])
        mkdirSync(join(base, 'releases', dir), { recursive: true })
      writeFileSync(join(base, 'releases', 'a-file'), '')
      for (const phase of ['prepare', 'switch'] as const) {
        const [success] = successCommands({
          kvPrefix: 'stretcher/web',
          deployId: '20261130-b',
          layout: { phase, dest: base }
        })
        const out = join(root, `${phase}.json`)
        const r = spawnSync('sh', ['-c', success!], {
          env: { PATH: `${bin}:${process.env.PATH}`, OUT: out },
          encoding: 'utf8'
        })
        assert.equal(r.status, 0, r.stderr)
        const result = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>
        assert.deepEqual(
          { ...result, at: typeof result.at },
          {
            deploy_id: '20261130-b',
            status: 'success',
            phase,
            node: 'web-1',
            at: 'number',
            releases: ['20261130-a', '20261130-b']
          }
        )
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

// Go's yaml.v2 with stretcher's Manifest struct (the decoder manifest.test.ts builds).
const GOPATH = '/usr/share/gocode'
const goAvailable =
  spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 &&
  existsSync(join(GOPATH, 'src/gopkg.in/yaml.v2'))

describe(
  'stretcher reads the three manifests (Go yaml.v2)',
  {
    skip:
      goAvailable || process.env.REQUIRE_GO_YAML === '1'
        ? false
        : 'go or golang-gopkg-yaml.v2-dev not installed'
  },
  () => {
    const workDir = mkdtempSync(join(tmpdir(), 'go-yaml-'))
    after(() => rmSync(workDir, { recursive: true, force: true }))
    const decode = (manifests: string[]) => {
      const decoder = join(workDir, 'decode')
      if (!existsSync(decoder))
        execFileSync(
          'go',
          ['build', '-o', decoder, fileURLToPath(new URL('go-yaml/decode.go', import.meta.url))],
          {
            env: { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '' },
            stdio: ['ignore', 'ignore', 'inherit']
          }
        )
      const out = execFileSync(decoder, {
        input: JSON.stringify(manifests),
        env: { PATH: process.env.PATH, STAGE: 'staging' }
      })
      return JSON.parse(out.toString()) as Array<{
        manifest?: {
          Src: string
          CheckSum: string
          Dest: string
          DestMode: number | null
          Commands: Record<'Pre' | 'Post' | 'Success' | 'Failure', string[] | null>
        }
        keys?: string[]
        error?: string
      }>
    }

    it('decodes each phase as the simulated nodes read it, template actions expanded', () => {
      const templates = [
        template,
        parseManifestTemplate(`dest: '/srv/{{ env "STAGE" "x" }}/app'\ndest_mode: 0750\n`, 'w.yml')
      ]
      const cases = templates.flatMap((t) =>
        (['prepare', 'switch', 'combined'] as const).map((phase) => ({ t, phase }))
      )
      const texts = cases.map(({ t, phase }) => render(t, phase, { keep: 3 }))
      const results = decode(texts)
      results.forEach((result, i) => {
        const { phase } = cases[i]!
        assert.equal(result.error, undefined, texts[i])
        const expected = parseManifest(renderTemplate(texts[i]!, { STAGE: 'staging' }))
        const m = result.manifest!
        assert.equal(m.Src, expected.src)
        assert.equal(m.CheckSum, expected.checksum)
        assert.equal(m.Dest, expected.dest)
        assert.deepEqual(m.Commands.Pre ?? [], expected.commands.pre)
        assert.deepEqual(m.Commands.Post ?? [], expected.commands.post)
        assert.deepEqual(m.Commands.Success ?? [], expected.commands.success)
        assert.deepEqual(m.Commands.Failure ?? [], expected.commands.failure)
        if (phase === 'switch') {
          assert.equal(m.Src, '')
          assert.equal(m.Dest, '')
          assert.ok(!result.keys!.includes('src') && !result.keys!.includes('dest'))
        } else {
          assert.equal(m.DestMode, i < 3 ? 0o755 : 0o750)
          assert.match(
            m.Dest,
            i < 3 ? /^\/srv\/app\/releases\// : /^\/srv\/staging\/app\/releases\//
          )
        }
      })
    })
  }
)
