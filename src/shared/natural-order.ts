// Natural order of node names, shared by the plan, the report and the CLI. Pure.

const CHUNK = /(\d+)|(\D+)/g

/**
 * Natural order of node names: digit runs compare as numbers (`web-2` before
 * `web-10`), the rest by code unit; a full tie (`web-01`, `web-1`) falls back
 * to plain order so the sort is total.
 */
export function compareNatural(a: string, b: string): number {
  const left = a.match(CHUNK) ?? []
  const right = b.match(CHUNK) ?? []
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const x = left[i]!
    const y = right[i]!
    const xDigits = /^\d/.test(x)
    const yDigits = /^\d/.test(y)
    if (xDigits && yDigits) {
      const byValue = compareDigitRuns(x, y)
      if (byValue !== 0) return byValue
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  if (left.length !== right.length) return left.length - right.length
  return a < b ? -1 : a > b ? 1 : 0
}

// Numbers of any length, without BigInt: strip leading zeros, longer is larger.
function compareDigitRuns(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '')
  const b = y.replace(/^0+(?=\d)/, '')
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
