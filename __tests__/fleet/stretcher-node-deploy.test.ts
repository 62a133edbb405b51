// Deploy details of a simulated node, run as `echo URL | stretcher` (node.run):
// rsync excludes, mv, checksum algorithms, commands-only manifests, the node's
// environment and templates rendered with it (research/stretcher.md §1, §2, §5).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalFleet } from '../../fleet/index.ts'
import type { LocalFleet, SimulatedNode } from '../../fleet/index.ts'
import { fireEvent, manifestYaml, putObject, uploadTree } from '../../fleet/manual-release.ts'
import type { ManifestFields } from '../../fleet/manual-release.ts'

let fleet: LocalFleet
let node: SimulatedNode
let scratch: string
let archive: { url: string; sha256: string; bytes: Buffer }
let seq = 0

before(async () => {
  fleet = await startLocalFleet({
    nodes: [{ name: 'node-1', env: { APP_ENV: 'staging' } }],
    serverRunsStretcher: false
  })
  node = fleet.nodes.get('node-1')!
  scratch = await mkdtemp(join(tmpdir(), 'stretcher-node-test-'))
  const build = join(scratch, 'build')
  await mkdir(join(build, 'cache'), { recursive: true })
  await writeFile(join(build, 'index.html'), 'v2\n')
  await writeFile(join(build, 'cache/new'), 'new\n')
  await writeFile(join(build, '.rsyncignore'), 'uploads/\n')
  archive = await uploadTree(fleet, build, 'app/release.tar.gz')
})
after(async () => {
  await fleet.stop()
  await rm(scratch, { recursive: true, force: true })
})

async function deploy(fields: ManifestFields) {
  seq += 1
  const url = await putObject(fleet, `app/m-${seq}.yml`, manifestYaml(fields))
  return node.run(url)
}

const release = (dest: string): ManifestFields => ({
  src: archive.url,
  checksum: archive.sha256,
  dest
})

describe('sync', () => {
  test('rsync --delete, with excludes and exclude_from protecting files on the node', async () => {
    const dest = node.path('/srv/rsync')
    await mkdir(join(dest, 'uploads'), { recursive: true })
    await mkdir(join(dest, 'cache'), { recursive: true })
    await writeFile(join(dest, 'uploads/photo.jpg'), 'keep')
    await writeFile(join(dest, 'stale.html'), 'gone')
    await writeFile(join(dest, 'local.conf'), 'keep')
    await writeFile(join(dest, 'cache/old'), 'gone')
    const run = await deploy({
      ...release('/srv/rsync'),
      excludes: ['local.conf'],
      excludeFrom: '.rsyncignore'
    })
    assert.equal(run.status, 'success', run.log)
    assert.equal(await readFile(join(dest, 'index.html'), 'utf8'), 'v2\n')
    assert.equal(await readFile(join(dest, 'uploads/photo.jpg'), 'utf8'), 'keep')
    assert.equal(await readFile(join(dest, 'local.conf'), 'utf8'), 'keep')
    await assert.rejects(stat(join(dest, 'stale.html')))
    await assert.rejects(stat(join(dest, 'cache/old')))
  })

  test('mv renames into a new dest and fails when dest exists', async () => {
    const first = await deploy({ ...release('/srv/mv'), syncStrategy: 'mv', destMode: 0o711 })
    assert.equal(first.status, 'success', first.log)
    assert.equal(await readFile(node.path('/srv/mv/index.html'), 'utf8'), 'v2\n')
    assert.equal((await stat(node.path('/srv/mv'))).mode & 0o7777, 0o711)
    const second = await deploy({ ...release('/srv/mv'), syncStrategy: 'mv' })
    assert.equal(second.status, 'failure')
    assert.match(second.error!, /file exists/)
  })
})

describe('checksum', () => {
  test('md5, sha1 and sha512 by length, upper case accepted; a bad length fails', async () => {
    for (const algorithm of ['md5', 'sha1', 'sha512']) {
      const checksum = createHash(algorithm).update(archive.bytes).digest('hex').toUpperCase()
      const run = await deploy({ ...release(`/srv/${algorithm}`), checksum })
      assert.equal(run.status, 'success', `${algorithm}: ${run.log}`)
    }
    const run = await deploy({ ...release('/srv/short'), checksum: 'abc123' })
    assert.equal(run.status, 'failure')
    await assert.rejects(stat(node.path('/srv/short')))
  })

  test('a missing src object fails the deploy (failure commands run)', async () => {
    const run = await deploy({
      ...release('/srv/nosrc'),
      src: `s3://${fleet.s3.bucket}/app/missing.tar.gz`,
      commands: { failure: ['cat > "$HOME/failure-stdin"'] }
    })
    assert.equal(run.status, 'failure')
    const stdin = await readFile(node.path('/failure-stdin'), 'utf8')
    assert.match(stdin, /Deploy manifest failed: Get src failed/)
    assert.equal(stdin, run.log.slice(0, stdin.length))
  })
})

describe('commands and environment', () => {
  test('commands-only manifest; cwd is the node root; env has the agent and the template sees it', async () => {
    seq += 1
    const manifest = [
      'commands:',
      '  pre:',
      '    - "pwd > pre-cwd"',
      '  post:',
      '    - \'echo "$CONSUL_HTTP_ADDR" > addr\'',
      '    - \'echo "$APP_ENV" > app-env\'',
      '    - \'echo {{ env "APP_ENV" "dev" }} > rendered\'',
      '    - \'echo {{ env "UNSET_HERE" "dev" }} > default\'',
      ''
    ].join('\n')
    const url = await putObject(fleet, `app/m-${seq}.yml`, manifest)
    const run = await node.run(url)
    assert.equal(run.status, 'success', run.log)
    assert.equal((await readFile(node.path('/pre-cwd'), 'utf8')).trim(), node.root)
    assert.equal(
      (await readFile(node.path('/addr'), 'utf8')).trim(),
      fleet.consul.agentUrl('node-1')
    )
    assert.equal((await readFile(node.path('/app-env'), 'utf8')).trim(), 'staging')
    assert.equal((await readFile(node.path('/rendered'), 'utf8')).trim(), 'staging')
    assert.equal((await readFile(node.path('/default'), 'utf8')).trim(), 'dev')
  })

  test('without src only pre and post run: sync_strategy and dest play no part (manifest.go Deploy)', async () => {
    const run = await deploy({
      syncStrategy: 'scp',
      commands: { pre: ['echo pre > only-pre'], post: ['echo post > only-post'] }
    })
    assert.equal(run.status, 'success', run.log)
    assert.equal((await readFile(node.path('/only-pre'), 'utf8')).trim(), 'pre')
    assert.equal((await readFile(node.path('/only-post'), 'utf8')).trim(), 'post')
  })

  test('a dest the template expanded under the node root (HOME) is the path its commands see', async () => {
    seq += 1
    const manifest = [
      `src: ${JSON.stringify(archive.url)}`,
      `checksum: ${JSON.stringify(archive.sha256)}`,
      'dest: \'{{ env "HOME" "" }}/srv/home-dest\'',
      'commands:',
      '  post:',
      '    - \'cat "$HOME/srv/home-dest/index.html" > seen\'',
      ''
    ].join('\n')
    const run = await node.run(await putObject(fleet, `app/m-${seq}.yml`, manifest))
    assert.equal(run.status, 'success', run.log)
    assert.equal(await readFile(node.path('/seen'), 'utf8'), 'v2\n')
  })

  test('an event run sees CONSUL_INDEX; a post failure fails the deploy', async () => {
    seq += 1
    const url = await putObject(
      fleet,
      `app/m-${seq}.yml`,
      manifestYaml({ commands: { post: ['echo "$CONSUL_INDEX" > index', 'false'] } })
    )
    const count = node.runs
    await fireEvent(fleet, url)
    const run = await node.waitForRuns(count + 1)
    assert.equal(run.trigger, 'event')
    assert.equal(run.status, 'failure')
    assert.equal((await readFile(node.path('/index'), 'utf8')).trim(), run.index)
    assert.match(run.index!, /^\d+$/)
  })
})
