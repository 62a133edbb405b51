// The commands a release's manifests append to report each node's result, per
// backend (contract 5, 13) and, with layout: releases, per phase (contract 9).
import type { Config } from '../config/config.ts'
import type { ManifestTemplate } from './manifest/manifest.ts'
import {
  failureCommands,
  serfFailureCommands,
  serfSuccessCommands,
  successCommands
} from './manifest/node-report.ts'
import type { ReportingCommands } from './publish.ts'

export function reportingCommands(config: Config, template?: ManifestTemplate): ReportingCommands {
  // Serf (contract 13): the result is the node's `stretcher-<app>` tag.
  if (config.backend.kind === 'serf') {
    const serf = (phase?: 'prepare' | 'switch') => {
      const opts = { app: config.app, deployId: config.deployId, ...(phase ? { phase } : {}) }
      return { success: serfSuccessCommands(opts), failure: serfFailureCommands(opts) }
    }
    if (config.layout !== 'releases') return serf()
    return { ...serf(), phases: { prepare: serf('prepare'), switch: serf('switch') } }
  }
  const dashboard = config.dashboard ? { namespace: config.dashboard, app: config.app } : undefined
  const opts = { kvPrefix: config.kvPrefix, deployId: config.deployId, dashboard }
  const commands = { success: successCommands(opts), failure: failureCommands(opts) }
  const dest = config.dest ?? template?.dest
  if (config.layout !== 'releases' || dest === undefined) return commands
  const phase = (name: 'prepare' | 'switch') => {
    const layout = { ...opts, layout: { phase: name, dest } }
    return { success: successCommands(layout), failure: failureCommands(layout) }
  }
  return { ...commands, phases: { prepare: phase('prepare'), switch: phase('switch') } }
}
