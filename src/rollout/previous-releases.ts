// Auto-rollback's target (contract 8a): what latest names in each datacenter
// before this run moves it, with the manifests a rollback sends in this run's
// layout, rendered (and uploaded) before the rollout starts.
import type { ReleasePointer } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { rollbackManifests } from '../publish/rendition.ts'
import { reportingCommands } from '../publish/reporting-commands.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'
import type { Log } from '../shared/log.ts'
import type { ManifestTemplate } from '../publish/manifest/manifest.ts'
import type { PreviousRelease } from './types.ts'

/**
 * What latest names now, per datacenter: auto-rollback's target, with the
 * manifests it sends in this run's layout (contract 8a). With layout: releases
 * it is switched back to: every node sent this one still keeps it (the switch
 * spares the release it replaced).
 */
export async function previousReleases(
  config: Config,
  plan: { template?: ManifestTemplate; datacenters: ReadonlyArray<string | undefined> },
  deps: { store: ReleaseStore; log: Log },
  pointers: readonly ReleasePointer[]
): Promise<Map<string | undefined, PreviousRelease>> {
  const input = {
    config,
    template: plan.template,
    reportsFor: (deployId: string) => reportingCommands({ ...config, deployId }, plan.template),
    store: deps.store,
    log: deps.log
  }
  const previous = new Map<string | undefined, PreviousRelease>()
  // The same release in several datacenters is rendered (and uploaded) once.
  const found = new Map<string, Promise<PreviousRelease>>()
  for (const [i, dc] of plan.datacenters.entries()) {
    const { deployId, manifestUrl, history } = pointers[i]!
    if (!deployId || !manifestUrl || deployId === config.deployId) continue
    const key = `${deployId}\u0000${manifestUrl}`
    if (!found.has(key))
      found.set(key, rollbackManifests(input, { deployId, manifestUrl, history }))
    previous.set(dc, await found.get(key)!)
  }
  return previous
}
