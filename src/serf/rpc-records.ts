// The agent's msgpack maps turned into the typed records of rpc-types.ts.
import { isRecord } from './rpc-codec.ts'
import type {
  Member,
  MemberEventRecord,
  MemberStatus,
  QueryRecord,
  Stats,
  StreamRecord
} from './rpc-types.ts'

const STATUSES = new Set<string>(['alive', 'leaving', 'left', 'failed', 'none'])
const MEMBER_EVENTS = new Set<string>([
  'member-join',
  'member-leave',
  'member-failed',
  'member-update',
  'member-reap'
])

/** Thrown for a reply that is not what the protocol says; the client names the agent. */
export class MalformedReply extends Error {}

function field<T>(
  obj: Record<string, unknown>,
  key: string,
  kind: string,
  ok: (v: unknown) => v is T
): T {
  const value = obj[key]
  if (!ok(value)) throw new MalformedReply(`${key} is not ${kind}`)
  return value
}
const isString = (v: unknown): v is string => typeof v === 'string'
const isNumber = (v: unknown): v is number => typeof v === 'number'

function str(obj: Record<string, unknown>, key: string): string {
  return field(obj, key, 'a string', isString)
}
function num(obj: Record<string, unknown>, key: string): number {
  return field(obj, key, 'a number', isNumber)
}
function object(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new MalformedReply(`${what} is not a map`)
  return value
}

/** Go's []byte: msgpack bin; an empty or nil one may come as nil or as a string. */
export function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value) // a copy: not a view of a socket chunk
  if (value === null || value === undefined) return new Uint8Array(0)
  if (typeof value === 'string') return new TextEncoder().encode(value)
  throw new MalformedReply('a payload is not bytes')
}

/** Go's net.IP: 4 bytes, or 16 (an IPv4 one mapped as ::ffff:a.b.c.d). */
export function formatAddr(value: unknown): string {
  const ip = bytes(value)
  const v4mapped =
    ip.length === 16 &&
    ip.subarray(0, 10).every((b) => b === 0) &&
    ip[10] === 0xff &&
    ip[11] === 0xff
  if (ip.length === 4 || v4mapped) return Array.from(ip.subarray(ip.length - 4)).join('.')
  if (ip.length === 16) {
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16))
    return groups.join(':')
  }
  throw new MalformedReply(`an address has ${ip.length} bytes`)
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === null || value === undefined) return {}
  const obj = object(value, what)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj)) out[k] = typeof v === 'string' ? v : String(v)
  return out
}

export function toMember(value: unknown): Member {
  const m = object(value, 'a member')
  const status = str(m, 'Status')
  return {
    name: str(m, 'Name'),
    addr: formatAddr(m.Addr),
    port: num(m, 'Port'),
    tags: stringMap(m.Tags, 'Tags'),
    status: (STATUSES.has(status) ? status : 'none') as MemberStatus
  }
}

/** The body of `members` and `members-filtered`: {Members: [...]}. */
export function toMembers(value: unknown): Member[] {
  const list = object(value, 'the reply').Members ?? []
  if (!Array.isArray(list)) throw new MalformedReply('Members is not a list')
  return list.map(toMember)
}

export function toStreamRecord(value: unknown): StreamRecord {
  const r = object(value, 'a stream record')
  const event = str(r, 'Event')
  if (event === 'user') {
    return {
      event,
      ltime: num(r, 'LTime'),
      name: str(r, 'Name'),
      payload: bytes(r.Payload),
      coalesce: r.Coalesce === true
    }
  }
  if (event === 'query') {
    return {
      event,
      id: num(r, 'ID'),
      ltime: num(r, 'LTime'),
      name: str(r, 'Name'),
      payload: bytes(r.Payload)
    }
  }
  if (MEMBER_EVENTS.has(event)) {
    const members = Array.isArray(r.Members) ? r.Members.map(toMember) : []
    return { event: event as MemberEventRecord['event'], members }
  }
  throw new MalformedReply(`unknown stream event ${JSON.stringify(event)}`)
}

export function toQueryRecord(value: unknown): QueryRecord {
  const r = object(value, 'a query record')
  const type = str(r, 'Type')
  if (type === 'ack') return { type, from: str(r, 'From') }
  if (type === 'response') return { type, from: str(r, 'From'), payload: bytes(r.Payload) }
  if (type === 'done') return { type }
  throw new MalformedReply(`unknown query record ${JSON.stringify(type)}`)
}

/** The body of `stats`: sections of strings; the clocks of the `serf` section as numbers. */
export function toStats(value: unknown): Stats {
  const raw = object(value, 'the reply')
  const sections: Record<string, Record<string, string>> = {}
  for (const [name, section] of Object.entries(raw)) sections[name] = stringMap(section, name)
  const serf = sections.serf ?? {}
  const clock = (key: string): number => {
    const n = Number(serf[key])
    if (serf[key] === undefined || !Number.isSafeInteger(n) || n < 0) {
      throw new MalformedReply(`serf.${key} is not a clock: ${JSON.stringify(serf[key])}`)
    }
    return n
  }
  return {
    eventTime: clock('event_time'),
    queryTime: clock('query_time'),
    memberTime: clock('member_time'),
    sections
  }
}
