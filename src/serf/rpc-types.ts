// What the Serf RPC client hands back, typed (the agent sends Go structs as
// msgpack maps; rpc-records.ts converts them).

export type MemberStatus = 'alive' | 'leaving' | 'left' | 'failed' | 'none'

export interface Member {
  name: string
  /** dotted IPv4 (or IPv6 text) */
  addr: string
  port: number
  tags: Record<string, string>
  status: MemberStatus
}

/** A user event seen by a `stream` of `user` or `user:<name>`. */
export interface UserEventRecord {
  event: 'user'
  ltime: number
  name: string
  payload: Uint8Array
  coalesce: boolean
}

/** A membership change seen by a `stream` of `member-*` (batched by Serf). */
export interface MemberEventRecord {
  event: 'member-join' | 'member-leave' | 'member-failed' | 'member-update' | 'member-reap'
  members: Member[]
}

/** A query seen by a `stream` of `query` or `query:<name>`; answer it with `respond`. */
export interface QueryEventRecord {
  event: 'query'
  id: number
  ltime: number
  name: string
  payload: Uint8Array
}

export type StreamRecord = UserEventRecord | MemberEventRecord | QueryEventRecord

/** One record of a query's reply stream. */
export type QueryRecord =
  | { type: 'ack'; from: string }
  | { type: 'response'; from: string; payload: Uint8Array }
  | { type: 'done' }

export interface Stats {
  /** Lamport clock of user events (the next event gets at least this) */
  eventTime: number
  /** Lamport clock of queries */
  queryTime: number
  /** Lamport clock of membership */
  memberTime: number
  /** every section as the agent sent it (agent, runtime, serf, tags) */
  sections: Record<string, Record<string, string>>
}
