// scripts/release.ts against a local bare repository standing for GitHub's: tags
// created and pushed, the major tag moved forward with a leased force-push, and
// every refusal (lower version, prerelease, stale dist, missing CHANGELOG section,
// package.json mismatch, a tag on another commit, a side branch) leaving the
// remote as it was. The GitHub release is a recorded function here; the REST
// publisher is checked against a stand-in API at the end.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { GitHubRelease, ReleaseOptions } from '../scripts/release.ts'
import {
  changelogSection,
  compareVersions,
  githubPublisher,
  parseVersion,
  release
} from '../scripts/release.ts'

let dir: string
let origin: string
let work: string
let published: GitHubRelease[]
let warnings: string[]

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()

/** The remote's tags, name → commit (annotated tags peeled). */
function remoteTags(): Map<string, string> {
  const tags = new Map<string, string>()
  for (const line of git(work, 'ls-remote', '--tags', origin).split('\n')) {
    const [sha, ref] = line.split('\t') as [string, string]
    if (!ref) continue
    const name = ref.replace('refs/tags/', '')
    if (name.endsWith('^{}')) tags.set(name.slice(0, -3), sha)
    else if (!tags.has(name)) tags.set(name, sha)
  }
  return tags
}

const BUILD = ['sh', '-c', 'mkdir -p dist && cp src/app.js dist/index.js']

let sections: string[] = []
/** A commit with package.json at `version`, a CHANGELOG section for it and dist/ built (or not). */
async function commit(
  version: string,
  opts: { section?: boolean; dist?: 'fresh' | 'stale'; pkg?: string } = {}
): Promise<string> {
  const code = `export const version = '${version}' // ${Math.random()}\n`
  await writeFile(join(work, 'src/app.js'), code)
  if (opts.dist !== 'stale') await writeFile(join(work, 'dist/index.js'), code)
  await writeFile(join(work, 'package.json'), JSON.stringify({ version: opts.pkg ?? version }))
  if (opts.section !== false)
    sections = [`## [${version}] - 2026-11-30\n\n- ${version} notes\n`, ...sections]
  await writeFile(
    join(work, 'CHANGELOG.md'),
    ['# Changelog', '', '## [Unreleased]', '', ...sections, '[Unreleased]: https://x/compare'].join(
      '\n'
    )
  )
  git(work, 'add', '-A')
  git(work, 'commit', '-q', '-m', `version ${version}`)
  git(work, 'push', '-q', 'origin', 'HEAD')
  return git(work, 'rev-parse', 'HEAD')
}

function run(version: string, extra: Partial<ReleaseOptions> = {}) {
  return release({
    cwd: work,
    version,
    build: BUILD,
    publish: async (r) => {
      published.push(r)
    },
    log: () => undefined,
    warn: (line) => warnings.push(line),
    ...extra
  })
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stretcher-release-'))
  origin = join(dir, 'origin.git')
  work = join(dir, 'work')
  git(dir, 'init', '-q', '--bare', '-b', 'main', origin)
  git(dir, 'clone', '-q', origin, work)
  // main whatever the machine's init.defaultBranch says
  git(work, 'symbolic-ref', 'HEAD', 'refs/heads/main')
  git(work, 'config', 'user.name', 'Release Test')
  git(work, 'config', 'user.email', 'release@test.invalid')
  git(work, 'config', 'commit.gpgsign', 'false')
  git(work, 'config', 'tag.gpgsign', 'false')
  await mkdir(join(work, 'src'))
  await mkdir(join(work, 'dist'))
})
after(() => rm(dir, { recursive: true, force: true }))

describe('release against a local bare repository', () => {
  const commits: Record<string, string> = {}
  const reset = () => {
    published = []
    warnings = []
  }

  test('first release: tag pushed, GitHub release from the CHANGELOG section, v1 created', async () => {
    reset()
    commits.c1 = await commit('1.0.0')
    const result = await run('v1.0.0')
    const tags = remoteTags()
    assert.equal(tags.get('v1.0.0'), commits.c1)
    assert.equal(tags.get('v1'), commits.c1)
    assert.equal(result.tagCreated, true)
    assert.equal(result.major.moved, true)
    assert.deepEqual(published, [
      { tag: 'v1.0.0', name: 'v1.0.0', notes: '- 1.0.0 notes', prerelease: false, latest: true }
    ])
    assert.equal(git(work, 'cat-file', '-t', 'refs/tags/v1.0.0'), 'tag', 'an annotated tag')
  })

  test('a higher version moves v1 forward with a force-push', async () => {
    reset()
    commits.c2 = await commit('1.1.0')
    const result = await run('1.1.0')
    assert.equal(remoteTags().get('v1'), commits.c2)
    assert.equal(remoteTags().get('v1.0.0'), commits.c1, 'older tag untouched')
    assert.deepEqual(result.major, {
      tag: 'v1',
      moved: true,
      from: commits.c1,
      reason: 'v1 moves to v1.1.0'
    })
    assert.deepEqual(warnings, [])
  })

  test('a lower version is released but v1 stays (never backwards)', async () => {
    reset()
    commits.c3 = await commit('1.0.1')
    const result = await run('1.0.1')
    const tags = remoteTags()
    assert.equal(tags.get('v1.0.1'), commits.c3)
    assert.equal(tags.get('v1'), commits.c2)
    assert.equal(result.major.moved, false)
    assert.equal(published[0]?.latest, false, 'not shown as the latest release')
    assert.deepEqual(warnings, ['v1 not moved: v1.1.0 is a higher release of v1 than v1.0.1'])
  })

  test('a prerelease is released as one and never moves v1', async () => {
    reset()
    commits.c4 = await commit('1.2.0-rc.1')
    const result = await run('1.2.0-rc.1')
    assert.equal(remoteTags().get('v1.2.0-rc.1'), commits.c4)
    assert.equal(remoteTags().get('v1'), commits.c2)
    assert.equal(result.major.reason, 'v1.2.0-rc.1 is a prerelease')
    assert.deepEqual(
      published.map((r) => [r.prerelease, r.latest]),
      [[true, false]]
    )
  })

  test('no CHANGELOG section: refused before any write', async () => {
    reset()
    await commit('1.2.0', { section: false })
    const before = remoteTags()
    await assert.rejects(run('1.2.0'), /CHANGELOG\.md has no section "## \[1\.2\.0\]"/)
    assert.deepEqual(remoteTags(), before)
    assert.deepEqual(published, [])
  })

  test('stale dist/: refused before any write', async () => {
    reset()
    await commit('1.2.0', { dist: 'stale' })
    const before = remoteTags()
    await assert.rejects(run('1.2.0'), /dist\/ is stale: the build changed it[^]*dist\/index\.js/)
    assert.deepEqual(remoteTags(), before)
    assert.deepEqual(published, [])
    git(work, 'checkout', '-q', '--', 'dist')
  })

  test('package.json on another version: refused', async () => {
    reset()
    await commit('1.2.0', { pkg: '1.1.0' })
    const before = remoteTags()
    await assert.rejects(run('1.2.0'), /package\.json has version 1\.1\.0, not 1\.2\.0/)
    assert.deepEqual(remoteTags(), before)
  })

  test('not a version: refused', async () => {
    await assert.rejects(run('1.2'), /version must look like 1\.2\.3/)
    await assert.rejects(run('v1'), /version must look like/)
  })

  test('a tag already pushed (the on-push flow) is used as it is; v1 moves', async () => {
    reset()
    commits.c5 = await commit('1.2.0')
    git(work, 'tag', '-a', '-m', 'by hand', 'v1.2.0')
    git(work, 'push', '-q', 'origin', 'v1.2.0')
    const result = await run('1.2.0')
    assert.equal(result.tagCreated, false)
    assert.equal(remoteTags().get('v1.2.0'), commits.c5)
    assert.equal(remoteTags().get('v1'), commits.c5)
  })

  test('re-running the same release moves nothing', async () => {
    reset()
    const result = await run('1.2.0')
    assert.equal(result.major.moved, false)
    assert.equal(result.major.reason, 'v1 already names v1.2.0')
    assert.equal(remoteTags().get('v1'), commits.c5)
    assert.deepEqual(warnings, [])
  })

  test('a tag on another commit: refused', async () => {
    reset()
    await commit('1.2.1', { section: true })
    git(work, 'tag', '-a', '-m', 'elsewhere', 'v1.2.1', commits.c1!)
    git(work, 'push', '-q', 'origin', 'v1.2.1')
    await assert.rejects(run('1.2.1'), /tag v1\.2\.1 already exists on [0-9a-f]{40}, not on/)
    assert.equal(remoteTags().get('v1'), commits.c5)
    assert.deepEqual(published, [])
  })

  test('a higher version on a branch without v1 commit: released, v1 not moved', async () => {
    reset()
    git(work, 'checkout', '-q', '-b', 'side', commits.c2!)
    const saved = sections
    const side = await commit('1.3.0')
    const result = await run('1.3.0')
    assert.equal(remoteTags().get('v1.3.0'), side)
    assert.equal(remoteTags().get('v1'), commits.c5)
    assert.match(result.major.reason, /which v1\.3\.0 \([0-9a-f]{12}\) does not contain/)
    assert.equal(warnings.length, 1)
    git(work, 'checkout', '-q', 'main')
    sections = saved
  })

  test('a new major gets its own tag; v1 stays', async () => {
    reset()
    commits.c6 = await commit('2.0.0')
    await run('2.0.0')
    assert.equal(remoteTags().get('v2'), commits.c6)
    assert.equal(remoteTags().get('v1'), commits.c5)
  })

  test('v1 moved by someone else meanwhile: the leased force-push fails and theirs stays', async () => {
    reset()
    // Back on the v1 line: 1.4.0 after 1.3.0 and 2.0.0.
    git(work, 'checkout', '-q', '-b', 'v1-line', commits.c5!)
    const c7 = await commit('1.4.0')
    const other = join(dir, 'other')
    git(dir, 'clone', '-q', origin, other)
    await assert.rejects(
      run('1.4.0', {
        publish: async () => {
          // Another release moves v1 between our read and our push.
          git(
            other,
            '-c',
            'user.name=o',
            '-c',
            'user.email=o@o',
            'tag',
            '-f',
            '-a',
            '-m',
            'x',
            'v1',
            commits.c2!
          )
          git(other, 'push', '-q', '--force', 'origin', 'refs/tags/v1')
        }
      }),
      /stale info|rejected/
    )
    assert.equal(remoteTags().get('v1'), commits.c2, 'the concurrent move was not overwritten')
    assert.equal(remoteTags().get('v1.4.0'), c7)
  })
})

describe('release notes and versions', () => {
  test("the repository's own CHANGELOG has the package.json version and an Unreleased section", async () => {
    const root = new URL('..', import.meta.url)
    const changelog = await readFile(new URL('CHANGELOG.md', root), 'utf8')
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
      version: string
    }
    assert.match(changelogSection(changelog, pkg.version) ?? '', /### Added/)
    assert.match(changelog, /^## \[Unreleased\]$/m)
    assert.equal(changelogSection(changelog, '9.9.9'), undefined)
  })

  test('a section ends at the next heading; link definitions are left out', () => {
    const text = [
      '# Changelog',
      '## [Unreleased]',
      '- next',
      '## [1.1.0] - 2026-01-02',
      '### Fixed',
      '- a [link][1.0.0]',
      '## 1.0.0',
      '- first',
      '',
      '[1.1.0]: https://example.com/1.1.0',
      '[1.0.0]: https://example.com/1.0.0'
    ].join('\n')
    assert.equal(changelogSection(text, '1.1.0'), '### Fixed\n- a [link][1.0.0]')
    assert.equal(changelogSection(text, '1.0.0'), '- first')
    assert.equal(changelogSection(text, '1.1'), undefined)
    assert.equal(changelogSection('## [2.0.0]\n\n## [1.0.0]\n- x', '2.0.0'), undefined, 'empty')
  })

  test('semantic-version order, prereleases below their release', () => {
    const sorted = ['1.0.0', '1.0.0-rc.10', '1.0.0-alpha', '1.0.0-rc.2', '0.9.9', '1.0.1', '1.10.0']
      .map(parseVersion)
      .sort(compareVersions)
      .map((v) => v.text)
    assert.deepEqual(sorted, [
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-rc.2',
      '1.0.0-rc.10',
      '1.0.0',
      '1.0.1',
      '1.10.0'
    ])
    assert.throws(() => parseVersion('01.0.0'), /version must look like/)
  })
})

describe('GitHub release through the REST API', () => {
  test('created with the notes unless the tag already has a release', async () => {
    const requests: Array<{ method: string; url: string; body: string; auth: string }> = []
    const existing = new Set(['v1.0.0'])
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          body,
          auth: req.headers.authorization ?? ''
        })
        const tag = /\/releases\/tags\/(.+)$/.exec(req.url ?? '')?.[1]
        if (tag) {
          res.writeHead(existing.has(decodeURIComponent(tag)) ? 200 : 404).end('{}')
          return
        }
        res.writeHead(201).end('{}')
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as AddressInfo
    try {
      const publish = githubPublisher({
        GITHUB_TOKEN: 'ghs_test',
        GITHUB_REPOSITORY: 'org/stretcher-action',
        GITHUB_API_URL: `http://127.0.0.1:${port}`
      })
      const r = { name: 'v', notes: '- notes', prerelease: false, latest: true }
      await publish({ ...r, tag: 'v1.0.0' })
      await publish({ ...r, tag: 'v1.1.0', latest: false })
      assert.deepEqual(
        requests.map((q) => `${q.method} ${q.url}`),
        [
          'GET /repos/org/stretcher-action/releases/tags/v1.0.0',
          'GET /repos/org/stretcher-action/releases/tags/v1.1.0',
          'POST /repos/org/stretcher-action/releases'
        ]
      )
      assert.deepEqual(JSON.parse(requests[2]!.body), {
        tag_name: 'v1.1.0',
        name: 'v',
        body: '- notes',
        prerelease: false,
        make_latest: 'false'
      })
      assert.ok(requests.every((q) => q.auth === 'Bearer ghs_test'))
    } finally {
      server.close()
    }
  })
})
