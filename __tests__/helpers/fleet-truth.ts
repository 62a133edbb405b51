// Reading what a run left on the local fleet and what it said about it, for the
// end-to-end tests of contract 8a (issue #19): KV per datacenter, the action's
// event fires, node trees and `current` symlinks, and the `results` output.
import assert from 'node:assert/strict'
import { lstatSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { LocalFleet } from '../../fleet/index.ts'
import type { ActionRun } from '../../fleet/run-action.ts'

export const KV = 'stretcher/web'

/** A KV entry under the app's prefix in one datacenter (default: the action's). */
export function kvAt(fleet: LocalFleet, key: string, dc?: string) {
  const consul = dc === undefined ? fleet.consul : fleet.consul.datacenter(dc)
  const entry = consul.kv(`${KV}/${key}`)
  return entry && { value: entry.value?.toString(), modifyIndex: entry.modifyIndex }
}

/** results/<node> as the node wrote it, with its ModifyIndex. */
export function resultAt(fleet: LocalFleet, node: string, dc?: string) {
  const entry = kvAt(fleet, `results/${node}`, dc)
  return (
    entry && {
      ...(JSON.parse(entry.value ?? '{}') as { deploy_id: string; status: string; phase?: string }),
      modifyIndex: entry.modifyIndex
    }
  )
}

/** The deploy-id key of a datacenter. */
export const deployIdAt = (fleet: LocalFleet, dc?: string) => kvAt(fleet, 'deploy-id', dc)?.value

export interface Fire {
  at: number
  raftIndex: number
  /** the node filter, '' when none */
  node: string
  /** the `dc` query parameter, '' when none */
  dc: string
}

/** The action's event fires (through any agent of the action) since arrival `from`. */
export function firesSince(fleet: LocalFleet, from = 0): Fire[] {
  return fleet.consul.arrivals
    .slice(from)
    .filter((a) => a.method === 'PUT' && a.path.startsWith('/v1/event/fire/'))
    .map((a) => {
      const params = new URL(a.path, 'http://x').searchParams
      return {
        at: a.at,
        raftIndex: a.raftIndex,
        node: params.get('node') ?? '',
        dc: params.get('dc') ?? ''
      }
    })
}

/** public/version.txt in an in-place tree (dest /srv/web), '' when absent. */
export function versionOn(fleet: LocalFleet, node: string, dest = '/srv/web'): string {
  try {
    return readFileSync(join(fleet.nodeTree(node, dest), 'public/version.txt'), 'utf8').trim()
  } catch {
    return ''
  }
}

/** Where `<root>/srv/app/current` points (layout: releases), '' when there is no symlink. */
export function currentOf(fleet: LocalFleet, node: string): string {
  const path = join(fleet.nodes.get(node)!.root, 'srv/app/current')
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : ''
  } catch {
    return ''
  }
}

export interface Row {
  node: string
  status: string
  deploy_id: string | null
  wave?: number
  phase?: string
  datacenter?: string
}

/** The `results` output. */
export function rowsOf(run: ActionRun): Row[] {
  return JSON.parse(run.outputs.results ?? '[]') as Row[]
}

/** A node's row (by datacenter too when given). */
export function rowOf(run: ActionRun, node: string, dc?: string): Row | undefined {
  return rowsOf(run).find((r) => r.node === node && (dc === undefined || r.datacenter === dc))
}

// Contract 8a names the states `succeeded` and `failed`; contract 2 and 5 spell
// a node's own report `success` / `failure`. Either spelling is the same state.
export const SUCCEEDED = /^(succeeded|success)$/
export const FAILED = /^(failed|failure)$/

/** Words that say nodes were sent the release and are still at it. */
export const STILL_AT_IT = /still deploying|still waiting|may still be applying/i

/**
 * No line of `text` that names one of `nodes` says it is deploying, waiting or
 * applying (contract 8a: `not sent` nodes are never "deploying", "waiting" or
 * "may still be applying").
 */
export function assertNotSaidBusy(text: string, nodes: string[], label: string): void {
  for (const line of text.split('\n')) {
    const named = nodes.filter((n) => new RegExp(`(^|[^\\w-])${n}([^\\w-]|$)`).test(line))
    if (named.length === 0) continue
    assert.doesNotMatch(
      line,
      /deploying|waiting|applying|not reported|⏳/i,
      `${label}: ${named.join(', ')} never sent, but: ${line}`
    )
  }
}

/** The summary's title line (### ...). */
export const titleOf = (run: ActionRun) => /^###.*$/m.exec(run.summary)?.[0] ?? ''

/** Everything the run said to a reader: summary, error lines, log. */
export const saidBy = (run: ActionRun) => `${run.summary}\n${run.errors.join('\n')}`
