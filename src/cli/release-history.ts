// `stretcher-action history` (contract 12): the releases recorded under
// `<kv-prefix>/history/` (Serf, contract 13: the S3 objects
// `<s3-url>/<app>/history/*.json`), newest first, with commit, time and which
// one is current. Pure: the records in, rows and text out.
import type { HistoryRecord } from '../shared/history-record.ts'
import { formatUtc, headedTable, jsonHeading, jsonRow } from './fleet-status.ts'
import { plainText } from '../shared/text.ts'
import { compareNatural } from '../shared/natural-order.ts'

export interface HistoryRow {
  deployId: string
  commit?: string
  /** ISO time the release was published */
  publishedAt?: string
  runUrl?: string
  manifestUrl?: string
  srcUrl?: string
  checksum?: string
  /** the release `deploy-id` names */
  current: boolean
  /** why the record could not be read */
  note?: string
}

export interface ReleaseHistory {
  app: string
  kvPrefix: string
  /** Serf: where the records are, s3://bucket/prefix/app (then kvPrefix is not used) */
  s3Url?: string
  current?: string
  rows: HistoryRow[]
  /** `deploy-id` names a release with no history/ record */
  currentUnrecorded: boolean
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

function rowOf(deployId: string, value: string | null, current: string | undefined): HistoryRow {
  const row: HistoryRow = { deployId, current: deployId === current }
  let parsed: unknown
  try {
    parsed = JSON.parse(value ?? '')
  } catch {
    return { ...row, note: 'record is not JSON' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ...row, note: 'record is not a JSON object' }
  const r = parsed as Partial<Record<keyof HistoryRecord, unknown>>
  const fields: Partial<HistoryRow> = {
    commit: str(r.commit),
    publishedAt: str(r.published_at),
    runUrl: str(r.run_url),
    manifestUrl: str(r.manifest_url),
    srcUrl: str(r.src_url),
    checksum: str(r.checksum)
  }
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) Object.assign(row, { [k]: v })
  return row
}

const publishedMs = (row: HistoryRow): number => {
  const ms = row.publishedAt === undefined ? NaN : Date.parse(row.publishedAt)
  return Number.isNaN(ms) ? -Infinity : ms
}

/** Newest first: by publication time, then by deploy ID (which sorts by time too). */
export function releaseHistory(input: {
  app: string
  kvPrefix: string
  s3Url?: string
  current?: string
  /** the entries under `<kv-prefix>/history/`, keyed by deploy ID */
  entries: ReadonlyArray<{ deployId: string; value: string | null }>
}): ReleaseHistory {
  const rows = input.entries
    .map((e) => rowOf(e.deployId, e.value, input.current))
    .sort((a, b) => publishedMs(b) - publishedMs(a) || compareNatural(b.deployId, a.deployId))
  return {
    app: input.app,
    kvPrefix: input.kvPrefix,
    ...(input.s3Url === undefined ? {} : { s3Url: input.s3Url }),
    current: input.current,
    rows,
    currentUnrecorded: input.current !== undefined && !rows.some((r) => r.current)
  }
}

export function historyText(history: ReleaseHistory): string {
  const where = history.s3Url ?? history.kvPrefix
  const n = history.rows.length
  const current =
    history.current === undefined
      ? 'none'
      : `${plainText(history.current, 80)}${history.currentUnrecorded ? ` (not in ${where}/history/)` : ''}`
  const lines = headedTable(
    `${history.app} (${where}): ${n === 0 ? 'no release published yet' : `${n} release${n === 1 ? '' : 's'}, newest first`}; current: ${current}`,
    ['', 'DEPLOY ID', 'COMMIT', 'PUBLISHED', 'RUN'],
    history.rows.map((r) => {
      const ms = publishedMs(r)
      return [
        r.current ? '*' : '',
        plainText(r.deployId, 80),
        r.commit === undefined ? '-' : plainText(r.commit.slice(0, 7), 7),
        r.note !== undefined
          ? plainText(r.note, 80)
          : ms === -Infinity
            ? '-'
            : formatUtc(Math.floor(ms / 1000)),
        r.runUrl === undefined ? '' : plainText(r.runUrl, 200)
      ]
    })
  )
  return `${lines.join('\n')}\n`
}

export function historyJson(history: ReleaseHistory) {
  const heading = jsonHeading(history)
  return {
    ...(history.s3Url === undefined
      ? heading
      : { app: heading.app, s3_url: history.s3Url, current: heading.current }),
    releases: history.rows.map((r) =>
      jsonRow(r, {
        deployId: 'deploy_id',
        current: 'current',
        commit: 'commit',
        publishedAt: 'published_at',
        runUrl: 'run_url',
        manifestUrl: 'manifest_url',
        srcUrl: 'src_url',
        checksum: 'checksum'
      })
    )
  }
}
