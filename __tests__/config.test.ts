import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import * as yaml from 'js-yaml'
import type { InputName } from '../src/config/config.ts'
import {
  INPUT_DEFAULTS,
  INPUT_NAMES,
  readConfig,
  readOperateConfig,
  releaseKey,
  s3Url
} from '../src/config/config.ts'
import { InputError } from '../src/shared/errors.ts'

const env = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '12345678901',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKSPACE: '/work/space',
  GITHUB_SERVER_URL: 'https://github.com',
  AWS_REGION: 'eu-west-1'
}

function config(inputs: Partial<Record<InputName, string>>, extraEnv: Record<string, string> = {}) {
  return readConfig(
    (name) => inputs[name] ?? '',
    { ...env, ...extraEnv },
    new Date('2026-11-22T02:14:41Z')
  )
}

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean; description: string }>
  outputs: Record<string, { description: string }>
  runs: { using: string; main: string; post?: string }
}
const action = yaml.load(
  readFileSync(new URL('../action.yml', import.meta.url), 'utf8')
) as ActionYml

describe('action.yml and the code agree', () => {
  test('the inputs the code reads are exactly the inputs action.yml declares', () => {
    assert.deepEqual(Object.keys(action.inputs).sort(), [...INPUT_NAMES].sort())
  })
  test("action.yml's defaults are the ones the code applies when an input is empty (CLI)", () => {
    for (const [name, spec] of Object.entries(action.inputs)) {
      if (spec.default === undefined || spec.default.includes('${{')) continue
      assert.equal(INPUT_DEFAULTS[name as InputName], spec.default, name)
    }
  })
  test('every input and output has a one-line description; runs on node24 from dist', () => {
    for (const [name, spec] of [
      ...Object.entries(action.inputs),
      ...Object.entries(action.outputs)
    ]) {
      assert.ok(spec.description.length > 10 && !spec.description.includes('\n'), name)
    }
    assert.deepEqual(action.runs, { using: 'node24', main: 'dist/index.js', post: 'dist/post.js' })
  })
})

describe('readConfig', () => {
  test('fills defaults from the repository and the environment', () => {
    const c = config({ 's3-url': 's3://acme-releases/web/' })
    assert.equal(c.app, 'web')
    assert.equal(c.path, '/work/space')
    assert.deepEqual(c.s3, {
      bucket: 'acme-releases',
      prefix: 'web',
      region: 'eu-west-1',
      endpoint: undefined
    })
    assert.equal(c.kvPrefix, 'stretcher/web')
    assert.equal(c.eventName, 'deploy')
    assert.equal(c.timeoutMs, 600_000)
    assert.equal(c.wait, true)
    assert.equal(c.maxFailures, 0)
    assert.equal(c.deployIdFile, 'DEPLOY_ID')
    assert.equal(c.consul.addr, 'http://127.0.0.1:8500')
    assert.equal(c.github.checkName, 'stretcher / web')
    assert.equal(c.deployId, '20261122-021441-3f9c2ab-r12345678901.1')
    assert.equal(c.run.runUrl, 'https://github.com/acme/web/actions/runs/12345678901/attempts/1')
  })

  test('deploy-id-file is normalised to the archive path it will have', () => {
    const of = (v: string) => config({ 's3-url': 's3://bucket', 'deploy-id-file': v }).deployIdFile
    assert.equal(of('./meta/DEPLOY_ID'), 'meta/DEPLOY_ID')
    assert.equal(of('.\\meta\\DEPLOY_ID'), 'meta/DEPLOY_ID')
    assert.equal(of('meta/./rel/ID'), 'meta/rel/ID')
  })

  test('CONSUL_HTTP_ADDR / CONSUL_HTTP_TOKEN / AWS_DEFAULT_REGION are honoured, inputs win', () => {
    const fromEnv = config(
      { 's3-url': 's3://b-1/p' },
      {
        AWS_REGION: '',
        AWS_DEFAULT_REGION: 'us-west-2',
        CONSUL_HTTP_ADDR: 'consul.internal:8500',
        CONSUL_HTTP_TOKEN: 'tok'
      }
    )
    assert.equal(fromEnv.s3.region, 'us-west-2')
    assert.equal(fromEnv.consul.addr, 'http://consul.internal:8500')
    assert.equal(fromEnv.consul.token, 'tok')
    const fromInputs = config(
      { 's3-url': 's3://b-1/p', 'consul-addr': 'https://c:8501', 'consul-token': 'in' },
      { CONSUL_HTTP_ADDR: 'x:1', CONSUL_HTTP_TOKEN: 'env' }
    )
    assert.equal(fromInputs.consul.addr, 'https://c:8501')
    assert.equal(fromInputs.consul.token, 'in')
  })

  test('an S3 endpoint needs no region and keeps the release keys short', () => {
    const c = config(
      { 's3-url': 's3://releases', 's3-endpoint': 'http://127.0.0.1:4568/' },
      { AWS_REGION: '' }
    )
    assert.equal(c.s3.region, 'us-east-1')
    assert.equal(c.s3.endpoint, 'http://127.0.0.1:4568')
    assert.equal(c.s3.prefix, '')
    const key = releaseKey(c, c.deployId, 'yml')
    assert.equal(key, `web/${c.deployId}.yml`)
    const typical = config({
      's3-url': 's3://acme-production-releases/releases',
      app: 'storefront-web'
    })
    const url = s3Url(typical.s3.bucket, releaseKey(typical, typical.deployId, 'yml'))
    assert.ok(url.length < 100, `${url} is ${url.length} bytes`)
  })

  test('exclude is newline separated, trimmed, blank lines and # comments dropped', () => {
    assert.deepEqual(
      config({ 's3-url': 's3://b-1', exclude: ' *.map \n\n# tests\nnode_modules/**\r\n' }).exclude,
      ['*.map', 'node_modules/**']
    )
  })

  test('rollback-to becomes the deploy ID', () => {
    const c = config({ 's3-url': 's3://b-1', 'rollback-to': '20261101-000000-abcdef0-r1.1' })
    assert.equal(c.deployId, '20261101-000000-abcdef0-r1.1')
    assert.equal(c.rollbackTo, c.deployId)
  })

  test('dry-run is off unless set; a boolean like wait', () => {
    assert.equal(config({ 's3-url': 's3://b-1' }).dryRun, false)
    assert.equal(config({ 's3-url': 's3://b-1', 'dry-run': 'true' }).dryRun, true)
    assert.equal(config({ 's3-url': 's3://b-1', 'dry-run': 'False' }).dryRun, false)
  })

  test('dashboard is off unless set; one KV path segment, kept as given', () => {
    assert.equal(config({ 's3-url': 's3://b-1' }).dashboard, undefined)
    assert.equal(config({ 's3-url': 's3://b-1', dashboard: ' dashboard ' }).dashboard, 'dashboard')
    assert.equal(
      config({ 's3-url': 's3://b-1', dashboard: 'ops_dash-2.x' }).dashboard,
      'ops_dash-2.x'
    )
  })

  test('Go durations for timeout', () => {
    assert.equal(config({ 's3-url': 's3://b-1', timeout: '1h30m' }).timeoutMs, 5_400_000)
    assert.equal(config({ 's3-url': 's3://b-1', timeout: '90s' }).timeoutMs, 90_000)
  })
})

// Each bad input fails with one line that names the input.
const badInputs: Array<
  [string, Partial<Record<InputName, string>>, RegExp, Record<string, string>?]
> = [
  ['s3-url missing', {}, /^s3-url is required/],
  [
    's3-url without scheme',
    { 's3-url': 'releases/web' },
    /^s3-url must look like s3:\/\/bucket\/prefix \(got "releases\/web"\)$/
  ],
  ['s3-url https', { 's3-url': 'https://bucket/x' }, /^s3-url must look like/],
  [
    's3-url bad bucket',
    { 's3-url': 's3://Bad_Bucket/x' },
    /^s3-url has an invalid bucket name "Bad_Bucket"/
  ],
  ['s3-url prefix with space', { 's3-url': 's3://bucket/my prefix' }, /^s3-url prefix must be/],
  ['s3-url prefix with ..', { 's3-url': 's3://bucket/a/../b' }, /^s3-url prefix must be/],
  ['s3-url prefix with {{', { 's3-url': 's3://bucket/{{x}}' }, /^s3-url prefix must be/],
  [
    'aws-region missing',
    { 's3-url': 's3://bucket' },
    /^aws-region is required/,
    { AWS_REGION: '' }
  ],
  [
    'aws-region malformed',
    { 's3-url': 's3://bucket', 'aws-region': 'Europe' },
    /^aws-region must look like us-east-1 \(got "Europe"\)/
  ],
  [
    's3-endpoint not a URL',
    { 's3-url': 's3://bucket', 's3-endpoint': 'localhost:9000' },
    /^s3-endpoint must be an http:\/\/ or https:\/\/ URL/
  ],
  ['app with slash', { 's3-url': 's3://bucket', app: 'a/b' }, /^app must be letters, digits/],
  [
    'app missing outside GitHub',
    { 's3-url': 's3://bucket' },
    /^app is required outside GitHub Actions/,
    { GITHUB_REPOSITORY: '' }
  ],
  [
    'dest relative',
    { 's3-url': 's3://bucket', dest: 'srv/app' },
    /^dest must be an absolute directory on the nodes \(got "srv\/app"\)/
  ],
  ['dest root', { 's3-url': 's3://bucket', dest: '/' }, /^dest must not be "\/"/],
  [
    'dest template',
    { 's3-url': 's3://bucket', dest: '/srv/{{ env "X" }}' },
    /^dest must not contain "\{\{"/
  ],
  [
    'deploy-id-file absolute',
    { 's3-url': 's3://bucket', 'deploy-id-file': '/etc/passwd' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id-file escaping',
    { 's3-url': 's3://bucket', 'deploy-id-file': '../DEPLOY_ID' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id-file the archive root',
    { 's3-url': 's3://bucket', 'deploy-id-file': './' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id-file "."',
    { 's3-url': 's3://bucket', 'deploy-id-file': '.' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id-file naming a directory',
    { 's3-url': 's3://bucket', 'deploy-id-file': 'meta/' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id-file escaping through backslashes',
    { 's3-url': 's3://bucket', 'deploy-id-file': 'meta\\..\\..\\x' },
    /^deploy-id-file must be a relative file path inside the archive/
  ],
  [
    'deploy-id bad chars',
    { 's3-url': 's3://bucket', 'deploy-id': 'v1 final' },
    /^deploy-id may hold only letters/
  ],
  [
    'deploy-id too long',
    { 's3-url': 's3://bucket', 'deploy-id': 'x'.repeat(60) },
    /^deploy-id must be at most 48 characters \(got 60\)/
  ],
  [
    'rollback-to bad',
    { 's3-url': 's3://bucket', 'rollback-to': '../x' },
    /^rollback-to may hold only letters/
  ],
  [
    'rollback-to with other deploy-id',
    { 's3-url': 's3://bucket', 'rollback-to': 'a1', 'deploy-id': 'b2' },
    /^rollback-to cannot be combined/
  ],
  [
    'compression-level 0',
    { 's3-url': 's3://bucket', 'compression-level': '0' },
    /^compression-level must be a whole number from 1 to 9 \(got "0"\)/
  ],
  [
    'consul-addr scheme',
    { 's3-url': 's3://bucket', 'consul-addr': 'ftp://c:8500' },
    /^consul-addr must use http or https/
  ],
  [
    'consul-addr path',
    { 's3-url': 's3://bucket', 'consul-addr': 'http://c:8500/v1' },
    /^consul-addr must be only scheme, host and port/
  ],
  [
    'consul-addr credentials',
    { 's3-url': 's3://bucket', 'consul-addr': 'http://u:p@c:8500' },
    /^consul-addr must not carry credentials/
  ],
  [
    'kv-prefix bad',
    { 's3-url': 's3://bucket', 'kv-prefix': 'a//b' },
    /^kv-prefix must be path segments/
  ],
  [
    'event-name reserved _',
    { 's3-url': 's3://bucket', 'event-name': '_rexec' },
    /^event-name must be letters/
  ],
  [
    'node-filter bad regex',
    { 's3-url': 's3://bucket', 'node-filter': 'web-(' },
    /^node-filter is not a valid regular expression for Consul \(Go's RE2\): error parsing regexp: missing closing \): `web-\(`$/
  ],
  [
    'service-filter lookahead',
    { 's3-url': 's3://bucket', 'service-filter': '(?!db)' },
    // Go's own message (regexp.Compile), as Consul would answer the fire
    /^service-filter is not a valid regular expression for Consul \(Go's RE2\): error parsing regexp: invalid or unsupported Perl syntax: `\(\?!` \(RE2 has no lookaround or backreferences\)$/
  ],
  [
    'node-filter lookbehind',
    { 's3-url': 's3://bucket', 'node-filter': '(?<=web)-1' },
    /^node-filter is not a valid regular expression for Consul \(Go's RE2\): error parsing regexp: invalid named capture: `\(\?<=web\)-1` \(RE2 has no lookaround/
  ],
  [
    'tag-filter backreference',
    { 's3-url': 's3://bucket', 'service-filter': 'web', 'tag-filter': '(v)\\1' },
    /^tag-filter is not a valid regular expression for Consul \(Go's RE2\): error parsing regexp: invalid escape sequence: `\\1` \(RE2 has no lookaround/
  ],
  [
    'tag-filter without service',
    { 's3-url': 's3://bucket', 'tag-filter': 'blue' },
    /^tag-filter needs service-filter/
  ],
  [
    'wait not boolean',
    { 's3-url': 's3://bucket', wait: 'yes' },
    /^wait must be true or false \(got "yes"\)/
  ],
  [
    'dry-run not boolean',
    { 's3-url': 's3://bucket', 'dry-run': 'maybe' },
    /^dry-run must be true or false \(got "maybe"\)/
  ],
  [
    'timeout without unit',
    { 's3-url': 's3://bucket', timeout: '600' },
    /^timeout must be a Go duration such as 90s, 10m or 1h30m \(got "600"\)/
  ],
  [
    'timeout too short',
    { 's3-url': 's3://bucket', timeout: '10ms' },
    /^timeout must be between 1s and 24h/
  ],
  [
    'max-failures negative',
    { 's3-url': 's3://bucket', 'max-failures': '-1' },
    /^max-failures must be a whole number/
  ],
  [
    'dashboard with a slash',
    { 's3-url': 's3://bucket', dashboard: 'dash/board' },
    /^dashboard must be one KV path segment \(the consul-kv-dashboard namespace, e\.g\. dashboard\) of letters, digits and \._- \(got "dash\/board"\)$/
  ],
  [
    'dashboard with a space or a query',
    { 's3-url': 's3://bucket', dashboard: 'dash?flags=1' },
    /^dashboard must be one KV path segment/
  ],
  [
    'dashboard over kv-prefix',
    { 's3-url': 's3://bucket', dashboard: 'stretcher', app: 'deploy' },
    /^dashboard must be a namespace apart from kv-prefix "stretcher\/deploy": the dashboard would show every key under it \(got "stretcher"\)$/
  ],
  [
    'dashboard equal to kv-prefix',
    { 's3-url': 's3://bucket', dashboard: 'web', 'kv-prefix': 'web' },
    /^dashboard must be a namespace apart from kv-prefix "web"/
  ],
  [
    'dashboard ..',
    { 's3-url': 's3://bucket', dashboard: '..' },
    /^dashboard must be one KV path segment/
  ],
  [
    'layout unknown',
    { 's3-url': 's3://bucket', layout: 'blue-green' },
    /^layout must be in-place or releases \(got "blue-green"\)/
  ],
  [
    'keep-releases below 2',
    { 's3-url': 's3://bucket', layout: 'releases', 'keep-releases': '1' },
    /^keep-releases must be a whole number from 2 to 1000 \(got "1"\)/
  ],
  [
    'layout releases without wait',
    { 's3-url': 's3://bucket', layout: 'releases', wait: 'false' },
    /^layout needs wait: true/
  ],
  [
    'check-name multi-line',
    { 's3-url': 's3://bucket', 'check-name': 'a\nb' },
    /^check-name must be one line/
  ]
]

test('layout: in-place and 5 releases by default; releases and keep-releases as given', () => {
  const plain = config({ 's3-url': 's3://bucket' })
  assert.equal(plain.layout, 'in-place')
  assert.equal(plain.keepReleases, 5)
  const releases = config({ 's3-url': 's3://bucket', layout: 'releases', 'keep-releases': '2' })
  assert.equal(releases.layout, 'releases')
  assert.equal(releases.keepReleases, 2)
})

describe('bad input: one line naming the input', () => {
  for (const [name, inputs, expected, extraEnv] of badInputs) {
    test(name, () => {
      assert.throws(
        () => config(inputs, extraEnv),
        (error: unknown) => {
          assert.ok(error instanceof InputError, `not an InputError: ${String(error)}`)
          assert.match(error.message, expected)
          assert.ok(!error.message.includes('\n'), 'one line')
          assert.ok(error.message.startsWith(error.input), 'names the input first')
          return true
        }
      )
    })
  }

  test('a bad consul-token never appears in the error', () => {
    assert.throws(
      () => config({ 's3-url': 's3://bucket', 'consul-token': 's3cr3t-token\nsecond' }),
      (error: Error) =>
        !error.message.includes('s3cr3t') &&
        /^consul-token must be a single line$/.test(error.message)
    )
  })
})

describe('a secret placed in an address never appears in the error', () => {
  const cases: Array<[string, Partial<Record<InputName, string>>, RegExp]> = [
    [
      'consul-addr with ?token=',
      { 'consul-addr': 'http://127.0.0.1:8500/?token=s3cr3t-token' },
      /^consul-addr must be only scheme, host and port \(got "http:\/\/127\.0\.0\.1:8500\/\?…"\)$/
    ],
    [
      'consul-addr with credentials and another scheme',
      { 'consul-addr': 'ftp://admin:s3cr3t-token@c:8500' },
      /^consul-addr must not carry credentials; use consul-token$/
    ],
    [
      's3-endpoint with credentials',
      { 's3-endpoint': 'http://AKIAEXAMPLE:s3cr3t-token@127.0.0.1:9000' },
      /^s3-endpoint must not carry credentials/
    ],
    [
      's3-endpoint with a signed query',
      { 's3-endpoint': 'https://minio.example/?X-Amz-Signature=s3cr3t-token' },
      /^s3-endpoint must be only scheme, host, port and path \(got "https:\/\/minio\.example\/\?…"\)$/
    ]
  ]
  for (const [name, inputs, expected] of cases) {
    test(name, () => {
      assert.throws(
        () => config({ 's3-url': 's3://bucket', ...inputs }),
        (error: Error) => {
          assert.ok(error instanceof InputError)
          assert.match(error.message, expected)
          assert.ok(!error.message.includes('s3cr3t'), error.message)
          return true
        }
      )
    })
  }
})

describe('event filters are RE2, as Consul compiles them', () => {
  test('RE2 syntax JavaScript refuses is accepted: (?i), POSIX classes, \\pL, \\z', () => {
    for (const filter of ['(?i)^web', '^[[:alpha:]]+-[[:digit:]]+$', '^\\pL+$', '-1\\z']) {
      const c = config({ 's3-url': 's3://bucket', 'node-filter': filter })
      assert.equal(c.filters.node, filter, 'passed to Consul verbatim')
    }
  })
})

describe('operator commands (status, history): connection and filters only', () => {
  const operate = (inputs: Record<string, string>, extraEnv: Record<string, string> = {}) =>
    readOperateConfig((name) => inputs[name] ?? '', extraEnv)

  test('app, kv-prefix, Consul and filters, with the deploy defaults; no s3-url needed', () => {
    assert.deepEqual(
      operate(
        { app: 'web', 'service-filter': '^web$' },
        { CONSUL_HTTP_ADDR: 'consul.internal:8500', CONSUL_HTTP_TOKEN: 't0k' }
      ),
      {
        app: 'web',
        kvPrefix: 'stretcher/web',
        consul: { addr: 'http://consul.internal:8500', token: 't0k' },
        filters: { node: undefined, service: '^web$', tag: undefined },
        backend: { kind: 'consul' }
      }
    )
    assert.equal(operate({}, { GITHUB_REPOSITORY: 'acme/api' }).kvPrefix, 'stretcher/api')
    assert.equal(operate({ app: 'web', 'kv-prefix': '/apps/web/' }).kvPrefix, 'apps/web')
  })

  test('bad input: the same one-line errors as a deploy', () => {
    for (const [inputs, expected] of [
      [{}, /^app is required outside GitHub Actions/],
      [{ app: 'w b' }, /^app must be letters/],
      [{ app: 'web', 'consul-addr': 'ftp://x' }, /^consul-addr must use http or https/],
      [{ app: 'web', 'kv-prefix': 'a//b' }, /^kv-prefix must be path segments/],
      [{ app: 'web', 'tag-filter': 'blue' }, /^tag-filter needs service-filter/],
      [{ app: 'web', 'node-filter': 'web-(' }, /^node-filter is not a valid regular expression/]
    ] as const)
      assert.throws(
        () => operate(inputs),
        (error: unknown) => error instanceof InputError && expected.test(error.message)
      )
  })
})

describe('datacenters (contract 10)', () => {
  const base = { 's3-url': 's3://acme-releases/web' }
  const dcs = (raw: string) => config({ ...base, datacenters: raw }).datacenters

  test('unset: the agent own datacenter; all; names in the order given', () => {
    assert.deepEqual(config(base).datacenters, { kind: 'agent' })
    assert.deepEqual(dcs('all'), { kind: 'all' })
    assert.deepEqual(dcs('us-east, eu-west'), { kind: 'named', names: ['us-east', 'eu-west'] })
    assert.deepEqual(dcs('dc2,dc1'), { kind: 'named', names: ['dc2', 'dc1'] })
    assert.deepEqual(dcs('dc_3\n dc-4 ,'), { kind: 'named', names: ['dc_3', 'dc-4'] })
    assert.deepEqual(dcs('dc1'), { kind: 'named', names: ['dc1'] })
  })

  for (const [raw, expected] of [
    [
      'DC1',
      /^datacenters names "DC1": Consul datacenter names are lower case \(did you mean "dc1"\?\)$/
    ],
    [
      'dc1, eu west',
      /^datacenters names "eu west": a Consul datacenter name is lower-case letters, digits, - and _$/
    ],
    ['dc.1', /names "dc\.1": a Consul datacenter name/],
    ['dc1, dc2, dc1', /^datacenters names "dc1" twice$/],
    ['all, dc2', /^datacenters is either all or a list of datacenter names, not both/],
    ['All', /did you mean "all"/]
  ] as const)
    test(`bad: ${JSON.stringify(raw)}`, () => {
      assert.throws(
        () => dcs(raw),
        (error: unknown) => {
          assert.ok(error instanceof InputError)
          assert.equal(error.input, 'datacenters')
          assert.match(error.message, expected)
          assert.ok(!error.message.includes('\n'))
          return true
        }
      )
    })
})

describe('backend serf (contract 13)', () => {
  const base = { 's3-url': 's3://acme-releases/web' }
  const serf = (
    inputs: Partial<Record<InputName, string>>,
    extraEnv: Record<string, string> = {}
  ) => config({ ...base, backend: 'serf', ...inputs }, extraEnv).backend

  test('consul by default; serf takes SERF_RPC_ADDR / SERF_RPC_AUTH, then 127.0.0.1:7373', () => {
    assert.deepEqual(config(base).backend, { kind: 'consul' })
    assert.deepEqual(config({ ...base, backend: 'consul' }).backend, { kind: 'consul' })
    assert.deepEqual(serf({}), { kind: 'serf', rpcAddr: '127.0.0.1:7373', tags: {} })
    assert.deepEqual(serf({}, { SERF_RPC_ADDR: '10.0.0.5:7374', SERF_RPC_AUTH: 'k3y' }), {
      kind: 'serf',
      rpcAddr: '10.0.0.5:7374',
      rpcAuth: 'k3y',
      tags: {}
    })
    // inputs win over the environment; a bare host gets the serf CLI's port
    assert.deepEqual(
      serf(
        { 'serf-rpc-addr': 'serf.internal', 'serf-rpc-auth': 'input-key' },
        { SERF_RPC_ADDR: '10.0.0.5:7374', SERF_RPC_AUTH: 'env-key' }
      ),
      { kind: 'serf', rpcAddr: 'serf.internal:7373', rpcAuth: 'input-key', tags: {} }
    )
    assert.deepEqual(serf({ 'serf-rpc-addr': '[::1]:7400' }), {
      kind: 'serf',
      rpcAddr: '[::1]:7400',
      tags: {}
    })
  })

  test('serf-join: member addresses, a bare host with the gossip port 7946; no RPC address or key is read', () => {
    assert.deepEqual(
      serf(
        { 'serf-join': '10.0.0.1, 10.0.0.2:7947\nnode-3.internal:8000,[fd00::1]' },
        // the environment's agent is not used with serf-join
        { SERF_RPC_ADDR: '10.0.0.5:7374', SERF_RPC_AUTH: 'env-key' }
      ),
      {
        kind: 'serf',
        join: ['10.0.0.1:7946', '10.0.0.2:7947', 'node-3.internal:8000', '[fd00::1]:7946'],
        tags: {}
      }
    )
    const withTags = serf({ 'serf-join': '10.0.0.1', 'serf-tags': 'role=web' })
    assert.deepEqual(withTags.kind === 'serf' && withTags.tags, { role: 'web' })
  })

  test('serf-join with serf-rpc-auth is refused, naming serf-rpc-auth and never quoting the key', () => {
    assert.throws(
      () => serf({ 'serf-join': '10.0.0.1', 'serf-rpc-auth': 's3cret-key' }),
      (e: Error) => {
        assert.match(e.message, /^serf-rpc-auth cannot be combined with serf-join/)
        assert.doesNotMatch(e.message, /s3cret-key/)
        return true
      }
    )
  })

  test('layout: releases works with backend serf (the result tag carries the phase)', () => {
    const c = config({ ...base, backend: 'serf', layout: 'releases', 'keep-releases': '3' })
    assert.equal(c.backend.kind, 'serf')
    assert.equal(c.layout, 'releases')
    assert.equal(c.keepReleases, 3)
  })

  test('serf-tags: key=regex pairs; a comma inside a regex stays in it', () => {
    const tags = (raw: string) => {
      const b = serf({ 'serf-tags': raw })
      return b.kind === 'serf' ? b.tags : undefined
    }
    assert.deepEqual(tags('role=web, env=prod'), { role: 'web', env: 'prod' })
    assert.deepEqual(tags('role=web|api\nzone=eu-.*'), { role: 'web|api', zone: 'eu-.*' })
    assert.deepEqual(tags('id=a{1,3},role=web'), { id: 'a{1,3}', role: 'web' })
    assert.deepEqual(tags('rack=(?i)R[[:digit:]]+'), { rack: '(?i)R[[:digit:]]+' })
    assert.deepEqual(tags('x=a=b'), { x: 'a=b' })
  })

  test('node-filter applies to the member name; the other deploy inputs are the same', () => {
    const c = config({ ...base, backend: 'serf', 'node-filter': '^web-' })
    assert.equal(c.filters.node, '^web-')
    assert.equal(c.eventName, 'deploy')
  })

  const bad: Array<[string, Partial<Record<InputName, string>>, RegExp]> = [
    ['backend unknown', { backend: 'nomad' }, /^backend must be consul or serf \(got "nomad"\)$/],
    ['backend upper case', { backend: 'Serf' }, /^backend must be consul or serf/],
    [
      'serf-rpc-addr with consul',
      { 'serf-rpc-addr': '127.0.0.1:7373' },
      /^serf-rpc-addr is only read with backend: serf \(backend is consul\)$/
    ],
    [
      'serf-rpc-auth with consul',
      { backend: 'consul', 'serf-rpc-auth': 'k' },
      /^serf-rpc-auth is only read with backend: serf/
    ],
    ['serf-join with consul', { 'serf-join': '10.0.0.1' }, /^serf-join is only read with backend/],
    ['serf-tags with consul', { 'serf-tags': 'role=web' }, /^serf-tags is only read with backend/],
    [
      'datacenters with serf',
      { backend: 'serf', datacenters: 'dc1' },
      /^datacenters is Consul-only and cannot be used with backend: serf/
    ],
    [
      'dashboard with serf',
      { backend: 'serf', dashboard: 'dashboard' },
      /^dashboard is Consul-only and cannot be used with backend: serf/
    ],
    [
      'service-filter with serf',
      { backend: 'serf', 'service-filter': '^web$' },
      /^service-filter is Consul-only .*serf-tags/
    ],
    [
      'serf-rpc-addr not host:port',
      { backend: 'serf', 'serf-rpc-addr': 'http://127.0.0.1:7373' },
      /^serf-rpc-addr must be host:port of a Serf agent's RPC, e\.g\. 127\.0\.0\.1:7373 \(got "http:\/\/127\.0\.0\.1:7373"\)$/
    ],
    [
      'serf-rpc-addr port out of range',
      { backend: 'serf', 'serf-rpc-addr': '127.0.0.1:70000' },
      /^serf-rpc-addr must be host:port/
    ],
    [
      'serf-rpc-addr with serf-join',
      { backend: 'serf', 'serf-rpc-addr': '127.0.0.1:7373', 'serf-join': '10.0.0.1' },
      /^serf-rpc-addr cannot be combined with serf-join/
    ],
    [
      'serf-join with a port out of range',
      { backend: 'serf', 'serf-join': '10.0.0.1:70000' },
      /^serf-join must be comma-separated member addresses, host or host:port \(got "10\.0\.0\.1:70000"\)$/
    ],
    [
      'serf-join with a space inside an address',
      { backend: 'serf', 'serf-join': 'node 1:7946' },
      /^serf-join must be comma-separated member addresses/
    ],
    [
      'serf-join with a scheme',
      { backend: 'serf', 'serf-join': '10.0.0.1, tcp://10.0.0.2' },
      /^serf-join must be comma-separated member addresses, host or host:port \(got "tcp:\/\/10\.0\.0\.2"\)$/
    ],
    [
      'serf-tags without =',
      { backend: 'serf', 'serf-tags': 'web' },
      /^serf-tags must be comma-separated key=regex pairs/
    ],
    [
      'serf-tags with an empty regex',
      { backend: 'serf', 'serf-tags': 'role=' },
      /^serf-tags has no regular expression for "role" \(\.\* takes any value of the tag\)$/
    ],
    [
      'serf-tags naming a tag twice',
      { backend: 'serf', 'serf-tags': 'role=web,role=api' },
      /^serf-tags names the tag "role" twice$/
    ],
    [
      'serf-tags with a lookahead',
      { backend: 'serf', 'serf-tags': 'role=(?!db)' },
      /^serf-tags has an invalid regular expression for "role" \(Go's RE2, as Serf compiles it\): error parsing regexp: invalid or unsupported Perl syntax/
    ],
    [
      'serf-tags with an unbalanced group',
      { backend: 'serf', 'serf-tags': 'role=web(' },
      /^serf-tags has an invalid regular expression for "role"/
    ]
  ]
  for (const [name, inputs, expected] of bad)
    test(`bad: ${name}`, () => {
      assert.throws(
        () => config({ ...base, ...inputs }),
        (error: unknown) => {
          assert.ok(error instanceof InputError, String(error))
          assert.match(error.message, expected)
          assert.ok(error.message.startsWith(error.input), 'names the input first')
          assert.ok(!error.message.includes('\n'), 'one line')
          return true
        }
      )
    })

  test('the RPC key never appears in an error, nor does the environment key', () => {
    for (const [inputs, extraEnv] of [
      [{ 'serf-rpc-auth': 's3cr3t-key\nsecond' }, {}],
      [{}, { SERF_RPC_AUTH: 's3cr3t-key\r\n' }]
    ] as const)
      assert.throws(
        () => config({ ...base, backend: 'serf', ...inputs }, extraEnv),
        (error: Error) =>
          !error.message.includes('s3cr3t') &&
          /^serf-rpc-auth must be a single line$/.test(error.message)
      )
    // with consul, a stray key is refused without quoting it either
    assert.throws(
      () => config({ ...base, 'serf-rpc-auth': 's3cr3t-key' }),
      (error: Error) => !error.message.includes('s3cr3t') && /^serf-rpc-auth /.test(error.message)
    )
  })

  test('status and history: --backend serf reads the releases from S3, so s3-url is needed', () => {
    const operate = (inputs: Record<string, string>, extraEnv: Record<string, string> = {}) =>
      readOperateConfig((name) => inputs[name] ?? '', { AWS_REGION: 'eu-west-1', ...extraEnv })
    const c = operate({
      app: 'web',
      backend: 'serf',
      'serf-tags': 'role=web',
      's3-url': 's3://acme-releases/web'
    })
    assert.deepEqual(c.backend, { kind: 'serf', rpcAddr: '127.0.0.1:7373', tags: { role: 'web' } })
    assert.deepEqual(c.s3, {
      bucket: 'acme-releases',
      prefix: 'web',
      region: 'eu-west-1',
      endpoint: undefined
    })
    for (const [inputs, expected] of [
      [{ app: 'web', backend: 'serf' }, /^s3-url is required with backend: serf/],
      [
        { app: 'web', 's3-url': 's3://acme-releases/web' },
        /^s3-url is only read with backend: serf \(with Consul the releases are read from KV\)$/
      ],
      [{ app: 'web', 'serf-tags': 'role=web' }, /^serf-tags is only read with backend: serf/],
      [
        { app: 'web', backend: 'serf', 's3-url': 's3://b-1', 'tag-filter': 'x' },
        /^tag-filter is Consul-only/
      ]
    ] as const)
      assert.throws(
        () => operate(inputs),
        (error: unknown) => error instanceof InputError && expected.test(error.message)
      )
  })
})
