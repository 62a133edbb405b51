// scripts/ensure-tools.sh, the check `npm test`, `npm run demo` and .ci/run run
// first: its decisions, run with a PATH of stand-ins (tools, `id`, `sudo`, package
// managers that record their argv and "install" by copying a stand-in in).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../scripts/ensure-tools.sh', import.meta.url))
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>
}
const scratch = mkdtempSync(join(tmpdir(), 'ensure-tools-test-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
let counter = 0

const TOOL = '#!/bin/sh\nexit 0\n'
const TARS = {
  gnu: '#!/bin/sh\necho "tar (GNU tar) 1.35"\n',
  bsd: '#!/bin/sh\necho "bsdtar 3.5.3 - libarchive 3.7.4"\n',
  busybox: '#!/bin/sh\necho "BusyBox v1.36.1 (2024-06-10) multi-call binary." >&2\nexit 1\n'
}

interface Machine {
  /** tools on PATH (stand-ins that do nothing) */
  tools?: string[]
  tar?: keyof typeof TARS
  gtar?: keyof typeof TARS
  uid?: number
  /** `sudo -n true` succeeds (nopasswd), asks for a password (password), or there is no sudo */
  sudo?: 'nopasswd' | 'password'
  manager?: 'apt-get' | 'dnf' | 'apk' | 'brew'
  /** the package manager fails with this status */
  managerFails?: number
  go?: boolean
  goYaml?: boolean
}

interface Run {
  status: number | null
  stderr: string
  stdout: string
  /** argv of every package-manager and sudo call, one line each */
  calls: string[]
  bin: string
}

const ALL = ['rsync', 'gzip', 'curl', 'pigz', 'serf']

function machine(m: Machine): { bin: string; env: NodeJS.ProcessEnv } {
  const dir = join(scratch, `m${++counter}`)
  const bin = join(dir, 'bin')
  const standins = join(dir, 'standins')
  const gocode = join(dir, 'gocode')
  mkdirSync(bin, { recursive: true })
  mkdirSync(standins)
  const put = (where: string, name: string, text: string) =>
    writeFileSync(join(where, name), text, { mode: 0o755 })
  for (const tool of m.tools ?? ALL) put(bin, tool, TOOL)
  if (m.tar ?? 'gnu') put(bin, 'tar', TARS[m.tar ?? 'gnu'])
  if (m.gtar) put(bin, 'gtar', TARS[m.gtar])
  if (m.go) put(bin, 'go', TOOL)
  if (m.goYaml) mkdirSync(join(gocode, 'src/gopkg.in/yaml.v2'), { recursive: true })
  put(bin, 'sh', '#!/bin/sh\nexec /bin/sh "$@"\n')
  if (m.uid !== undefined) put(bin, 'id', `#!/bin/sh\n[ "$1" = -u ] && echo ${m.uid}\n`)
  if (m.sudo === 'nopasswd')
    put(
      bin,
      'sudo',
      '#!/bin/sh\necho "sudo $*" >> "$RECORD"\nshift\n[ "$1" = true ] && exit 0\nexec /usr/bin/env "$@"\n'
    )
  if (m.sudo === 'password') put(bin, 'sudo', '#!/bin/sh\necho "sudo $*" >> "$RECORD"\nexit 1\n')
  // What "installing" a package puts on PATH: the stand-in of its tool.
  for (const tool of ALL) put(standins, tool, TOOL)
  put(standins, 'tar', TARS.gnu)
  put(standins, 'gnu-tar', TARS.gnu)
  put(standins, 'golang-go', TOOL)
  if (m.manager) {
    const status = m.managerFails ?? 0
    put(
      bin,
      m.manager,
      `#!/bin/sh
echo "${m.manager} $*\${DEBIAN_FRONTEND:+ (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)}" >> "$RECORD"
[ ${status} = 0 ] || exit ${status}
for p; do
  case $p in
    -*|install|add|update) ;;
    gnu-tar) /bin/cp "$STANDINS/gnu-tar" "$BIN/gtar" ;;
    golang-go) /bin/cp "$STANDINS/golang-go" "$BIN/go" ;;
    golang-gopkg-yaml.v2-dev) /bin/mkdir -p "$ENSURE_TOOLS_GOCODE/src/gopkg.in/yaml.v2" ;;
    *) /bin/cp "$STANDINS/$p" "$BIN/$p" ;;
  esac
done
`
    )
  }
  return {
    bin,
    env: {
      PATH: bin,
      RECORD: join(dir, 'calls'),
      STANDINS: standins,
      BIN: bin,
      ENSURE_TOOLS_GOCODE: gocode
    }
  }
}

/** Runs `command` (default: the script itself) with /bin/sh on the machine's PATH. */
function run(
  m: Machine,
  {
    mode = 'demo',
    env = {},
    command
  }: { mode?: string; env?: NodeJS.ProcessEnv; command?: string } = {}
): Run {
  const { bin, env: base } = machine(m)
  const fullEnv = { ...base, ...env }
  const result = command
    ? spawnSync('/bin/sh', ['-c', command], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: fullEnv,
        encoding: 'utf8'
      })
    : spawnSync('/bin/sh', [script, mode], { env: fullEnv, encoding: 'utf8' })
  const record = String(fullEnv.RECORD)
  return {
    status: result.status,
    stderr: result.stderr,
    stdout: result.stdout,
    calls: existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : [],
    bin
  }
}

const quiet = (r: Run) => ({ status: r.status, stderr: r.stderr, stdout: r.stdout, calls: r.calls })

describe('ensure-tools: everything present', () => {
  it('is silent, runs no package manager and succeeds', () => {
    const none = { status: 0, stderr: '', stdout: '', calls: [] }
    assert.deepEqual(quiet(run({ uid: 0, manager: 'apt-get' })), none)
    // macOS: GNU tar as gtar beside the system's bsdtar
    assert.deepEqual(quiet(run({ tar: 'bsd', gtar: 'gnu', manager: 'brew' })), none)
    const withGo = { go: true, goYaml: true, manager: 'apt-get' as const, uid: 0 }
    assert.deepEqual(quiet(run(withGo, { mode: 'test' })), none)
    assert.deepEqual(quiet(run(withGo, { mode: 'test', env: { REQUIRE_GO_YAML: '1' } })), none)
  })

  it('then runs what follows in the npm scripts', () => {
    for (const name of ['test', 'demo']) {
      const command = pkg.scripts[name] ?? ''
      assert.match(command, new RegExp(`^sh scripts/ensure-tools\\.sh ${name} && `))
      const r = run({}, { command: command.replace(/&& .*/, '&& echo ran-after') })
      assert.equal(r.status, 0)
      assert.equal(r.stdout, 'ran-after\n')
    }
  })

  it('says in one line that the Go yaml.v2 round trip is skipped when go is missing', () => {
    const r = run({ go: false, uid: 0, manager: 'apt-get' }, { mode: 'test' })
    assert.equal(r.status, 0)
    assert.deepEqual(r.calls, [])
    assert.equal(
      r.stderr,
      'ensure-tools: go or gopkg.in/yaml.v2 not installed: the Go yaml.v2 round trip is skipped (REQUIRE_GO_YAML=1 npm test installs golang-go golang-gopkg-yaml.v2-dev)\n'
    )
    // the demo has no Go round trip: nothing to say
    assert.equal(run({ go: false }, { mode: 'demo' }).stderr, '')
  })
})

describe('ensure-tools: missing tools are installed when no question is needed', () => {
  it('as root with apt-get: updates the lists, installs the missing ones, says what', () => {
    const r = run({ tools: ['gzip'], uid: 0, manager: 'apt-get' })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(
      r.stderr,
      'ensure-tools: installing rsync, curl, pigz, serf: apt-get install -y rsync curl pigz serf\n'
    )
    assert.deepEqual(r.calls, [
      'apt-get update -qq (DEBIAN_FRONTEND=noninteractive)',
      'apt-get install -y -qq --no-install-recommends rsync curl pigz serf (DEBIAN_FRONTEND=noninteractive)'
    ])
    for (const tool of ['rsync', 'curl', 'pigz', 'serf']) assert.ok(existsSync(join(r.bin, tool)))
  })

  it("serf (the local Serf fleet's agents) is installed like rsync, for the tests and the demo", () => {
    for (const mode of ['test', 'demo']) {
      const r = run(
        { tools: ['rsync', 'gzip', 'curl', 'pigz'], uid: 0, manager: 'apt-get' },
        { mode }
      )
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /^ensure-tools: installing serf: apt-get install -y serf\n/m)
      assert.deepEqual(r.calls, [
        'apt-get update -qq (DEBIAN_FRONTEND=noninteractive)',
        'apt-get install -y -qq --no-install-recommends serf (DEBIAN_FRONTEND=noninteractive)'
      ])
      assert.ok(existsSync(join(r.bin, 'serf')))
    }
  })

  it('through passwordless sudo when not root', () => {
    const r = run({
      tools: ['rsync', 'gzip', 'curl', 'serf'],
      uid: 1000,
      sudo: 'nopasswd',
      manager: 'apt-get'
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, 'ensure-tools: installing pigz: sudo -n apt-get install -y pigz\n')
    assert.deepEqual(r.calls, [
      'sudo -n true',
      'sudo -n DEBIAN_FRONTEND=noninteractive apt-get update -qq',
      'apt-get update -qq (DEBIAN_FRONTEND=noninteractive)',
      'sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pigz',
      'apt-get install -y -qq --no-install-recommends pigz (DEBIAN_FRONTEND=noninteractive)'
    ])
  })

  it('dnf and apk (busybox tar is not GNU tar: the tar package is)', () => {
    const dnf = run({ tools: ['gzip', 'curl', 'serf'], uid: 0, manager: 'dnf' })
    assert.equal(dnf.status, 0, dnf.stderr)
    assert.deepEqual(dnf.calls, ['dnf install -y -q rsync pigz'])
    const apk = run({ tar: 'busybox', uid: 0, manager: 'apk' })
    assert.equal(apk.status, 0, apk.stderr)
    assert.equal(apk.stderr, 'ensure-tools: installing GNU tar: apk add tar\n')
    assert.deepEqual(apk.calls, ['apk add --no-cache -q tar'])
  })

  it('brew installs gnu-tar (as gtar) as the user, without sudo', () => {
    const r = run({
      tar: 'bsd',
      tools: ['rsync', 'gzip', 'curl', 'serf'],
      uid: 501,
      manager: 'brew'
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, 'ensure-tools: installing GNU tar, pigz: brew install gnu-tar pigz\n')
    assert.deepEqual(r.calls, ['brew install -q gnu-tar pigz'])
    assert.ok(existsSync(join(r.bin, 'gtar')))
  })

  it('REQUIRE_GO_YAML=1 (CI): go and yaml.v2 are installed like the rest', () => {
    const r = run(
      { tools: ['gzip', 'curl', 'pigz', 'serf'], uid: 0, manager: 'apt-get' },
      { mode: 'test', env: { REQUIRE_GO_YAML: '1' } }
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(
      r.stderr,
      'ensure-tools: installing rsync, go + yaml.v2: apt-get install -y rsync golang-go golang-gopkg-yaml.v2-dev\n'
    )
    // only what is missing
    const yamlOnly = run(
      { go: true, uid: 0, manager: 'apt-get' },
      { mode: 'test', env: { REQUIRE_GO_YAML: '1' } }
    )
    assert.equal(yamlOnly.status, 0, yamlOnly.stderr)
    assert.deepEqual(yamlOnly.calls.slice(1), [
      'apt-get install -y -qq --no-install-recommends golang-gopkg-yaml.v2-dev (DEBIAN_FRONTEND=noninteractive)'
    ])
  })
})

describe('ensure-tools: otherwise one line and a stop', () => {
  it('not root, sudo wants a password: names the command, runs nothing after it', () => {
    const r = run(
      { tools: ['gzip', 'curl'], uid: 1000, sudo: 'password', manager: 'apt-get' },
      { command: (pkg.scripts.demo ?? '').replace(/&& .*/, '&& echo ran-after') }
    )
    assert.equal(r.status, 1)
    assert.equal(r.stdout, '')
    assert.equal(
      r.stderr,
      'ensure-tools: missing rsync, pigz, serf: run: sudo apt-get install -y rsync pigz serf\n'
    )
    assert.deepEqual(r.calls, ['sudo -n true'])
  })

  it('not root, no sudo: the command to run as root', () => {
    const r = run({ tar: 'busybox', uid: 1000, manager: 'apk' })
    assert.equal(r.status, 1)
    assert.equal(r.stderr, 'ensure-tools: missing GNU tar: run as root: apk add tar\n')
    assert.deepEqual(r.calls, [])
  })

  it('no known package manager: names the tools', () => {
    const r = run({ tools: ['gzip'], uid: 0 })
    assert.equal(r.status, 1)
    assert.equal(
      r.stderr,
      "ensure-tools: missing rsync, curl, pigz, serf: install them with the system's package manager (none of apt-get, dnf, apk, brew is on PATH)\n"
    )
  })

  it("serf missing without apt-get: says where HashiCorp's agent comes from, installs nothing", () => {
    for (const manager of ['dnf', 'apk', 'brew'] as const) {
      const r = run({ tools: ['rsync', 'gzip', 'curl', 'pigz'], uid: 0, manager })
      assert.equal(r.status, 1)
      assert.equal(
        r.stderr,
        "ensure-tools: missing serf: the local Serf fleet runs HashiCorp's serf agent: Debian's and Ubuntu's serf package, elsewhere a release from releases.hashicorp.com/serf on PATH\n"
      )
      assert.deepEqual(r.calls, [])
    }
  })

  it('REQUIRE_GO_YAML=1 without apt-get: says what the round trip needs', () => {
    const r = run({ uid: 0, manager: 'dnf' }, { mode: 'test', env: { REQUIRE_GO_YAML: '1' } })
    assert.equal(r.status, 1)
    assert.match(
      r.stderr,
      /^ensure-tools: missing go \+ yaml\.v2: the Go yaml\.v2 round trip needs Debian's golang-go and golang-gopkg-yaml\.v2-dev \(gopkg\.in\/yaml\.v2 under .*\); unset REQUIRE_GO_YAML to skip it\n$/
    )
    assert.deepEqual(r.calls, [])
  })

  it('an install that fails or leaves a tool missing stops', () => {
    const r = run({
      tools: ['gzip', 'curl', 'pigz', 'serf'],
      uid: 0,
      manager: 'dnf',
      managerFails: 1
    })
    assert.equal(r.status, 1)
    assert.equal(
      r.stderr.split('\n')[1],
      'ensure-tools: dnf install -y rsync failed (exit status 1), still missing: rsync: install them by hand'
    )
  })
})

describe('CI uses the same script', () => {
  it('.ci/run runs it with REQUIRE_GO_YAML=1 and installs nothing by hand', () => {
    const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')
    assert.match(ci, /^export REQUIRE_GO_YAML=1$/m)
    assert.match(ci, /^sh scripts\/ensure-tools\.sh test$/m)
    assert.doesNotMatch(ci, /apt-get|dnf|apk|brew/)
  })
})
