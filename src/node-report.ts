// The commands the action appends to the manifest's `success` and `failure`
// lists (contract 6). They run on the node with `sh -c`, need only `sh` and
// `curl`, and write this deploy's result (and on failure the log tail) into
// Consul KV under the node's own NodeName.
import { DEPLOY_ID_PATTERN } from './deploy-id.ts'
import { keptReleasesCommand } from './release-layout.ts'

/** Most of stretcher's log a failed node keeps in KV (contract 5: at most 64 KiB). */
export const LOG_TAIL_BYTES = 64 * 1024

export interface NodeReportOptions {
  kvPrefix: string
  deployId: string
  /**
   * `layout: releases` (contract 9): the phase this manifest runs (`switch` for
   * the combined one: the node ends on the release), written as `"phase"`, and
   * the base directory whose releases/ the node lists as `"releases"` (the
   * releases it keeps, so a rollback to one of them is a switch only).
   */
  layout?: { phase: 'prepare' | 'switch'; dest: string }
}

// Shared prologue: the agent address as the Consul CLI reads CONSUL_HTTP_ADDR
// (bare host:port means http), the token header only when a token is set, and
// the node name from the agent itself. NodeName is the first one in
// /v1/agent/self (Config.NodeName); node names carry no quotes.
const PROLOGUE = [
  'a="${CONSUL_HTTP_ADDR:-http://127.0.0.1:8500}"',
  'case "$a" in http://*|https://*) ;; *) a="http://$a" ;; esac',
  'set -- -sS --fail --max-time 20 --retry 3 --retry-delay 1',
  'if [ -n "${CONSUL_HTTP_TOKEN:-}" ]; then set -- "$@" -H "X-Consul-Token: $CONSUL_HTTP_TOKEN"; fi',
  `n=$(curl "$@" "$a/v1/agent/self" | tr ',' '\\n' | grep -m1 '"NodeName":' | cut -d'"' -f4)`,
  'if [ -z "$n" ]; then echo "stretcher-action: cannot read NodeName from $a/v1/agent/self" >&2; exit 1; fi'
].join('; ')

function checkSafe(opts: NodeReportOptions): void {
  // These values are spliced into shell and into a Go template on the node:
  // only a closed alphabet may reach them.
  if (!DEPLOY_ID_PATTERN.test(opts.deployId))
    throw new Error(`deploy ID ${JSON.stringify(opts.deployId)} is not safe in a shell command`)
  if (!/^[A-Za-z0-9._/-]+$/.test(opts.kvPrefix))
    throw new Error(`KV prefix ${JSON.stringify(opts.kvPrefix)} is not safe in a shell command`)
}

function resultCommand(opts: NodeReportOptions, status: 'success' | 'failure'): string {
  if (opts.layout) {
    const json = `{"deploy_id":"${opts.deployId}","status":"${status}","phase":"${opts.layout.phase}","node":"%s","at":%s,"releases":[%s]}`
    return [
      PROLOGUE,
      `k=$( ${keptReleasesCommand(opts.layout.dest)} )`,
      `printf '${json}' "$n" "$(date +%s)" "\${k%,}" | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/results/$n" >/dev/null`
    ].join('; ')
  }
  const json = `{"deploy_id":"${opts.deployId}","status":"${status}","node":"%s","at":%s}`
  return [
    PROLOGUE,
    `printf '${json}' "$n" "$(date +%s)" | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/results/$n" >/dev/null`
  ].join('; ')
}

/** Appended to `commands.success`. */
export function successCommands(opts: NodeReportOptions): string[] {
  checkSafe(opts)
  return [resultCommand(opts, 'success')]
}

/**
 * Appended to `commands.failure`: first the log tail (stretcher passes its whole
 * log on stdin), then the result, so a reader who sees the failure finds the log.
 * stretcher skips the rest of the list after a failing command, so the log
 * command never fails: a lost log must not also lose the result.
 */
export function failureCommands(opts: NodeReportOptions): string[] {
  checkSafe(opts)
  const logCommand = [
    PROLOGUE,
    `tail -c ${LOG_TAIL_BYTES} | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/logs/$n" >/dev/null || echo "stretcher-action: could not store the log in Consul" >&2`
  ].join('; ')
  return [logCommand, resultCommand(opts, 'failure')]
}
