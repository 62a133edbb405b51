// Serf refuses a query over 1 KB encoded, its FilterNodes included
// ("query exceeds limit of 1024 bytes"; research/serf.md): a wave's node list
// is cut into queries that each fit. The encoding is msgpack of Serf's
// messageQuery; measured against serf 0.9.4 its fixed part (field names, clocks,
// address, timeout) takes 112-119 bytes besides the source node's name.

export const QUERY_LIMIT = 1024
/** the fixed part of an encoded query, with a margin over the measured 119 bytes */
const QUERY_OVERHEAD = 128

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')

/** A msgpack string's header: fixstr below 32 bytes, str8 below 256, str16 above. */
const strBytes = (s: string) => {
  const n = utf8(s)
  return n + (n < 32 ? 1 : n < 256 ? 2 : 3)
}

/** Bytes a query takes without its FilterNodes. */
export function queryBaseBytes(name: string, payload: string, sourceNode: string): number {
  return QUERY_OVERHEAD + utf8(name) + utf8(payload) + utf8(sourceNode)
}

/**
 * The nodes in lists that each fit one query of `baseBytes` (queryBaseBytes);
 * throws naming the node when even one alone does not.
 */
export function nodeChunks(nodes: readonly string[], baseBytes: number): string[][] {
  const chunks: string[][] = []
  let chunk: string[] = []
  let size = baseBytes
  for (const node of nodes) {
    const cost = strBytes(node)
    if (baseBytes + cost > QUERY_LIMIT)
      throw new Error(
        `a Serf query to node ${JSON.stringify(node.slice(0, 80))} would exceed Serf's ${QUERY_LIMIT}-byte query limit (name, payload and node name ${baseBytes - QUERY_OVERHEAD + cost} bytes): shorten the manifest URL (s3-url prefix, app name) or the node name`
      )
    if (size + cost > QUERY_LIMIT && chunk.length > 0) {
      chunks.push(chunk)
      chunk = []
      size = baseBytes
    }
    chunk.push(node)
    size += cost
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}
