// What fails a wave's health gate (contract 8: node, check, output), whichever
// backend saw it, and the one line that names it in the log and the report.

export interface GateFailure {
  node: string
  checkId: string
  name: string
  output: string
}

/** One line naming the failing checks, e.g. `node-3: service:web "web" (HTTP 500)`. */
export function gateFailureLine(failures: readonly GateFailure[]): string {
  return failures
    .map((f) => {
      const output = f.output.trim().split('\n')[0]?.slice(0, 120) ?? ''
      return `${f.node}: ${f.checkId}${f.name && f.name !== f.checkId ? ` "${f.name}"` : ''}${output ? ` (${output})` : ''}`
    })
    .join('; ')
}
