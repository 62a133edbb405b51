// What the run's filters mean for who deploys, said once in the log before
// anything goes out. With no filter every node is a target. On Serf the
// one-wave default is a user event, which carries no filter (contract 13):
// members outside node-filter and serf-tags that handle the event deploy too,
// and the run waits only for its targets; a wave is a query to named nodes.
import type { Config } from '../config/config.ts'
import { sendsByFilters } from '../config/rollout-inputs.ts'

export function targetingNote(config: Config): string | undefined {
  const { backend, filters } = config
  if (backend.kind !== 'serf') {
    if (Object.values(filters).some((f) => f !== undefined)) return undefined
    return 'no node-filter or service-filter: every live node is targeted, Consul servers included (most fleets set service-filter)'
  }
  const filtered = filters.node !== undefined || Object.keys(backend.tags).length > 0
  if (!filtered)
    return `no node-filter or serf-tags: every alive member is targeted; a Serf event reaches every member, so only this app's nodes may handle "${config.eventName}"`
  if (!sendsByFilters(config)) return undefined
  return `node-filter and serf-tags choose the members this run waits for, but the Serf event "${config.eventName}" reaches every member, and each one that handles it deploys; to send only to the targets, set waves: 100% (one query naming them)`
}
