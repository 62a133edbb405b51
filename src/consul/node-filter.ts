// Node filters for wave events (contract 8): anchored RE2 alternations that
// match exactly a wave's nodes, cut to fit serf's 512-byte user event. Pure.
import { quote } from '../shared/errors.ts'

// Go's regexp.QuoteMeta set: the characters RE2 gives a meaning outside a
// class. `-` and `_` are literal there, so they stay as they are.
const RE2_META = /[\\.+*?()|[\]{}^$]/g

/** A node name as an RE2 literal, as Go's regexp.QuoteMeta writes it. */
export function escapeRe2(name: string): string {
  return name.replace(RE2_META, (c) => `\\${c}`)
}

/** The anchored filter matching exactly these node names: `^(a|b|c)$`. */
export function nodeFilterFor(names: readonly string[]): string {
  return `^(${names.map(escapeRe2).join('|')})$`
}

/**
 * Serf caps a user event at 512 bytes (serf UserEventSizeLimit, not raised by
 * Consul; research/consul-api.md §3), and the node filter travels inside that
 * event: Consul msgpack-encodes {ID, Name, Payload, NodeFilter, ServiceFilter,
 * TagFilter, Version} (agent/user_event.go, `nf`/`sf`/`tf`) and serf wraps that
 * again with the serf name `consul:event:<name>` and its Lamport time. The
 * query string is not the binding limit (Go's net/http takes 1 MiB of
 * headers): the event is.
 *
 * This default assumes the event name `deploy`, a payload (manifest URL) of at
 * most 100 bytes (the action warns above that, contract 6), no service or tag
 * filter on wave events, and keeps a margin for the estimate: see
 * nodeFilterBudget() for the arithmetic. About 30 names like `web-12` fit.
 */
export const DEFAULT_NODE_FILTER_BYTES = 256

const SERF_USER_EVENT_LIMIT = 512
// Room left for what the estimate may miss (derived, not measured against Go).
const BUDGET_MARGIN = 16

// msgpack (old spec, as hashicorp/go-msgpack writes strings and []byte): fixraw ≤ 31, raw16, raw32.
function rawHeader(length: number): number {
  return length <= 31 ? 1 : length <= 0xffff ? 3 : 5
}
function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}
// One omitempty map entry of the Consul UserEvent: its key (`p`, `nf`, `sf`, `tf`) and raw value.
function optionalField(key: string, length: number): number {
  return length === 0 ? 0 : 1 + key.length + rawHeader(length) + length
}

/**
 * The largest node filter (bytes) that keeps a user event under serf's 512
 * bytes, for this event name, payload size and the other filters the event
 * carries. An estimate from the encodings (see DEFAULT_NODE_FILTER_BYTES) with
 * a margin of 16 bytes; 0 or less means no node filter fits at all.
 */
export function nodeFilterBudget(event: {
  eventName: string
  payloadBytes: number
  serviceFilter?: string
  tagFilter?: string
}): number {
  const name = byteLength(event.eventName)
  const serfName = name + byteLength('consul:event:')
  const other =
    optionalField('sf', byteLength(event.serviceFilter ?? '')) +
    optionalField('tf', byteLength(event.tagFilter ?? ''))
  // Consul's msgpack without the node filter: map header, "ID" + 36-char UUID,
  // "n" + name, "p" + payload, "v" + version.
  const consulBase =
    1 + 3 + 3 + 36 + 2 + rawHeader(name) + name + optionalField('p', event.payloadBytes) + 3 + other
  // serf's messageUserEvent: type byte, map header, "LTime" + uint64 (≤ 9),
  // "Name" + serf name, "Payload" + raw header (≤ 5), "CC" + bool.
  const serfBase = 1 + 1 + 6 + 9 + 5 + rawHeader(serfName) + serfName + 8 + 5 + 3 + 1
  // serf checks len(name)+len(payload) before encoding and the encoded size after;
  // the second is always the larger, so it binds. The node filter adds 3 + header + length.
  const room = SERF_USER_EVENT_LIMIT - serfBase - consulBase - BUDGET_MARGIN
  const withLongHeader = room - 3 - 3
  return withLongHeader > 31 ? withLongHeader : Math.min(31, room - 3 - 1)
}

/**
 * Anchored filters that together match exactly `names`, each at most
 * `maxBytes` bytes (UTF-8), names packed in order. Throws when one name alone
 * does not fit (it could never be sent an event of its own).
 */
export function nodeFilters(
  names: readonly string[],
  maxBytes = DEFAULT_NODE_FILTER_BYTES
): string[] {
  return nodeGroups(names, maxBytes).map((group) => `^(${group.map(escapeRe2).join('|')})$`)
}

/** The names each of nodeFilters' filters matches, in the same order. */
export function nodeGroups(
  names: readonly string[],
  maxBytes = DEFAULT_NODE_FILTER_BYTES
): string[][] {
  const groups: string[][] = []
  let group: string[] = []
  let size = 0
  const frame = byteLength('^()$')
  for (const name of names) {
    const bytes = byteLength(escapeRe2(name))
    if (frame + bytes > maxBytes)
      throw new Error(
        `node ${quote(name)} is too long for an event's node filter (${frame + bytes} bytes, at most ${maxBytes})`
      )
    const grown = group.length === 0 ? frame + bytes : size + 1 + bytes
    if (group.length > 0 && grown > maxBytes) {
      groups.push(group)
      group = []
      size = frame + bytes
    } else {
      size = grown
    }
    group.push(name)
  }
  if (group.length > 0) groups.push(group)
  return groups
}
