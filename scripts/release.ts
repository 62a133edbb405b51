// Cut a release: `node scripts/release.ts 1.2.3` (or v1.2.3), run by
// .github/workflows/release.yml on a pushed tag or by hand. Everything is checked
// before anything is written:
//
//   1. the version is vX.Y.Z (a prerelease vX.Y.Z-rc.1 is allowed) and matches
//      package.json;
//   2. CHANGELOG.md has a non-empty section for it: the release notes;
//   3. dist/ is what the build makes from the committed source (the build is run
//      and dist/ must come out unchanged);
//   4. the tag vX.Y.Z, if it exists, points at the commit being released.
//
// Then: the tag is created and pushed (when it was not pushed already), the
// GitHub release is created from the CHANGELOG section, and the major tag vX is
// moved to the release with a force-push, only forward: never for a prerelease,
// never to a version below the highest release of that major already tagged, never
// to a commit that does not contain the one vX names now. The force-push is leased
// on the value read, so a concurrent move is not overwritten.
//
// All git work goes through `git` against the remote (default origin), so the
// script is tested against a local bare repository; the GitHub call is one
// function (REST API with GITHUB_TOKEN), replaced in the tests.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export interface Version {
  major: number
  minor: number
  patch: number
  /** the part after '-', e.g. rc.1; empty for a release */
  prerelease: string
  /** X.Y.Z[-pre] without the v */
  text: string
}

const VERSION_RE =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/

export function parseVersion(input: string): Version {
  const m = VERSION_RE.exec(input.trim())
  if (!m)
    throw new ReleaseError(
      `version must look like 1.2.3 or v1.2.3 (a prerelease: 1.2.3-rc.1), got ${JSON.stringify(input)}`
    )
  const [, major, minor, patch, prerelease = ''] = m as unknown as [
    string,
    string,
    string,
    string,
    string | undefined
  ]
  const text = `${major}.${minor}.${patch}${prerelease ? `-${prerelease}` : ''}`
  return { major: +major, minor: +minor, patch: +patch, prerelease, text }
}

/** Semantic-version order (prerelease identifiers compared as semver says). */
export function compareVersions(a: Version, b: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] - b[k]
  if (a.prerelease === b.prerelease) return 0
  if (!a.prerelease) return 1
  if (!b.prerelease) return -1
  const pa = a.prerelease.split('.')
  const pb = b.prerelease.split('.')
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    const nx = /^\d+$/.test(x)
    const ny = /^\d+$/.test(y)
    if (nx && ny) return Number(x) - Number(y)
    if (nx) return -1
    if (ny) return 1
    return x < y ? -1 : 1
  }
  return 0
}

export class ReleaseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReleaseError'
  }
}

/**
 * The body of the `## [X.Y.Z]` (or `## X.Y.Z`) section of a Keep a Changelog file,
 * without the link definitions at the end of the file; undefined when there is
 * no such section or it is empty.
 */
export function changelogSection(changelog: string, version: string): string | undefined {
  const lines = changelog.split(/\r?\n/)
  const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const heading = new RegExp(`^##\\s+\\[?v?${escaped}\\]?(\\s|$)`)
  const start = lines.findIndex((l) => heading.test(l))
  if (start < 0) return undefined
  let end = lines.findIndex((l, i) => i > start && /^##?\s/.test(l))
  if (end < 0) end = lines.length
  const body = lines
    .slice(start + 1, end)
    .filter((l) => !/^\[[^\]]+\]:\s/.test(l))
    .join('\n')
    .trim()
  return body === '' ? undefined : body
}

export interface GitHubRelease {
  tag: string
  name: string
  notes: string
  prerelease: boolean
  /** whether GitHub should show it as the latest release */
  latest: boolean
}

export interface ReleaseOptions {
  /** the repository's work tree (a clone with the remote) */
  cwd: string
  version: string
  remote?: string
  /** the command that rebuilds dist/; default npm run package */
  build?: string[]
  /** creates the GitHub release (skipping one that exists) */
  publish: (release: GitHubRelease) => Promise<void>
  log?: (line: string) => void
  /** ::warning:: and ::notice:: lines in Actions */
  warn?: (line: string) => void
}

export interface ReleaseResult {
  tag: string
  commit: string
  tagCreated: boolean
  major: { tag: string; moved: boolean; from?: string; reason: string }
  notes: string
}

function git(cwd: string, args: string[], input?: string): string {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe']
    }).trim()
  } catch (error) {
    const e = error as { stderr?: string; message: string }
    throw new ReleaseError(`git ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`)
  }
}

/**
 * The remote's tags: name → commit (annotated tags peeled), and name → the ref's
 * own value (the tag object of an annotated tag), which the force-push leases on.
 */
function remoteTags(
  cwd: string,
  remote: string
): { commits: Map<string, string>; refs: Map<string, string> } {
  const commits = new Map<string, string>()
  const refs = new Map<string, string>()
  const out = git(cwd, ['ls-remote', '--tags', remote])
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split('\t')
    if (!sha || !ref?.startsWith('refs/tags/')) continue
    const name = ref.slice('refs/tags/'.length)
    if (name.endsWith('^{}')) commits.set(name.slice(0, -3), sha)
    else {
      refs.set(name, sha)
      if (!commits.has(name)) commits.set(name, sha)
    }
  }
  return { commits, refs }
}

function isAncestor(cwd: string, older: string, newer: string): boolean {
  try {
    execFileSync('git', ['merge-base', '--is-ancestor', older, newer], { cwd, stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export async function release(options: ReleaseOptions): Promise<ReleaseResult> {
  const { cwd, publish } = options
  const remote = options.remote ?? 'origin'
  const log = options.log ?? ((line: string) => console.log(line))
  const warn = options.warn ?? log
  const version = parseVersion(options.version)
  const tag = `v${version.text}`
  const majorTag = `v${version.major}`

  // 1. package.json says the same version.
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { version?: string }
  if (pkg.version !== version.text)
    throw new ReleaseError(
      `package.json has version ${pkg.version ?? '(none)'}, not ${version.text}: bump it in the release commit`
    )

  // 2. The release notes.
  let changelog: string
  try {
    changelog = readFileSync(join(cwd, 'CHANGELOG.md'), 'utf8')
  } catch {
    throw new ReleaseError('CHANGELOG.md is missing')
  }
  const notes = changelogSection(changelog, version.text)
  if (notes === undefined)
    throw new ReleaseError(
      `CHANGELOG.md has no section "## [${version.text}]" with the release notes (move the Unreleased entries under it)`
    )

  // 3. dist/ is what the committed source builds to.
  // The commit released is the one checked out (the tag's, or the branch's head).
  const commit = git(cwd, ['rev-parse', 'HEAD^{commit}'])
  if (git(cwd, ['status', '--porcelain', '--', 'dist']) !== '')
    throw new ReleaseError('dist/ has uncommitted changes before the build')
  const [program, ...args] = options.build ?? ['npm', 'run', 'package']
  log(`rebuilding dist/ (${[program, ...args].join(' ')}) to check it is fresh`)
  try {
    execFileSync(program as string, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string }
    throw new ReleaseError(`the build failed: ${(e.stderr?.toString() || e.message).trim()}`)
  }
  const stale = git(cwd, ['status', '--porcelain', '--', 'dist'])
  if (stale !== '')
    throw new ReleaseError(
      `dist/ is stale: the build changed it (run npm run bundle and commit dist/):\n${stale}`
    )

  // 4. Tags as the remote has them.
  git(cwd, ['fetch', '--quiet', '--force', '--tags', remote])
  const { commits: tags, refs } = remoteTags(cwd, remote)
  const existing = tags.get(tag)
  if (existing !== undefined && existing !== commit)
    throw new ReleaseError(`tag ${tag} already exists on ${existing}, not on ${commit}`)

  // Whether the major tag moves, decided before anything is written.
  const current = tags.get(majorTag)
  const sameMajor = [...tags.keys()]
    .filter((t) => t !== majorTag && VERSION_RE.test(t) && t.startsWith('v'))
    .map(parseVersion)
    .filter((v) => v.major === version.major && !v.prerelease)
  const highest = sameMajor.sort(compareVersions).at(-1)
  let major: ReleaseResult['major']
  if (version.prerelease) major = { tag: majorTag, moved: false, reason: `${tag} is a prerelease` }
  else if (highest && compareVersions(version, highest) < 0)
    major = {
      tag: majorTag,
      moved: false,
      reason: `v${highest.text} is a higher release of ${majorTag} than ${tag}`
    }
  else if (current === commit)
    major = { tag: majorTag, moved: false, reason: `${majorTag} already names ${tag}` }
  else if (current !== undefined && !isAncestor(cwd, current, commit))
    major = {
      tag: majorTag,
      moved: false,
      reason: `${majorTag} names ${current.slice(0, 12)}, which ${tag} (${commit.slice(0, 12)}) does not contain: moving it there would drop commits`
    }
  else major = { tag: majorTag, moved: true, reason: `${majorTag} moves to ${tag}` }

  // Writes: the tag, the GitHub release, the major tag.
  let tagCreated = false
  if (existing === undefined) {
    git(cwd, ['tag', '--force', '--annotate', '--message', `Release ${tag}`, tag, commit])
    git(cwd, ['push', '--quiet', remote, `refs/tags/${tag}`])
    tagCreated = true
    log(`tagged ${commit} as ${tag} and pushed it`)
  } else log(`tag ${tag} already on ${commit}`)

  await publish({
    tag,
    name: tag,
    notes,
    prerelease: version.prerelease !== '',
    latest: !version.prerelease && (!highest || compareVersions(version, highest) >= 0)
  })
  log(`GitHub release ${tag} published`)

  if (major.moved) {
    // Leased on what was read above: a move by anyone since then makes the push fail.
    const lease = refs.get(majorTag) ?? ''
    git(cwd, ['tag', '--force', '--annotate', '--message', `${majorTag}: ${tag}`, majorTag, commit])
    git(cwd, [
      'push',
      '--quiet',
      `--force-with-lease=refs/tags/${majorTag}:${lease}`,
      remote,
      `refs/tags/${majorTag}`
    ])
    log(
      `${majorTag} moved to ${tag} (${commit.slice(0, 12)})${current ? `, was ${current.slice(0, 12)}` : ''}`
    )
    return { tag, commit, tagCreated, major: { ...major, from: current }, notes }
  }
  // A prerelease or a re-run is expected; a lower version or a side branch is worth a look.
  const expected = version.prerelease !== '' || current === commit
  ;(expected ? log : warn)(`${majorTag} not moved: ${major.reason}`)
  return { tag, commit, tagCreated, major, notes }
}

/** Create the GitHub release through the REST API, unless one exists for the tag. */
export function githubPublisher(env: NodeJS.ProcessEnv): (r: GitHubRelease) => Promise<void> {
  const token = env.GITHUB_TOKEN ?? env.GH_TOKEN
  const repo = env.GITHUB_REPOSITORY
  const api = (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/$/, '')
  return async (r) => {
    if (!token || !repo)
      throw new ReleaseError('GITHUB_TOKEN and GITHUB_REPOSITORY are needed to create the release')
    const headers = {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'content-type': 'application/json'
    }
    const found = await fetch(`${api}/repos/${repo}/releases/tags/${encodeURIComponent(r.tag)}`, {
      headers
    })
    if (found.ok) return
    if (found.status !== 404)
      throw new ReleaseError(`GitHub answered ${found.status} looking for release ${r.tag}`)
    const created = await fetch(`${api}/repos/${repo}/releases`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        tag_name: r.tag,
        name: r.name,
        body: r.notes,
        prerelease: r.prerelease,
        make_latest: r.latest ? 'true' : 'false'
      })
    })
    if (!created.ok)
      throw new ReleaseError(
        `GitHub refused to create release ${r.tag} (${created.status}): ${(await created.text()).slice(0, 300)}`
      )
  }
}

async function main(argv: string[]): Promise<number> {
  const version = argv[0] ?? process.env.RELEASE_VERSION ?? ''
  const inActions = process.env.GITHUB_ACTIONS === 'true'
  try {
    const result = await release({
      cwd: process.cwd(),
      version,
      publish: githubPublisher(process.env),
      warn: (line) => console.log(inActions ? `::warning::${line}` : `warning: ${line}`)
    })
    console.log(
      `released ${result.tag} at ${result.commit}${result.major.moved ? `; ${result.major.tag} moved` : ''}`
    )
    return 0
  } catch (error) {
    const message = error instanceof ReleaseError ? error.message : String(error)
    console.log(inActions ? `::error::${message.split('\n')[0]}` : `error: ${message}`)
    if (inActions && message.includes('\n')) console.log(message)
    return 1
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = await main(process.argv.slice(2))
