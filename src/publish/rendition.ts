// Auto-rollback keeps the run's layout (contract 8a): an in-place manifest
// synced over a releases base directory deletes releases/ and current, and a
// combined manifest sent to an in-place node leaves it serving the failed
// release. So when the release latest names was published in the other layout,
// its archive (src and checksum from its history record) gets its whole
// manifest rendered again in this run's layout, under its own name
// (`<id>.in-place.yml` or `<id>.releases.yml`: `<id>.yml` is taken), uploaded
// before the rollout starts.
import type { ReleasePointer } from '../backend/fleet-backend.ts'
import type { Config } from '../config/config.ts'
import { releaseKey, s3Url } from '../config/config.ts'
import type { Log } from '../shared/log.ts'
import type { ManifestTemplate } from './manifest/manifest.ts'
import type { ReleaseReports } from './manifest/release-manifest.ts'
import { renderReleaseManifest } from './manifest/release-manifest.ts'
import type { ReleaseStore } from './s3-store.ts'

/** A previous release as auto-rollback sends it in this run's layout, or why it cannot. */
export type RollbackManifests =
  | { deployId: string; manifestUrl: string; switchUrl?: string }
  | { deployId: string; manifestUrl: string; refused: string }

export interface RenditionInput {
  config: Config
  template: ManifestTemplate | undefined
  /** the reporting commands for a deploy ID (the previous release's, not this run's) */
  reportsFor: (deployId: string) => ReleaseReports
  store: ReleaseStore
  log: Log
}

/** The layout a release was published in, from its history record (none: in place). */
function publishedLayout(pointer: ReleasePointer): Config['layout'] {
  return pointer.history?.switch_manifest_url ? 'releases' : 'in-place'
}

/**
 * What auto-rollback sends to put `pointer`'s release back in this run's
 * layout: its own manifests when it was published in it, else a rendition
 * uploaded now. `refused` says why it cannot be sent at all.
 */
export async function rollbackManifests(
  input: RenditionInput,
  pointer: Required<Pick<ReleasePointer, 'deployId' | 'manifestUrl'>> & ReleasePointer
): Promise<RollbackManifests> {
  const { config, log } = input
  const { deployId, manifestUrl, history } = pointer
  const layout = publishedLayout(pointer)
  if (layout === config.layout)
    return layout === 'releases'
      ? { deployId, manifestUrl, switchUrl: history!.switch_manifest_url! }
      : { deployId, manifestUrl }
  if (!history?.src_url || !history.checksum)
    return {
      deployId,
      manifestUrl,
      refused: `no history record of ${deployId} names its archive, so it cannot be sent with layout: ${config.layout}`
    }
  try {
    const url = await putRendition(input, {
      deployId,
      src: history.src_url,
      checksum: history.checksum
    })
    log.info(
      `auto-rollback target ${deployId} was published with layout: ${layout}: rendered again with layout: ${config.layout} as ${url}`
    )
    return { deployId, manifestUrl: url }
  } catch (error) {
    return {
      deployId,
      manifestUrl,
      refused: `${deployId} was published with layout: ${layout}, and its manifest could not be rendered with layout: ${config.layout}: ${(error as Error).message}`
    }
  }
}

async function putRendition(
  { config, template, reportsFor, store }: RenditionInput,
  release: { deployId: string; src: string; checksum: string }
): Promise<string> {
  // A run that renders no template of its own (promote, rollback-to) knows dest
  // only from the input.
  if (!config.dest && !template?.dest)
    throw new Error('its dest is not known to this run (set the dest input)')
  const manifest = renderReleaseManifest(
    template,
    {
      ...release,
      dest: config.dest,
      keepReleases: config.keepReleases,
      reports: reportsFor(release.deployId)
    },
    // The combined manifest prepares and switches in one run: a node that kept no
    // copy of the release gets it, one that did switches back to it.
    config.layout === 'releases' ? 'combined' : undefined
  )
  const key = releaseKey(config, release.deployId, 'yml').replace(/\.yml$/, `.${config.layout}.yml`)
  await store.putText(key, manifest, 'application/yaml')
  return s3Url(store.bucket, key)
}
