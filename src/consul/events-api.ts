// User events: fire one (never twice for one lost answer), and read which
// events with a payload are in the agent's event list.
import { ConsulError } from './consul-error.ts'
import type { ConsulHttp, RequestOptions } from './http-transport.ts'

/** The transport, and the agent's datacenter (its event list holds only that one's events). */
export type EventsClient = ConsulHttp & {
  agentDatacenter(signal?: AbortSignal): Promise<string>
}

/**
 * Fire a user event; the payload goes verbatim (stretcher uses it untrimmed).
 * A fire whose answer is lost (reset, timeout, a 5xx from a proxy) may have been
 * handled, and firing again would deploy every node twice: `seenBefore` (the IDs
 * of events with this payload already in the agent's list; read here when not
 * given) is compared with the list after such a failure, and an event new there
 * was ours. (The agent lists only events it received itself: when the filters
 * keep it from the event, or the list cannot be read, it is fired again.)
 */
export async function fireEvent(
  consul: EventsClient,
  name: string,
  payload: string,
  filters: { node?: string; service?: string; tag?: string },
  opts: Pick<RequestOptions, 'signal' | 'stopRetrying'> & { seenBefore?: string[] } = {}
): Promise<{ id: string }> {
  const seenBefore =
    'seenBefore' in opts
      ? opts.seenBefore
      : await eventIds(consul, name, payload, opts.signal).catch(() => undefined)
  const res = await consul.request('PUT', `event/fire/${encodeURIComponent(name)}`, {
    query: { node: filters.node, service: filters.service, tag: filters.tag },
    body: payload,
    signal: opts.signal,
    stopRetrying: opts.stopRetrying,
    permission: `event:write on "${name}"`,
    tookEffect:
      seenBefore &&
      (async () => {
        const fired = await newEventId(consul, name, payload, seenBefore, opts.signal).catch(
          () => undefined
        )
        if (fired === undefined) return undefined
        consul.onNotice?.(
          `the event was fired after all (${fired} is in the agent's event list): not firing it again`
        )
        return { status: 200, body: JSON.stringify({ ID: fired }), index: 0n, knownLeader: true }
      })
  })
  return { id: (JSON.parse(res.body) as { ID: string }).ID }
}

/**
 * IDs of the events named `name` carrying `payload` in the agent's event buffer.
 * The buffer is the agent's own (agent/event_endpoint.go EventList reads no
 * `?dc`): it only ever holds events of the agent's datacenter, so in a client
 * bound to another datacenter this throws rather than say "not fired" (callers
 * treat an unreadable list as "cannot tell", and fire again).
 */
export async function eventIds(
  consul: EventsClient,
  name: string,
  payload: string,
  signal?: AbortSignal
): Promise<string[]> {
  if (consul.datacenter !== undefined) {
    // Asked once; like the list itself, never allowed to hold the fire back long.
    const own = await Promise.race([
      consul.agentDatacenter(signal),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref())
    ])
    if (own === undefined)
      throw new ConsulError("the agent's datacenter is not known yet", undefined, true)
    if (own !== consul.datacenter)
      throw new ConsulError(
        `the agent's event list holds only its own datacenter's events, not "${consul.datacenter}"'s`,
        undefined,
        false
      )
  }
  const res = await consul.request('GET', 'event/list', {
    query: { name },
    signal,
    permission: `event:read on "${name}"`,
    // a check, not the deploy: a slow agent must not hold the event back for long
    timeoutMs: 2_000,
    retryUntil: Date.now() + 2_000
  })
  const events = JSON.parse(res.body) as Array<{ ID: string; Payload: string | null }>
  const wanted = Buffer.from(payload).toString('base64')
  return events.filter((e) => e.Payload === wanted).map((e) => e.ID)
}

/** The ID of an event with this payload that is in the agent's list and not in `seenBefore`. */
export async function newEventId(
  consul: EventsClient,
  name: string,
  payload: string,
  seenBefore: string[],
  signal?: AbortSignal
): Promise<string | undefined> {
  const ids = await eventIds(consul, name, payload, signal)
  return ids.find((id) => !seenBefore.includes(id))
}
