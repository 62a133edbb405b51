// The exact length of the uncompressed tar that GNU tar writes for a tree in
// `--format=gnu`, so progress can say "x of y bytes" before tar has started.
import type { TreeEntry } from './tree.ts'

const BLOCK = 512
/** GNU tar's default blocking factor 20: the archive is a whole number of these */
const RECORD = 20 * BLOCK
/** longer names and link targets go into an extra ././@LongLink member */
const NAME_FIELD = 100

const blocks = (bytes: number): number => Math.ceil(bytes / BLOCK) * BLOCK

function longNameBytes(name: string): number {
  const length = Buffer.byteLength(name)
  return length > NAME_FIELD ? BLOCK + blocks(length + 1) : 0
}

export interface TarMember {
  /** as stored: directories end in `/` */
  name: string
  dataBytes: number
  link?: string
}

export function memberOf(entry: TreeEntry): TarMember {
  return {
    name: entry.kind === 'directory' ? `${entry.path}/` : entry.path,
    dataBytes: entry.kind === 'file' ? entry.size : 0,
    link: entry.hardLinkOf ?? entry.target
  }
}

/** `record`: tar's record size (its -b times 512); a parameter so tests can check with -b1 */
export function tarBytes(members: Iterable<TarMember>, record = RECORD): number {
  let total = 0
  for (const m of members) {
    total += BLOCK + longNameBytes(m.name) + blocks(m.dataBytes)
    if (m.link !== undefined) total += longNameBytes(m.link)
  }
  total += 2 * BLOCK // end-of-archive marker
  return Math.ceil(total / record) * record
}
