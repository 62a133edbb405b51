// Node names as markdown within a character budget, the rest counted (`a, b
// and 40 more`). Apart because the causes table, the succeeded list and the
// waves table all name nodes this way. Pure; names are untrusted and escaped.
import { markdownText } from '../shared/text.ts'

/** Names, escaped, joined, within `budget` characters; the rest counted. */
export function namesWithin(
  names: readonly string[],
  budget: number
): { text: string; shown: number } {
  const parts: string[] = []
  let size = 0
  for (const [i, name] of names.entries()) {
    const item = markdownText(name, 80)
    const rest = names.length - i - 1
    const reserve = rest > 0 ? 24 : 0
    if (size + item.length + 2 + reserve > budget && i > 0) {
      return { text: `${parts.join(', ')} and ${names.length - i} more`, shown: i }
    }
    parts.push(item)
    size += item.length + 2
  }
  return { text: parts.join(', '), shown: names.length }
}
