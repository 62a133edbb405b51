// Go-compatible JSON encoding: field order as given, uint64 as bigint, and
// encoding/json's HTML escaping (<, >, & become \u003c, \u003e, \u0026).

export function goJson(value: unknown): string {
  return encode(value)
}

function encode(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  switch (typeof value) {
    case 'string':
      return goString(value)
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null'
    case 'bigint':
      return value.toString()
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (Buffer.isBuffer(value)) return goString(value.toString('base64'))
      if (Array.isArray(value)) return '[' + value.map((item) => encode(item)).join(',') + ']'
      const parts: string[] = []
      for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
        if (field === undefined) continue // stands for Go's `json:",omitempty"`
        parts.push(goString(key) + ':' + encode(field))
      }
      return '{' + parts.join(',') + '}'
    }
    default:
      return 'null'
  }
}

// encoding/json escapes HTML-significant characters and U+2028/U+2029 by default.
function goString(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (ch) => {
    return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')
  })
}
