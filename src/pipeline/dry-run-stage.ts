// The dry-run stage (input `dry-run`): what a deploy would do, said from reads
// alone; the rendering is plan/dry-run.ts. A stage entry: it reads the planned
// steps (plan-stage's Plan, rollout/kinds), which plan/ ranks below.
import type { FleetBackend } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { releaseKey, s3Url } from '../config/config.ts'
import { labelsOfSteps } from '../fleet-state/fleet-state.ts'
import { backendsOf } from '../plan/datacenter-targets.ts'
import type { DryRunPlan } from '../plan/dry-run.ts'
import { dryRunLines, dryRunMarkdown, dryRunMessage } from '../plan/dry-run.ts'
import { existingRelease, findRelease } from '../plan/find-release.ts'
import { archiveShape } from '../publish/pack.ts'
import type { Release } from '../publish/publish.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'
import type { Log } from '../shared/log.ts'
import { inert } from '../shared/log.ts'
import { KINDS, labelledSteps } from '../rollout/kinds.ts'
import type { Plan } from './plan-stage.ts'

/** What the dry run takes of the run's deps. */
export interface DryRunDeps {
  store: ReleaseStore
  backend: FleetBackend
  log: Log
  setOutput: (
    name: 'deploy-id' | 'src-url' | 'checksum' | 'manifest-url' | 'nodes-total',
    value: string
  ) => void
  /** the job summary (markdown); absent outside GitHub Actions */
  writeSummary?: (markdown: string) => Promise<void>
  signal?: AbortSignal
}

/** A dry run's end: it never fails once the plan stage passed. */
export interface DryRunResult {
  /** rollback-to and promote: the release found and verified */
  release?: Release
  failed: boolean
  cancelled: boolean
  message: string
  dryRun: DryRunPlan
}

/**
 * `dry-run`: after the plan stage, what a deploy would do, from reads alone. No
 * S3 object, KV write, event or lock session; a rollback's release is verified.
 */
export async function dryRun(config: Config, deps: DryRunDeps, found: Plan): Promise<DryRunResult> {
  const { backend, store, log, setOutput, signal } = deps
  const { selection, build } = found
  let release: Release | undefined
  let plan: Pick<DryRunPlan, 'release' | 'archive'>
  // rollback-to and promote: the release is found and verified, as the run would.
  if (existingRelease(config)) {
    release = await findRelease(backendsOf(deps, found), store, config, log)
    setOutput('src-url', release.srcUrl)
    setOutput('checksum', release.checksum)
    setOutput('manifest-url', release.manifestUrl)
    const { srcUrl, manifestUrl, checksum, archiveBytes } = release
    plan = { release: { srcUrl, manifestUrl, checksum, archiveBytes } }
  } else {
    // The URLs it would publish to; not outputs, as nothing is there.
    const url = (ext: 'tgz' | 'yml') =>
      s3Url(config.s3.bucket, releaseKey(config, config.deployId, ext))
    plan = {
      release: { srcUrl: url('tgz'), manifestUrl: url('yml') },
      archive: build && {
        ...archiveShape(build.tree, config.deployIdFile, config.deployId),
        fileBytes: build.tree.fileBytes
      }
    }
  }
  setOutput('deploy-id', config.deployId)
  setOutput('nodes-total', String(selection.targets.length))
  const report: DryRunPlan = {
    ...plan,
    app: config.app,
    deployId: config.deployId,
    rollback: config.rollbackTo !== undefined,
    eventName: config.eventName,
    // By label: a name that repeats across datacenters is two nodes (contract 8a).
    targets: labelsOfSteps(found.steps.filter((s) => KINDS[s.kind].isWave)),
    ...(found.steps.length > 1 ? { steps: labelledSteps(found.steps) } : {}),
    filteredOut: selection.filteredOut.length,
    notLive: selection.notLive.length,
    previous: await backend.releasePointer(signal),
    lock: await backend.lockState(signal),
    lockKey: backend.lockName,
    backend: config.backend.kind
  }
  for (const line of dryRunLines(report)) log.info(inert(line))
  await deps.writeSummary?.(dryRunMarkdown(report))
  return {
    release,
    failed: false,
    cancelled: false,
    message: dryRunMessage(report),
    dryRun: report
  }
}
