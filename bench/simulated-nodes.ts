// Nodes that answer the action's events without running stretcher, for runs at
// fleet scale (1,000 nodes and more): each node that the Consul emulator
// delivered a new event reports the release its payload names (the manifest
// URL's file name), as stretcher's success or failure command would, at an
// even moment over `spreadMs`; a failing node stores a log as the failure
// command does. Events of any release count: a rollback's too.
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { putReport } from './process.ts'

export interface SimulatedNodes {
  /** every report sent, then no more */
  stop(): Promise<void>
}

/** The deploy ID an event's payload (a manifest URL) names: `…/<id>.yml` (or .switch/.prepare.yml). */
const releaseOf = (payload: string): string | undefined =>
  /\/([^/]+?)(?:\.(?:prepare|switch))?\.yml$/.exec(payload.trim())?.[1]

export function simulateNodes(
  emu: ConsulEmulator,
  opts: {
    kvPrefix: string
    nodes: readonly string[]
    spreadMs: number
    fails?: (node: string, deployId: string) => boolean
  }
): SimulatedNodes {
  const seen = new Map<string, number>()
  // Each node's reports in order, as stretcher runs one deploy after the other:
  // a rollback's report never lands before the report of the deploy it undoes.
  const last = new Map<string, Promise<void>>()
  const writes: Array<Promise<void>> = []
  let seenRequests = emu.requests.length
  const url = (key: string) => `${emu.url}/v1/kv/${opts.kvPrefix}/${key}`
  const report = (node: string, id: string): Promise<void> => {
    const failed = opts.fails?.(node, id) ?? false
    const at = Math.floor(Date.now() / 1000)
    const result = putReport(
      url(`results/${node}`),
      JSON.stringify({ deploy_id: id, status: failed ? 'failure' : 'success', node, at })
    )
    if (!failed) return result
    const log = [
      `2026/12/06 12:00:00 Loading manifest: s3://releases/web/${id}.yml`,
      '2026/12/06 12:00:01 invoking command: ./bin/migrate --check',
      'migration 0042_add_index: relation "orders" does not exist',
      `2026/12/06 12:00:01 Deploy manifest failed: failed: ./bin/migrate --check: exit status 1`
    ].join('\n')
    return Promise.all([result, putReport(url(`logs/${node}`), `${log}\n`)]).then(() => undefined)
  }
  const deliver = (): void => {
    let fired = false
    for (; seenRequests < emu.requests.length; seenRequests++) {
      const r = emu.requests[seenRequests]!
      if (r.method === 'PUT' && r.path.startsWith('/v1/event/fire/') && r.status === 200)
        fired = true
    }
    if (!fired) return
    const batch: Array<[string, string]> = []
    for (const node of opts.nodes) {
      const events = emu.events(node)
      if (events.length === (seen.get(node) ?? 0)) continue
      seen.set(node, events.length)
      const id = releaseOf(events.at(-1)!.payload)
      if (id) batch.push([node, id])
    }
    const begin = Date.now()
    batch.forEach(([node, id], i) => {
      const due = begin + ((i + 1) * opts.spreadMs) / batch.length - Date.now()
      const wait = new Promise<void>((resolve) => setTimeout(resolve, due))
      const done = Promise.all([last.get(node), wait]).then(() => report(node, id))
      last.set(
        node,
        done.catch(() => undefined)
      )
      writes.push(done)
    })
  }
  const timer = setInterval(deliver, 5)
  return {
    async stop() {
      clearInterval(timer)
      await Promise.allSettled(writes)
    }
  }
}
