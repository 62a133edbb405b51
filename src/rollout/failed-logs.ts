// After the wait, the log tails of the nodes that failed, for the verdict line,
// the job log and the summary (contract 5): read from each node's datacenter.
import type { FleetBackend } from '../backend/fleet-backend.ts'
import type { FleetState, NodeId } from '../fleet-state/fleet-state.ts'
import { nodeId } from '../fleet-state/fleet-state.ts'

/** A failed node's log tail: the report's LogExcerpt (report/ ranks above rollout/). */
export type FailedLog = NodeId & { text: string }

/**
 * Logs are read only for nodes that failed this deploy (contract 5), each from
 * its datacenter; each excerpt keeps the datacenter (names repeat across them).
 */
export async function readFailedLogs(
  fleet: FleetState,
  backend: FleetBackend
): Promise<FailedLog[]> {
  const byDatacenter = new Map<string | undefined, string[]>()
  // A node that failed and was then rolled back keeps its log: its failure is the cause.
  const failed = fleet
    .list()
    .filter((s) => s.status === 'failure' || (s.status === 'rolled_back' && s.was === 'failure'))
  for (const { node, datacenter } of failed)
    byDatacenter.set(datacenter, [...(byDatacenter.get(datacenter) ?? []), node])
  const excerpts: FailedLog[] = []
  for (const [dc, nodes] of byDatacenter)
    for (const { node, text } of await backend.at(dc).readLogs(nodes))
      excerpts.push({ ...nodeId(dc, node), text })
  return excerpts
}
