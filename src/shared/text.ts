// Text that a person reads, made safe and uniform: untrusted strings as plain
// text, markdown or Mermaid labels; one duration format; times in UTC with the
// zone written. Pure.

/** Strip terminal control sequences and control characters; bound the length. */
export function plainText(text: string, max = 200): string {
  const clean = text.replace(
    // eslint-disable-next-line no-control-regex
    /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f\x9b]/g,
    ''
  )
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

/**
 * Safe inside a markdown table cell, a paragraph or an HTML element: no HTML,
 * links (GFM autolinks `http://`, `www.` and e-mail addresses too), emphasis or pipes.
 */
export function markdownText(text: string, max = 200): string {
  return plainText(text, max)
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_{}[\]()<>#+!|~&@"'=$]/g, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/:(?=\/)/g, '&#58;')
    .replace(/(www)\./gi, '$1&#46;')
}

/** A code span that nothing inside can close or break out of (one line, no backticks). */
export function codeSpan(text: string, max = 300): string {
  return `\`${plainText(text, max)
    .replace(/[\r\n]+/g, ' ')
    .replace(/`/g, "'")}\``
}

/**
 * A code span inside a GFM table cell: a pipe is escaped (GitHub still shows
 * `|` in the span); a backslash, which could unescape it, is shown as `∖`.
 */
export function cellCode(text: string, max = 300): string {
  return codeSpan(text.replace(/\\/g, '∖'), max).replace(/\|/g, '\\|')
}

/** A node name as a Mermaid label: nothing that Mermaid syntax gives a meaning to. */
export function mermaidLabel(name: string, max = 40): string {
  return plainText(name, max).replace(/[^A-Za-z0-9._-]/g, '_')
}

/**
 * The one duration format of every report, Go's (as the `timeout` input is
 * written): `350ms`, `4.2s`, `42s`, `1m5s`, `1h2m0s`; tenths below a minute.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0
  if (Math.round(ms) === 0) return '0s'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 59_950) {
    const tenths = Math.round(ms / 100)
    return tenths % 10 === 0 ? `${tenths / 10}s` : `${(tenths / 10).toFixed(1)}s`
  }
  const total = Math.round(ms / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`
}

/** `2026-11-30 11:57:30 UTC`: the zone written, whoever reads it. */
export function utcTime(at: number | string | Date): string {
  const date = at instanceof Date ? at : new Date(at)
  if (Number.isNaN(date.getTime())) return plainText(String(at), 40)
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** At most `max` characters, cut in the middle: a cause's start and its end (the exit status) both stay. */
export function middleCut(text: string, max: number): string {
  if (text.length <= max) return text
  const head = Math.ceil((max - 1) * 0.45)
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`
}

/** `1 node`, `3 nodes`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`
}

/** At most `max` names, then how many more: a message stays one readable line. */
export function nameList(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((n) => plainText(n, 80))
  return names.length > max
    ? `${shown.join(', ')} and ${names.length - max} more`
    : shown.join(', ')
}
