// A TCP port nobody listens on right now, chosen by the OS (listen on 0, close).
// Another process may take it before it is used: callers retry on a bind clash.
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
