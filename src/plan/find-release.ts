// `rollback-to: <deploy-id>`: no build, no upload. The release must still be
// whole: its history record in Consul, its manifest and archive in S3, and the
// archive's sha256 as recorded. Then announce and await run as for a new deploy.
import { createHash } from 'node:crypto'
import type { HistoryRecord } from '../shared/history-record.ts'
import type { Config } from '../config/config.ts'
import type { FleetBackend } from '../backend/fleet-backend.ts'
import { InputError } from '../shared/errors.ts'
import type { Log } from '../shared/log.ts'
import type { Release } from '../publish/publish.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'

function keyOf(bucket: string, url: string): string | undefined {
  const prefix = `s3://${bucket}/`
  return url.startsWith(prefix) ? url.slice(prefix.length) : undefined
}

/** Which input names the release, and the verb its messages use. */
interface Wanted {
  id: string
  input: 'rollback-to' | 'promote'
  verb: string
}

/**
 * The release's history record, from the first datacenter (in rollout order) that
 * recorded it: history/ is per datacenter (contract 8a).
 */
async function readHistory(
  backends: readonly FleetBackend[],
  config: Config,
  { id, input }: Wanted
): Promise<{ record: HistoryRecord; where: string }> {
  let missing: string | undefined
  for (const backend of backends) {
    const read = await backend.history(id)
    if (!read.found) {
      missing ??= read.where
      continue
    }
    if ('unreadable' in read) throw new Error(`${read.where} is not a JSON history record`)
    return { record: read.record, where: read.where }
  }
  const recent = await backends[0]!.recentDeployIds()
  throw new InputError(
    input,
    `${JSON.stringify(id)} is not a release of ${config.app} (no ${missing}); ${recent.length ? `most recent: ${recent.join(', ')}` : 'no release is recorded yet'}`
  )
}

/** The manifest and archive are still in S3, and the archive is what was published. */
async function verifyArchive(
  store: ReleaseStore,
  history: HistoryRecord,
  { id, input, verb }: Wanted
): Promise<{ checksum: string; size: number }> {
  const srcKey = keyOf(store.bucket, history.src_url)
  const manifestKey = keyOf(store.bucket, history.manifest_url)
  if (!srcKey || !manifestKey)
    throw new InputError(
      input,
      `${id} was published to another bucket (${history.manifest_url}); set s3-url to its bucket`
    )
  if ((await store.head(manifestKey)) === undefined)
    throw new Error(`cannot ${verb} ${id}: its manifest ${history.manifest_url} is gone from S3`)
  const size = await store.head(srcKey)
  if (size === undefined)
    throw new Error(`cannot ${verb} ${id}: its archive ${history.src_url} is gone from S3`)
  // Hash the archive as the nodes will: a changed object would fail on every node.
  const hash = createHash('sha256')
  for await (const chunk of await store.getStream(srcKey)) hash.update(chunk as Buffer)
  const checksum = hash.digest('hex')
  if (checksum !== history.checksum)
    throw new Error(
      `cannot ${verb} ${id}: ${history.src_url} has sha256 ${checksum}, but the release recorded ${history.checksum}`
    )
  return { checksum, size }
}

/** layout: releases announces the release's prepare and switch manifests (contract 9). */
async function releasePhases(
  store: ReleaseStore,
  config: Config,
  { record: history, where }: { record: HistoryRecord; where: string },
  { id, input, verb }: Wanted
): Promise<{ prepareUrl: string; switchUrl: string } | undefined> {
  if (config.layout !== 'releases' && history.switch_manifest_url)
    // Its <id>.yml is the combined manifest: in place it would switch the nodes to
    // <dest>/current under a dest they serve from directly.
    throw new InputError(
      input,
      `${id} was published with layout: releases; set layout: releases to ${verb} it`
    )
  if (config.layout !== 'releases') return undefined
  const prepareUrl = history.prepare_manifest_url
  const switchUrl = history.switch_manifest_url
  if (!prepareUrl || !switchUrl)
    throw new InputError(
      input,
      `${id} was published with layout: in-place (no prepare or switch manifest in ${where}); with layout: releases ${verb} a release published with it`
    )
  for (const url of [prepareUrl, switchUrl]) {
    const key = keyOf(store.bucket, url)
    if (!key || (await store.head(key)) === undefined)
      throw new Error(`cannot ${verb} ${id}: its manifest ${url} is gone from S3`)
  }
  return { prepareUrl, switchUrl }
}

/** Find and verify the release to roll back to; nothing is written. */
export async function findRelease(
  /** the backend in each datacenter of the run, in rollout order */
  backends: readonly FleetBackend[],
  store: ReleaseStore,
  config: Config,
  log: Log
): Promise<Release> {
  // promote announces a published release the same way (contract 8).
  const wanted: Wanted = config.rollbackTo
    ? { id: config.rollbackTo, input: 'rollback-to', verb: 'roll back to' }
    : { id: config.promote as string, input: 'promote', verb: 'promote' }
  const id = wanted.id
  const found = await readHistory(backends, config, wanted)
  const history = found.record
  const { checksum, size } = await verifyArchive(store, history, wanted)
  const phases = await releasePhases(store, config, found, wanted)
  log.info(
    `release ${id} (published ${history.published_at}${history.commit ? ` from ${history.commit.slice(0, 7)}` : ''}): archive and manifest verified`
  )
  return {
    deployId: id,
    srcUrl: history.src_url,
    manifestUrl: history.manifest_url,
    ...phases,
    checksum,
    archiveBytes: size,
    files: 0,
    commit: history.commit,
    publishedAt: history.published_at
  }
}

/** The release this run rolls out already exists (rollback-to, promote): nothing is built. */
export function existingRelease(config: Config): string | undefined {
  return config.rollbackTo ?? config.promote
}
