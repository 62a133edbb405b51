// The `results` output: one row per node with the state words of contract 8a.
// Apart from the summary because it is the run's machine-readable output (a
// workflow's later steps parse it), not text for a person. Pure.
import type { FleetState, NodeState } from '../fleet-state/fleet-state.ts'

export interface ResultRow {
  node: string
  /** as the node reported (success, failure), or lost, silent, pending, not sent, prepared, rolled back */
  status: string
  deploy_id: string | null
  at: number | null
  /** the wave of a staged rollout (contract 8); absent with one wave */
  wave?: number
  /** the node's datacenter (contract 10); absent when the run names none */
  datacenter?: string
  /** layout: releases (contract 9): the phase of the counted result, prepare or switch */
  phase?: string
}

/** The `results` output's status words: the node states of contract 8a. */
const RESULT_STATUS: Record<NodeState['status'], ResultRow['status']> = {
  success: 'success',
  failure: 'failure',
  lost: 'lost',
  silent: 'silent',
  pending: 'pending',
  not_sent: 'not sent',
  prepared: 'prepared',
  rolled_back: 'rolled back'
}

/** The `results` output: one row per node, sorted by name. */
export function resultRows(fleet: FleetState): ResultRow[] {
  return fleet.list().map((s) => ({
    node: s.node,
    status: RESULT_STATUS[s.status],
    deploy_id: s.deployId ?? null,
    at: s.at ?? null,
    ...(s.wave !== undefined ? { wave: s.wave } : {}),
    ...(s.datacenter !== undefined ? { datacenter: s.datacenter } : {}),
    ...(s.phase !== undefined ? { phase: s.phase } : {})
  }))
}
