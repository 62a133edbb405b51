// A step's send and the watch of its results (contract 13). A wave's queries
// that some nodes did not ack are remembered by the send's mark (each send's
// is its own), and the watch of that send sends the query to them again. An
// event send leaves how to send its deploy as a query to nodes still silent
// (nudge-silent.ts), which nobody acks an event to tell.
import type { ObjectStore, SendRequest, Sent, WatchRequest } from '../backend/fleet-backend.ts'
import type { Log } from '../shared/log.ts'
import type { Resend } from './await-tags.ts'
import { awaitTags } from './await-tags.ts'
import type { MemberFilters } from './member-targets.ts'
import { memberMatcher } from './member-targets.ts'
import type { Nudge } from './nudge-silent.ts'
import type { Clock } from './result-tag.ts'
import { decodeMark } from './result-tag.ts'
import type { SerfClient } from './rpc-client.ts'
import type { SerfObjectKeys } from './s3-records.ts'
import { queryNodes, sendRelease } from './send-release.ts'

export interface SendsContext {
  client: SerfClient
  store: ObjectStore
  keys: SerfObjectKeys
  app: string
  eventName: string
  filters: MemberFilters
  /** the agent's member name (the queries' source node) */
  sourceNode: () => Promise<string>
  log: Log
}

export class Sends {
  private readonly ctx: SendsContext
  /** whether a member matches the filters (for joiners), whatever its status */
  private readonly matches: ReturnType<typeof memberMatcher>
  /** query sends whose nodes have not all acked, by the send's mark */
  private readonly unackedBySend = new Map<number, Resend>()
  /** event sends: how to send their deploy as a query to nodes still silent, by the send's mark */
  private readonly nudgeBySend = new Map<number, Nudge>()

  constructor(ctx: SendsContext) {
    this.ctx = ctx
    this.matches = memberMatcher(ctx.filters)
  }

  async send(request: SendRequest): Promise<Sent | undefined> {
    const { client, store, eventName, keys, log } = this.ctx
    const outcome = await sendRelease({ client, store, eventName, keys, log }, request)
    if (!outcome) return undefined
    if (request.byFilters)
      this.nudgeBySend.set(outcome.sent.baseline, {
        send: async (nodes) => {
          const stats = await client.stats()
          const clock: Clock = { kind: 'query', time: stats.queryTime }
          await queryNodes(client, eventName, request.eventUrl, nodes, await this.ctx.sourceNode())
          return clock
        }
      })
    if (outcome.unacked.length > 0) {
      const node = await this.ctx.sourceNode()
      this.unackedBySend.set(outcome.sent.baseline, {
        unacked: new Set(outcome.unacked),
        send: (nodes) => queryNodes(client, eventName, request.eventUrl, nodes, node)
      })
    }
    return outcome.sent
  }

  async watch(request: WatchRequest): Promise<void> {
    const { client, app, filters, log } = this.ctx
    const key = request.sent.baseline
    const resend = this.unackedBySend.get(key)
    this.unackedBySend.delete(key)
    const nudge = this.nudgeBySend.get(key)
    this.nudgeBySend.delete(key)
    if (filters.nodeFilter === undefined && Object.keys(filters.tags).length === 0)
      log.debug('no node-filter or serf-tags: every alive member is a target')
    await awaitTags({
      client,
      app,
      fleet: request.fleet,
      mark: decodeMark(request.sent.baseline),
      firedAt: request.sent.firedAt,
      deadline: request.deadline,
      signal: request.signal,
      admitJoiner: request.admitJoiners
        ? (member) => member.status === 'alive' && this.matches(member)
        : undefined,
      onChange: request.onChange,
      resend,
      nudge,
      log
    })
  }
}
