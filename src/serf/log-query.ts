// Failed nodes' logs (contract 13): the query `stretcher-<app>-log` to those
// nodes (cut to fit 1 KB), each answering with the tail of its stretcher log.
import type { Log } from '../shared/log.ts'
import { nodeChunks, queryBaseBytes } from './query-chunks.ts'
import type { SerfClient } from './rpc-client.ts'

/**
 * How long a failed node has to answer the log query. Its agent runs handlers
 * one at a time: it answers once the failed deploy's handler has exited, which
 * under load took over 5 s. The call ends as soon as every node answered.
 */
const LOG_QUERY_MS = 15_000
/** Serf drops an answer over 1 KB: what is shown is at most this. */
const LOG_MAX_BYTES = 1024

/** Each node's answer ('' when it gave none); a silent node's handler is named in the log. */
export async function readLogs(
  client: SerfClient,
  app: string,
  sourceNode: () => Promise<string>,
  nodes: readonly string[],
  log: Log
): Promise<Array<{ node: string; text: string }>> {
  if (nodes.length === 0) return []
  const name = `stretcher-${app}-log`
  const chunks = nodeChunks(nodes, queryBaseBytes(name, '', await sourceNode()))
  const answers = new Map<string, string>()
  await Promise.all(chunks.map((chunk) => askChunk(client, name, chunk, answers, log)))
  const silent = nodes.filter((n) => !answers.has(n))
  if (silent.length > 0)
    log.info(
      `no answer to the log query ${name} from ${silent.join(', ')} (the node needs -event-handler "query:${name}=tail -c 900 <its stretcher log>")`
    )
  return nodes.map((node) => ({ node, text: answers.get(node) ?? '' }))
}

/** One query to a chunk of nodes; their answers go into `answers`. A failed query is a warning. */
async function askChunk(
  client: SerfClient,
  name: string,
  chunk: string[],
  answers: Map<string, string>,
  log: Log
): Promise<void> {
  const result = await client
    .query({ name, filterNodes: chunk, timeoutMs: LOG_QUERY_MS })
    .catch((error: unknown) => {
      log.warning(`the log query ${name} failed: ${(error as Error).message}`)
      return undefined
    })
  for (const r of result?.responses ?? [])
    answers.set(r.from, new TextDecoder().decode(r.payload.subarray(0, LOG_MAX_BYTES)))
}
