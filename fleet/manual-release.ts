// Publishing a release to the local fleet by hand, without the action: pack with
// `tar czf`, PUT the archive and a manifest to s3rver (it takes unsigned
// path-style PUTs), fire the event. For tests of the fleet itself (the Serf
// fleet's too: putObject and uploadTree take either).
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { LocalFleet } from './index.ts'

const exec = promisify(execFile)

export interface ManifestFields {
  src?: string
  checksum?: string
  dest?: string
  /** written as a bare YAML 1.1 octal, e.g. 0o750 → `dest_mode: 0750` */
  destMode?: number
  commands?: { pre?: string[]; post?: string[]; success?: string[]; failure?: string[] }
  excludes?: string[]
  excludeFrom?: string
  syncStrategy?: string
}

/** YAML for stretcher: every string double-quoted (JSON), dest_mode a bare octal. */
export function manifestYaml(m: ManifestFields): string {
  const q = (s: string): string => JSON.stringify(s)
  const lines: string[] = []
  if (m.src !== undefined) lines.push(`src: ${q(m.src)}`)
  if (m.checksum !== undefined) lines.push(`checksum: ${q(m.checksum)}`)
  if (m.dest !== undefined) lines.push(`dest: ${q(m.dest)}`)
  if (m.destMode !== undefined) lines.push(`dest_mode: 0${m.destMode.toString(8)}`)
  if (m.excludes) lines.push('excludes:', ...m.excludes.map((e) => `  - ${q(e)}`))
  if (m.excludeFrom !== undefined) lines.push(`exclude_from: ${q(m.excludeFrom)}`)
  if (m.syncStrategy !== undefined) lines.push(`sync_strategy: ${q(m.syncStrategy)}`)
  if (m.commands) {
    lines.push('commands:')
    for (const [phase, list] of Object.entries(m.commands))
      if (list) lines.push(`  ${phase}:`, ...list.map((c) => `    - ${q(c)}`))
  }
  return lines.join('\n') + '\n'
}

/** Anything with a local S3: the Consul fleet, the Serf fleet (serf/fleet.ts). */
type WithS3 = Pick<LocalFleet, 's3'>

export async function putObject(
  fleet: WithS3,
  key: string,
  body: string | Buffer
): Promise<string> {
  const res = await fetch(`${fleet.s3.endpoint}/${fleet.s3.bucket}/${key}`, { method: 'PUT', body })
  if (!res.ok) throw new Error(`PUT ${key}: ${res.status} ${await res.text()}`)
  return `s3://${fleet.s3.bucket}/${key}`
}

/** `tar -C dir -czf - .`, uploaded; returns its s3:// URL and sha256. */
export async function uploadTree(
  fleet: WithS3,
  dir: string,
  key: string
): Promise<{ url: string; sha256: string; bytes: Buffer }> {
  const scratch = await mkdtemp(join(tmpdir(), 'stretcher-release-'))
  try {
    const archive = join(scratch, 'release.tar.gz')
    await exec('tar', ['-C', dir, '-czf', archive, '.'])
    const bytes = await readFile(archive)
    const url = await putObject(fleet, key, bytes)
    return { url, sha256: createHash('sha256').update(bytes).digest('hex'), bytes }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/**
 * PUT /v1/event/fire/<name> on the (first datacenter's) server's agent; the
 * payload is the URL, no newline. `dc`: fired in that datacenter (`?dc=`).
 */
export async function fireEvent(
  fleet: LocalFleet,
  payload: string,
  opts: { name?: string; service?: string; node?: string; token?: string; dc?: string } = {}
): Promise<{ ID: string }> {
  const params = new URLSearchParams()
  if (opts.service) params.set('service', opts.service)
  if (opts.node) params.set('node', opts.node)
  if (opts.dc) params.set('dc', opts.dc)
  const query = params.size > 0 ? `?${params}` : ''
  const res = await fetch(
    `${fleet.consul.url}/v1/event/fire/${opts.name ?? fleet.env.FLEET_EVENT_NAME}${query}`,
    {
      method: 'PUT',
      body: payload,
      headers: opts.token ? { 'X-Consul-Token': opts.token } : {}
    }
  )
  if (!res.ok) throw new Error(`event fire: ${res.status} ${await res.text()}`)
  return (await res.json()) as { ID: string }
}

/** A KV value as the emulator holds it (no ACL check), as UTF-8, or undefined; `dc`: that datacenter's KV. */
export function kvText(fleet: LocalFleet, key: string, dc?: string): string | undefined {
  const kv = dc === undefined ? fleet.consul : fleet.consul.datacenter(dc)
  return kv.kv(key)?.value?.toString('utf8')
}
