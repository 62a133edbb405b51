// The exact length of the uncompressed tar that GNU tar writes for a tree in
// `--format=gnu`, so progress can say "x of y bytes" before tar has started.
// Summed member by member during the walk (tree.ts), so no entry list is kept.

const BLOCK = 512
/** GNU tar's default blocking factor 20: the archive is a whole number of these */
export const RECORD = 20 * BLOCK
/** longer names and link targets go into an extra ././@LongLink member */
const NAME_FIELD = 100

const blocks = (bytes: number): number => Math.ceil(bytes / BLOCK) * BLOCK

function longNameBytes(nameBytes: number): number {
  return nameBytes > NAME_FIELD ? BLOCK + blocks(nameBytes + 1) : 0
}

/**
 * Bytes one member takes: its header, a ././@LongLink member for a long name or
 * link target, and its data padded to whole blocks.
 * @param nameBytes UTF-8 length of the name as stored (directories end in `/`)
 * @param linkBytes UTF-8 length of the symlink target or hard-link name, if any
 */
export function memberBytes(nameBytes: number, dataBytes: number, linkBytes?: number): number {
  return (
    BLOCK +
    longNameBytes(nameBytes) +
    blocks(dataBytes) +
    (linkBytes === undefined ? 0 : longNameBytes(linkBytes))
  )
}

/** The members' sum plus the end-of-archive marker, padded to whole records.
 * `record`: tar's record size (its -b times 512); a parameter so tests can check with -b1 */
export function archiveBytes(membersBytes: number, record = RECORD): number {
  return Math.ceil((membersBytes + 2 * BLOCK) / record) * record
}
