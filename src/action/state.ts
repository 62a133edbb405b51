// What the main step saves for the post step (core.saveState), by name: one
// place, so the two steps cannot disagree on a key.
export const STATE = {
  lockSession: 'lock-session',
  lockKey: 'lock-key',
  /** the datacenter the lock was taken in (contract 10: the first listed); empty: the agent's own */
  lockDatacenter: 'lock-datacenter',
  lockReleased: 'lock-released',
  checkRunId: 'check-run-id',
  deploymentId: 'deployment-id',
  /** a commit status left pending: its SHA and context */
  statusSha: 'status-sha',
  statusContext: 'status-context',
  /** the main step completed its check run and deployment */
  reported: 'reported',
  /** the last step of the announcement (AnnounceJournal as JSON) */
  announce: 'announce-journal',
  /** the main step wrote its job summary */
  summarized: 'summarized',
  /** serf-join: the action's own agent (SavedAgent as JSON), and that it has left */
  serfAgent: 'serf-agent',
  serfAgentLeft: 'serf-agent-left'
} as const
