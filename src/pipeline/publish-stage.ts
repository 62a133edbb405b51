// The release a run rolls out: published from the build (packed, uploaded, its
// history record made), or, with rollback-to and promote, found and verified.
// A stage entry: it finds with plan/find-release.ts and publishes with
// publish/, which ranks below plan/.
import type { FleetBackend, ReleasePointer } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import type { ManifestTemplate } from '../publish/manifest/manifest.ts'
import type { CheckedBuild } from '../publish/pack.ts'
import type { PublishInput, Release, ReportingCommands } from '../publish/publish.ts'
import { nextFileTime, publish } from '../publish/publish.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Log } from '../shared/log.ts'
import { backendsOf } from '../plan/datacenter-targets.ts'
import { existingRelease, findRelease } from '../plan/find-release.ts'

/** What publishing (or finding) the release takes of the plan. */
export interface ReleasePlan {
  template?: ManifestTemplate
  commands: ReportingCommands
  build?: CheckedBuild
  /** in rollout order; [undefined]: the agent's own, no `?dc` */
  datacenters: Array<string | undefined>
}

/** What publishing (or finding) the release takes of the run's deps. */
export interface PublishDeps {
  store: ReleaseStore
  backend: FleetBackend
  log: Log
  /** the release's outputs, as soon as each is known */
  setOutput: NonNullable<PublishInput['onFact']>
}

/**
 * Publish: the build packed and uploaded, with the history record it will get;
 * or, with rollback-to and promote, the verified release already published (its
 * history stays as written).
 */
export async function publishOrFind(
  config: Config,
  plan: ReleasePlan,
  deps: PublishDeps,
  pointers: () => Promise<ReleasePointer[]>
): Promise<{ release: Release; history?: HistoryRecord }> {
  const { store, log, setOutput } = deps
  if (existingRelease(config)) {
    const release = await findRelease(backendsOf(deps, plan), store, config, log)
    setOutput('deploy-id', release.deployId)
    setOutput('src-url', release.srcUrl)
    setOutput('checksum', release.checksum)
    setOutput('manifest-url', release.manifestUrl)
    return { release }
  }
  // Every file gets a time no earlier release used (in any datacenter), so rsync -a
  // on the nodes (which skips files whose size and mtime match) never keeps an old file.
  const stamps = (await pointers()).map((pointer) => nextFileTime(pointer))
  const stamp = new Date(Math.max(...stamps.map((d) => d.getTime())))
  const release = await publish({
    config,
    template: plan.template,
    commands: plan.commands,
    store,
    log,
    onFact: setOutput,
    mtime: stamp,
    build: plan.build
  })
  const history: HistoryRecord = {
    deploy_id: release.deployId,
    manifest_url: release.manifestUrl,
    src_url: release.srcUrl,
    checksum: release.checksum,
    commit: config.run.sha,
    run_url: config.run.runUrl,
    published_at: new Date().toISOString(),
    mtime: Math.floor(stamp.getTime() / 1000),
    ...(release.prepareUrl && release.switchUrl
      ? { prepare_manifest_url: release.prepareUrl, switch_manifest_url: release.switchUrl }
      : {})
  }
  return { release, history }
}
