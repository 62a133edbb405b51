// One release's manifest in a layout (contract 4, 9): the whole in-place one, or
// with layout: releases its prepare, switch or combined manifest, each carrying
// the reporting commands of that release's deploy ID. Pure: the publish renders
// a new release with it, and auto-rollback renders the previous release again
// when it was published in the other layout (contract 8a).
import { renderManifest } from './render.ts'
import type { ManifestTemplate } from './template.ts'

export type ManifestPhase = 'prepare' | 'switch' | 'combined'

export interface PhaseReports {
  success: string[]
  failure: string[]
}

/** The commands that report a release's result, for its deploy ID. */
export interface ReleaseReports extends PhaseReports {
  /** layout: releases: the reports of each phase (the combined manifest reports as a switch) */
  phases?: Record<'prepare' | 'switch', PhaseReports>
}

export interface ReleaseToRender {
  deployId: string
  /** URL of the archive */
  src: string
  checksum: string
  /** the `dest` input; empty or undefined: the template's */
  dest?: string
  keepReleases: number
  reports: ReleaseReports
}

/** The manifest of one phase, or (no phase) the whole in-place one. */
export function renderReleaseManifest(
  template: ManifestTemplate | undefined,
  release: ReleaseToRender,
  phase?: ManifestPhase
): string {
  const { reports } = release
  const phaseReports =
    phase && reports.phases ? reports.phases[phase === 'prepare' ? 'prepare' : 'switch'] : reports
  return renderManifest(template, {
    src: release.src,
    checksum: release.checksum,
    dest: release.dest,
    successCommands: phaseReports.success,
    failureCommands: phaseReports.failure,
    ...(phase
      ? { layout: { phase, deployId: release.deployId, keepReleases: release.keepReleases } }
      : {})
  })
}
