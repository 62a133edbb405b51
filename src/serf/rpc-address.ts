// `host:port` or `[v6]:port` of a Serf agent's RPC listener.

export interface HostPort {
  host: string
  port: number
}

const DEFAULT_PORT = 7373

export function parseRpcAddress(addr: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(addr.trim())
  const host = m?.[1] ?? m?.[2]
  const port = m?.[3] === undefined ? DEFAULT_PORT : Number(m[3])
  if (!host || !(port > 0 && port < 65536)) {
    throw new Error(`Serf RPC address ${JSON.stringify(addr)} is not host:port`)
  }
  return { host, port }
}
