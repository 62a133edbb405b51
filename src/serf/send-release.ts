// A step's send on Serf (contract 13): `latest` first when the step moves it
// (one PUT: S3 writes an object whole), then the one-wave default as a user
// event {Name: event-name, Payload: URL, Coalesce: false} to every member, or a
// wave as queries named event-name with FilterNodes (cut to fit 1 KB) and
// RequestAck. The mark is the Lamport time of what was sent: the event's, seen
// on a stream of `user:<event-name>` opened before firing, or the query clock
// read from `stats` just before the queries (a query's LTime is at least that).
import type { ObjectStore, SendRequest, Sent } from '../backend/fleet-backend.ts'
import type { Log } from '../shared/log.ts'
import { ACK_MS } from './await-tags.ts'
import { nodeChunks, queryBaseBytes } from './query-chunks.ts'
import type { Clock } from './result-tag.ts'
import { encodeMark } from './result-tag.ts'
import type { SerfClient } from './rpc-client.ts'
import type { StreamRecord } from './rpc-types.ts'

/** Serf's cap on a user event's name and payload together (bytes, before encoding). */
export const USER_EVENT_LIMIT = 512
/** How long the event may take to show on the agent's own stream before `stats` stands in. */
const EVENT_SEEN_MS = 3000

/** The store part of a send: what movePointer needs. */
export type PointerContext = Pick<SendContext, 'store' | 'keys' | 'log'>

export interface SendContext {
  client: SerfClient
  store: ObjectStore
  eventName: string
  /** the object `latest` and the history object of an ID */
  keys: { latest: string; history: (deployId: string) => string }
  log: Log
}

export interface SendOutcome {
  sent: Sent
  clock: Clock
  /** query sends: the nodes that did not ack within ACK_MS */
  unacked: string[]
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Sends a query to `nodes` (cut to fit) and resolves with the nodes that acked within ACK_MS. */
export async function queryNodes(
  client: SerfClient,
  name: string,
  payload: string,
  nodes: readonly string[],
  sourceNode: string,
  onSent?: (firedAt: number, nodes: readonly string[]) => void
): Promise<string[]> {
  const one = async (chunk: string[]): Promise<string[]> => {
    const firedAt = Date.now()
    // Out once the agent took it: its first ack says so, or its end when none acked.
    let said = false
    const sent = () => {
      if (!said) onSent?.(firedAt, chunk)
      said = true
    }
    try {
      const result = await client.query({
        name,
        payload,
        filterNodes: chunk,
        requestAck: true,
        until: 'acks',
        timeoutMs: ACK_MS,
        onRecord: sent
      })
      sent()
      return result.acks
    } catch (error) {
      // The estimate of the encoding was short: halve the list.
      if (chunk.length > 1 && /exceeds limit/i.test((error as Error).message)) {
        const half = Math.ceil(chunk.length / 2)
        const acks = await Promise.all([one(chunk.slice(0, half)), one(chunk.slice(half))])
        return acks.flat()
      }
      throw error
    }
  }
  const chunks = nodeChunks(nodes, queryBaseBytes(name, payload, sourceNode))
  const settled = await Promise.allSettled(chunks.map(one))
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed) throw failed.reason
  return settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []))
}

/** The user event, and its LTime as the agent's own stream shows it. */
async function fireEvent(
  ctx: SendContext,
  url: string,
  clockBefore: number
): Promise<{ firedAt: number; clock: Clock }> {
  let seen: (ltime: number) => void = () => {}
  const ltime = new Promise<number>((resolve) => (seen = resolve))
  const onRecord = (r: StreamRecord) => {
    if (r.event === 'user' && r.name === ctx.eventName && text(r.payload) === url)
      if (r.ltime >= clockBefore) seen(r.ltime)
  }
  const stream = await ctx.client.stream(`user:${ctx.eventName}`, onRecord).catch(() => undefined)
  try {
    const firedAt = Date.now()
    await ctx.client.event(ctx.eventName, url, { coalesce: false })
    let timer: NodeJS.Timeout | undefined
    const time = stream
      ? await Promise.race([
          ltime,
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), EVENT_SEEN_MS)
          })
        ]).finally(() => clearTimeout(timer))
      : undefined
    if (time === undefined)
      ctx.log.debug(
        `the ${ctx.eventName} event did not show on the agent's stream: counting results from the event clock read before it (${clockBefore})`
      )
    return { firedAt, clock: { kind: 'event', time: time ?? clockBefore } }
  } finally {
    await stream?.stop()
  }
}

/**
 * Sends a step; resolves with its mark, or throws when nothing went out (then
 * `latest` is put back as it was when this send moved it). A wave whose first
 * queries went out and a later one failed throws too, `latest` left moved.
 */
export async function sendRelease(
  ctx: SendContext,
  request: SendRequest
): Promise<SendOutcome | undefined> {
  const url = request.eventUrl
  if (request.byFilters) checkEventSize(ctx.eventName, url)
  else if (request.nodes.length === 0) return undefined
  const stats = await ctx.client.stats()
  const sourceNode = stats.sections.agent?.name ?? ''
  // Checked before anything is written: a node list that cannot be sent throws here.
  if (!request.byFilters) nodeChunks(request.nodes, queryBaseBytes(ctx.eventName, url, sourceNode))
  request.signal?.throwIfAborted()
  const restore = request.pointer
    ? await movePointer(ctx, request.deployId, request.pointer)
    : undefined
  // Set once anything went out: from then on `latest` stays moved.
  const progress = { wentOut: false }
  try {
    request.signal?.throwIfAborted()
    return request.byFilters
      ? await sendEvent(ctx, request, stats.eventTime, progress)
      : await sendQueries(ctx, request, { time: stats.queryTime, sourceNode }, progress)
  } catch (error) {
    if (restore && !progress.wentOut) await putBack(ctx, restore)
    throw error
  }
}

function checkEventSize(eventName: string, url: string): void {
  const bytes = utf8(eventName) + utf8(url)
  if (bytes > USER_EVENT_LIMIT)
    throw new Error(
      `the Serf event ${eventName} would carry ${bytes} bytes of name and manifest URL, over Serf's ${USER_EVENT_LIMIT}-byte limit for a user event: shorten the s3-url prefix or the app name`
    )
}

/** Writes the history record (when given) and moves `latest`; resolves with how to put it back. */
export async function movePointer(
  ctx: PointerContext,
  deployId: string,
  pointer: NonNullable<SendRequest['pointer']>
): Promise<() => Promise<void>> {
  const { store, keys } = ctx
  const { manifestUrl, history } = pointer
  const before = await store.readText(keys.latest)
  if (history) await store.writeText(keys.history(deployId), JSON.stringify(history))
  await store.writeText(keys.latest, `${manifestUrl}\n`)
  ctx.log.info(`s3://${store.bucket}/${keys.latest} → ${manifestUrl}`)
  return () =>
    before === undefined ? store.remove(keys.latest) : store.writeText(keys.latest, before).then()
}

/** Nothing was sent: `latest` goes back to what it was (a failure to is a warning). */
async function putBack(ctx: SendContext, restore: () => Promise<void>): Promise<void> {
  const { store, keys, log } = ctx
  await restore().catch((e: unknown) =>
    log.warning(`could not put latest back: ${(e as Error).message}`)
  )
  log.info(`put s3://${store.bucket}/${keys.latest} back: nothing was sent`)
}

/** The one-wave default: the user event, marked with its LTime. */
async function sendEvent(
  ctx: SendContext,
  request: SendRequest,
  eventTime: number,
  progress: { wentOut: boolean }
): Promise<SendOutcome> {
  const { firedAt, clock } = await fireEvent(ctx, request.eventUrl, eventTime)
  progress.wentOut = true
  const sent = { firedAt, baseline: encodeMark(clock) }
  request.onFired?.(sent)
  ctx.log.info(`fired the Serf event ${ctx.eventName} (LTime ${clock.time})`)
  return { sent, clock, unacked: [] }
}

/** A wave: queries to its nodes, marked with the query clock read before them. */
async function sendQueries(
  ctx: SendContext,
  request: SendRequest,
  before: { time: number; sourceNode: string },
  progress: { wentOut: boolean }
): Promise<SendOutcome> {
  const { eventName } = ctx
  const clock: Clock = { kind: 'query', time: before.time }
  const baseline = encodeMark(clock)
  let firstFiredAt: number | undefined
  const onSent = (firedAt: number, nodes: readonly string[]) => {
    firstFiredAt ??= firedAt
    progress.wentOut = true
    request.onFired?.({ firedAt, baseline, nodes })
  }
  const acked = new Set(
    await queryNodes(
      ctx.client,
      eventName,
      request.eventUrl,
      request.nodes,
      before.sourceNode,
      onSent
    )
  )
  const unacked = request.nodes.filter((n) => !acked.has(n))
  ctx.log.info(
    `sent the Serf query ${eventName} to ${request.nodes.length} node(s) (query clock ${clock.time})${unacked.length ? `; ${unacked.length} did not ack yet` : ''}`
  )
  return { sent: { firedAt: firstFiredAt ?? Date.now(), baseline }, clock, unacked }
}
