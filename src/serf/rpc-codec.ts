// The wire format of Serf's RPC: msgpack objects back to back, no length
// prefix. A request is a header {Command, Seq} and, for commands that take one,
// a body. A reply is a header {Seq, Error} and, for some commands only, a body:
// nothing on the wire says which, so the client must know.
import { Encoder } from '@msgpack/msgpack'

const encoder = new Encoder({ ignoreUndefined: true })

/** Commands whose request carries a body after the header. */
const NO_REQUEST_BODY = new Set(['members', 'leave', 'stats', 'list-keys'])

/** Commands whose reply header is followed by a body (research/serf.md). */
const REPLY_BODY = new Set([
  'join',
  'members',
  'members-filtered',
  'stats',
  'get-coordinate',
  'install-key',
  'use-key',
  'remove-key',
  'list-keys'
])

/** Sent instead of running any command before `auth` on an agent with rpc_auth; no body follows. */
export const AUTH_REQUIRED = 'Authentication required'
/** Sent to a command before `handshake`, then the agent closes the connection; no body follows. */
export const HANDSHAKE_REQUIRED = 'Handshake required'

export function encodeRequest(command: string, seq: number, body?: object): Uint8Array {
  const header = encoder.encode({ Command: command, Seq: seq })
  if (NO_REQUEST_BODY.has(command)) return header
  const encoded = encoder.encode(body ?? {})
  const out = new Uint8Array(header.length + encoded.length)
  out.set(header)
  out.set(encoded, header.length)
  return out
}

/** Whether a body follows the reply header of `command` that carried `error`. */
export function replyHasBody(command: string, error: string): boolean {
  return REPLY_BODY.has(command) && error !== AUTH_REQUIRED && error !== HANDSHAKE_REQUIRED
}

export interface ReplyHeader {
  seq: number
  error: string
}

/** The reply header, or undefined when `value` is not one. */
export function readHeader(value: unknown): ReplyHeader | undefined {
  if (!isRecord(value)) return undefined
  const seq = value.Seq
  const error = value.Error ?? ''
  if (typeof seq !== 'number' || typeof error !== 'string') return undefined
  return { seq, error }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value)
  )
}
