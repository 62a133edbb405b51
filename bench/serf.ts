// `--only=serf`: the action over a real Serf cluster, measured from outside
// (contract 13). N real agents (fleet/serf: one per node, each running the
// simulated stretcher as its deploy handler, real tar/rsync/sh) plus the agent
// the action talks to. Each run is `node dist/index.js` with `wait: true`
// deploying a tiny build to every node (a re-deploy after the first run).
// An observer in this process, on its own RPC connection to the action's agent
// (the view the action reads), sees the user event on a `user:<event>` stream
// and polls `members` every OBSERVE_MS for each node's first tag of this
// deploy. Measured: event → last tag seen by the observer; last tag → the
// verdict line's arrival on the child's stdout (and → its exit).
import { startFakeGitHub } from '../fleet/github-api.ts'
import { runAction } from '../fleet/run-action.ts'
import { startSerfFleet } from '../fleet/serf/fleet.ts'
import type { SerfFleet } from '../fleet/serf/fleet.ts'
import { parseSerfResult, serfResultTagName } from '../src/shared/serf-result-tag.ts'
import { connectSerf } from '../src/serf/rpc-client.ts'
import type { SerfClient } from '../src/serf/rpc-client.ts'

/** How often the observer reads `members` (its resolution). */
export const OBSERVE_MS = 10
const APP = 'bench'

export interface SerfRun {
  /** the observer: the event on its stream → the last node's tag of this deploy */
  eventToLastTagMs: number
  /** the last tag seen by the observer → the verdict line on the child's stdout */
  lastTagToVerdictMs: number
  /** the last tag seen by the observer → the child's exit */
  lastTagToExitMs: number
  /** the child's spawn → its `fired the Serf event` line */
  spawnToFiredMs: number
  converged: boolean
  /** the node whose tag came last */
  lastNode: string
  /** the event on the observer's stream → that node's handler started (its own clock record) */
  eventToLastHandlerMs: number
  /** that node's handler ended (its tag set) → its tag seen by the observer: the gossip */
  lastHandlerToTagMs: number
}

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

/** What the observer saw of one deploy: when its event showed, and each node's first tag of it. */
class Observer {
  eventAt = 0
  readonly tagAt = new Map<string, number>()
  private stopped = false
  private readonly client: SerfClient
  private readonly deployId: string
  private readonly nodes: readonly string[]

  constructor(client: SerfClient, deployId: string, nodes: readonly string[]) {
    this.client = client
    this.deployId = deployId
    this.nodes = nodes
  }

  async watch(eventName: string): Promise<() => Promise<void>> {
    const text = (b: Uint8Array) => new TextDecoder().decode(b)
    const stream = await this.client.stream(`user:${eventName}`, (r) => {
      if (r.event === 'user' && !this.eventAt && text(r.payload).includes(this.deployId))
        this.eventAt = performance.now()
    })
    const polling = this.poll()
    return async () => {
      this.stopped = true
      await polling
      await stream.stop()
    }
  }

  private async poll(): Promise<void> {
    const tag = serfResultTagName(APP)
    while (!this.stopped && this.tagAt.size < this.nodes.length) {
      const members = await this.client.members()
      const at = performance.now()
      for (const m of members) {
        if (!this.nodes.includes(m.name) || this.tagAt.has(m.name)) continue
        const result = parseSerfResult(m.tags[tag] ?? '')
        if (
          typeof result !== 'string' &&
          result.deployId === this.deployId &&
          result.status === 'success'
        )
          this.tagAt.set(m.name, at)
      }
      await new Promise((resolve) => setTimeout(resolve, OBSERVE_MS))
    }
  }
}

/** One deploy through the fleet, observed from outside. */
async function serfOnce(
  fleet: SerfFleet,
  observerClient: SerfClient,
  work: { dir: string; github: string },
  deployId: string
): Promise<SerfRun> {
  const observer = new Observer(observerClient, deployId, fleet.names)
  const stop = await observer.watch(fleet.env.FLEET_EVENT_NAME!)
  const verdictText = `${fleet.names.length}/${fleet.names.length} nodes on ${deployId}`
  let verdictAt = 0
  let firedAt = 0
  let exitedAt = 0
  let spawnedAt = 0
  try {
    const run = await runAction(
      {
        path: 'tiny',
        app: APP,
        backend: 'serf',
        's3-url': fleet.s3Url,
        's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
        'serf-rpc-addr': fleet.rpcAddr,
        'serf-tags': fleet.env.FLEET_SERF_TAGS!,
        dest: '/srv/app',
        'deploy-id': deployId,
        'github-token': 'ghs_bench',
        timeout: '2m'
      },
      { ...fleet.s3.env, ...githubEnv(work.dir, work.github) },
      {
        timeoutMs: 180_000,
        onChild: (child) => {
          spawnedAt = performance.now()
          child.once('exit', () => (exitedAt = performance.now()))
        },
        onStdout: lineClock((line, at) => {
          if (!firedAt && line.startsWith('fired the Serf event')) firedAt = at
          if (!verdictAt && line.includes(verdictText)) verdictAt = at
        })
      }
    )
    await stop()
    const [lastNode, lastTagAt] = [...observer.tagAt].reduce(
      (a, b) => (b[1] > a[1] ? b : a),
      ['', 0]
    )
    // The handler's record is in wall-clock time: to performance.now() time.
    const handler = (await fleet.runs(lastNode)).findLast((r) => r.deployId === deployId)
    const local = (iso: string | undefined) =>
      iso === undefined ? Number.NaN : Date.parse(iso) - performance.timeOrigin
    return {
      eventToLastHandlerMs: local(handler?.startedAt) - observer.eventAt,
      lastHandlerToTagMs: lastTagAt - local(handler?.endedAt),
      eventToLastTagMs: lastTagAt - observer.eventAt,
      lastTagToVerdictMs: verdictAt - lastTagAt,
      lastTagToExitMs: exitedAt - lastTagAt,
      spawnToFiredMs: firedAt - spawnedAt,
      converged:
        run.code === 0 &&
        verdictAt > 0 &&
        observer.eventAt > 0 &&
        observer.tagAt.size === fleet.names.length,
      lastNode
    }
  } finally {
    await stop().catch(() => undefined)
  }
}

function githubEnv(work: string, api: string): Record<string, string> {
  return {
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: '3333333333333333333333333333333333333333',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: `${work}/event.json`,
    GITHUB_RUN_ID: '98',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_API_URL: api,
    GITHUB_SERVER_URL: 'https://github.example.com'
  }
}

/** Starts the cluster, runs `runs` deploys through it, stops everything; `work` holds `tiny/` and event.json. */
export async function serfBench(opts: {
  nodes: number
  runs: number
  work: string
  log: (line: string) => void
}): Promise<{ runs: SerfRun[]; startMs: number }> {
  const github = await startFakeGitHub()
  const started = performance.now()
  opts.log(`serf: starting ${opts.nodes} agents and the action's…`)
  const fleet = await startSerfFleet({ app: APP, nodes: opts.nodes })
  const startMs = performance.now() - started
  const observer = await connectSerf(fleet.rpcAddr)
  const runs: SerfRun[] = []
  try {
    for (let i = 0; i < opts.runs; i++) {
      opts.log(`serf: ${opts.nodes} agents, run ${i + 1}/${opts.runs}`)
      const id = `20261206-${String(process.pid).slice(-5)}-serf-${i + 1}`
      runs.push(await serfOnce(fleet, observer, { dir: opts.work, github: github.url }, id))
    }
  } finally {
    await observer.close()
    await fleet.stop()
    await github.stop()
  }
  return { runs, startMs }
}
