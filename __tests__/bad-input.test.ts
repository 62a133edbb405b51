// Bad input, end to end through dist/index.js: every input's wrong shapes, the
// manifest template and the build tree. Each fails the run with one line naming
// what was wrong, before anything reaches S3 or Consul, and names no secret.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { HostileFleet } from './helpers/hostile.ts'
import {
  SECRETS,
  allObjects,
  assertNoSecrets,
  consulWrites,
  deploy,
  startHostileFleet,
  withHostileFleet
} from './helpers/hostile.ts'
import { DIST } from '../fleet/run-action.ts'
import { NOBODY, nobodyCannotRun } from './helpers/nobody.ts'
import { exec, makeSampleBuild } from './helpers/trees.ts'

let work: string
let fleet: HostileFleet

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-bad-input-'))
  await chmod(work, 0o755) // the runner's user (RUNNER_USER) walks it too
  await makeSampleBuild(join(work, 'build'))
  const manifests: Record<string, string> = {
    'not-yaml.yml': 'dest: /srv\ncommands: [a, {b\n',
    'a-list.yml': '- dest: /srv/web\n',
    'pre-string.yml': 'commands:\n  pre: make install\n',
    'dest-mapping.yml': 'dest: {path: /srv/web}\n',
    'sync-copy.yml': 'sync_strategy: copy\n',
    'mode-decimal.yml': 'dest_mode: 755\n'
  }
  for (const [name, text] of Object.entries(manifests)) await writeFile(join(work, name), text)

  const tree = async (name: string) => {
    const root = join(work, name)
    await mkdir(root, { recursive: true })
    await writeFile(join(root, 'index.html'), 'ok\n')
    return root
  }
  execFileSync('mkfifo', [join(await tree('with-fifo'), 'pipe')])
  // a unix socket file that outlives its server (a killed process leaves it on disk);
  // Node, not python3, so a machine with only Node runs this test
  spawnSync(process.execPath, [
    '-e',
    "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
    join(await tree('with-socket'), 'app.sock')
  ])
  await chmod(join(await tree('unreadable'), 'index.html'), 0o000)
  await writeFile(
    Buffer.concat([
      Buffer.from(`${await tree('non-utf8')}/caf`),
      Buffer.from([0xe9]),
      Buffer.from('.txt')
    ]),
    'x'
  )
  // a path longer than PATH_MAX (4096): nested 250-byte names, made with relative mkdir
  execFileSync(
    process.execPath,
    [
      '-e',
      "const fs = require('fs'); for (let i = 0; i < 20; i++) { fs.mkdirSync('d'.repeat(250)); process.chdir('d'.repeat(250)) } fs.writeFileSync('deep.txt', 'x')"
    ],
    { cwd: await tree('too-long') }
  )
  fleet = await startHostileFleet(1)
})
after(async () => {
  await fleet?.stop()
  // the too-long tree cannot be removed by path: rm -rf walks it relatively
  await rm(work, { recursive: true, force: true }).catch(() => execFileSync('rm', ['-rf', work]))
})

type Case = [
  name: string,
  inputs: Record<string, string>,
  expected: RegExp,
  opts?: { todo?: string; skip?: string; asRunnerUser?: boolean }
]

/**
 * The serf cases need a dist/ built with the serf inputs (npm run package):
 * an older bundle ignores INPUT_BACKEND and the rest.
 */
const SERF: { skip?: string } = readFileSync(DIST, 'utf8').includes('serf-rpc-auth')
  ? {}
  : { skip: 'dist/ predates the serf inputs (npm run package)' }

/** A runner's user is not root: root reads a mode-000 file, so such cases run as nobody. */
const RUNNER_USER = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : undefined

const cases: Case[] = [
  // inputs
  ['s3-url missing', { 's3-url': '' }, /^s3-url is required \(s3:\/\/bucket\/prefix\)$/],
  [
    's3-url not s3://',
    { 's3-url': 'https://releases/web' },
    /^s3-url must look like s3:\/\/bucket\/prefix/
  ],
  [
    's3-url bucket upper case',
    { 's3-url': 's3://Releases/web' },
    /^s3-url has an invalid bucket name "Releases"/
  ],
  [
    's3-url prefix with a space',
    { 's3-url': 's3://releases/my web' },
    /^s3-url prefix must be path segments/
  ],
  [
    's3-endpoint without scheme',
    { 's3-endpoint': '127.0.0.1:9000' },
    /^s3-endpoint must be an http:\/\/ or https:\/\/ URL/
  ],
  [
    's3-endpoint with credentials',
    { 's3-endpoint': `http://AKIA:${SECRETS.github}@127.0.0.1:9000` },
    /^s3-endpoint must not carry credentials/
  ],
  [
    'aws-region malformed',
    { 'aws-region': 'eu_west' },
    /^aws-region must look like us-east-1 \(got "eu_west"\)$/
  ],
  ['app with a slash', { app: 'web/api' }, /^app must be letters, digits and \._-/],
  ['app too long', { app: 'a'.repeat(65) }, /^app must be letters, digits/],
  ['dest relative', { dest: 'srv/web' }, /^dest must be an absolute directory on the nodes/],
  ['dest root', { dest: '/' }, /^dest must not be "\/": rsync --delete would empty the root$/],
  ['dest with a template action', { dest: '/srv/{{ .Env.X }}' }, /^dest must not contain "\{\{"/],
  [
    'deploy-id-file escaping',
    { 'deploy-id-file': '../DEPLOY_ID' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  ['deploy-id with a space', { 'deploy-id': 'v1 final' }, /^deploy-id may hold only letters/],
  [
    'deploy-id too long',
    { 'deploy-id': 'x'.repeat(49) },
    /^deploy-id must be at most 48 characters/
  ],
  [
    'rollback-to with another deploy-id',
    { 'rollback-to': 'a1', 'deploy-id': 'b2' },
    /^rollback-to cannot be combined with a different deploy-id$/
  ],
  [
    'compression-level 10',
    { 'compression-level': '10' },
    /^compression-level must be a whole number from 1 to 9 \(got "10"\)$/
  ],
  [
    'consul-addr ftp',
    { 'consul-addr': 'ftp://127.0.0.1:8500' },
    /^consul-addr must use http or https/
  ],
  [
    'consul-addr with ?token=',
    { 'consul-addr': `http://127.0.0.1:8500/?token=${SECRETS.consul}` },
    /^consul-addr must be only scheme, host and port \(got "http:\/\/127\.0\.0\.1:8500\/\?…"\)$/
  ],
  [
    'consul-token of two lines',
    { 'consul-token': `${SECRETS.consul}\nmore` },
    /^consul-token must be a single line$/
  ],
  ['kv-prefix with ..', { 'kv-prefix': 'stretcher/../web' }, /^kv-prefix must be path segments/],
  ['event-name starting with _', { 'event-name': '_rexec' }, /^event-name must be letters, digits/],
  [
    'node-filter not a regexp',
    { 'node-filter': 'web-(' },
    /^node-filter is not a valid regular expression/
  ],
  [
    'service-filter with lookahead',
    { 'service-filter': '^(?!db)' },
    /^service-filter is not a valid regular expression for Consul \(Go's RE2\): error parsing regexp: invalid or unsupported Perl syntax: `\(\?!`/
  ],
  [
    'tag-filter without service-filter',
    { 'service-filter': '', 'tag-filter': 'blue' },
    /^tag-filter needs service-filter/
  ],
  ['wait yes', { wait: 'yes' }, /^wait must be true or false \(got "yes"\)$/],
  ['timeout without a unit', { timeout: '600' }, /^timeout must be a Go duration/],
  ['timeout of 48h', { timeout: '48h' }, /^timeout must be between 1s and 24h/],
  [
    'max-failures negative',
    { 'max-failures': '-1' },
    /^max-failures must be a whole number from 0 to 1000000/
  ],
  ['check-name of two lines', { 'check-name': 'a\nb' }, /^check-name must be one line/],
  // backend serf (contract 13): refused before anything is written, the RPC key never shown
  [
    'backend unknown',
    { backend: 'nomad' },
    /^backend must be consul or serf \(got "nomad"\)$/,
    SERF
  ],
  [
    'serf-tags with consul',
    { 'serf-tags': 'role=web' },
    /^serf-tags is only read with backend: serf \(backend is consul\)$/,
    SERF
  ],
  [
    'serf-rpc-auth with consul',
    { 'serf-rpc-auth': SECRETS.consul },
    /^serf-rpc-auth is only read with backend: serf/,
    SERF
  ],
  [
    'serf-rpc-auth of two lines',
    { backend: 'serf', 'service-filter': '', 'serf-rpc-auth': `${SECRETS.consul}\nmore` },
    /^serf-rpc-auth must be a single line$/,
    SERF
  ],
  [
    'datacenters with serf',
    { backend: 'serf', 'service-filter': '', datacenters: 'dc1' },
    /^datacenters is Consul-only and cannot be used with backend: serf/,
    SERF
  ],
  [
    'dashboard with serf',
    { backend: 'serf', 'service-filter': '', dashboard: 'dashboard' },
    /^dashboard is Consul-only and cannot be used with backend: serf/,
    SERF
  ],
  [
    'serf-rpc-addr a URL',
    { backend: 'serf', 'service-filter': '', 'serf-rpc-addr': 'http://127.0.0.1:7373' },
    /^serf-rpc-addr must be host:port of a Serf agent's RPC/,
    SERF
  ],
  [
    'serf-tags with a lookahead',
    { backend: 'serf', 'service-filter': '', 'serf-tags': 'role=(?!db)' },
    /^serf-tags has an invalid regular expression for "role" \(Go's RE2, as Serf compiles it\)/,
    SERF
  ],
  [
    'exclude with a negation',
    { exclude: 'node_modules\n!node_modules/keep' },
    /^exclude does not support negation \(got "!node_modules\/keep"\)$/
  ],
  // the manifest template
  [
    'manifest missing',
    { manifest: 'nope.yml' },
    /^manifest cannot be read: ".*nope\.yml" \(ENOENT\)$/
  ],
  ['manifest not YAML', { manifest: 'not-yaml.yml' }, /^manifest not-yaml\.yml:\d+:\d+: /],
  [
    'manifest not a mapping',
    { manifest: 'a-list.yml' },
    /^manifest a-list\.yml:1:1: must be a mapping/
  ],
  [
    'manifest commands.pre a string',
    { manifest: 'pre-string.yml' },
    /^manifest pre-string\.yml:2:8: commands\.pre must be a list of commands/
  ],
  [
    'manifest dest a mapping',
    { manifest: 'dest-mapping.yml', dest: '' },
    /^manifest dest-mapping\.yml:\S+ dest must be a string, not a mapping/
  ],
  [
    'manifest unknown sync_strategy',
    { manifest: 'sync-copy.yml' },
    /^manifest sync-copy\.yml:1:16: sync_strategy must be rsync or mv, not "copy"$/
  ],
  [
    'manifest dest_mode decimal',
    { manifest: 'mode-decimal.yml' },
    /^manifest mode-decimal\.yml:1:12: dest_mode .*755 is decimal/
  ],
  // the build tree
  ['path missing', { path: 'nope' }, /^path does not exist \(got ".*nope"\)$/],
  ['path a file', { path: 'not-yaml.yml' }, /^path must be a directory/],
  [
    'tree with a FIFO',
    { path: 'with-fifo' },
    /^path has a FIFO at "pipe": only files, directories and symlinks/
  ],
  ['tree with a socket', { path: 'with-socket' }, /^path has a socket at "app\.sock"/],
  [
    'tree with an unreadable file',
    { path: 'unreadable' },
    /^path has a file it may not read at "index\.html" \(permission denied\): fix its mode or exclude it$/,
    { asRunnerUser: true }
  ],
  [
    'tree with a name that is not UTF-8',
    { path: 'non-utf8' },
    /^path has a name that is not UTF-8 /,
    {}
  ],
  ['tree with a path longer than PATH_MAX', { path: 'too-long' }, /^path has a path too long/, {}]
]

describe(
  'bad input fails with one line and writes nothing (dist/index.js)',
  { concurrency: 3, timeout: 120_000 },
  () => {
    for (const [name, inputs, expected, opts] of cases) {
      const skip = opts?.asRunnerUser ? nobodyCannotRun() || opts.skip : opts?.skip
      test(name, { ...opts, skip }, async () => {
        const user = opts?.asRunnerUser ? RUNNER_USER : undefined
        const run = await deploy(fleet, work, inputs, { timeoutMs: 30_000, user })
        assert.equal(run.code, 1, run.stdout)
        assert.equal(run.errors.length, 1, run.stdout)
        const line = run.errors[0] as string
        assert.match(line, expected)
        assert.doesNotMatch(line, /%0A|\n/, 'one line')
        // Nothing reached S3 or Consul (no case ever writes, so this holds under concurrency).
        assert.equal((await allObjects(fleet)).size, 0, 'nothing in S3')
        assert.deepEqual(consulWrites(fleet), [], 'nothing written to Consul')
        await assertNoSecrets(run, fleet)
      })
    }
    test(`at least 25 cases`, () => assert.ok(cases.length >= 25))

    test('no GNU tar on PATH: the plan stage says so before the lock, an upload or a Consul write', async () => {
      const emptyBin = join(work, 'empty-bin')
      await mkdir(emptyBin, { recursive: true })
      const run = await deploy(fleet, work, {}, { timeoutMs: 30_000, env: { PATH: emptyBin } })
      assert.equal(run.code, 1, run.stdout)
      assert.deepEqual(run.errors, [
        'GNU tar is needed to pack the archive and was not found on PATH as gtar or tar (on macOS: brew install gnu-tar)'
      ])
      assert.doesNotMatch(run.stdout, /deploy lock/i)
      assert.equal((await allObjects(fleet)).size, 0, 'nothing in S3')
      assert.deepEqual(consulWrites(fleet), [], 'nothing written to Consul')
    })
  }
)

describe('awkward but valid trees are archived faithfully', { timeout: 120_000 }, () => {
  test('a symlink loop is stored as symlinks (never followed); 20 000 files all arrive', async () => {
    const root = join(work, 'awkward')
    await mkdir(join(root, 'many'), { recursive: true })
    await symlink('loop-b', join(root, 'loop-a'))
    await symlink('loop-a', join(root, 'loop-b'))
    await symlink('.', join(root, 'self'))
    const files = 20_000
    // sh is much faster than 20 000 awaited writes
    execFileSync('sh', ['-c', `cd "$1" && seq ${files} | xargs touch`, 'sh', join(root, 'many')])
    await withHostileFleet([{ name: 'node-1', deaf: true }], async (f) => {
      const run = await deploy(f, work, { path: 'awkward', wait: 'false' })
      assert.equal(run.code, 0, run.stdout)
      const key = (run.outputs['src-url'] as string).replace(`s3://${f.s3.bucket}/`, '')
      const archive = join(work, 'awkward.tgz')
      await writeFile(archive, (await allObjects(f)).get(key) as Buffer)
      const { stdout } = await exec('tar', ['tvzf', archive], { maxBuffer: 64 * 1024 * 1024 })
      const lines = stdout.trim().split('\n')
      assert.equal(lines.filter((l) => / many\/\d+$/.test(l)).length, files)
      assert.ok(
        lines.some((l) => /^l.* loop-a -> loop-b$/.test(l)),
        'loop-a stored as a symlink'
      )
      assert.ok(
        lines.some((l) => /^l.* self -> \.$/.test(l)),
        'self stored as a symlink'
      )
      await assertNoSecrets(run, f)
    })
  })
})
