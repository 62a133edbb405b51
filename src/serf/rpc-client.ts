// A Serf agent's RPC (msgpack over TCP), the commands the action uses:
//   const serf = await connectSerf('127.0.0.1:7373', { authKey })
//   await serf.event('deploy', 's3://…/manifest.yml')
//   const alive = await serf.membersFiltered({ status: 'alive' })
//   await serf.close()
// Every call rejects with a SerfRpcError naming the agent when the agent
// fails it, closes the connection, or does not answer within its timeout.
import { SerfConnection } from './rpc-connection.ts'
import type { CallOptions } from './rpc-connection.ts'
import { SerfRpcError } from './rpc-error.ts'
import { runQuery } from './rpc-query.ts'
import type { QueryParams, QueryResult } from './rpc-query.ts'
import { MalformedReply, toMembers, toStats } from './rpc-records.ts'
import { openStream } from './rpc-stream.ts'
import type { SerfStream } from './rpc-stream.ts'
import type { Member, MemberStatus, Stats, StreamRecord } from './rpc-types.ts'

export interface SerfClientOptions {
  /** the agent's rpc_auth key */
  authKey?: string
  /** ms for connecting and for each call's reply; default 10 s (`tags` may take 5 s) */
  timeoutMs?: number
}

export interface MembersFilter {
  /** tag name → regex, anchored by Serf */
  tags?: Record<string, string>
  /** regex, anchored */
  status?: MemberStatus | string
  /** regex on the name, anchored */
  name?: string
}

const DEFAULT_TIMEOUT_MS = 10_000

export async function connectSerf(addr: string, opts: SerfClientOptions = {}): Promise<SerfClient> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const conn = await SerfConnection.open(addr, timeoutMs)
  try {
    await conn.call('handshake', { Version: 1 })
    if (opts.authKey !== undefined) await conn.call('auth', { AuthKey: opts.authKey })
  } catch (err) {
    await conn.close()
    throw err
  }
  return new SerfClient(conn, timeoutMs)
}

const bytes = (payload: Uint8Array | string): Uint8Array =>
  typeof payload === 'string' ? new TextEncoder().encode(payload) : payload

export class SerfClient {
  private readonly conn: SerfConnection
  private readonly timeoutMs: number

  constructor(conn: SerfConnection, timeoutMs: number) {
    this.conn = conn
    this.timeoutMs = timeoutMs
  }

  get addr(): string {
    return this.conn.addr
  }

  /** A user event to every member; not coalesced unless asked (coalescing can drop one sent soon after another). */
  async event(
    name: string,
    payload: Uint8Array | string,
    opts: CallOptions & { coalesce?: boolean } = {}
  ): Promise<void> {
    const body = { Name: name, Payload: bytes(payload), Coalesce: opts.coalesce ?? false }
    await this.conn.call('event', body, opts)
  }

  async members(opts: CallOptions = {}): Promise<Member[]> {
    return this.parse('members', await this.conn.call('members', undefined, opts), toMembers)
  }

  async membersFiltered(filter: MembersFilter, opts: CallOptions = {}): Promise<Member[]> {
    const body = { Tags: filter.tags ?? {}, Status: filter.status ?? '', Name: filter.name ?? '' }
    const reply = await this.conn.call('members-filtered', body, opts)
    return this.parse('members-filtered', reply, toMembers)
  }

  async stats(opts: CallOptions = {}): Promise<Stats> {
    return this.parse('stats', await this.conn.call('stats', undefined, opts), toStats)
  }

  /**
   * Merges `set` into this agent's tags and removes `remove`. Serf waits up to
   * its broadcast timeout (5 s) and may then fail although the tags are set.
   */
  async tags(
    change: { set?: Record<string, string>; remove?: string[] },
    opts: CallOptions = {}
  ): Promise<void> {
    await this.conn.call('tags', { Tags: change.set ?? {}, DeleteTags: change.remove ?? [] }, opts)
  }

  /** Joins the members at `addresses` (never replaying old user events); resolves with how many it reached. */
  async join(addresses: readonly string[], opts: CallOptions = {}): Promise<number> {
    const reply = await this.conn.call('join', { Existing: addresses, Replay: false }, opts)
    return this.parse('join', reply, (body) => {
      const num = (body as { Num?: unknown } | undefined)?.Num
      if (typeof num !== 'number') throw new MalformedReply('join reply without Num')
      return num
    })
  }

  /** A graceful leave: the agent tells the cluster it is leaving, then shuts down. */
  async leave(opts: CallOptions = {}): Promise<void> {
    await this.conn.call('leave', undefined, opts)
  }

  /** Events of `type` (e.g. `user:deploy,member-update`) to onRecord until the stream's stop(). */
  stream(
    type: string,
    onRecord: (record: StreamRecord) => void,
    opts: CallOptions = {}
  ): Promise<SerfStream> {
    return openStream(this.conn, type, onRecord, opts)
  }

  /** A query; resolves when every expected node answered, or at Serf's deadline. */
  query(params: QueryParams, opts: CallOptions = {}): Promise<QueryResult> {
    return runQuery(this.conn, params, opts.timeoutMs ?? this.timeoutMs)
  }

  /** Answers a query this client got on a stream (its record's id). */
  async respond(id: number, payload: Uint8Array | string, opts: CallOptions = {}): Promise<void> {
    await this.conn.call('respond', { ID: id, Payload: bytes(payload) }, opts)
  }

  /**
   * Ends the connection: pending calls reject, streams end, later calls
   * reject. Resolves once the socket is closed (no need to wait for it).
   */
  close(): Promise<void> {
    return this.conn.close()
  }

  private parse<T>(command: string, reply: unknown, convert: (reply: unknown) => T): T {
    try {
      return convert(reply)
    } catch (err) {
      if (!(err instanceof MalformedReply)) throw err
      throw new SerfRpcError(this.addr, command, `unexpected reply: ${err.message}`)
    }
  }
}
