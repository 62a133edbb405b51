// `stream {Type}`: events the agent sees (`member-update`, `user:deploy`,
// `query:x`, comma-separated) delivered to a callback until stop().
import type { SerfConnection, CallOptions } from './rpc-connection.ts'
import { toStreamRecord } from './rpc-records.ts'
import type { StreamRecord } from './rpc-types.ts'

export interface SerfStream {
  /** the Seq the records come on (what `stop` names) */
  readonly seq: number
  /** Stops the stream; no record reaches the callback once it was called. */
  stop(): Promise<void>
  /**
   * Resolves when the stream has ended: with undefined after stop(), with the
   * error when the connection ended or the callback threw (the stream is then stopped).
   */
  readonly ended: Promise<Error | undefined>
}

export async function openStream(
  conn: SerfConnection,
  type: string,
  onRecord: (record: StreamRecord) => void,
  opts: CallOptions = {}
): Promise<SerfStream> {
  // opening → open → stopping → ended; abandoned: the open timed out (a late
  // acceptance is stopped at its first record).
  let state: 'opening' | 'open' | 'stopping' | 'ended' | 'abandoned' = 'opening'
  let finish: (err: Error | undefined) => void = () => {}
  const ended = new Promise<Error | undefined>((resolve) => (finish = resolve))
  const end = (err: Error | undefined) => {
    if (state === 'ended') return
    state = 'ended'
    finish(err)
  }
  const stopOnAgent = async (seq: number) => {
    try {
      await conn.call('stop', { Stop: seq })
    } catch {
      // the connection is gone: so is the stream
    }
    conn.release(seq)
  }
  const onRaw = (raw: unknown, seq: number) => {
    if (state === 'abandoned') {
      state = 'ended'
      void stopOnAgent(seq)
      return
    }
    if (state !== 'opening' && state !== 'open') return
    try {
      onRecord(toStreamRecord(raw))
    } catch (err) {
      end(err instanceof Error ? err : new Error(String(err)))
      void stopOnAgent(seq)
    }
  }
  let seq: number
  try {
    seq = await conn.open('stream', { Type: type }, onRaw, (err) => end(err), opts)
  } catch (err) {
    state = 'abandoned'
    throw err
  }
  if (state === 'opening') state = 'open'
  return {
    seq,
    ended,
    async stop() {
      if (state !== 'open') return
      state = 'stopping'
      await stopOnAgent(seq)
      end(undefined)
    }
  }
}
