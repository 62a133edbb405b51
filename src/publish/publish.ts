// Pack the build, upload the archive, render and upload the manifest.
// The archive streams from tar straight into the multipart upload, hashed on the
// way; the manifest (which carries the checksum) goes once the archive is
// complete, so a failed archive leaves no manifest and nothing is ever deleted
// (the deploy role needs no s3:DeleteObject).
import type { Config } from '../config/config.ts'
import { releaseKey, s3Url } from '../config/config.ts'
import type { Log } from '../shared/log.ts'
import { formatBytes, formatRate, throttle } from '../shared/log.ts'
import type { ManifestTemplate } from './manifest/manifest.ts'
import type { ManifestPhase, ReleaseReports } from './manifest/release-manifest.ts'
import { renderReleaseManifest } from './manifest/release-manifest.ts'
import { checkTree, pack } from './pack.ts'
import type { CheckedBuild } from './pack.ts'
import { parseDeployIdFile } from '../config/deploy-id-file.ts'
import type { ReleasePointer } from '../backend/fleet-backend.ts'
import type { ReleaseStore } from './s3-store.ts'

export interface Release {
  deployId: string
  srcUrl: string
  /** the whole manifest (`<id>.yml`; with layout: releases the combined one): what latest names */
  manifestUrl: string
  /** layout: releases (contract 9): `<id>.prepare.yml` and `<id>.switch.yml` */
  prepareUrl?: string
  switchUrl?: string
  checksum: string
  archiveBytes: number
  files: number
  /** an earlier release's (rollback-to): the commit it was built from, from its history */
  commit?: string
  /** an earlier release's (rollback-to): when it was published (ISO), from its history */
  publishedAt?: string
}

/** The reporting commands of this run's release (layout: releases: per phase). */
export type ReportingCommands = ReleaseReports

type Phase = ManifestPhase
const PHASES: readonly Phase[] = ['prepare', 'switch', 'combined']

/** The manifest of one phase (or the whole in-place one when `phase` is undefined). */
function render(
  config: Config,
  template: ManifestTemplate | undefined,
  commands: ReportingCommands,
  src: string,
  checksum: string,
  phase?: Phase
): string {
  const { deployId, dest, keepReleases } = config
  return renderReleaseManifest(
    template,
    { deployId, src, checksum, dest, keepReleases, reports: commands },
    phase
  )
}

export interface PublishInput {
  config: Config
  template: ManifestTemplate | undefined
  commands: ReportingCommands
  store: ReleaseStore
  log: Log
  /** called as soon as each fact is known, so outputs survive a later failure */
  onFact?: (name: 'deploy-id' | 'src-url' | 'manifest-url' | 'checksum', value: string) => void
  /** the time stamped on every archive entry (see nextFileTime) */
  mtime: Date
  /** the build tree walked and checked, and the programs found, in the plan stage */
  build?: CheckedBuild
}

/**
 * The file time for a new release: now, but always later than the time the
 * current release stamped (from its history record). Stretcher syncs with
 * `rsync -a`, whose quick check skips a file whose size and mtime are
 * unchanged; two releases stamped in the same second, or a rebuilt file with a
 * reproducible-build mtime, would otherwise leave old content on the nodes.
 * Read under the deploy lock, so two runs cannot pick the same time.
 */
export function nextFileTime(current: ReleasePointer, now = Date.now()): Date {
  const history = current.history ?? {}
  const previous = history.mtime ?? Math.floor(Date.parse(history.published_at ?? '') / 1000)
  const seconds = Math.max(Math.floor(now / 1000), (Number.isFinite(previous) ? previous : 0) + 1)
  return new Date(seconds * 1000)
}

/**
 * Walk and check the build tree (path, exclude, deploy-id-file) and find GNU tar
 * (and pigz) before anything is written: a missing tar fails here, not after the
 * lock is taken.
 */
export function checkBuild(config: Config): Promise<CheckedBuild> {
  const deployIdFile = parseDeployIdFile(config.deployIdFile)
  return checkTree({ root: config.path, exclude: config.exclude, deployIdFile })
}

/** Rendering with placeholder src/checksum surfaces every manifest error before any upload. */
export function checkManifestRenders(
  config: Config,
  template: ManifestTemplate | undefined,
  commands: ReportingCommands
): void {
  const src = s3Url(config.s3.bucket, releaseKey(config, config.deployId, 'tgz'))
  if (config.layout !== 'releases') render(config, template, commands, src, '0'.repeat(64))
  else for (const phase of PHASES) render(config, template, commands, src, '0'.repeat(64), phase)
}

export async function publish(input: PublishInput): Promise<Release> {
  const { config, store, onFact } = input
  const deployId = config.deployId
  const srcKey = releaseKey(config, deployId, 'tgz')
  const srcUrl = s3Url(store.bucket, srcKey)
  onFact?.('deploy-id', deployId)

  const archive = await input.log.group(`Pack and upload ${srcUrl}`, () =>
    packAndUpload(input, srcKey, srcUrl)
  )
  onFact?.('src-url', srcUrl)
  onFact?.('checksum', archive.checksum)

  const urls =
    config.layout === 'releases'
      ? await putPhaseManifests(input, srcUrl, archive.checksum)
      : await putManifest(input, srcUrl, archive.checksum)
  onFact?.('manifest-url', urls.manifestUrl)
  return { deployId, srcUrl, ...urls, ...archive }
}

interface UploadedArchive {
  checksum: string
  archiveBytes: number
  files: number
}

/** The build packed and streamed into the store, progress logged on the way. */
async function packAndUpload(
  { config, store, log, mtime, build }: PublishInput,
  srcKey: string,
  srcUrl: string
): Promise<UploadedArchive> {
  const started = Date.now()
  let uploaded = 0
  const progress = throttle<{ bytesIn: number; totalIn: number; bytesOut: number }>(2000, (p) => {
    const pct = p.totalIn > 0 ? ` (${Math.floor((100 * p.bytesIn) / p.totalIn)}%)` : ''
    log.info(
      `packed ${formatBytes(p.bytesIn)} of ${formatBytes(p.totalIn)}${pct} at ${formatRate(p.bytesIn, Date.now() - started)}; ` +
        `compressed ${formatBytes(p.bytesOut)}, uploaded ${formatBytes(uploaded)}`
    )
  })
  const archive = await pack({
    root: config.path,
    exclude: config.exclude,
    deployIdFile: config.deployIdFile,
    deployId: config.deployId,
    compressionLevel: config.compressionLevel,
    // Every file gets the deploy's time, so rsync on the node never skips one.
    mtime,
    checked: build,
    onProgress: (p) => progress.update(p)
  })
  log.info(
    `packing ${archive.files} entries, ${formatBytes(archive.totalBytes)}, from ${config.path}`
  )
  // The archive stream ends only once tar and the compressor exited 0 (pack.ts):
  // a pack failure, even after the last byte, fails the stream and so the upload,
  // which is aborted. An archive object exists only complete; nothing is ever
  // deleted, and the deploy role needs no s3:DeleteObject (README, iam-policy.test.ts).
  const packed = archive.result
  packed.catch(() => undefined)
  const upload = store.uploadStream(srcKey, archive.stream, 'application/gzip', (p) => {
    uploaded = p.loaded
  })
  try {
    await upload
  } catch (error) {
    // When pack failed, its error explains the failed upload better.
    await packed
    throw error
  }
  const result = await packed
  progress.flush()
  const ms = Date.now() - started
  log.info(
    `archive ${srcUrl}: ${formatBytes(result.size)} from ${formatBytes(archive.totalBytes)} in ${(ms / 1000).toFixed(1)}s ` +
      `(${formatRate(archive.totalBytes, ms)}), sha256 ${result.sha256}`
  )
  return { checksum: result.sha256, archiveBytes: result.size, files: result.files }
}

/** The in-place manifest. */
async function putManifest(
  { config, template, commands, store, log }: PublishInput,
  srcUrl: string,
  checksum: string
): Promise<{ manifestUrl: string }> {
  const manifestKey = releaseKey(config, config.deployId, 'yml')
  const manifestUrl = s3Url(store.bucket, manifestKey)
  const manifest = render(config, template, commands, srcUrl, checksum)
  await store.putText(manifestKey, manifest, 'application/yaml')
  log.info(`manifest ${manifestUrl} (${manifestUrl.length} bytes as an event payload)`)
  return { manifestUrl }
}

/** layout: releases: the prepare and switch manifests, then the combined one. */
async function putPhaseManifests(
  { config, template, commands, store, log }: PublishInput,
  srcUrl: string,
  checksum: string
): Promise<Pick<Release, 'manifestUrl' | 'prepareUrl' | 'switchUrl'>> {
  const manifestKey = releaseKey(config, config.deployId, 'yml')
  const manifestUrl = s3Url(store.bucket, manifestKey)
  // The two halves first: the combined manifest (what latest will name) is
  // written last, so each of the three names a whole release (contract 9).
  const urls: Partial<Record<Phase, string>> = {}
  for (const phase of ['prepare', 'switch'] as const) {
    const key = releaseKey(config, config.deployId, `${phase}.yml`)
    await store.putText(
      key,
      render(config, template, commands, srcUrl, checksum, phase),
      'application/yaml'
    )
    urls[phase] = s3Url(store.bucket, key)
    log.info(`${phase} manifest ${urls[phase]} (${urls[phase].length} bytes as an event payload)`)
  }
  await store.putText(
    manifestKey,
    render(config, template, commands, srcUrl, checksum, 'combined'),
    'application/yaml'
  )
  log.info(`combined manifest ${manifestUrl}: what latest names, for nodes that boot later`)
  return { manifestUrl, prepareUrl: urls.prepare, switchUrl: urls.switch }
}
