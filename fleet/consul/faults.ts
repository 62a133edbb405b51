// Fault switches for failure tests: each fault applies to the next `count`
// matching requests (all of them when count is omitted) until cleared.

export type FaultKind = 'no-leader' | 'rate-limit' | 'latency' | 'drop' | 'error'

export interface FaultSpec {
  kind: FaultKind
  // How many matching requests it applies to; unlimited when omitted.
  count?: number
  // Matched against "/v1/...?query" (the raw request target).
  path?: RegExp | string
  method?: string
  // Only requests to this node's agent.
  agent?: string
  // Only requests answered from this datacenter: the one `?dc=` names, else the agent's own.
  datacenter?: string
  // kind 'latency': extra delay before the request is handled.
  latencyMs?: number
  // kind 'no-leader': answer as a client agent would, "rpc error making call: No cluster leader".
  viaClient?: boolean
  // kind 'error': any status and plain-text body.
  status?: number
  body?: string
}

export interface FaultHandle {
  readonly remaining: number
  cancel(): void
}

interface ActiveFault {
  spec: FaultSpec
  pattern: RegExp | undefined
  remaining: number
}

export class FaultSwitches {
  private active: ActiveFault[] = []

  inject(spec: FaultSpec): FaultHandle {
    const fault: ActiveFault = {
      spec,
      pattern:
        spec.path === undefined
          ? undefined
          : typeof spec.path === 'string'
            ? new RegExp(spec.path)
            : spec.path,
      remaining: spec.count ?? Infinity
    }
    this.active.push(fault)
    return {
      get remaining() {
        return fault.remaining
      },
      cancel: () => {
        this.active = this.active.filter((f) => f !== fault)
      }
    }
  }

  clear(): void {
    this.active = []
  }

  // The latency to add and the first terminal fault for this request; consumes counts.
  take(
    method: string,
    target: string,
    agent: string,
    datacenter?: string
  ): { latencyMs: number; terminal: FaultSpec | undefined } {
    let latencyMs = 0
    let terminal: FaultSpec | undefined
    for (const fault of this.active) {
      if (fault.remaining <= 0) continue
      const { spec } = fault
      if (spec.method && spec.method.toUpperCase() !== method) continue
      if (spec.agent && spec.agent !== agent) continue
      if (spec.datacenter && spec.datacenter !== datacenter) continue
      if (fault.pattern) {
        fault.pattern.lastIndex = 0
        if (!fault.pattern.test(target)) continue
      }
      if (spec.kind === 'latency') {
        latencyMs += spec.latencyMs ?? 0
        fault.remaining -= 1
      } else if (!terminal) {
        terminal = spec
        fault.remaining -= 1
      }
    }
    this.active = this.active.filter((f) => f.remaining > 0)
    return { latencyMs, terminal }
  }
}
