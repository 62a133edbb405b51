// One TCP connection to a Serf agent's RPC listener: sends requests with
// increasing Seq, reads the replies in order and hands each to the call
// waiting on its Seq. Replies to streams and queries keep coming on the Seq of
// their request (header + record each) until the client releases it.
// Every call has a timeout; close() or the agent closing the connection
// rejects every pending call and ends every stream: no socket or timer stays.
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { decodeMultiStream } from '@msgpack/msgpack'
import { parseRpcAddress } from './rpc-address.ts'
import { encodeRequest, readHeader, replyHasBody } from './rpc-codec.ts'
import { SerfRpcError } from './rpc-error.ts'

interface Pending {
  command: string
  /** the first reply header (and its body, when the command has one) */
  resolve: (body: unknown) => void
  reject: (err: SerfRpcError) => void
  timer?: NodeJS.Timeout
  /** streams and queries: records that follow on the same Seq */
  onRecord?: (record: unknown, seq: number) => void
  /** records end: the connection closed, or close() */
  onEnd?: (err: SerfRpcError) => void
  /** the first header has come */
  opened: boolean
}

export interface CallOptions {
  /** ms to wait for the reply header (and body); default the connection's */
  timeoutMs?: number
}

export class SerfConnection {
  readonly addr: string
  private readonly socket: Socket
  /** resolves once the socket is fully closed */
  private readonly socketClosed: Promise<void>
  private readonly defaultTimeoutMs: number
  private readonly pending = new Map<number, Pending>()
  private nextSeq = 0
  /** why the connection ended (set once) */
  private closedBecause: string | undefined

  private constructor(addr: string, socket: Socket, timeoutMs: number) {
    this.addr = addr
    this.socket = socket
    this.socketClosed = new Promise((resolve) => {
      if (socket.closed) resolve()
      else socket.once('close', () => resolve())
    })
    this.defaultTimeoutMs = timeoutMs
    void this.read()
  }

  /** Connects (within timeoutMs); the handshake is the client's. */
  static open(addr: string, timeoutMs: number): Promise<SerfConnection> {
    const { host, port } = parseRpcAddress(addr)
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true })
      const fail = (message: string) => {
        clearTimeout(timer)
        socket.destroy()
        reject(new SerfRpcError(addr, 'connect', message))
      }
      const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs)
      socket.once('error', (err) => fail(err.message))
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.on('error', () => {}) // the reader sees the end and fails every call
        resolve(new SerfConnection(addr, socket, timeoutMs))
      })
    })
  }

  get closed(): boolean {
    return this.closedBecause !== undefined
  }

  /** A command with one reply: resolves with its body (undefined when it has none). */
  call(command: string, body?: object, opts: CallOptions = {}): Promise<unknown> {
    return this.send(command, body, opts)
  }

  /**
   * A command whose reply is followed by records on its Seq (`stream`,
   * `query`): resolves with the Seq once the agent accepted it; the records go
   * to onRecord until release(seq), and onEnd gets the error that ends them.
   */
  async open(
    command: string,
    body: object,
    onRecord: (record: unknown, seq: number) => void,
    onEnd: (err: SerfRpcError) => void,
    opts: CallOptions = {}
  ): Promise<number> {
    let seq = -1
    await this.send(command, body, opts, (s) => {
      seq = s
      return { onRecord, onEnd }
    })
    return seq
  }

  /** Records on this Seq are no longer wanted: the agent stopped sending them (stop, query done). */
  release(seq: number): void {
    const entry = this.pending.get(seq)
    if (!entry) return
    clearTimeout(entry.timer)
    this.pending.delete(seq)
  }

  /** Ends the connection: every pending call rejects, every stream ends; resolves once the socket is closed. */
  close(): Promise<void> {
    this.fail('the client is closed')
    return this.socketClosed
  }

  private send(
    command: string,
    body: object | undefined,
    opts: CallOptions,
    records?: (seq: number) => Pick<Pending, 'onRecord' | 'onEnd'>
  ): Promise<unknown> {
    if (this.closedBecause !== undefined) {
      return Promise.reject(new SerfRpcError(this.addr, command, this.closedBecause))
    }
    const seq = this.nextSeq++
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs
    return new Promise((resolve, reject) => {
      const entry: Pending = { command, resolve, reject, opened: false, ...records?.(seq) }
      entry.timer = setTimeout(() => {
        // The reply may still come: the entry stays to read it (and its body) in
        // step. Records that follow a late reply still reach onRecord, whose owner
        // knows the call failed (and stops a stream it no longer wants).
        entry.resolve = () => {}
        entry.reject = () => {}
        reject(new SerfRpcError(this.addr, command, `no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(seq, entry)
      this.socket.write(encodeRequest(command, seq, body))
    })
  }

  private async read(): Promise<void> {
    let why = 'the agent closed the connection'
    try {
      let bodyFor: ((body: unknown) => void) | undefined
      for await (const value of decodeMultiStream(this.socket)) {
        if (bodyFor) {
          const deliver = bodyFor
          bodyFor = undefined
          deliver(value)
          continue
        }
        bodyFor = this.onHeader(value)
      }
    } catch (err) {
      // A reset is the agent closing with our bytes unread (it closes at once on
      // a command it refuses): the same end as a plain close.
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET')
        why = `the connection failed: ${(err as Error).message}`
    }
    this.fail(why)
  }

  /** Handles a reply header; returns where its body goes when one follows. */
  private onHeader(value: unknown): ((body: unknown) => void) | undefined {
    const header = readHeader(value)
    if (!header) throw new Error('a reply header is not {Seq, Error}')
    const entry = this.pending.get(header.seq)
    if (!entry) {
      // An agent with rpc_auth reads a request body sent before `auth` as one
      // more request and answers it on Seq 0: an error, no body.
      if (header.error !== '') return undefined
      throw new Error(`a reply on Seq ${header.seq}, which no call is waiting for`)
    }
    if (entry.opened) return (record) => entry.onRecord?.(record, header.seq)
    clearTimeout(entry.timer)
    // Until its body has come the call stays pending: a connection that ends
    // in between rejects it.
    const settle = (body: unknown) => {
      if (header.error === '' && entry.onRecord) entry.opened = true
      else this.pending.delete(header.seq)
      if (header.error !== '') {
        entry.reject(new SerfRpcError(this.addr, entry.command, header.error, header.error))
      } else {
        entry.resolve(body)
      }
    }
    if (replyHasBody(entry.command, header.error)) return settle
    settle(undefined)
    return undefined
  }

  private fail(why: string): void {
    if (this.closedBecause !== undefined) return
    this.closedBecause = why
    this.socket.destroy()
    const entries = [...this.pending.values()]
    this.pending.clear()
    for (const entry of entries) {
      clearTimeout(entry.timer)
      const err = new SerfRpcError(this.addr, entry.command, why)
      if (entry.opened) entry.onEnd?.(err)
      else entry.reject(err)
    }
  }
}
