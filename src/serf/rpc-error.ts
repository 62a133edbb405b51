// Errors of the Serf RPC client: one line that names the agent's address and
// the command, e.g. `Serf agent 127.0.0.1:7373: members: Authentication required`.

export class SerfRpcError extends Error {
  /** the agent's RPC address, host:port */
  readonly addr: string
  /** the RPC command, or `connect` */
  readonly command: string
  /** the agent's own error string when it sent one ("Authentication required", ...) */
  readonly agentError?: string

  constructor(addr: string, command: string, message: string, agentError?: string) {
    super(`Serf agent ${addr}: ${command}: ${message}`.replace(/\s*[\r\n]+\s*/g, ' '))
    this.name = 'SerfRpcError'
    this.addr = addr
    this.command = command
    if (agentError !== undefined) this.agentError = agentError
  }
}
