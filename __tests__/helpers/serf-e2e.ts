// What the end-to-end tests of backend: serf read from the fleet: each deploy
// node's stretcher-<app> tag (as the action's agent sees it), the bucket's
// objects, a node's tree; and the inputs and environment of one run.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SerfFleet } from '../../fleet/serf/fleet.ts'
import { httpGet } from '../../fleet/http-get.ts'
import { parseSerfResult, serfResultTagName } from '../../src/shared/serf-result-tag.ts'
import type { SerfResult } from '../../src/shared/serf-result-tag.ts'

/** A tag's result, or undefined when it holds none. */
export function readSerfResult(value: string | undefined): SerfResult | undefined {
  const parsed = parseSerfResult(value)
  return typeof parsed === 'string' ? undefined : parsed
}
import { connectSerf } from '../../src/serf/rpc-client.ts'

/** Inputs deploying `path` to the fleet's role=web members through the conditional-write proxy. */
export function serfInputs(
  fleet: SerfFleet,
  app: string,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    path: 'v1',
    app,
    backend: 'serf',
    's3-url': fleet.s3Url,
    's3-endpoint': fleet.env.FLEET_S3_ENDPOINT!,
    'serf-rpc-addr': fleet.rpcAddr,
    'serf-tags': fleet.env.FLEET_SERF_TAGS!,
    ...(fleet.rpcAuth === undefined ? {} : { 'serf-rpc-auth': fleet.rpcAuth }),
    dest: '/srv/app',
    // a tag update gossip misses arrives with the next push-pull sync (30 s)
    timeout: '90s',
    ...extra
  }
}

/** The runner's environment for one run attempt. */
export function serfEnv(
  fleet: SerfFleet,
  workspace: string,
  attempt: number
): Record<string, string> {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_RUN_ID: '91',
    GITHUB_RUN_ATTEMPT: String(attempt)
  }
}

/** Every member's parsed stretcher-<app> tag (undefined: none, or not a result), by name. */
export async function resultTags(
  fleet: SerfFleet,
  app: string
): Promise<Map<string, SerfResult | undefined>> {
  const client = await connectSerf(fleet.rpcAddr, { authKey: fleet.rpcAuth })
  try {
    const members = await client.members()
    return new Map(members.map((m) => [m.name, readSerfResult(m.tags[serfResultTagName(app)])]))
  } finally {
    await client.close()
  }
}

/** An object of the fleet's bucket, read from s3rver itself; undefined when there is none. */
export async function s3Object(fleet: SerfFleet, key: string): Promise<string | undefined> {
  const res = await httpGet(`${fleet.s3.endpoint}/${fleet.s3.bucket}/${key}`)
  return res.status === 200 ? res.body.toString('utf8') : undefined
}

/** Every key in the fleet's bucket (ListObjects, read from s3rver itself). */
export async function s3Keys(fleet: SerfFleet): Promise<string[]> {
  const res = await httpGet(`${fleet.s3.endpoint}/${fleet.s3.bucket}?list-type=2&max-keys=1000`)
  if (res.status !== 200) throw new Error(`listing the bucket: HTTP ${res.status}`)
  return [...res.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!)
}

/** public/version.txt of the node's tree, '' when it has none. */
export const treeVersion = (fleet: SerfFleet, node: string): Promise<string> =>
  readFile(join(fleet.nodeTree(node), 'public/version.txt'), 'utf8').then(
    (t) => t.trim(),
    () => ''
  )

/** The deploy IDs the node's handler ran, in order (boots included). */
export async function ranIds(fleet: SerfFleet, node: string): Promise<(string | undefined)[]> {
  return (await fleet.runs(node)).map((r) => r.deployId)
}

/**
 * Nodes a run sent the deploy again as a query after its user event, as its log
 * names them (serf/await-tags.ts: silent while most reported, or past half the
 * wait): such a node may run on the query clock, or run the release twice.
 */
export function nudgedNodes(...stdouts: string[]): Set<string> {
  return new Set(
    stdouts.flatMap((out) =>
      [
        ...out.matchAll(
          /silent \d+ s after the event .*sending them the deploy as a query: (.*)$/gm
        )
      ].flatMap((m) => m[1]!.split(', '))
    )
  )
}
