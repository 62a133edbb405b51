// An app's S3 objects besides the lock (contract 13), under `<s3-prefix>/<app>/`:
// `latest` (the release pointer: the manifest URL on its first line), one
// history record per deploy ID, and the rollout record.
import type {
  HistoryRead,
  ObjectStore,
  ReleasePointer,
  RolloutRecord
} from '../backend/fleet-backend.ts'
import type { HistoryRecord } from '../shared/history-record.ts'

export type SerfObjectKeys = ReturnType<typeof serfObjectKeys>

/** The S3 keys of an app's objects (contract 13). */
export function serfObjectKeys(s3Prefix: string, app: string) {
  const base = [s3Prefix.replace(/^\/+|\/+$/g, ''), app].filter((p) => p !== '').join('/')
  return {
    latest: `${base}/latest`,
    lock: `${base}/lock`,
    rollout: `${base}/rollout`,
    historyPrefix: `${base}/history/`,
    history: (deployId: string) => `${base}/history/${deployId}.json`
  }
}

/** An object's address, for messages. */
export const s3Url = (store: ObjectStore, key: string) => `s3://${store.bucket}/${key}`

/** A manifest URL's deploy ID: its file name without `.yml`. */
export function deployIdOfManifest(url: string): string | undefined {
  const name = url.trim().split('/').pop() ?? ''
  return name.endsWith('.yml') && name.length > 4 ? name.slice(0, -4) : undefined
}

function parseJson<T>(text: string | undefined): T | 'unreadable' | undefined {
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed && typeof parsed === 'object' ? (parsed as T) : 'unreadable'
  } catch {
    return 'unreadable'
  }
}

/** What `latest` names, with the history record of its deploy ID when one is readable. */
export async function readReleasePointer(
  store: ObjectStore,
  keys: SerfObjectKeys
): Promise<ReleasePointer> {
  const manifestUrl = (await store.readText(keys.latest))?.trim().split('\n')[0]
  if (!manifestUrl) return {}
  const deployId = deployIdOfManifest(manifestUrl)
  if (deployId === undefined) return { manifestUrl }
  const record = parseJson<Partial<HistoryRecord>>(await store.readText(keys.history(deployId)))
  return {
    manifestUrl,
    deployId,
    ...(record && record !== 'unreadable' ? { history: record } : {})
  }
}

export async function readHistory(
  store: ObjectStore,
  keys: SerfObjectKeys,
  deployId: string
): Promise<HistoryRead> {
  const where = s3Url(store, keys.history(deployId))
  const record = parseJson<HistoryRecord>(await store.readText(keys.history(deployId)))
  if (record === undefined) return { found: false, where }
  if (record === 'unreadable') return { found: true, where, unreadable: true }
  return { found: true, where, record }
}

/** The newest `count` deploy IDs under history/ (IDs sort by time). */
export async function readRecentDeployIds(
  store: ObjectStore,
  keys: SerfObjectKeys,
  count: number
): Promise<string[]> {
  return (await store.list(keys.historyPrefix))
    .map((k) => k.slice(keys.historyPrefix.length))
    .filter((name) => name.endsWith('.json') && !name.includes('/'))
    .map((name) => name.slice(0, -'.json'.length))
    .filter((id) => id !== '')
    .sort()
    .reverse()
    .slice(0, count)
}

export async function writeHistory(
  store: ObjectStore,
  keys: SerfObjectKeys,
  record: HistoryRecord
): Promise<void> {
  await store.writeText(keys.history(record.deploy_id), JSON.stringify(record))
}

/** Writes the rollout record, or deletes it (undefined). */
export async function recordRollout(
  store: ObjectStore,
  keys: SerfObjectKeys,
  record: RolloutRecord | undefined
): Promise<void> {
  if (record === undefined) await store.remove(keys.rollout)
  else await store.writeText(keys.rollout, JSON.stringify(record))
}
