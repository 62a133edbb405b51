#!/usr/bin/env node
// `stretcher-action` on the PATH (package.json bin), for CI systems other than GitHub Actions.
// First, before the bundle's modules allocate: the young generation's growth (as the action).
import './shared/young-generation.ts'
import { cli } from './cli/cli.ts'

const cancel = new AbortController()
process.once('SIGINT', () => cancel.abort(new Error('cancelled')))
process.once('SIGTERM', () => cancel.abort(new Error('cancelled')))
process.exitCode = await cli(
  process.argv.slice(2),
  process.env,
  {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true
  },
  cancel.signal
)
