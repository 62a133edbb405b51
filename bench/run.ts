// npm run bench [-- --quick] [-- --large] [-- --fleet-10k] [-- --only=publish,await,startup]
//   --only=memory: the action's peak RSS over 10,000 nodes in one wave (--nodes=N, --runs=N)
//
// Every case runs next to its baseline in the same run (interleaved, so drift
// hits both); figures are medians; ratios are case / baseline. Prints Markdown
// tables (bench/README.md keeps the latest). Benchmarks, not tests: nothing here
// fails on a number.
import { GetObjectCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { startLocalS3 } from '../fleet/s3.ts'
import { ConsulClient } from '../src/consul/client.ts'
import { generateBuild } from './build.ts'
import type { BuildFacts } from './build.ts'
import {
  actionPublishProcess,
  makeWork,
  PUBLISH_MARKS,
  pipelineProcess,
  putReport,
  spread,
  startFakeGitHub,
  verdictOnce
} from './process.ts'
import { OBSERVE_MS, serfBench } from './serf.ts'
import { rolloutOnce } from './waves.ts'
import type { RolloutRun } from './waves.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const large = args.includes('--large')
const fleet10k = args.includes('--fleet-10k')
const noArchiver = args.includes('--no-archiver')
// --runs=N: runs of the process and verdict cases (default 5 and 7; 3 with --quick)
const runsArg = Number(args.find((a) => a.startsWith('--runs='))?.slice('--runs='.length))
// --scales=1,5: only these builds (0.25 is 50 MB, 1 is 200 MB, 5 is 1 GB)
const scales = args
  .find((a) => a.startsWith('--scales='))
  ?.slice('--scales='.length)
  .split(',')
  .map(Number)
// --nodes=N: nodes (per datacenter) of the waves and datacenters cases (default 1000); Serf agents of the serf case (default 40)
const nodesArg = Number(args.find((a) => a.startsWith('--nodes='))?.slice('--nodes='.length))
// --spread=S: seconds over which each step's nodes report, waves and datacenters cases (default 3 and 5)
const spreadArg = Number(args.find((a) => a.startsWith('--spread='))?.slice('--spread='.length))
// --waves=…: the waves input of the waves case (default 1, 10%, 100%) and of the datacenters case (default none)
const wavesArg = args.find((a) => a.startsWith('--waves='))?.slice('--waves='.length)
// --await-spread=S: the await case's nodes report over S seconds (default 10)
const awaitSpreadArg = Number(
  args.find((a) => a.startsWith('--await-spread='))?.slice('--await-spread='.length)
)
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
// process and verdict run dist/index.js: `npm run package` first
const wants = (part: string): boolean => !only || only.includes(part)
const here = new URL('.', import.meta.url).pathname
const node = process.execPath

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const sec = (ms: number): string => (ms / 1000).toFixed(2)
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1)
const log = (line: string): void => void process.stderr.write(`${line}\n`)
const out: string[] = []
const print = (line = ''): void => {
  out.push(line)
  process.stdout.write(`${line}\n`)
}

function sh(command: string, cwd?: string): string {
  return execFileSync('sh', ['-c', command], { cwd, encoding: 'utf8', maxBuffer: 1 << 26 })
}

function timeShell(command: string, cwd: string): number {
  const started = performance.now()
  execFileSync('sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'inherit'] })
  return performance.now() - started
}

function runChild(script: string, childArgs: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [join(here, script), ...childArgs], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let text = ''
    child.stdout.on('data', (c: Buffer) => (text += c.toString()))
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>)
        : reject(new Error(`${script} exited with ${code}`))
    )
  })
}

function machine(): void {
  print('## Machine')
  print()
  print(`- ${cpus().length} cores (\`nproc\`: ${sh('nproc').trim()}), ${cpus()[0]?.model ?? '?'}`)
  print(
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (\`free -h\`: ${sh('free -h | sed -n 2p').replace(/\s+/g, ' ').trim()})`
  )
  print(
    `- Node ${process.version}; ${sh('tar --version | head -1').trim()}; pigz ${sh(
      'pigz --version 2>&1'
    )
      .trim()
      .replace(/^pigz /, '')}`
  )
  print(`- load average at start: ${sh('cat /proc/loadavg').split(' ').slice(0, 3).join(' ')}`)
  print()
}

// ---------------------------------------------------------------- publish

interface PublishRow {
  label: string
  ms: number[]
  rss: number[]
}

async function verify(
  client: S3Client,
  bucket: string,
  key: string,
  sha256: string,
  build: BuildFacts
): Promise<string> {
  const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const dir = mkdtempSync(join(tmpdir(), 'bench-untar-'))
  try {
    const hash = createHash('sha256')
    const tar = spawn('tar', ['xzf', '-', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] })
    const done = new Promise<number | null>((r) => tar.on('exit', r))
    for await (const chunk of obj.Body as Readable) {
      hash.update(chunk as Buffer)
      if (!tar.stdin.write(chunk)) await new Promise((r) => tar.stdin.once('drain', r))
    }
    tar.stdin.end()
    if ((await done) !== 0) return 'tar xf failed'
    if (hash.digest('hex') !== sha256) return 'sha256 differs'
    const list = (root: string): string =>
      sh(`find . -path ./DEPLOY_ID -prune -o -printf '%P %y %m %s\\n' | sort`, root)
    if (list(dir) !== list(build.dir)) return 'tree differs (names, types, modes or sizes)'
    sh(`diff -r --exclude=DEPLOY_ID ${build.dir} ${dir}`)
    return 'unpacks with tar xf to the exact tree'
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const baselineLabel = (level: number): string =>
  `baseline: spawned \`tar | pigz -${level}\`, hashed in Node, into \`Upload\` 16 MiB × 4`
const actionLabel = (level: number): string =>
  `**action publish stage** (pack.ts + store.ts, after the plan-stage check), level ${level}`
const checkedLabel = (level: number): string =>
  `action plan-stage check + publish stage, level ${level}`

async function publishBench(): Promise<void> {
  const s3 = await startLocalS3()
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
  })
  const sizes = scales ?? (quick ? [0.25] : [0.25, 1, ...(large ? [5] : [])])
  const scaling: string[] = []
  try {
    for (const scale of sizes) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-build-'))
      try {
        log(`generating a ${scale * 200} MB build…`)
        const build = generateBuild(dir, scale)
        const headline = scale === 1 || (quick && scale === sizes[0])
        const runs = quick ? 3 : scale === 1 ? 5 : 3
        const levels = headline ? [1, 6] : [1]
        // archiver 8 at its default level (zlib's 6) is issue #6's "≥ 5× faster
        // than" reference: slow (~15 s a run), so 200 MB only, 3 runs, not --quick
        const archiverRuns = scale === 1 && !quick && !noArchiver ? 3 : 0
        // warm the page cache
        timeShell('tar -cf - . | cat > /dev/null', dir)
        const shell: Array<[string, string]> = headline
          ? [
              ['`tar -cf - | sha256sum` (floor: no compression)', 'tar -cf - . | sha256sum'],
              ['`tar | gzip -1 | sha256sum`', 'tar -cf - . | gzip -1 | sha256sum'],
              ['`tar | pigz -1 | sha256sum`', 'tar -cf - . | pigz -1 | sha256sum'],
              ['`tar | pigz -6 | sha256sum`', 'tar -cf - . | pigz -6 | sha256sum']
            ]
          : []
        const rows = new Map<string, PublishRow>()
        const row = (label: string): PublishRow => {
          let r = rows.get(label)
          if (!r) rows.set(label, (r = { label, ms: [], rss: [] }))
          return r
        }
        const sizesOut = new Map<number, number>()
        const verified = new Map<number, string>()
        const archiverLabel =
          "archiver 8 `TarArchive` gzip at its default level (6), hashed in Node, into the action's upload (6 MiB × 4)"
        let archiverFacts = ''
        const checks: number[] = []
        for (let i = 0; i < runs; i++) {
          log(`  ${mb(build.bytes)} MB, run ${i + 1}/${runs}`)
          for (const [label, command] of shell) row(label).ms.push(timeShell(command, dir))
          for (const level of levels) {
            for (const mode of ['pipeline', 'action'] as const) {
              const key = `bench/${mode}-${level}-${i}.tgz`
              const r = await runChild('publish-child.ts', [
                mode,
                dir,
                s3.endpoint,
                s3.bucket,
                key,
                String(level)
              ])
              const label = mode === 'action' ? actionLabel(level) : baselineLabel(level)
              row(label).ms.push(r.ms as number)
              row(label).rss.push(r.rssMB as number)
              if (mode === 'action') {
                row(checkedLabel(level)).ms.push((r.ms as number) + (r.planMs as number))
                row(checkedLabel(level)).rss.push(r.rssMB as number)
                checks.push(r.planMs as number)
                sizesOut.set(level, r.size as number)
                if (!verified.has(level))
                  verified.set(
                    level,
                    await verify(client, s3.bucket, key, r.sha256 as string, build)
                  )
              }
              await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }))
            }
          }
          if (i < archiverRuns) {
            const key = `bench/archiver-${i}.tgz`
            const r = await runChild('publish-child.ts', [
              'archiver',
              dir,
              s3.endpoint,
              s3.bucket,
              key,
              '6'
            ])
            row(archiverLabel).ms.push(r.ms as number)
            row(archiverLabel).rss.push(r.rssMB as number)
            if (!archiverFacts)
              archiverFacts = `archiver: archive ${mb(r.size as number)} MB; ${await verify(client, s3.bucket, key, r.sha256 as string, build)}`
            await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }))
          }
        }
        const title = `${mb(build.bytes)} MB build (${build.files} files, ${build.dirs} dirs)`
        print(
          `### Publish: ${title}, median of ${runs}${archiverRuns ? ` (archiver: ${archiverRuns}, in runs 1-${archiverRuns})` : ''}`
        )
        print()
        print('| pipeline | median s | runs (s) | ratio to baseline | peak RSS MB (max) |')
        print('|---|---|---|---|---|')
        for (const r of rows.values()) {
          const level = /level (\d)/.exec(r.label)?.[1]
          const base = level ? rows.get(baselineLabel(Number(level))) : undefined
          const ratio =
            base && /^(\*\*)?action/.test(r.label)
              ? `${(median(r.ms) / median(base.ms)).toFixed(2)}×`
              : ''
          const rss = r.rss.length ? Math.max(...r.rss).toFixed(0) : ''
          print(
            `| ${r.label.replaceAll('|', '\\|')} | ${sec(median(r.ms))} | ${r.ms.map(sec).join(', ')} | ${ratio} | ${rss} |`
          )
        }
        print()
        print(
          `- the plan stage's check (publish.ts checkBuild: every entry lstat'ed and checked, tar and pigz found) took ${Math.round(median(checks))} ms (median); the action runs it before taking the lock, so the publish stage starts with it done`
        )
        for (const [level, size] of sizesOut)
          print(`- level ${level}: archive ${mb(size)} MB; ${verified.get(level)}`)
        for (const level of levels) {
          // each action run against the baseline run just before it
          const base = rows.get(baselineLabel(level))!
          const pair = (label: string): string =>
            rows
              .get(label)!
              .ms.map((m, i) => `${(m / base.ms[i]!).toFixed(2)}×`)
              .join(', ')
          print(
            `- level ${level}, run by run (against the baseline of the same run): publish stage ${pair(actionLabel(level))}; check + publish ${pair(checkedLabel(level))}; action peak RSS ${rows
              .get(actionLabel(level))!
              .rss.map((r) => r.toFixed(0))
              .join(', ')} MB`
          )
        }
        if (archiverFacts) print(`- ${archiverFacts}`)
        print()
        const arch = rows.get(archiverLabel)
        if (arch) {
          const m = median(arch.ms)
          const vs = (label: string): string => {
            const r = rows.get(label)
            return r ? `${(m / median(r.ms)).toFixed(2)}×` : 'n/a'
          }
          print(
            'Archiver / case (median / median, same run; issue #6 target: ≥ 5× for the action):'
          )
          print()
          print(
            `- archiver / **action, plan-stage check + publish stage**, level 1 (the action's default): **${vs(checkedLabel(1))}** (publish stage alone: ${vs(actionLabel(1))})`
          )
          print(
            `- archiver / action, check + publish, level 6 (archiver's level): ${vs(checkedLabel(6))}`
          )
          print(`- archiver / hand-written \`tar | pigz -1\` pipeline: ${vs(baselineLabel(1))}`)
          print()
        }
        const action1 = rows.get(actionLabel(1))!
        const checked1 = rows.get(checkedLabel(1))!
        const base1 = rows.get(baselineLabel(1))!
        scaling.push(
          `| ${mb(build.bytes)} MB, ${build.files} files | ${sec(median(action1.ms))} | ${(build.bytes / 1e6 / (median(action1.ms) / 1000)).toFixed(0)} | ${(median(action1.ms) / median(base1.ms)).toFixed(2)}× | ${Math.round(median(checks))} | ${(median(checked1.ms) / median(base1.ms)).toFixed(2)}× | ${Math.max(...action1.rss).toFixed(0)} |`
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
    print('### Publish scaling (level 1)')
    print()
    print(
      '| build | publish stage, median s | input MB/s | ratio to baseline | plan-stage check ms | check + publish, ratio to baseline | peak RSS MB |'
    )
    print('|---|---|---|---|---|---|---|')
    for (const line of scaling) print(line)
    print()
  } finally {
    client.destroy()
    await s3.stop()
  }
}

// ---------------------------------------------------------------- await

/** deterministic shuffle, so the order nodes report in does not follow their names */
function shuffled(n: number): string[] {
  const names = Array.from({ length: n }, (_, i) => `n-${i}`)
  let x = 0x9e3779b9
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const j = (x >>> 0) % (i + 1)
    ;[names[i], names[j]] = [names[j]!, names[i]!]
  }
  return names
}

interface AwaitRun {
  latencyMs: number
  reads: number
  readsPerSecond: number
  bytesRatio: number
  bytesRead: number
  finalBytes: number
  rssMB: number
  seconds: number
  converged: boolean
}

async function awaitOnce(n: number, spreadMs: number, stale: boolean): Promise<AwaitRun> {
  const emu = await startConsulEmulator({ nodes: [], eagerListenerLimit: 0 })
  try {
    const consul = new ConsulClient({ addr: emu.url })
    const prefix = 'stretcher/bench/results/'
    const deployId = '20261122-000000-bench00-r1.1'
    const names = shuffled(n)
    if (stale) {
      // every node already holds a result of the previous deploy (a re-deploy)
      for (let i = 0; i < n; i += 64) {
        await consul.txn(
          names.slice(i, i + 64).map((node) => ({
            Verb: 'set' as const,
            Key: `${prefix}${node}`,
            Value: JSON.stringify({ deploy_id: 'previous-deploy', status: 'success', node, at: 1 })
          })),
          'key:write'
        )
      }
    }
    const baseline = (await consul.kvGet(prefix, { recurse: true })).index
    const lastNode = names.at(-1)!
    const child = spawn(
      node,
      [
        join(here, 'await-child.ts'),
        emu.url,
        prefix,
        String(baseline),
        String(n),
        deployId,
        lastNode
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] }
    )
    const lines = createInterface({ input: child.stdout })
    const iterator = lines[Symbol.asyncIterator]()
    await iterator.next() // ready
    const firstRequest = emu.requests.length
    child.stdin.write('go\n')
    // A random phase, so the last report does not fall on the wait loop's own
    // rhythm (which starts at the same instant): reports begin 0-1 s after "go".
    const started = Date.now() + Math.random() * 1000
    let lastWriteAt = 0
    const writes = names.map(
      (nodeName, i) =>
        new Promise<void>((resolve, reject) => {
          setTimeout(
            () => {
              const at = Math.floor(Date.now() / 1000)
              if (i === n - 1) lastWriteAt = Date.now()
              putReport(
                `${emu.url}/v1/kv/${prefix}${nodeName}`,
                JSON.stringify({ deploy_id: deployId, status: 'success', node: nodeName, at })
              ).then(resolve, reject)
            },
            started + ((i + 1) * spreadMs) / n - Date.now()
          )
        })
    )
    const result = JSON.parse(((await iterator.next()).value as string) ?? '{}') as {
      firedAt: number
      endedAt: number
      lastNoticedAt: number | null
      verdict: { done: boolean; ok?: boolean }
      rssMB: number
    }
    await Promise.all(writes)
    lines.close()
    const reads = emu.requests
      .slice(firstRequest)
      .filter((r) => r.method === 'GET' && r.path.startsWith(`/v1/kv/${prefix}`))
    const bytesRead = reads.reduce((sum, r) => sum + r.bytes, 0)
    const finalBytes = (await (await fetch(`${emu.url}/v1/kv/${prefix}?recurse`)).arrayBuffer())
      .byteLength
    const seconds = (result.endedAt - result.firedAt) / 1000
    return {
      latencyMs: (result.lastNoticedAt ?? NaN) - lastWriteAt,
      reads: reads.length,
      readsPerSecond: reads.length / seconds,
      bytesRead,
      finalBytes,
      bytesRatio: bytesRead / finalBytes,
      rssMB: result.rssMB,
      seconds,
      converged: result.verdict.done && result.verdict.ok === true
    }
  } finally {
    await emu.stop()
  }
}

async function awaitBench(): Promise<void> {
  const awaitSpreadMs = awaitSpreadArg ? awaitSpreadArg * 1000 : 10_000
  const sizes = [100, 1000, ...(fleet10k ? [10_000] : [])]
  const runs = quick ? 3 : 5
  for (const stale of [true, false]) {
    print(
      `### Await: N nodes reporting evenly over ${awaitSpreadMs / 1000} s (starting 0-1 s after the event), ${stale ? 're-deploy (every node holds an older result)' : 'first deploy (results/ empty)'}; median of ${runs}`
    )
    print()
    print(
      '| nodes | converged | last report noticed after (ms) | KV reads | reads/s | bytes read | final result set | bytes ratio | action RSS MB |'
    )
    print('|---|---|---|---|---|---|---|---|---|')
    for (const n of sizes) {
      if (!stale && n !== 1000) continue
      const all: AwaitRun[] = []
      for (let i = 0; i < runs; i++) {
        log(`await: ${n} nodes, ${stale ? 're-deploy' : 'first deploy'}, run ${i + 1}/${runs}`)
        all.push(await awaitOnce(n, awaitSpreadMs, stale))
      }
      const m = (f: (r: AwaitRun) => number): number => median(all.map(f))
      print(
        `| ${n} | ${all.filter((r) => r.converged).length}/${runs} | ${m((r) => r.latencyMs).toFixed(0)} (${all.map((r) => r.latencyMs.toFixed(0)).join(', ')}) | ${m((r) => r.reads)} | ${m((r) => r.readsPerSecond).toFixed(2)} | ${mb(m((r) => r.bytesRead))} MB | ${mb(m((r) => r.finalBytes))} MB | ${m((r) => r.bytesRatio).toFixed(1)}× | ${Math.max(...all.map((r) => r.rssMB)).toFixed(0)} |`
      )
    }
    print()
  }
}

// ---------------------------------------------------------------- start-up

async function startupBench(): Promise<void> {
  const dist = join(here, '..', 'dist')
  const tiny = mkdtempSync(join(tmpdir(), 'bench-tiny-'))
  const sizeOf = (d: string): number =>
    readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0)
  const env = {
    PATH: process.env.PATH ?? '',
    'INPUT_S3-URL': 's3://releases/app',
    INPUT_PATH: tiny,
    INPUT_DEST: '/srv/app',
    INPUT_APP: 'bench',
    'INPUT_AWS-REGION': 'us-east-1',
    'INPUT_S3-ENDPOINT': 'http://127.0.0.1:9',
    'INPUT_CONSUL-ADDR': 'http://127.0.0.1:9',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_RUN_ID: '1',
    GITHUB_RUN_ATTEMPT: '1'
  }
  const firstLine = (extraEnv: Record<string, string>): Promise<number> =>
    new Promise((resolve) => {
      const started = performance.now()
      const child = spawn(node, [join(dist, 'index.js')], {
        env: extraEnv,
        stdio: ['ignore', 'pipe', 'ignore']
      })
      child.stdout.once('data', () => {
        resolve(performance.now() - started)
        child.kill()
      })
    })
  const bare: number[] = []
  const configured: number[] = []
  for (let i = 0; i < 7; i++) {
    bare.push(await firstLine({ PATH: env.PATH }))
    configured.push(await firstLine(env))
  }
  const nodeAlone: number[] = []
  for (let i = 0; i < 7; i++) {
    const started = performance.now()
    execFileSync(node, ['-e', 'console.log(1)'])
    nodeAlone.push(performance.now() - started)
  }
  rmSync(tiny, { recursive: true, force: true })
  print('### Start-up: `node dist/index.js` to its first log line, median of 7')
  print()
  print('| case | median ms |')
  print('|---|---|')
  print(`| \`node -e 'console.log(1)'\` (Node itself) | ${median(nodeAlone).toFixed(0)} |`)
  print(`| no inputs (first line: the input error) | ${median(bare).toFixed(0)} |`)
  print(
    `| full inputs, Consul unreachable (first line: the Consul error) | ${median(configured).toFixed(0)} |`
  )
  print()
  print(
    `- bundle: \`dist/index.js\` ${(statSync(join(dist, 'index.js')).size / 1024).toFixed(1)} KiB; all of \`dist/\` ${(sizeOf(dist) / 1024).toFixed(0)} KiB (chunks shared with \`cli.js\`/\`post.js\`; AWS credential providers load lazily)`
  )
  print()
}

// ---------------------------------------------------------------- as a user sees it

async function processBench(): Promise<void> {
  const s3 = await startLocalS3()
  const emu = await startConsulEmulator({ nodes: [{ name: 'web-1', services: [{ name: 'web' }] }] })
  const github = await startFakeGitHub()
  const { work, cleanup } = makeWork()
  const dir = mkdtempSync(join(tmpdir(), 'bench-build-'))
  const scale = quick ? 0.25 : large ? 5 : 1
  const runs = runsArg || (quick ? 3 : 5)
  try {
    log(`generating a ${scale * 200} MB build…`)
    const build = generateBuild(dir, scale)
    timeShell('tar -cf - . | cat > /dev/null', dir)
    const action: Array<Awaited<ReturnType<typeof actionPublishProcess>>> = []
    const pipeline: number[] = []
    for (let i = 0; i < runs; i++) {
      log(`  process publish, ${mb(build.bytes)} MB, run ${i + 1}/${runs}`)
      const key = `bench/process-pipeline-${i}.tgz`
      // alternate which goes first, so neither always follows the other
      const one = async (): Promise<void> =>
        void action.push(await actionPublishProcess(s3, emu, work, dir, github.url, 1))
      const two = async (): Promise<void> => {
        pipeline.push(await pipelineProcess(s3, dir, key, 1))
        await client(s3).send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }))
      }
      if (i % 2) {
        await two()
        await one()
      } else {
        await one()
        await two()
      }
    }
    const ms = action.map((r) => r.ms)
    const ratios = ms.map((m, i) => m / pipeline[i]!)
    print(
      `### Publish as a process: \`node dist/index.js\` (\`wait: false\`) from spawn to exit, ${mb(build.bytes)} MB build (${build.files} files); median of ${runs}`
    )
    print()
    print(
      '| process | median s | runs (s) | ratio to baseline (median of medians) | per-run ratios |'
    )
    print('|---|---|---|---|---|')
    print(
      `| baseline: \`node bench/publish-child.ts pipeline\` (\`tar \\| pigz -1\`, hashed, into \`Upload\` 16 MiB × 4) | ${sec(median(pipeline))} | ${pipeline.map(sec).join(', ')} |  |  |`
    )
    print(
      `| **action**: \`node dist/index.js\`, level 1, plan + lock + publish + KV + event + lock release | ${sec(median(ms))} | ${ms.map(sec).join(', ')} | **${(median(ms) / median(pipeline)).toFixed(2)}×** | ${ratios.map((r) => r.toFixed(2)).join(', ')} |`
    )
    print()
    print("Where the action's time went (ms from spawn to the line on stdout, median of the runs):")
    print()
    print(`| ${PUBLISH_MARKS.join(' | ')} |`)
    print(`|${PUBLISH_MARKS.map(() => '---').join('|')}|`)
    print(
      `| ${PUBLISH_MARKS.map((m) => median(action.map((r) => r.marks[m] ?? NaN)).toFixed(0)).join(' | ')} |`
    )
    print()
  } finally {
    rmSync(dir, { recursive: true, force: true })
    cleanup()
    await github.stop()
    await emu.stop()
    await s3.stop()
  }
}

const clients = new Map<string, S3Client>()
function client(s3: { endpoint: string }): S3Client {
  let c = clients.get(s3.endpoint)
  if (!c)
    clients.set(
      s3.endpoint,
      (c = new S3Client({
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
      }))
    )
  return c
}

async function verdictBench(): Promise<void> {
  const s3 = await startLocalS3()
  const github = await startFakeGitHub()
  const { work, tiny, cleanup } = makeWork()
  const n = 1000
  const runs = runsArg || (quick ? 3 : 7)
  try {
    const all: Array<Awaited<ReturnType<typeof verdictOnce>>> = []
    for (let i = 0; i < runs; i++) {
      log(`verdict: ${n} nodes, run ${i + 1}/${runs}`)
      all.push(await verdictOnce(s3, work, tiny, github.url, n, 10_000))
    }
    const v = all.map((r) => r.verdictMs)
    const e = all.map((r) => r.exitMs)
    print(
      `### Verdict from outside: \`node dist/index.js\` (\`wait: true\`, job summary and check run on), ${n} nodes reporting over 10 s (re-deploy); median of ${runs}`
    )
    print()
    print(
      "| measured from the start of the last node's PUT (taken by the fleet) to | median ms | spread ms | runs (ms) |"
    )
    print('|---|---|---|---|')
    print(
      `| the verdict line read from the action's stdout | **${median(v).toFixed(0)}** | ${spread(v)} | ${v.map((x) => x.toFixed(0)).join(', ')} |`
    )
    print(
      `| the action's process exit | ${median(e).toFixed(0)} | ${spread(e)} | ${e.map((x) => x.toFixed(0)).join(', ')} |`
    )
    print()
    print(
      `- converged (exit 0, verdict line seen): ${all.filter((r) => r.converged).length}/${runs}`
    )
    print()
  } finally {
    cleanup()
    await github.stop()
    await s3.stop()
  }
}

// ---------------------------------------------------------------- waves, datacenters

/** Runs of a staged or multi-datacenter rollout (bench/waves.ts), and their figures. */
async function rolloutBench(opts: {
  title: string
  datacenters: string[]
  waves?: string
  spreadMs: number
}): Promise<void> {
  const s3 = await startLocalS3()
  const github = await startFakeGitHub()
  const { work, tiny, cleanup } = makeWork()
  const n = nodesArg || 1000
  const runs = runsArg || (quick ? 3 : 7)
  const spreadMs = spreadArg ? spreadArg * 1000 : opts.spreadMs
  const env = {
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: '2222222222222222222222222222222222222222',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: join(work, 'event.json'),
    GITHUB_RUN_ID: '99',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.example.com'
  }
  const load: string[] = []
  try {
    const all: RolloutRun[] = []
    for (let i = 0; i < runs; i++) {
      log(`${opts.title}: run ${i + 1}/${runs}`)
      load.push(sh('cat /proc/loadavg').split(' ')[0]!)
      const r = await rolloutOnce({
        s3,
        env,
        buildDir: tiny,
        nodesPerDc: n,
        datacenters: opts.datacenters,
        waves: opts.waves,
        spreadMs
      })
      if (!r.converged) log(`  did not converge (exit ${r.code})`)
      all.push(r)
    }
    const ok = all.filter((r) => r.converged)
    if (ok.length === 0) {
      print(`### ${opts.title}: no run converged (exits ${all.map((r) => r.code).join(', ')})`)
      return
    }
    const stepCount = Math.max(...ok.map((r) => r.steps.length))
    const first = ok.find((r) => r.steps.length === stepCount)!
    // a step's name: `wave N`, `dcN`, or `dcN wave N` (waves within each datacenter)
    const stepName = (k: number): string => {
      const dc = first.steps[k]!.datacenter
      const ofDc = first.steps.filter((x) => x.datacenter === dc).length
      const wave = first.steps.slice(0, k + 1).filter((x) => x.datacenter === dc).length
      if (opts.datacenters.length === 1) return `wave ${wave}`
      return ofDc > 1 ? `${dc} wave ${wave}` : dc
    }
    print(
      `### ${opts.title}: ${opts.datacenters.length > 1 ? `${opts.datacenters.length} × ` : ''}${n} nodes${opts.waves ? `, \`waves: ${opts.waves}\`` : ''}${opts.datacenters.length > 1 ? `, \`datacenters: ${opts.datacenters.join(', ')}\`` : ''}; each step's nodes report over ${spreadMs / 1000} s (starting 0-1 s after their event) (re-deploy); median of ${runs}`
    )
    print()
    print(
      "| measured in the emulator's arrival log, from the arrival of a step's last node report to | median ms | spread ms | runs (ms) |"
    )
    print('|---|---|---|---|')
    for (let g = 0; g < stepCount - 1; g++) {
      const gaps = ok.map((r) => r.gaps[g]?.ms ?? NaN)
      const from = first.steps[g]!
      print(
        `| ${stepName(g + 1)}'s first event (after ${stepName(g)}, ${from.nodes} node${from.nodes === 1 ? '' : 's'}) | **${median(gaps).toFixed(0)}** | ${spread(gaps)} | ${gaps.map((x) => x.toFixed(0)).join(', ')} |`
      )
    }
    const v = ok.map((r) => r.verdictMs)
    print(
      `| the verdict line on the action's stdout (after the last step) | ${median(v).toFixed(0)} | ${spread(v)} | ${v.map((x) => x.toFixed(0)).join(', ')} |`
    )
    print()
    print(
      '| step | datacenter | nodes | events | first → last event (ms) | event → last report (s) | in flight (s): event → next event | results reads: wait loop | reads/s: wait loop (spread) | all results reads (with the next baseline read) | MB read |'
    )
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for (let k = 0; k < stepCount; k++) {
      const s = ok.map((r) => r.steps[k]!)
      const m = (f: (x: (typeof s)[number]) => number): number => median(s.map(f))
      const rate = s.map((x) => x.loopReads / x.seconds)
      print(
        `| ${stepName(k)} | ${s[0]!.datacenter} | ${s[0]!.nodes} | ${m((x) => x.events)} | ${m((x) => x.sendMs).toFixed(0)} (${spread(s.map((x) => x.sendMs))}) | ${sec(m((x) => x.reportingMs))} | ${m((x) => x.seconds).toFixed(2)} | ${m((x) => x.loopReads)} | **${median(rate).toFixed(2)}** (${Math.min(...rate).toFixed(2)}–${Math.max(...rate).toFixed(2)}) | ${m((x) => x.allReads)} | ${mb(m((x) => x.bytesRead))} |`
      )
    }
    print()
    const whole = ok.map(
      (r) =>
        r.steps.reduce((a, x) => a + x.loopReads, 0) / r.steps.reduce((a, x) => a + x.seconds, 0)
    )
    print(
      `- the wait loop over the whole rollout (first event to verdict line): **${median(whole).toFixed(2)}** results reads/s (${whole.map((x) => x.toFixed(2)).join(', ')})`
    )
    const t = ok.map((r) => r.totalMs)
    print(
      `- converged (exit 0, verdict line seen, every node sent its event): ${ok.length}/${runs}; the action's run, spawn to exit: ${sec(median(t))} s median (${t.map(sec).join(', ')}); load average (1 min) at each run's start: ${load.join(', ')}`
    )
    // what the action sent between a step's last report and the next step's event, in the median run
    for (let g = 0; g < stepCount - 1; g++) {
      const byGap = [...ok].sort((a, b) => (a.gaps[g]?.ms ?? 0) - (b.gaps[g]?.ms ?? 0))
      const mid = byGap[Math.floor((byGap.length - 1) / 2)]!.gaps[g]!
      print(
        `- between ${stepName(g)}'s last report and ${stepName(g + 1)}'s event (a run of ${mid.ms} ms): ${mid.between.map((b) => `\`${b}\``).join(', ')}`
      )
    }
    print()
  } finally {
    cleanup()
    await github.stop()
    await s3.stop()
  }
}

// ---------------------------------------------------------------- serf

/** A real Serf cluster (bench/serf.ts): event → last tag, last tag → verdict line. */
async function serfClusterBench(): Promise<void> {
  const n = nodesArg || 40
  const runs = runsArg || (quick ? 3 : 7)
  const { work, cleanup } = makeWork()
  try {
    const { runs: all, startMs } = await serfBench({ nodes: n, runs, work, log })
    const row = (label: string, xs: number[]) =>
      print(
        `| ${label} | **${median(xs).toFixed(0)}** | ${spread(xs)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`
      )
    print(
      `### Serf from outside: \`node dist/index.js\` (\`backend: serf\`, \`wait: true\`, job summary and check run on), ${n} real Serf agents each running the simulated stretcher; median of ${runs}`
    )
    print()
    print('| measured | median ms | spread ms | runs (ms) |')
    print('|---|---|---|---|')
    row(
      "the event on the observer's stream → the last node's tag seen by the observer",
      all.map((r) => r.eventToLastTagMs)
    )
    row(
      "of which: the event → the last node's handler started (its run record)",
      all.map((r) => r.eventToLastHandlerMs)
    )
    row(
      "of which: the last node's handler ended → its tag seen by the observer (gossip)",
      all.map((r) => r.lastHandlerToTagMs)
    )
    row(
      "the last tag seen by the observer → the verdict line on the action's stdout",
      all.map((r) => r.lastTagToVerdictMs)
    )
    row(
      "the last tag seen by the observer → the action's exit",
      all.map((r) => r.lastTagToExitMs)
    )
    row(
      "the action's spawn → its `fired the Serf event` line",
      all.map((r) => r.spawnToFiredMs)
    )
    print()
    print(
      `- the observer: its own RPC connection to the action's agent (the view the action reads), a \`user:deploy\` stream and \`members\` every ${OBSERVE_MS} ms`
    )
    print(
      `- converged (exit 0, verdict line seen, every tag seen): ${all.filter((r) => r.converged).length}/${runs}`
    )
    print(`- last tag from: ${all.map((r) => r.lastNode).join(', ')}`)
    print(
      `- ${n + 1} agents started and converged in ${sec(startMs)} s; load average after: ${sh('cat /proc/loadavg').split(' ').slice(0, 3).join(' ')}`
    )
    print()
  } finally {
    cleanup()
  }
}

// ---------------------------------------------------------------- memory

/**
 * The action's peak RSS at fleet scale, from outside: `node dist/index.js`
 * (wait, job summary and check run on) over 10,000 simulated nodes in one wave,
 * its VmHWM polled by this process while it runs (bench/waves.ts).
 */
async function memoryBench(): Promise<void> {
  const s3 = await startLocalS3()
  const github = await startFakeGitHub()
  const { work, tiny, cleanup } = makeWork()
  const n = nodesArg || 10_000
  const runs = runsArg || 3
  const spreadMs = spreadArg ? spreadArg * 1000 : 10_000
  const env = {
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: '2222222222222222222222222222222222222222',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_RUN_ID: '99',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_API_URL: github.url,
    GITHUB_SERVER_URL: 'https://github.example.com',
    // e.g. --import=<a module that logs process.memoryUsage()>, to see where it peaks
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {})
  }
  const rows: string[] = []
  try {
    for (let i = 0; i < runs; i++) {
      log(`memory: ${n} nodes, one wave, run ${i + 1}/${runs}`)
      const load = sh('cat /proc/loadavg').split(' ')[0]!
      const r = await rolloutOnce({
        s3,
        env,
        buildDir: tiny,
        nodesPerDc: n,
        datacenters: ['dc1'],
        spreadMs
      })
      rows.push(
        `| ${i + 1} | ${r.converged ? 'yes' : `no (exit ${r.code})`} | **${r.peakRssMB.toFixed(0)}** | ${sec(r.totalMs)} | ${load} |`
      )
    }
  } finally {
    cleanup()
    await github.stop()
    await s3.stop()
  }
  print(
    `### Memory from outside: \`node dist/index.js\` (\`wait: true\`, job summary and check run on), ${n} nodes in one wave reporting over ${spreadMs / 1000} s (re-deploy); peak RSS (VmHWM) polled every 20 ms`
  )
  print()
  print('| run | converged | peak RSS MB | spawn to exit (s) | load average (1 min) at start |')
  print('|---|---|---|---|---|')
  for (const row of rows) print(row)
  print()
}

const begun = Date.now()
machine()
if (wants('publish')) await publishBench()
if (wants('await')) await awaitBench()
if (wants('startup')) await startupBench()
if (wants('process')) await processBench()
if (wants('verdict')) await verdictBench()
if (wants('waves'))
  await rolloutBench({
    title: 'Waves from outside',
    datacenters: ['dc1'],
    waves: wavesArg ?? '1, 10%, 100%',
    spreadMs: 3000
  })
// Not in the default run (10,000 nodes): --only=memory.
if (only?.includes('memory')) await memoryBench()
if (wants('datacenters'))
  await rolloutBench({
    title: 'Datacenters from outside',
    datacenters: ['dc1', 'dc2'],
    waves: wavesArg,
    spreadMs: 5000
  })
if (wants('serf')) await serfClusterBench()
print(
  `_bench took ${((Date.now() - begun) / 1000).toFixed(0)} s; args: ${args.join(' ') || '(none)'}_`
)
