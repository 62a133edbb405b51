// Staged rollouts and several datacenters, measured from outside (issues #12, #15):
// `node dist/index.js` with `waves` and/or `datacenters` against the Consul
// emulator, whose nodes are simulated here. A node reports (PUTs
// results/<node> to its own datacenter's agent) once the emulator delivered it
// an event of this deploy; the nodes sent events together report at even
// moments over `spreadMs`, starting 0-1 s later, in a shuffled order.
//
// The figures come from the emulator's arrival log (every request as it
// arrived, epoch ms): the gap between a step's (wave's, datacenter's) last
// node report and the next step's first event fire, and the results reads the
// action made while it waited.
import { readFileSync } from 'node:fs'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import type { ArrivalLogEntry } from '../fleet/consul/index.ts'
import { runAction } from '../fleet/run-action.ts'
import type { LocalS3 } from '../fleet/s3.ts'
import { ConsulClient } from '../src/consul/client.ts'
import { putReport } from './process.ts'

const PREFIX = 'stretcher/bench/'
const RESULTS = `${PREFIX}results/`

export interface StepGap {
  /** the step (1-based) whose last report the gap starts at */
  from: number
  /** ms from the arrival of the step's last report to the next step's first event fire */
  ms: number
  /** what the action sent in between: `+ms METHOD path` from the last report */
  between: string[]
}

export interface StepFigures {
  datacenter: string
  nodes: number
  /** its event fires (a wave too large for one node filter is several events) */
  events: number
  /** ms from the arrival of its first event fire to that of its last */
  sendMs: number
  /** ms from the step's first event fire to its last node report */
  reportingMs: number
  /** the step's time in flight: from its first event fire to the next step's (the last step: to the verdict line) */
  seconds: number
  /** the wait loop's results reads (blocking, `?index=`) in that time */
  loopReads: number
  /** every results read in that time: the loop's and the next announce's baseline read */
  allReads: number
  /** bytes of the results reads' answers (the emulator's request log) */
  bytesRead: number
}

export interface RolloutRun {
  converged: boolean
  code: number | null
  steps: StepFigures[]
  gaps: StepGap[]
  /** ms from the last report of the last step to the verdict line on stdout */
  verdictMs: number
  /** spawn to exit */
  totalMs: number
  /** the action process's peak RSS (VmHWM), MB, read from outside while it ran */
  peakRssMB: number
}

/**
 * Polls /proc/<pid>/status for VmHWM (the peak RSS, which only grows) until
 * stopped: the last reading before the process exits is its peak, give or take
 * what it grew in its last `everyMs`.
 */
export function watchPeakRss(pid: number, everyMs = 20): () => number {
  let kb = 0
  const read = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m) kb = Math.max(kb, Number(m[1]))
    } catch {
      // exited: the last reading stands
    }
  }
  read()
  const timer = setInterval(read, everyMs)
  return () => {
    clearInterval(timer)
    return kb / 1024
  }
}

const shuffle = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

let counter = 0

/**
 * One run of dist/index.js over `nodesPerDc` nodes in each of `datacenters`
 * (service web, every one holding a result of an earlier deploy: a re-deploy),
 * with the given `waves` input (undefined: one wave).
 */
export async function rolloutOnce(opts: {
  s3: LocalS3
  env: Record<string, string>
  buildDir: string
  nodesPerDc: number
  datacenters: string[]
  waves?: string
  spreadMs: number
}): Promise<RolloutRun> {
  const { datacenters, nodesPerDc } = opts
  const dcOf = new Map<string, string>()
  const nodes = datacenters.flatMap((dc) =>
    Array.from({ length: nodesPerDc }, (_, i) => {
      const name = `${dc}-web-${i + 1}`
      dcOf.set(name, dc)
      return { name, datacenter: dc, services: [{ name: 'web' }] }
    })
  )
  const emu = await startConsulEmulator({ datacenters, nodes })
  try {
    const dcUrl = new Map(datacenters.map((dc) => [dc, emu.datacenter(dc).url]))
    for (const dc of datacenters) {
      const consul = new ConsulClient({ addr: dcUrl.get(dc)! })
      const own = nodes.filter((n) => n.datacenter === dc).map((n) => n.name)
      for (let i = 0; i < own.length; i += 64)
        await consul.txn(
          own.slice(i, i + 64).map((node) => ({
            Verb: 'set' as const,
            Key: `${RESULTS}${node}`,
            Value: JSON.stringify({ deploy_id: 'previous-deploy', status: 'success', node, at: 1 })
          })),
          'key:write'
        )
    }
    const deployId = `20261130-${String(process.pid).slice(-5)}-waves-${++counter}`
    const firstArrival = emu.arrivals.length

    // The simulated nodes: after every answered event fire, every node not yet
    // triggered that now holds an event of this deploy reports.
    const triggered = new Set<string>()
    const issued = new Set<string>()
    // the step each node was sent in: nodes sent events while some of the current
    // step's nodes have not reported yet belong to it (a wave sent as several events)
    const stepOf = new Map<string, number>()
    let step = -1
    let stepNodes: string[] = []
    const writes: Array<Promise<void>> = []
    let seenRequests = emu.requests.length
    // results reads as they were answered (this poll's clock: up to 5 ms late)
    const answered: Array<{ at: number; bytes: number }> = []
    const deliver = (): void => {
      const requests = emu.requests
      let fired = false
      const now = Date.now()
      for (; seenRequests < requests.length; seenRequests++) {
        const r = requests[seenRequests]!
        if (r.method === 'GET' && r.path.startsWith(`/v1/kv/${RESULTS}`))
          answered.push({ at: now, bytes: r.bytes })
        if (r.method === 'PUT' && r.path.startsWith('/v1/event/fire/') && r.status === 200)
          fired = true
      }
      if (!fired) return
      const batch: string[] = []
      for (const { name, datacenter } of nodes) {
        if (triggered.has(name)) continue
        if (
          emu
            .datacenter(datacenter)
            .events(name)
            .some((e) => e.payload.includes(deployId))
        ) {
          triggered.add(name)
          batch.push(name)
        }
      }
      if (batch.length === 0) return
      if (step < 0 || stepNodes.every((n) => issued.has(n))) {
        step++
        stepNodes = []
      }
      for (const node of batch) stepOf.set(node, step)
      stepNodes.push(...batch)
      shuffle(batch)
      const begin = performance.now() + Math.random() * 1000
      batch.forEach((node, i) => {
        writes.push(
          new Promise<void>((resolve, reject) => {
            setTimeout(
              () => {
                issued.add(node)
                putReport(
                  `${dcUrl.get(dcOf.get(node)!)!}/v1/kv/${RESULTS}${node}`,
                  JSON.stringify({
                    deploy_id: deployId,
                    status: 'success',
                    node,
                    at: Math.floor(Date.now() / 1000)
                  })
                ).then(resolve, reject)
              },
              begin + ((i + 1) * opts.spreadMs) / batch.length - performance.now()
            )
          })
        )
      })
    }
    const watcher = setInterval(deliver, 5)

    const total = nodes.length
    const verdictText = `${total}/${total} nodes on ${deployId}`
    let verdictAt = 0
    let started = 0
    let exited = 0
    let peakRss = (): number => NaN
    const run = await runAction(
      {
        path: opts.buildDir,
        app: 'bench',
        's3-url': `s3://${opts.s3.bucket}/releases`,
        's3-endpoint': opts.s3.endpoint,
        'consul-addr': emu.url,
        'service-filter': '^web$',
        dest: '/srv/app',
        'deploy-id': deployId,
        'github-token': 'ghs_bench',
        timeout: '2m',
        ...(opts.waves ? { waves: opts.waves } : {}),
        ...(datacenters.length > 1 ? { datacenters: datacenters.join(', ') } : {})
      },
      { ...opts.s3.env, ...opts.env },
      {
        timeoutMs: 300_000,
        onChild: (child) => {
          started = Date.now()
          const stop = watchPeakRss(child.pid!)
          peakRss = stop
          child.once('exit', () => {
            exited = Date.now()
            const mb = stop()
            peakRss = () => mb
          })
        },
        onStdout: (chunk) => {
          if (!verdictAt && chunk.includes(verdictText)) verdictAt = Date.now()
        }
      }
    )
    clearInterval(watcher)
    deliver()
    await Promise.all(writes)
    if (process.env.BENCH_WAVES_DUMP)
      for (const a of emu.arrivals.slice(firstArrival))
        if (!reportOf(a)) process.stderr.write(`${a.at} ${a.method} ${a.path.slice(0, 100)}\n`)
    const converged = run.code === 0 && verdictAt > 0 && triggered.size === total
    // A run that did not converge is counted as such, not measured (a step may lack reports).
    const figures = converged
      ? measure(
          emu.arrivals.slice(firstArrival),
          stepOf,
          dcOf,
          datacenters[0]!,
          verdictAt,
          answered
        )
      : { steps: [], gaps: [], lastReportAt: NaN }
    if (!converged) process.stderr.write(`${run.stdout.split('\n').slice(-15).join('\n')}\n`)
    const last = figures.lastReportAt
    return {
      converged,
      code: run.code,
      steps: figures.steps,
      gaps: figures.gaps,
      verdictMs: verdictAt - last,
      totalMs: exited - started,
      peakRssMB: peakRss()
    }
  } finally {
    await emu.stop()
  }
}

const isFire = (a: ArrivalLogEntry): boolean =>
  a.method === 'PUT' && a.path.startsWith('/v1/event/fire/')
const reportOf = (a: ArrivalLogEntry): string | undefined =>
  a.method === 'PUT' && a.path.startsWith(`/v1/kv/${RESULTS}`)
    ? a.path.slice(`/v1/kv/${RESULTS}`.length).split('?')[0]
    : undefined
const isResultsRead = (a: ArrivalLogEntry): boolean =>
  a.method === 'GET' && a.path.startsWith(`/v1/kv/${RESULTS}`)
const fireDc = (a: ArrivalLogEntry, primary: string): string =>
  new URL(a.path, 'http://x').searchParams.get('dc') || (a.datacenter ?? primary)

/**
 * Each step (wave, datacenter) from the arrival log: its nodes (as the runner
 * saw them sent), its first event fire (the first fire after the previous step's
 * last report: no later step is sent anything before that), its last report.
 */
function measure(
  arrivals: ArrivalLogEntry[],
  stepOf: Map<string, number>,
  dcOf: Map<string, string>,
  primary: string,
  endAt: number,
  answered: Array<{ at: number; bytes: number }>
): { steps: StepFigures[]; gaps: StepGap[]; lastReportAt: number } {
  const count = Math.max(0, ...stepOf.values()) + 1
  const lastReport = Array.from({ length: count }, () => -1)
  const nodes = Array.from({ length: count }, () => 0)
  for (const step of stepOf.values()) nodes[step]!++
  arrivals.forEach((a, i) => {
    const node = reportOf(a)
    const step = node === undefined ? undefined : stepOf.get(node)
    if (step !== undefined) lastReport[step] = i
  })
  const firstFire: number[] = []
  for (let k = 0; k < count; k++) {
    const after = k === 0 ? 0 : lastReport[k - 1]!
    firstFire.push(arrivals.findIndex((a, i) => i > after && isFire(a)))
  }
  const steps: StepFigures[] = []
  const gaps: StepGap[] = []
  for (let k = 0; k < count; k++) {
    const end = k + 1 < count ? firstFire[k + 1]! : arrivals.length
    const fire = arrivals[firstFire[k]!]!
    const window = arrivals.slice(firstFire[k], end)
    const reads = window.filter(isResultsRead)
    const fires = window.filter(isFire)
    const loop = reads.filter((a) => /[?&]index=/.test(a.path))
    const dc = fireDc(fire, primary)
    const stepNodes = [...stepOf].filter(([, s]) => s === k).map(([n]) => n)
    if (stepNodes.some((n) => dcOf.get(n) !== dc))
      throw new Error(`step ${k + 1}: a node outside ${dc} was sent its event`)
    const until = k + 1 < count ? arrivals[end]!.at : endAt
    steps.push({
      datacenter: dc,
      nodes: nodes[k]!,
      events: fires.length,
      sendMs: fires.at(-1)!.at - fire.at,
      reportingMs: arrivals[lastReport[k]!]!.at - fire.at,
      seconds: (until - fire.at) / 1000,
      loopReads: loop.length,
      allReads: reads.length,
      bytesRead: answered
        .filter((r) => r.at >= fire.at && r.at < until)
        .reduce((sum, r) => sum + r.bytes, 0)
    })
    if (k + 1 < count) {
      const from = arrivals[lastReport[k]!]!
      gaps.push({
        from: k + 1,
        ms: arrivals[firstFire[k + 1]!]!.at - from.at,
        between: arrivals
          .slice(lastReport[k]! + 1, firstFire[k + 1]! + 1)
          .filter((a) => reportOf(a) === undefined)
          .map((a) => `+${a.at - from.at} ${a.method} ${a.path.slice(0, 90)}`)
      })
    }
  }
  return {
    steps,
    gaps,
    lastReportAt: count ? arrivals[lastReport[count - 1]!]!.at : NaN
  }
}
