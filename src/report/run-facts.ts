// What a run knows about its release and how far it got, gathered for the
// report: which release (a rollback's own commit and publish time), what it
// replaced, whether latest moved and whether the event went out. Pure.
import type { AnnouncementProgress } from '../backend/fleet-backend.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Config } from '../config/config.ts'
import type { Release } from '../publish/publish.ts'
import type { DeployFacts } from './report-types.ts'

export interface RunProgress {
  /** published (or, for a rollback, found and verified) */
  release?: Release
  /** this run's history record, when it published one */
  history?: HistoryRecord
  /** how far the announcement got; absent: it never started */
  journal?: AnnouncementProgress
  /** epoch ms the event was fired */
  firedAt?: number
}

export function runFacts(config: Config, run: RunProgress): DeployFacts {
  const { release, history, journal } = run
  const rollback = config.rollbackTo !== undefined
  // rollback-to and promote announce a published release: its own commit and time.
  const existing = rollback || config.promote !== undefined
  return {
    app: config.app,
    environment: config.github.environment,
    manifestUrl: release?.manifestUrl,
    srcUrl: release?.srcUrl,
    checksum: release?.checksum,
    commit: existing ? release?.commit : config.run.sha,
    publishedAt: existing ? release?.publishedAt : history?.published_at,
    runUrl: config.run.runUrl,
    timeoutMs: config.timeoutMs,
    rollback,
    // what `deploy-id` held before this run's announcement moved it
    previousDeployId: journal?.previousDeployId,
    // No journal: the announcement never started (or never moved the pointer).
    latestMoved: journal ? journal.pointerMoved : false,
    // An event of the run went out (a staged run's first waves move nothing, so
    // write no journal): that is known whatever the journal says.
    eventFired: run.firedAt !== undefined ? true : journal ? journal.eventFired : false,
    firedAt: run.firedAt
  }
}
