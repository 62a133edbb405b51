// The action measured from outside, as a user sees it: `node dist/index.js` run
// as the runner runs it (fleet/run-action.ts), timed by the parent.
//
// - publishProcess: the whole run with `wait: false` (start-up, plan, lock,
//   uploads, KV, event) against the hand-written pipeline run as a process too
//   (bench/publish-child.ts `pipeline`: `tar | pigz -1`, hashed, into `Upload`),
//   both from spawn to exit, interleaved.
// - verdictLatency: `wait: true` against N nodes whose reports the parent writes
//   over 10 s; the time from the start of the last node's PUT (taken here) to
//   the moment the verdict line arrives on the child's stdout.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startFakeGitHub } from '../fleet/github-api.ts'
import { runAction } from '../fleet/run-action.ts'
import type { LocalS3 } from '../fleet/s3.ts'
import { ConsulClient } from '../src/consul/client.ts'

const here = new URL('.', import.meta.url).pathname

/**
 * A node's KV PUT, once more if the connection was reset: on a loaded machine a
 * pooled keep-alive connection can be closed by the server as it is reused.
 */
export async function putReport(url: string, body: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await (await fetch(url, { method: 'PUT', body })).text()
      return
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const spread = (xs: number[]): string =>
  `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`

/** Lines of a child's stdout, each with the time (performance.now()) it arrived. */
function lineClock(onLine: (line: string, at: number) => void): (chunk: string) => void {
  let pending = ''
  return (chunk) => {
    const at = performance.now()
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) onLine(line, at)
  }
}

let deployCounter = 0
const nextDeployId = (tag: string): string =>
  `20261130-${String(process.pid).slice(-5)}-${tag}-${++deployCounter}`

const GITHUB_ENV = (work: string, api: string): Record<string, string> => ({
  GITHUB_WORKSPACE: work,
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '2222222222222222222222222222222222222222',
  GITHUB_EVENT_NAME: 'pull_request',
  GITHUB_EVENT_PATH: join(work, 'event.json'),
  GITHUB_RUN_ID: '99',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_API_URL: api,
  GITHUB_SERVER_URL: 'https://github.example.com'
})

// ---------------------------------------------------------------- publish

/** Where the time of one action run went: ms from spawn to each line's arrival. */
export interface PublishProcessRun {
  ms: number
  marks: Record<string, number>
}

const MARKS: Array<[string, RegExp]> = [
  ['first line', /./],
  ['lock held', /^holding the deploy lock/],
  ['packing', /^packing \d+ entries/],
  ['archive done', /^archive s3:/],
  ['manifest done', /^manifest s3:/],
  ['KV written', /\/latest → /],
  ['event fired', /^fired event/],
  ['last line', /not waiting \(wait: false\)/]
]

/** One `wait: false` run of dist/index.js, spawn to exit. */
export async function actionPublishProcess(
  s3: LocalS3,
  consul: ConsulEmulator,
  work: string,
  buildDir: string,
  github: string,
  level: number
): Promise<PublishProcessRun> {
  const marks: Record<string, number> = {}
  let started = 0
  let exited = 0
  const run = await runAction(
    {
      path: buildDir,
      app: 'bench',
      's3-url': `s3://${s3.bucket}/releases`,
      's3-endpoint': s3.endpoint,
      'consul-addr': consul.url,
      'service-filter': '^web$',
      dest: '/srv/app',
      'deploy-id': nextDeployId('pub'),
      'compression-level': String(level),
      'github-token': 'ghs_bench',
      wait: 'false'
    },
    { ...s3.env, ...GITHUB_ENV(work, github) },
    {
      timeoutMs: 300_000,
      onChild: (child) => {
        started = performance.now()
        child.once('exit', () => (exited = performance.now()))
      },
      onStdout: lineClock((line, at) => {
        for (const [name, re] of MARKS) if (!(name in marks) && re.test(line)) marks[name] = at
      })
    }
  )
  if (run.code !== 0) throw new Error(`action exited with ${run.code}: ${run.stdout}${run.stderr}`)
  for (const name of Object.keys(marks)) marks[name] = marks[name]! - started
  marks.exit = exited - started
  return { ms: exited - started, marks }
}

/** The hand-written pipeline in a process of its own, spawn to exit. */
export function pipelineProcess(
  s3: LocalS3,
  buildDir: string,
  key: string,
  level: number
): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [
        join(here, 'publish-child.ts'),
        'pipeline',
        buildDir,
        s3.endpoint,
        s3.bucket,
        key,
        String(level)
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] }
    )
    child.once('exit', (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`pipeline exited ${code}`))
    )
  })
}

export const PUBLISH_MARKS = [...MARKS.map(([name]) => name), 'exit']

// ---------------------------------------------------------------- verdict

export interface VerdictRun {
  /** last node's PUT started → verdict line read from the child's stdout */
  verdictMs: number
  /** last node's PUT started → the child exited */
  exitMs: number
  converged: boolean
}

/**
 * One run: N nodes (service web) in the emulator, each already holding an older
 * result (a re-deploy); dist/index.js with `wait: true`; once its "fired event"
 * line is read, the nodes PUT their results at even moments over `spreadMs`,
 * starting 0-1 s later, in a shuffled order.
 */
export async function verdictOnce(
  s3: LocalS3,
  work: string,
  buildDir: string,
  github: string,
  n: number,
  spreadMs: number
): Promise<VerdictRun> {
  const names = Array.from({ length: n }, (_, i) => `n-${i}`)
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[names[i], names[j]] = [names[j]!, names[i]!]
  }
  const emu = await startConsulEmulator({
    nodes: names.map((name) => ({ name, services: [{ name: 'web' }] }))
  })
  try {
    const prefix = 'stretcher/bench/results/'
    const consul = new ConsulClient({ addr: emu.url })
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
    const deployId = nextDeployId('wait')
    const verdictText = `${n}/${n} nodes on ${deployId}`
    let lastWriteAt = 0
    let verdictAt = 0
    let exitedAt = 0
    const writes: Array<Promise<void>> = []
    const report = (): void => {
      const begin = performance.now() + Math.random() * 1000
      names.forEach((node, i) => {
        writes.push(
          new Promise<void>((resolve, reject) => {
            setTimeout(
              () => {
                if (i === n - 1) lastWriteAt = performance.now()
                putReport(
                  `${emu.url}/v1/kv/${prefix}${node}`,
                  JSON.stringify({
                    deploy_id: deployId,
                    status: 'success',
                    node,
                    at: Math.floor(Date.now() / 1000)
                  })
                ).then(resolve, reject)
              },
              begin + ((i + 1) * spreadMs) / n - performance.now()
            )
          })
        )
      })
    }
    const run = await runAction(
      {
        path: buildDir,
        app: 'bench',
        's3-url': `s3://${s3.bucket}/releases`,
        's3-endpoint': s3.endpoint,
        'consul-addr': emu.url,
        'service-filter': '^web$',
        dest: '/srv/app',
        'deploy-id': deployId,
        'github-token': 'ghs_bench',
        timeout: '2m'
      },
      { ...s3.env, ...GITHUB_ENV(work, github) },
      {
        timeoutMs: 180_000,
        onChild: (child) => child.once('exit', () => (exitedAt = performance.now())),
        onStdout: lineClock((line, at) => {
          if (/^fired event/.test(line) && writes.length === 0) report()
          if (!verdictAt && line.includes(verdictText)) verdictAt = at
        })
      }
    )
    await Promise.all(writes)
    return {
      verdictMs: verdictAt - lastWriteAt,
      exitMs: exitedAt - lastWriteAt,
      converged: run.code === 0 && verdictAt > 0
    }
  } finally {
    await emu.stop()
  }
}

/** A tiny build and the files a pull-request run needs, in a temp dir. */
export function makeWork(): { work: string; tiny: string; cleanup: () => void } {
  const work = mkdtempSync(join(tmpdir(), 'bench-process-'))
  const tiny = join(work, 'tiny')
  mkdirSync(tiny)
  for (let i = 0; i < 20; i++) writeFileSync(join(tiny, `f${i}.js`), `export const x${i} = ${i}\n`)
  writeFileSync(
    join(work, 'event.json'),
    JSON.stringify({ pull_request: { number: 7, head: { sha: '1'.repeat(40) } } })
  )
  return { work, tiny, cleanup: () => rmSync(work, { recursive: true, force: true }) }
}

export { spread, startFakeGitHub }
