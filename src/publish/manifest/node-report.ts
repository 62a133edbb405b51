// The commands the action appends to the manifest's `success` and `failure`
// lists (contract 6). They run on the node with `sh -c`, need only `sh` and
// `curl`, and write this deploy's result (and on failure the log tail) into
// Consul KV under the node's own NodeName; with `dashboard`, an entry for
// consul-kv-dashboard too.
import { DEPLOY_ID_PATTERN } from '../../config/deploy-id.ts'
import type { SerfResultPhase } from '../../shared/serf-result-tag.ts'
import { serfResultTagName, serfResultValue } from '../../shared/serf-result-tag.ts'
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

/** How long each background `serf` call may take (Serf waits up to 5 s for the broadcast). */
export const SERF_TAG_TIMEOUT_S = 60

/**
 * When the background job sets the tag again, in seconds after the first set,
 * if it still holds this result: gossip occasionally misses an update, which
 * then reaches the other agents only with the next push-pull sync (30 s on a
 * LAN); setting it again sends it out again, with a new incarnation.
 */
export const SERF_TAG_RESEND_S = [4, 12] as const

/** Serf caps all of a member's tags together at 512 bytes (encoded). */
export const SERF_TAGS_MAX_BYTES = 512

export interface SerfReportOptions {
  app: string
  deployId: string
  /** layout: releases (contract 9): the phase this manifest runs (`switch` for the combined one) */
  phase?: SerfResultPhase
}

function checkSerfSafe(opts: SerfReportOptions): void {
  if (!DEPLOY_ID_PATTERN.test(opts.deployId))
    throw new Error(`deploy ID ${JSON.stringify(opts.deployId)} is not safe in a shell command`)
  if (!SERF_APP.test(opts.app))
    throw new Error(`app ${JSON.stringify(opts.app)} is not safe in a shell command`)
}

// The clock (shared/serf-result-tag.ts): SERF_USER_LTIME when a user event
// delivered the deploy, q + SERF_QUERY_LTIME when a query did; neither (a
// boot from `latest`, a run by hand): the agent's own event and query clocks
// from `serf info`, `<event>q<query>`, 0 when it cannot be read. Digits only.
const SERF_CLOCK = [
  'd() { case "$1" in ""|*[!0-9]*) return 1 ;; esac; }',
  'c=0',
  'if d "${SERF_USER_LTIME:-}"; then c="$SERF_USER_LTIME"',
  'elif d "${SERF_QUERY_LTIME:-}"; then c="q$SERF_QUERY_LTIME"',
  `elif [ -z "\${SERF_USER_LTIME:-}\${SERF_QUERY_LTIME:-}" ]; then i=$( $t serf info "$@" 2>/dev/null | awk -F' = ' '$1 == "\\tevent_time" { e = $2 } $1 == "\\tquery_time" { q = $2 } END { print e "q" q }' )`,
  'if d "${i%q*}" && d "${i#*q}"; then c="$i"; fi',
  'fi'
].join('; ')

/** The node's own value of the tag `k`, as its agent's `serf info` lists it. */
const OWN_TAG = `$( $t serf info "$@" 2>/dev/null | awk -F' = ' -v k="\t$k" '$1 == k { print $2; exit }' )`

/**
 * `serf tags -set stretcher-<app>=<deploy-id>:<status>:<clock>[:<phase>]`
 * against the node's own agent (SERF_RPC_ADDR and SERF_RPC_AUTH when set; the
 * serf CLI reads them too, they are passed for clarity), in the background:
 * the node's agent runs its handlers one at a time, and `tags -set` may wait
 * 5 s for the broadcast and then exit 1 although the tag is set
 * (research/serf.md). Then set again at SERF_TAG_RESEND_S while the tag still
 * holds this result (a later deploy's result is never overwritten). Its output
 * goes nowhere, so neither stretcher (which waits for its commands' output to
 * end) nor the agent (which waits for its handler's) waits for it.
 */
function serfTagCommand(opts: SerfReportOptions, status: 'success' | 'failure'): string {
  const value = serfResultValue(opts.deployId, status, `'"$c"'`, opts.phase)
  const resend = SERF_TAG_RESEND_S.map(
    (s, i) =>
      `sleep ${s - (SERF_TAG_RESEND_S[i - 1] ?? 0)}; [ "${OWN_TAG}" = "$v" ] || exit 0; $t serf tags "$@" -set "$k=$v"`
  ).join('; ')
  return [
    'set --',
    'if [ -n "${SERF_RPC_ADDR:-}" ]; then set -- "$@" -rpc-addr "$SERF_RPC_ADDR"; fi',
    'if [ -n "${SERF_RPC_AUTH:-}" ]; then set -- "$@" -rpc-auth "$SERF_RPC_AUTH"; fi',
    `k='${serfResultTagName(opts.app)}'`,
    'if ! command -v serf >/dev/null 2>&1; then echo "stretcher-action: serf is not on PATH: cannot set the tag $k" >&2; exit 1; fi',
    `t=; if command -v timeout >/dev/null 2>&1; then t="timeout ${SERF_TAG_TIMEOUT_S}"; fi`,
    `( ${SERF_CLOCK}; v='${value}'; $t serf tags "$@" -set "$k=$v"; ${resend} ) </dev/null >/dev/null 2>&1 &`
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
