// The action's connection to its Serf agent (contract 13), checked before
// anything is uploaded: a `stats` call proves the agent answers and takes the
// key (Serf says "Authentication required" only at the first command after the
// handshake). An agent that cannot be reached or refuses the key is bad input:
// one line naming serf-rpc-addr or serf-rpc-auth. The key is never quoted.
import { InputError } from '../shared/errors.ts'
import { connectSerf } from './rpc-client.ts'
import type { SerfClient } from './rpc-client.ts'
import { SerfRpcError } from './rpc-error.ts'

const AUTH_ERROR = /authentication|auth token/i

export async function connectAgent(
  rpcAddr: string,
  rpcAuth: string | undefined
): Promise<SerfClient> {
  let client: SerfClient | undefined
  try {
    client = await connectSerf(rpcAddr, rpcAuth === undefined ? {} : { authKey: rpcAuth })
    await client.stats()
    return client
  } catch (error) {
    await client?.close().catch(() => undefined)
    throw asInputError(error, rpcAddr, rpcAuth !== undefined)
  }
}

function asInputError(error: unknown, rpcAddr: string, keyGiven: boolean): unknown {
  if (!(error instanceof SerfRpcError)) return error
  if (error.command === 'auth' || AUTH_ERROR.test(error.agentError ?? ''))
    return new InputError(
      'serf-rpc-auth',
      keyGiven
        ? `was refused by the Serf agent at ${rpcAddr} (${error.agentError ?? error.message}): give the agent's rpc_auth key`
        : `is needed: the Serf agent at ${rpcAddr} requires an RPC auth key (set serf-rpc-auth or SERF_RPC_AUTH)`
    )
  if (error.command === 'connect' || error.command === 'handshake')
    return new InputError(
      'serf-rpc-addr',
      `reaches no Serf agent RPC at ${rpcAddr} (${error.message.replace(/^Serf agent [^:]+:\d+: /, '')}): set serf-rpc-addr (or SERF_RPC_ADDR; the default is 127.0.0.1:7373) to an agent's -rpc-addr`
    )
  return error
}
