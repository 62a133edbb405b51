// The commands the action appends to the manifest's `success` and `failure`
// lists (contract 6). They run on the node with `sh -c`, need only `sh` and
// `curl`, and write this deploy's result (and on failure the log tail) into
// Consul KV under the node's own NodeName; with `dashboard`, an entry for
// consul-kv-dashboard too.
import { DEPLOY_ID_PATTERN } from '../../config/deploy-id.ts'
import { keptReleasesCommand } from './release-layout.ts'

/** Most of stretcher's log a failed node keeps in KV (contract 5: at most 64 KiB). */
export const LOG_TAIL_BYTES = 64 * 1024

export interface NodeReportOptions {
  kvPrefix: string
  deployId: string
  /** consul-kv-dashboard (contract 11): also write `<namespace>/deploy/<node>/<app>` */
  dashboard?: { namespace: string; app: string }
  /**
   * `layout: releases` (contract 9): the phase this manifest runs (`switch` for
   * the combined one: the node ends on the release), written as `"phase"`, and
   * the base directory whose releases/ the node lists as `"releases"` (the
   * releases it keeps, so a rollback to one of them is a switch only).
   */
  layout?: { phase: 'prepare' | 'switch'; dest: string }
}

/** consul-kv-dashboard's status codes (dashboard.go: Success, Warning, Danger, Info). */
export const DASHBOARD_STATUS = { success: 0, failure: 2 } as const

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
  if (opts.dashboard) {
    // One segment each: the dashboard reads the key's segments by position.
    for (const [what, value] of Object.entries(opts.dashboard))
      if (!/^[A-Za-z0-9._-]+$/.test(value) || value === '.' || value === '..')
        throw new Error(
          `dashboard ${what} ${JSON.stringify(value)} is not one safe KV path segment`
        )
  }
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

/**
 * The consul-kv-dashboard entry (contract 11), checked against
 * fujiwara/consul-kv-dashboard's own reading of it (dashboard.go at e6a204c):
 * - the key: `KVPair.NewItem` (dashboard.go:67-84) splits it on "/" into
 *   {namespace}/{category}/{node}/{key}: category `deploy`, node the node's
 *   name, key the app. Only segments 1 to 3 are read, so namespace and app
 *   must be one segment each (config.ts, checkSafe).
 * - the node: `itemInCatalog` (dashboard.go:384-406) drops an item whose node
 *   is not a catalog node name (or a service name): the agent's own NodeName is one.
 * - the flags: `time.Unix(kv.Flags/1000, 0)` is the timestamp and
 *   `Status(kv.Flags % 1000)` the status (dashboard.go:70-72), with Success 0,
 *   Warning 1, Danger 2, Info 3 (dashboard.go:42-47): unix seconds × 1000 + 0
 *   or + 2. Flags is an int64 there, a uint64 in Consul: ~1.8e12 fits both.
 * - the value: shown as text (`Data: string(kv.Value)`), one line here.
 * It is written after the result, as its own command: stretcher ends a list at
 * a failing command, so a token without `key:write` on `<namespace>/deploy/`
 * loses the dashboard entry (saying so on stderr, which stretcher's
 * InvokePipe copies to its own), never the result the action waits for.
 */
function dashboardCommand(opts: NodeReportOptions, status: 'success' | 'failure'): string[] {
  if (!opts.dashboard) return []
  const { namespace, app } = opts.dashboard
  // printf reuses its format for extra arguments: "$n" only where %s takes it.
  const value =
    status === 'success'
      ? `'deploy ${opts.deployId}: success'`
      : `'deploy ${opts.deployId}: failure (log in ${opts.kvPrefix}/logs/%s)' "$n"`
  const needs = `key:write on ${namespace}/deploy/`
  return [
    [
      PROLOGUE,
      `k="${namespace}/deploy/$n/${app}"`,
      `f=$(( $(date +%s) * 1000 + ${DASHBOARD_STATUS[status]} ))`,
      `printf ${value} | curl "$@" -X PUT --data-binary @- "$a/v1/kv/$k?flags=$f" >/dev/null || { echo "stretcher-action: could not write $k for consul-kv-dashboard (the node token needs ${needs})" >&2; exit 1; }`
    ].join('; ')
  ]
}

/** Appended to `commands.success`. */
export function successCommands(opts: NodeReportOptions): string[] {
  checkSafe(opts)
  return [resultCommand(opts, 'success'), ...dashboardCommand(opts, 'success')]
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
  return [logCommand, resultCommand(opts, 'failure'), ...dashboardCommand(opts, 'failure')]
}

// --- Serf clusters (contract 13) ------------------------------------------------

/** An app name as config.ts admits it: safe inside single quotes and in a Serf tag name. */
const SERF_APP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** How long the background `serf tags -set` may take (Serf waits up to 5 s for the broadcast). */
export const SERF_TAG_TIMEOUT_S = 60

/** Serf caps all of a member's tags together at 512 bytes (encoded). */
export const SERF_TAGS_MAX_BYTES = 512

export interface SerfReportOptions {
  app: string
  deployId: string
}

/** The Serf tag a node reports an app's result in: `stretcher-<app>`. */
export function serfResultTag(app: string): string {
  return `stretcher-${app}`
}

/** A node's result as its `stretcher-<app>` tag holds it. */
export interface SerfResult {
  deployId: string
  status: 'success' | 'failure'
  /**
   * The Lamport time of what delivered the deploy: `user` (SERF_USER_LTIME),
   * `query` (SERF_QUERY_LTIME; Serf keeps a separate clock for queries), or
   * `none` (0: run by hand or at boot, not by an event).
   */
  clock: { kind: 'user' | 'query' | 'none'; ltime: number }
}

/** `<deploy-id>:<success|failure>:<clock>`, clock `N` (user event), `qN` (query) or `0` (none). */
export function parseSerfResult(value: string): SerfResult | undefined {
  const m = /^([0-9A-Za-z._-]+):(success|failure):(q?)(\d{1,20})$/.exec(value)
  if (!m) return undefined
  const ltime = Number(m[4])
  const kind = m[3] === 'q' ? 'query' : ltime === 0 ? 'none' : 'user'
  return { deployId: m[1]!, status: m[2] as SerfResult['status'], clock: { kind, ltime } }
}

function checkSerfSafe(opts: SerfReportOptions): void {
  if (!DEPLOY_ID_PATTERN.test(opts.deployId))
    throw new Error(`deploy ID ${JSON.stringify(opts.deployId)} is not safe in a shell command`)
  if (!SERF_APP.test(opts.app))
    throw new Error(`app ${JSON.stringify(opts.app)} is not safe in a shell command`)
}

/**
 * `serf tags -set stretcher-<app>=<deploy-id>:<status>:<clock>` against the
 * node's own agent (SERF_RPC_ADDR and SERF_RPC_AUTH when set; the serf CLI
 * reads them too, they are passed for clarity), in the background: the node's
 * agent runs its handlers one at a time, and `tags -set` may wait 5 s for the
 * broadcast and then exit 1 although the tag is set (research/serf.md). Its
 * output goes nowhere, so neither stretcher (which waits for its commands'
 * output to end) nor the agent (which waits for its handler's) waits for it.
 * The clock: SERF_USER_LTIME (a user event delivered it), else q +
 * SERF_QUERY_LTIME (a query did), else 0 (run by hand, or at boot).
 */
function serfTagCommand(opts: SerfReportOptions, status: 'success' | 'failure'): string {
  const tag = `${serfResultTag(opts.app)}=${opts.deployId}:${status}:`
  return [
    'c="${SERF_USER_LTIME:-}"',
    'if [ -z "$c" ] && [ -n "${SERF_QUERY_LTIME:-}" ]; then c="q$SERF_QUERY_LTIME"; fi',
    'case "$c" in ""|q|*[!0-9q]*|?*q*) c=0 ;; esac',
    `set -- tags -set '${tag}'"$c"`,
    'if [ -n "${SERF_RPC_ADDR:-}" ]; then set -- "$@" -rpc-addr "$SERF_RPC_ADDR"; fi',
    'if [ -n "${SERF_RPC_AUTH:-}" ]; then set -- "$@" -rpc-auth "$SERF_RPC_AUTH"; fi',
    `if ! command -v serf >/dev/null 2>&1; then echo "stretcher-action: serf is not on PATH: cannot set the tag ${serfResultTag(opts.app)}" >&2; exit 1; fi`,
    `t=; if command -v timeout >/dev/null 2>&1; then t="timeout ${SERF_TAG_TIMEOUT_S}"; fi`,
    '( $t serf "$@" ) </dev/null >/dev/null 2>&1 &'
  ].join('; ')
}

/** Appended to `commands.success` with backend serf. */
export function serfSuccessCommands(opts: SerfReportOptions): string[] {
  checkSerfSafe(opts)
  return [serfTagCommand(opts, 'success')]
}

/**
 * Appended to `commands.failure` with backend serf: the tag only. The log stays
 * on the node, where the `stretcher-<app>-log` query handler answers with its end.
 */
export function serfFailureCommands(opts: SerfReportOptions): string[] {
  checkSerfSafe(opts)
  return [serfTagCommand(opts, 'failure')]
}
