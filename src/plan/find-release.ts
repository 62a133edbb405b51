// `rollback-to: <deploy-id>`: no build, no upload. The release must still be
// whole: its history record in Consul, its manifest and archive in S3, and the
// archive's sha256 as recorded. Then announce and await run as for a new deploy.
import { createHash } from 'node:crypto'
import type { HistoryRecord } from '../shared/history-record.ts'
import { kvKeys } from '../consul/kv-keys.ts'
import type { Config } from '../config/config.ts'
import type { ConsulClient } from '../consul/client.ts'
import { InputError } from '../shared/errors.ts'
import type { Log } from '../shared/log.ts'
import type { Release } from '../publish/publish.ts'
import type { ReleaseStore } from '../publish/s3-store.ts'

/** The most recent deploy IDs under history/, newest first (IDs sort by time). */
export async function recentDeployIds(
  consul: ConsulClient,
  kvPrefix: string,
  count = 5
): Promise<string[]> {
  const prefix = `${kvPrefix}/history/`
  const keys = await consul.kvKeys(prefix)
  return keys
    .map((k) => k.slice(prefix.length))
    .filter((id) => id !== '' && !id.includes('/'))
    .sort()
    .reverse()
    .slice(0, count)
}

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

async function readHistory(
  consul: ConsulClient,
  config: Config,
  { id, input }: Wanted
): Promise<HistoryRecord> {
  const keys = kvKeys(config.kvPrefix)
  const read = await consul.kvGet(keys.history(id))
  const value = read.entries[0]?.value
  if (!value) {
    const recent = await recentDeployIds(consul, config.kvPrefix)
    throw new InputError(
      input,
      `${JSON.stringify(id)} is not a release of ${config.app} (no ${keys.history(id)}); ${recent.length ? `most recent: ${recent.join(', ')}` : 'no release is recorded yet'}`
    )
  }
  try {
    return JSON.parse(value) as HistoryRecord
  } catch {
    throw new Error(`${keys.history(id)} is not a JSON history record`)
  }
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
  history: HistoryRecord,
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
      `${id} was published with layout: in-place (no prepare or switch manifest in ${kvKeys(config.kvPrefix).history(id)}); with layout: releases ${verb} a release published with it`
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
  consul: ConsulClient,
  store: ReleaseStore,
  config: Config,
  log: Log
): Promise<Release> {
  // promote announces a published release the same way (contract 8).
  const wanted: Wanted = config.rollbackTo
    ? { id: config.rollbackTo, input: 'rollback-to', verb: 'roll back to' }
    : { id: config.promote as string, input: 'promote', verb: 'promote' }
  const id = wanted.id
  const history = await readHistory(consul, config, wanted)
  const { checksum, size } = await verifyArchive(store, history, wanted)
  const phases = await releasePhases(store, config, history, wanted)
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
