// What an end-to-end test hands dist/index.js to deploy a build to a local fleet:
// the inputs (as the runner passes them) and the runner's environment.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FleetNodeSpec, LocalFleet } from '../../fleet/index.ts'

/** Inputs deploying `path` (under the workspace) to the fleet's web service. */
export function actionInputs(
  fleet: LocalFleet,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    path: 'v1',
    's3-url': `s3://${fleet.s3.bucket}/releases`,
    's3-endpoint': fleet.s3.endpoint,
    'consul-addr': fleet.consul.url,
    dest: '/srv/web',
    'service-filter': '^web$',
    timeout: '30s',
    ...extra
  }
}

/** The runner's environment for one run attempt (a new attempt, a new deploy ID). */
export function actionEnv(
  fleet: LocalFleet,
  workspace: string,
  run: { id: string; attempt: number }
): Record<string, string> {
  return {
    ...fleet.s3.env,
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/web',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_RUN_ID: run.id,
    GITHUB_RUN_ATTEMPT: String(run.attempt)
  }
}

/** Builds under `workspace`: each a directory with public/version.txt holding its version. */
export async function versionedBuilds(
  workspace: string,
  builds: Record<string, string>
): Promise<void> {
  for (const [dir, version] of Object.entries(builds)) {
    await mkdir(join(workspace, dir, 'public'), { recursive: true })
    await writeFile(join(workspace, dir, 'public/version.txt'), `${version}\n`)
  }
}

/** node-1..node-N with a checked web service; `canary` tagged canary. */
export function fleetNodes(
  count: number,
  canary: string | undefined,
  extra: Partial<Record<string, Partial<FleetNodeSpec>>> = {}
): FleetNodeSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `node-${i + 1}`
    return {
      name,
      services: [{ name: 'web', tags: name === canary ? ['canary'] : [], check: true }],
      ...extra[name]
    }
  })
}
