// The action's side of the await benchmark, in its own process so that its RSS
// is its own (the Consul emulator and the simulated reporters live in the runner).
//
//   node bench/await-child.ts <consul-url> <results-prefix> <baseline-index> <nodes> <deploy-id> <last-node>
//
// Prints `ready`, waits for a line on stdin (the runner starts its reporters
// then), runs awaitFleet to its verdict and prints one JSON line.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { awaitFleet } from '../src/consul/await.ts'
import { ConsulClient } from '../src/consul/client.ts'
import { FleetState } from '../src/fleet-state/fleet-state.ts'

const [url, prefix, baselineText, nodesText, deployId, lastNode] = process.argv.slice(2)
const baselineIndex = Number(baselineText)
const targets = Array.from({ length: Number(nodesText) }, (_, i) => `n-${i}`)
const consul = new ConsulClient({ addr: url! })
const fleet = new FleetState({ deployId: deployId!, baselineIndex, maxFailures: 0, targets })

const lines = createInterface({ input: process.stdin })
process.stdout.write('ready\n')
await new Promise((resolve) => lines.once('line', resolve))
lines.close()

const firedAt = Date.now()
await awaitFleet({
  consul,
  fleet,
  resultsPrefix: prefix!,
  firedAt,
  deadline: firedAt + 120_000,
  baselineIndex
})
const endedAt = Date.now()
const last = fleet.list().find((s) => s.node === lastNode)
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
process.stdout.write(
  JSON.stringify({
    firedAt,
    endedAt,
    lastNoticedAt: last?.noticedMs === undefined ? null : firedAt + last.noticedMs,
    verdict: fleet.verdict(),
    counts: fleet.counts(),
    rssMB: hwm ? Number(hwm[1]) / 1024 : null
  }) + '\n'
)
