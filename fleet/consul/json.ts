// Go-compatible JSON encoding: encoding/json's HTML escaping (<, >, & become
// \u003c, \u003e, \u0026, plus U+2028/U+2029). Those characters can only occur
// inside JSON strings, so escaping the whole text is safe. Field order is the
// object's insertion order; undefined fields are omitted (Go's omitempty).

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')
  )
}

// A uint64 that may exceed 2^53, emitted as an exact JSON number.
export function uint64(value: bigint): unknown {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : rawJSON(value.toString())
}

// Go marshals []byte as base64, and a nil/empty slice as null.
export function bytes(value: Buffer | null): string | null {
  return value && value.length > 0 ? value.toString('base64') : null
}
