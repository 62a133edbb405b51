// What a failed node's log says, for a person: the cause in one line, the lines
// that matter (errors, the failing command and its output) apart from the noise
// (rsync's file list, tar's listing), and a key to group nodes that failed the
// same way. Pure; the log is untrusted text from the node.
import { plainText } from '../shared/text.ts'

/** Go's log package stamps each line `2006/01/02 15:04:05 `; stretcher logs with it. */
const STAMP = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(\.\d+)? /

/** A line that tells what went wrong. */
const ERROR =
  /\b(error|errors|failed|failure|fatal|panic|denied|mismatch|refused|timed? ?out|cannot|can't|unable|not found|no such file|no space left|exit status \d+|exit code \d+|code \d+\))|^(E|F|ERROR|FATAL)[:!] /i

/** At most this many lines are "the lines that matter". */
const USEFUL_MAX = 30

export interface LogDigest {
  /** one line: what failed (stretcher's own "Deploy manifest failed:" reason when present) */
  cause: string
  /** the same cause with what differs from node to node (its name, temp paths, hashes) blanked: equal keys, one group */
  key: string
  /** errors, the failing command and what follows it, in log order */
  useful: string[]
  /** how many lines the log has in all (after dropping a trailing newline) */
  total: number
  /** lines of listings (rsync's file list, tar -v) left out of `useful` */
  listing: number
}

/** Lines of a log as plain text (no control sequences), each at most 400 characters. */
export function logLines(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => plainText(l, 400))
}

function unstamped(line: string): string {
  return line.replace(STAMP, '')
}

/** The cause with node-specific parts blanked, so nodes that failed alike share it. */
export function causeKey(cause: string, node: string): string {
  let key = cause
  if (node.length >= 2) key = key.split(node).join('‹node›')
  return key
    .replace(/\/(tmp|var\/tmp)\/[^\s:'"]*/g, '/$1/…')
    .replace(/\b[0-9a-f]{12,}\b/gi, '…')
    .replace(/\b\d{5,}\b/g, '…')
    .replace(/\s+/g, ' ')
    .trim()
}

/**
 * The digest of one failed node's log (as read from `<kv-prefix>/logs/<node>`).
 * No log: the cause says so, for either backend.
 */
export function digestLog(node: string, text: string | undefined): LogDigest {
  if (text === undefined || text.trim() === '') {
    const cause = 'no log from the node (none stored in Consul, or no answer to the Serf log query)'
    return { cause, key: cause, useful: [], total: 0, listing: 0 }
  }
  const lines = logLines(text)
  // Segments: a stamped line and the unstamped lines after it (a command's output,
  // rsync's file list), as stretcher logs them.
  const segments: Array<{ start: number; end: number; head: string }> = []
  for (const [i, line] of lines.entries()) {
    if (STAMP.test(line) || segments.length === 0)
      segments.push({ start: i, end: i + 1, head: unstamped(line) })
    else (segments.at(-1) as { end: number }).end = i + 1
  }
  const isListing = (head: string) => /^(rsync\b|Extract archive:|tar\b)/.test(head)

  // The cause: stretcher's own last word, else the last line that reads as an error.
  let cause: string | undefined
  for (let i = lines.length - 1; i >= 0 && cause === undefined; i--) {
    const m = /Deploy manifest failed:\s*(.+)$/.exec(lines[i] as string)
    if (m) cause = (m[1] as string).replace(/^failed:\s*/, '')
  }
  if (cause === undefined)
    for (let i = lines.length - 1; i >= 0 && cause === undefined; i--) {
      const line = unstamped(lines[i] as string).trim()
      if (ERROR.test(line)) cause = line
    }
  if (cause === undefined)
    cause =
      unstamped([...lines].reverse().find((l) => l.trim() !== '') ?? '').trim() || '(empty log)'
  cause = plainText(cause, 200)

  // The lines that matter: from the last command invoked (or the last listing's
  // end) to the end, plus every error line before it; listings count but are not shown.
  const keep = new Set<number>()
  let listing = 0
  let lastCommand = -1
  for (const [s, seg] of segments.entries())
    if (/^invoking command:/.test(seg.head)) lastCommand = s
  for (const [s, seg] of segments.entries()) {
    const inListing = isListing(seg.head)
    for (let i = seg.start; i < seg.end; i++) {
      const body = i === seg.start ? seg.head : (lines[i] as string)
      if (inListing) {
        if (i === seg.start || ERROR.test(body)) keep.add(i)
        else listing++
      } else if ((lastCommand >= 0 && s >= lastCommand) || ERROR.test(body)) keep.add(i)
    }
  }
  // Stretcher's closing lines are always kept.
  for (let i = Math.max(0, lines.length - 2); i < lines.length; i++) keep.add(i)
  let useful = [...keep].sort((a, b) => a - b).map((i) => lines[i] as string)
  if (useful.length > USEFUL_MAX) useful = useful.slice(-USEFUL_MAX)
  return { cause, key: causeKey(cause, node), useful, total: lines.length, listing }
}

export interface CauseGroup {
  /** the cause as the first node (in natural order) wrote it */
  cause: string
  key: string
  /** natural order */
  nodes: string[]
}

/** Failed nodes grouped by cause, largest group first (ties: the cause's first node in natural order). */
export function groupByCause(
  digests: ReadonlyMap<string, LogDigest>,
  compare: (a: string, b: string) => number
): CauseGroup[] {
  const groups = new Map<string, CauseGroup>()
  for (const node of [...digests.keys()].sort(compare)) {
    const d = digests.get(node) as LogDigest
    const group = groups.get(d.key)
    if (group) group.nodes.push(node)
    else groups.set(d.key, { cause: d.cause, key: d.key, nodes: [node] })
  }
  return [...groups.values()].sort(
    (a, b) => b.nodes.length - a.nodes.length || compare(a.nodes[0] as string, b.nodes[0] as string)
  )
}
