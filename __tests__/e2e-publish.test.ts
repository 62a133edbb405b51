// dist/index.js run as the runner runs it, publishing to a real S3-protocol
// server on loopback: outputs, objects in S3, the manifest and the archive.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse } from 'yaml'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import type { LocalS3 } from '../fleet/s3.ts'
import { startLocalS3 } from '../fleet/s3.ts'
import { runAction } from '../fleet/run-action.ts'
import { describeTree, makeSampleBuild, untar } from './helpers/trees.ts'

let s3: LocalS3
let consul: ConsulEmulator
let work: string

before(async () => {
  s3 = await startLocalS3()
  consul = await startConsulEmulator({ nodes: [{ name: 'web-1', services: [{ name: 'web' }] }] })
  work = await mkdtemp(join(tmpdir(), 'stretcher-e2e-'))
  await makeSampleBuild(join(work, 'build'))
  await writeFile(
    join(work, 'stretcher.yml'),
    'dest_mode: 0755\ncommands:\n  pre:\n    - echo "pre {{ env \\"HOME\\" \\"/\\" }}"\n  post:\n    - systemctl reload web\nexcludes:\n  - "*.log"\n'
  )
})
after(async () => {
  await s3.stop()
  await consul.stop()
  await rm(work, { recursive: true, force: true })
})

const runnerEnv = () => ({
  ...s3.env,
  GITHUB_WORKSPACE: work,
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '1'
})

/** Every object key in the bucket, as s3rver stores them on disk (`<key>._S3rver_object`). */
async function bucketKeys(): Promise<string[]> {
  const dir = join(s3.directory, s3.bucket)
  const files = await readdir(dir, { recursive: true }).catch(() => [] as string[])
  return files
    .filter((f) => f.endsWith('._S3rver_object'))
    .map((f) => f.replace(/\._S3rver_object$/, ''))
    .sort()
}

async function download(url: string): Promise<Buffer> {
  const key = url.replace(`s3://${s3.bucket}/`, '')
  const res = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`)
  assert.equal(res.status, 200, url)
  return Buffer.from(await res.arrayBuffer())
}

describe('publish end to end (dist/index.js)', () => {
  test('packs, uploads archive and manifest, sets the outputs', async () => {
    const run = await runAction(
      {
        path: 'build',
        's3-url': `s3://${s3.bucket}/releases`,
        's3-endpoint': s3.endpoint,
        manifest: 'stretcher.yml',
        dest: '/srv/web',
        exclude: '*.map\nnode_modules/**',
        'consul-addr': consul.url,
        'service-filter': '^web$',
        wait: 'false'
      },
      runnerEnv()
    )
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.deepEqual(run.errors, [])
    const { outputs } = run
    assert.match(outputs['deploy-id'] ?? '', /^\d{8}-\d{6}-3f9c2ab-r4242\.1$/)
    const id = outputs['deploy-id'] as string
    assert.equal(outputs['src-url'], `s3://${s3.bucket}/releases/web/${id}.tgz`)
    assert.equal(outputs['manifest-url'], `s3://${s3.bucket}/releases/web/${id}.yml`)
    assert.ok((outputs['manifest-url'] as string).length < 100)
    assert.deepEqual(await bucketKeys(), [`releases/web/${id}.tgz`, `releases/web/${id}.yml`])

    // The archive: its sha256 is the checksum output, and tar xf gives back the tree.
    const archive = await download(outputs['src-url'] as string)
    assert.equal(createHash('sha256').update(archive).digest('hex'), outputs.checksum)
    const unpacked = join(work, 'unpacked')
    await writeFile(join(work, 'a.tgz'), archive)
    await untar(join(work, 'a.tgz'), unpacked)
    const expected = await describeTree(join(work, 'build'))
    for (const name of Object.keys(expected))
      if (name.endsWith('.map') || name.startsWith('node_modules/')) delete expected[name]
    const got = await describeTree(unpacked)
    assert.equal(await readFile(join(unpacked, 'DEPLOY_ID'), 'utf8'), `${id}\n`)
    delete got.DEPLOY_ID
    // node_modules itself is a directory the glob does not match; only its contents are excluded.
    delete expected['node_modules']
    delete got['node_modules']
    assert.deepEqual(got, expected)

    // The manifest, read as stretcher's YAML 1.1 reader reads it.
    const manifest = parse((await download(outputs['manifest-url'] as string)).toString('utf8'), {
      version: '1.1'
    }) as Record<string, unknown>
    assert.equal(manifest.src, outputs['src-url'])
    assert.equal(manifest.checksum, outputs.checksum)
    assert.equal(manifest.dest, '/srv/web')
    assert.equal(manifest.dest_mode, 0o755)
    assert.deepEqual(manifest.excludes, ['*.log'])
    const commands = manifest.commands as Record<string, string[]>
    assert.deepEqual(commands.pre, ['echo "pre {{ env \\"HOME\\" \\"/\\" }}"'])
    assert.deepEqual(commands.post, ['systemctl reload web'])

    // Announced without waiting: latest and deploy-id point at this release.
    assert.equal(consul.kv('stretcher/web/latest')?.value?.toString(), outputs['manifest-url'])
    assert.equal(consul.kv('stretcher/web/deploy-id')?.value?.toString(), id)
    assert.equal(outputs['nodes-total'], '1')
    assert.equal(outputs['nodes-pending'], '1')

    // Progress was logged in a group.
    assert.match(run.stdout, /::group::Pack and upload s3:\/\//)
    assert.match(run.stdout, /sha256 [0-9a-f]{64}/)
  })

  const bad: Array<[string, Record<string, string>, RegExp, () => Promise<void>]> = [
    [
      's3-url without scheme',
      { 's3-url': 'releases/web' },
      /^s3-url must look like s3:\/\/bucket\/prefix \(got "releases\/web"\)$/,
      async () => {}
    ],
    ['timeout without unit', { timeout: '600' }, /^timeout must be a Go duration/, async () => {}],
    ['missing path', { path: 'nope' }, /^path /, async () => {}],
    [
      'empty path',
      { path: 'empty' },
      /^path /,
      async () => void (await mkdir(join(work, 'empty'), { recursive: true }))
    ],
    [
      'manifest not YAML',
      { manifest: 'broken.yml' },
      /^manifest broken\.yml:\d+:\d+: /,
      async () => writeFile(join(work, 'broken.yml'), 'dest: /srv\ncommands: [a, {b\n')
    ],
    [
      'manifest missing',
      { manifest: 'missing.yml' },
      /^manifest cannot be read: ".*missing\.yml" \(ENOENT\)$/,
      async () => {}
    ],
    ['no dest anywhere', { dest: '' }, /^dest /, async () => {}]
  ]
  for (const [name, inputs, expected, setup] of bad) {
    test(`bad input fails with one line and uploads nothing: ${name}`, async () => {
      await setup()
      const before = await bucketKeys()
      const run = await runAction(
        {
          path: 'build',
          's3-url': `s3://${s3.bucket}/bad`,
          's3-endpoint': s3.endpoint,
          'consul-addr': consul.url,
          'kv-prefix': 'bad/web',
          dest: '/srv/web',
          ...inputs
        },
        runnerEnv()
      )
      assert.equal(run.code, 1)
      assert.equal(run.errors.length, 1, run.stdout)
      assert.match(run.errors[0] as string, expected)
      assert.deepEqual(await bucketKeys(), before)
      assert.equal(consul.kv('bad/web/latest'), undefined)
    })
  }
})
