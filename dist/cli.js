#!/usr/bin/env node
import { p as parseResult, g as readMembers, h as serfObjectKeys, i as deployIdOfManifest, j as serfResultTagName, k as parseSerfResult, l as readCatalog, d as connect, e as runPipeline, r as runConclusion, m as serfAgent } from './lib/pipeline.js';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { f as readApp, g as readConsul, h as readBackend, j as parseKvPrefix, k as readFilters, I as InputError, m as readS3, n as getter, p as plainText, o as formatGoDuration, q as matchesFilters, t as compareNatural, u as memberMatcher, R as RUNNER_TAG, C as ConsulClient, v as kvKeys, w as INPUT_NAMES, a as readConfig } from './lib/run-facts.js';
import 'node:crypto';
import 'node:v8';
import 'node:fs/promises';
import 'node:path';
import 'node:os';
import 'node:stream';
import 'node:zlib';
import 'node:fs';
import 'node:net';

/** The inputs the operator commands take (contract 12): where the fleet is, and which nodes. */
const OPERATE_INPUTS = [
    'app',
    'kv-prefix',
    'consul-addr',
    'consul-token',
    'node-filter',
    'service-filter',
    'tag-filter',
    'backend',
    'serf-rpc-addr',
    'serf-rpc-auth',
    'serf-join',
    'serf-tags',
    's3-url',
    's3-endpoint',
    'aws-region'
];
const S3_INPUTS = ['s3-url', 's3-endpoint', 'aws-region'];
/** Read the operator commands' inputs, with the same rules and messages as a deploy's. */
function readOperateConfig(input, env) {
    const only = new Set(OPERATE_INPUTS);
    const get = getter((name) => (only.has(name) ? input(name) : ''));
    const app = readApp(get, env);
    const consul = readConsul(get, env);
    const backend = readBackend(get, env);
    const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`);
    const filters = readFilters(get);
    if (backend.kind === 'consul') {
        for (const name of S3_INPUTS)
            if (get(name) !== '')
                throw new InputError(name, 'is only read with backend: serf (with Consul the releases are read from KV)');
        return { app, kvPrefix, consul, filters, backend };
    }
    if (get('s3-url') === '')
        throw new InputError('s3-url', 'is required with backend: serf (the releases are listed in S3)');
    const s3 = readS3(get, env);
    return { app, kvPrefix, consul, filters, backend, s3 };
}

const STANDINGS = ['failed', 'silent', 'behind', 'ahead', 'current'];
function standingOf(result, current) {
    if (result === undefined || typeof result === 'string')
        return 'silent';
    if (result.status === 'failure')
        return 'failed';
    if (current !== undefined && result.deployId === current)
        return 'current';
    if (current === undefined)
        return 'behind';
    return compareNatural(result.deployId, current) > 0 ? 'ahead' : 'behind';
}
function describeFilters(filters) {
    const parts = [
        filters.node !== undefined && `node-filter ${filters.node}`,
        filters.service !== undefined && `service-filter ${filters.service}`,
        filters.tag !== undefined && `tag-filter ${filters.tag}`
    ].filter((p) => typeof p === 'string');
    return parts.length ? `matching ${parts.join(', ')}` : 'in the catalog (no filter)';
}
/** A node's row: its last result as read (undefined: none; a string: why it is not one). */
function statusRow(node, live, result, current) {
    const row = { node, standing: standingOf(result, current), live };
    if (typeof result === 'string')
        row.note = result;
    else if (result) {
        row.deployId = result.deployId;
        row.status = result.status;
        if (result.at !== undefined)
            row.at = result.at;
    }
    return row;
}
function countRows(rows) {
    const counts = {
        total: rows.length,
        live: 0,
        down: 0,
        failed: 0,
        silent: 0,
        behind: 0,
        ahead: 0,
        current: 0
    };
    for (const row of rows) {
        counts[row.standing]++;
        if (row.live)
            counts.live++;
        else
            counts.down++;
    }
    return counts;
}
/** The verdict line: why the fleet is not all on the current release, or that it is. */
function statusMessage(source, current, rows, ok) {
    const live = rows.filter((r) => r.live);
    if (current === undefined)
        return `no current release: ${source.currentKey} is not set (nothing published yet?)`;
    if (rows.length === 0)
        return `no node ${source.selection} (${source.noneHint})`;
    if (live.length === 0)
        return `none of the ${rows.length} matching node${rows.length === 1 ? '' : 's'} is live`;
    if (ok)
        return `${live.length === 1 ? 'the 1 live node' : `all ${live.length} live nodes`} on ${plainText(current, 80)}`;
    const off = live.filter((r) => r.standing !== 'current');
    const parts = ['failed', 'silent', 'behind', 'ahead']
        .map((s) => [s, live.filter((r) => r.standing === s).length])
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`);
    return `${off.length} of ${live.length} live nodes not on ${plainText(current, 80)}: ${parts.join(', ')}`;
}
/** Consul: the catalog's matching nodes, their results under `<kv-prefix>/results/`. */
function fleetStatus(input) {
    const byNode = new Map(input.results.map((r) => [r.node, r.value]));
    const inCatalog = new Set(input.catalog.map((n) => n.node));
    const rows = input.catalog
        .filter((node) => matchesFilters(node, input.filters))
        .map((node) => statusRow(node.node, node.serfHealth === 'passing', byNode.has(node.node) ? parseResult(byNode.get(node.node) ?? null) : undefined, input.current));
    const gone = input.results.map((r) => r.node).filter((n) => !inCatalog.has(n));
    const source = {
        where: input.kvPrefix,
        currentKey: `${input.kvPrefix}/deploy-id`,
        selection: describeFilters(input.filters),
        down: 'serfHealth not passing',
        noneHint: 'a token without node:read sees none',
        json: { kv_prefix: input.kvPrefix }
    };
    return assembleStatus(input.app, source, input.current, rows, gone);
}
/** The rows in order (worst standing first, then natural order), counted and judged. */
function assembleStatus(app, source, current, unordered, gone = []) {
    const rows = [...unordered].sort((a, b) => STANDINGS.indexOf(a.standing) - STANDINGS.indexOf(b.standing) ||
        compareNatural(a.node, b.node));
    const live = rows.filter((r) => r.live);
    const ok = current !== undefined && live.length > 0 && live.every((r) => r.standing === 'current');
    return {
        app,
        source,
        current,
        rows,
        counts: countRows(rows),
        gone: [...gone].sort(compareNatural),
        ok,
        message: statusMessage(source, current, rows, ok)
    };
}
/** `2026-11-30 12:01:02 UTC` */
function formatUtc(unixSeconds) {
    const d = new Date(unixSeconds * 1000);
    if (Number.isNaN(d.getTime()))
        return String(unixSeconds);
    return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
/** How long ago, in the one duration format (Go's): `2m5s ago`; `in the future` when clocks disagree. */
function formatAge(unixSeconds, nowMs) {
    const ms = nowMs - unixSeconds * 1000;
    if (ms < -2e3)
        return 'in the future';
    const rounded = Math.round(ms / 1000) * 1000;
    return `${rounded < 1000 ? '0s' : formatGoDuration(rounded)} ago`;
}
/** Columns padded to their widest cell; the last one is not padded. */
function table(rows) {
    const widths = [];
    for (const row of rows)
        row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
    return rows.map((row) => row
        .map((cell, i) => i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length))
        .join('  ')
        .trimEnd());
}
/** A heading line, then (when there are rows) a blank line and the rows under their column names. */
function headedTable(heading, columns, rows) {
    return rows.length > 0 ? [heading, '', ...table([columns, ...rows])] : [heading];
}
/** How `status --json` and `history --json` begin: the app, its KV prefix, the current release. */
function jsonHeading(x) {
    return { app: x.app, kv_prefix: x.kvPrefix, current: x.current ?? null };
}
/**
 * A row in the `--json` form: the named fields under their snake_case names, an
 * absent value as null (so every row has every key), and `note` only when set.
 */
function jsonRow(row, fields) {
    const out = {};
    for (const [key, name] of Object.entries(fields))
        out[name] = row[key] ?? null;
    if (row.note !== undefined)
        out.note = row.note;
    return out;
}
/** The text `status` prints: a heading, the table (worst first), the nodes gone from the catalog. */
function statusText(status, nowMs) {
    const lines = headedTable(`${status.app} (${status.source.where}): ${status.counts.total} node${status.counts.total === 1 ? '' : 's'} ${status.source.selection}; current release ${status.current === undefined ? '(none)' : plainText(status.current, 80)}`, ['NODE', 'STANDING', 'RELEASE', 'STATUS', 'REPORTED'], status.rows.map((r) => [
        plainText(r.node, 80),
        r.live ? r.standing : `${r.standing} (down)`,
        r.deployId === undefined ? '-' : plainText(r.deployId, 80),
        r.status ?? '-',
        r.at !== undefined
            ? `${formatUtc(r.at)} (${formatAge(r.at, nowMs)})`
            : r.note !== undefined
                ? plainText(r.note, 80)
                : r.deployId === undefined
                    ? 'never'
                    : '-'
    ]));
    if (status.counts.down > 0)
        lines.push('', `${status.counts.down} matching node${status.counts.down === 1 ? ' is' : 's are'} down (${status.source.down}): listed, not counted`);
    if (status.gone.length > 0) {
        const shown = status.gone.slice(0, 20).map((n) => plainText(n, 80));
        lines.push('', `results of nodes no longer in the catalog: ${shown.join(', ')}${status.gone.length > 20 ? ` and ${status.gone.length - 20} more` : ''}`);
    }
    return `${lines.join('\n')}\n`;
}
/** The `--json` form: snake_case like the action's `results` output. */
function statusJson(status) {
    return {
        app: status.app,
        ...status.source.json,
        current: status.current ?? null,
        counts: status.counts,
        nodes: status.rows.map((r) => jsonRow(r, {
            node: 'node',
            standing: 'standing',
            deployId: 'deploy_id',
            status: 'status',
            at: 'at',
            live: 'live'
        })),
        gone: status.gone
    };
}

const str = (v) => (typeof v === 'string' && v !== '' ? v : undefined);
function rowOf(deployId, value, current) {
    const row = { deployId, current: deployId === current };
    let parsed;
    try {
        parsed = JSON.parse(value ?? '');
    }
    catch {
        return { ...row, note: 'record is not JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        return { ...row, note: 'record is not a JSON object' };
    const r = parsed;
    const fields = {
        commit: str(r.commit),
        publishedAt: str(r.published_at),
        runUrl: str(r.run_url),
        manifestUrl: str(r.manifest_url),
        srcUrl: str(r.src_url),
        checksum: str(r.checksum)
    };
    for (const [k, v] of Object.entries(fields))
        if (v !== undefined)
            Object.assign(row, { [k]: v });
    return row;
}
const publishedMs = (row) => {
    const ms = row.publishedAt === undefined ? NaN : Date.parse(row.publishedAt);
    return Number.isNaN(ms) ? -Infinity : ms;
};
/** Newest first: by publication time, then by deploy ID (which sorts by time too). */
function releaseHistory(input) {
    const rows = input.entries
        .map((e) => rowOf(e.deployId, e.value, input.current))
        .sort((a, b) => publishedMs(b) - publishedMs(a) || compareNatural(b.deployId, a.deployId));
    return {
        app: input.app,
        kvPrefix: input.kvPrefix,
        ...(input.s3Url === undefined ? {} : { s3Url: input.s3Url }),
        current: input.current,
        rows,
        currentUnrecorded: input.current !== undefined && !rows.some((r) => r.current)
    };
}
function historyText(history) {
    const where = history.s3Url ?? history.kvPrefix;
    const n = history.rows.length;
    const current = history.current === undefined
        ? 'none'
        : `${plainText(history.current, 80)}${history.currentUnrecorded ? ` (not in ${where}/history/)` : ''}`;
    const lines = headedTable(`${history.app} (${where}): ${n === 0 ? 'no release published yet' : `${n} release${n === 1 ? '' : 's'}, newest first`}; current: ${current}`, ['', 'DEPLOY ID', 'COMMIT', 'PUBLISHED', 'RUN'], history.rows.map((r) => {
        const ms = publishedMs(r);
        return [
            r.current ? '*' : '',
            plainText(r.deployId, 80),
            r.commit === undefined ? '-' : plainText(r.commit.slice(0, 7), 7),
            r.note !== undefined
                ? plainText(r.note, 80)
                : ms === -Infinity
                    ? '-'
                    : formatUtc(Math.floor(ms / 1000)),
            r.runUrl === undefined ? '' : plainText(r.runUrl, 200)
        ];
    }));
    return `${lines.join('\n')}\n`;
}
function historyJson(history) {
    const heading = jsonHeading(history);
    return {
        ...(history.s3Url === undefined
            ? heading
            : { app: heading.app, s3_url: history.s3Url, current: heading.current }),
        releases: history.rows.map((r) => jsonRow(r, {
            deployId: 'deploy_id',
            current: 'current',
            commit: 'commit',
            publishedAt: 'published_at',
            runUrl: 'run_url',
            manifestUrl: 'manifest_url',
            srcUrl: 'src_url',
            checksum: 'checksum'
        }))
    };
}

/** How many history records are read at once. */
const READ_CONCURRENCY = 16;
function keysOf(config) {
    return serfObjectKeys(config.s3?.prefix ?? '', config.app);
}
/** s3://bucket/prefix/app: where the app's objects are. */
function appUrl(store, config) {
    return `s3://${store.bucket}/${keysOf(config).latest.replace(/\/latest$/, '')}`;
}
/** The deploy ID `latest` names (its manifest's file name), or undefined. */
async function currentDeployId$1(store, config) {
    const url = (await store.readText(keysOf(config).latest))?.trim().split('\n')[0];
    return url ? deployIdOfManifest(url) : undefined;
}
function describeSelection(config) {
    const parts = [
        config.filters.node !== undefined && `node-filter ${config.filters.node}`,
        ...Object.entries(config.backend.tags).map(([k, re]) => `serf-tags ${k}=${re}`)
    ].filter((p) => typeof p === 'string');
    return parts.length ? `matching ${parts.join(', ')}` : 'in the cluster (no filter)';
}
async function readSerfFleetStatus(client, store, config) {
    const [members, current] = await Promise.all([
        readMembers(client),
        currentDeployId$1(store, config)
    ]);
    const where = appUrl(store, config);
    const source = {
        where,
        currentKey: `${where}/latest`,
        selection: describeSelection(config),
        down: 'member failed or left',
        noneHint: "the action's own agents are never counted",
        json: { s3_url: where }
    };
    return assembleStatus(config.app, source, current, memberRows(members, config, current));
}
/** The matching members (agents the action started aside), each with its last result tag. */
function memberRows(members, config, current) {
    const matches = memberMatcher({ nodeFilter: config.filters.node, tags: config.backend.tags });
    const tagName = serfResultTagName(config.app);
    return members
        .filter((m) => m.tags[RUNNER_TAG] === undefined && matches(m))
        .map((m) => {
        const tag = m.tags[tagName];
        const parsed = tag === undefined ? undefined : parseSerfResult(tag);
        const result = parsed === undefined || typeof parsed === 'string'
            ? parsed
            : { deployId: parsed.deployId, status: parsed.status };
        return statusRow(m.name, m.status === 'alive', result, current);
    });
}
async function readSerfReleaseHistory(store, config) {
    const keys = keysOf(config);
    const [current, listed] = await Promise.all([
        currentDeployId$1(store, config),
        store.list(keys.historyPrefix)
    ]);
    const ids = listed
        .map((key) => key.slice(keys.historyPrefix.length))
        .filter((name) => name.endsWith('.json') && !name.includes('/') && name !== '.json')
        .map((name) => name.slice(0, -'.json'.length));
    const entries = [];
    for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
        const batch = ids.slice(i, i + READ_CONCURRENCY);
        const values = await Promise.all(batch.map((id) => store.readText(keys.history(id))));
        batch.forEach((deployId, j) => entries.push({ deployId, value: values[j] ?? null }));
    }
    return releaseHistory({
        app: config.app,
        kvPrefix: config.kvPrefix,
        s3Url: appUrl(store, config),
        current,
        entries
    });
}

// The operator commands' reads (contract 12): a few Consul calls, then the pure
// modules (fleet-status.ts, release-history.ts) make rows of them. Nothing is written.
/** How long an unreachable Consul is retried before the command says so. */
const OPERATE_RETRY_MS = 15_000;
function operateConsul(config, info) {
    return new ConsulClient({
        addr: config.consul.addr,
        token: config.consul.token,
        retryForMs: OPERATE_RETRY_MS,
        onRetry: (what, attempt, delayMs) => info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`),
        onNotice: info
    });
}
/** `<kv-prefix>/deploy-id`, or undefined when unset or empty. */
async function currentDeployId(consul, kvPrefix) {
    const read = await consul.kvGet(kvKeys(kvPrefix).deployId);
    return read.entries[0]?.value?.trim() || undefined;
}
/** The direct children of a prefix (`<prefix><name>`), by name. */
async function children(consul, prefix) {
    const read = await consul.kvGet(prefix, { recurse: true });
    return read.entries
        .map((e) => ({ name: e.key.slice(prefix.length), value: e.value }))
        .filter((e) => e.name !== '' && !e.name.includes('/'));
}
async function readFleetStatus(consul, config) {
    const keys = kvKeys(config.kvPrefix);
    const [current, catalog, results] = await Promise.all([
        currentDeployId(consul, config.kvPrefix),
        readCatalog(consul, config.filters),
        children(consul, keys.results)
    ]);
    return fleetStatus({
        app: config.app,
        kvPrefix: config.kvPrefix,
        filters: config.filters,
        current,
        catalog,
        results: results.map((r) => ({ node: r.name, value: r.value }))
    });
}
async function readReleaseHistory(consul, config) {
    const [current, entries] = await Promise.all([
        currentDeployId(consul, config.kvPrefix),
        children(consul, `${config.kvPrefix}/history/`)
    ]);
    return releaseHistory({
        app: config.app,
        kvPrefix: config.kvPrefix,
        current,
        entries: entries.map((e) => ({ deployId: e.name, value: e.value }))
    });
}

// The same pipeline for any CI: `stretcher-action deploy --path build --s3-url …`.
// Flags are named like the action's inputs; CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// SERF_RPC_ADDR, SERF_RPC_AUTH and the AWS variables are honoured as in the action. Exit codes: 0 the fleet
// converged, 1 the deploy failed, 2 bad input.
// The operator commands `status` and `history` (contract 12) read the fleet and
// write nothing; `status` exits 1 when a live matching node is not on the current release.
const EXIT = { ok: 0, failed: 1, badInput: 2 };
const USAGE = `usage: stretcher-action deploy --s3-url s3://bucket/prefix --app NAME [--path DIR] [--dest DIR]
                        [--consul-addr ADDR] [--service-filter RE] [--timeout 10m] [--dry-run]
                        [--json] [...]
Every input of the GitHub Action is a flag of the same name (see README).
--dry-run checks everything and says what the deploy would do, writing nothing.
Exit codes: 0 the fleet converged, 1 the deploy failed, 2 bad input.

       stretcher-action status --app NAME [--consul-addr ADDR] [--kv-prefix P]
                        [--node-filter RE] [--service-filter RE] [--tag-filter RE] [--json]
The release each matching node runs (its last result), failed, silent and behind first.
Exit codes: 0 every live matching node is on the release deploy-id names, 1 not (or
Consul could not be read), 2 bad input.

       stretcher-action history --app NAME [--consul-addr ADDR] [--kv-prefix P] [--json]
The published releases, newest first, with commit, time and which one is current.
Exit codes: 0 listed, 1 Consul could not be read, 2 bad input.

A Serf cluster (contract 13): --backend serf [--serf-rpc-addr ADDR [--serf-rpc-auth KEY]
| --serf-join ADDRS] [--serf-tags key=RE,...] on deploy and status (history: no
--serf-tags); status and history then also take --s3-url (and --s3-endpoint, --aws-region):
status reads the members' tags and <s3-url>/<app>/latest, history <s3-url>/<app>/history/.`;
/** The flags each operator command takes: where the fleet is (and, for status, which nodes). */
const OPERATE_FLAGS = {
    status: OPERATE_INPUTS,
    history: OPERATE_INPUTS.filter((name) => !name.endsWith('-filter') && name !== 'serf-tags')
};
/** The commit being deployed, from the CI's own variables or git. */
function commitSha(env) {
    const fromEnv = env.GITHUB_SHA || env.CI_COMMIT_SHA || env.GIT_COMMIT || env.BUILDKITE_COMMIT || env.CIRCLE_SHA1;
    if (fromEnv)
        return fromEnv;
    try {
        return execFileSync('git', ['rev-parse', 'HEAD'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore']
        }).trim();
    }
    catch {
        return undefined;
    }
}
function redact(text, secrets) {
    return secrets.reduce((t, s) => (s ? t.split(s).join('***') : t), text);
}
/** The non-empty tokens among these values: never printed. */
function secretsOf(...values) {
    return values.filter((s) => typeof s === 'string' && s !== '');
}
/** How a command ends: a ✔ or ✖ line, or with --json one object on stdout. Returns the exit code. */
function finisher(io, json, secrets) {
    return (code, message, body = () => ({})) => {
        const line = redact(message, secrets);
        if (json)
            io.stdout(`${redact(JSON.stringify({ ok: code === EXIT.ok, exit_code: code, message: line, ...body() }), secrets)}\n`);
        else
            (code === EXIT.ok ? io.stdout : io.stderr)(`${code === EXIT.ok ? '✔' : '✖'} ${line}\n`);
        return code;
    };
}
/** The command and its flags, or the exit code when there is nothing to run. */
function parseCommand(argv, io) {
    // `--dry-run` is a switch; every other input takes a value.
    const options = Object.fromEntries(INPUT_NAMES.map((name) => [name, { type: name === 'dry-run' ? 'boolean' : 'string' }]));
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
            allowPositionals: true
        });
    }
    catch (error) {
        io.stderr(`error: ${error.message}\n${USAGE}\n`);
        return EXIT.badInput;
    }
    const { positionals } = parsed;
    const values = parsed.values;
    if (values.help) {
        io.stdout(`${USAGE}\n`);
        return EXIT.ok;
    }
    const command = positionals[0];
    if (positionals.length !== 1 || !['deploy', 'status', 'history'].includes(command ?? '')) {
        io.stderr(`error: expected the command "deploy", "status" or "history"\n${USAGE}\n`);
        return EXIT.badInput;
    }
    return { command: command, values };
}
async function cli(argv, env, io, signal) {
    const parsed = parseCommand(argv, io);
    if (typeof parsed === 'number')
        return parsed;
    const { command, values } = parsed;
    if (command === 'status' || command === 'history')
        return operate(command, values, env, io);
    return deploy(values, env, io, signal);
}
/** The log a deploy writes: human lines on stdout, or on stderr with --json. */
function deployLog(say, io, json) {
    return {
        info: say,
        warning: (m) => say(`warning: ${m}`),
        debug: () => undefined,
        async group(name, body) {
            say(io.isTTY && !json ? `\x1b[1m▸ ${name}\x1b[0m` : `▸ ${name}`);
            return body();
        }
    };
}
/** `deploy`: the action's pipeline, its outputs in the --json result. */
async function deploy(values, env, io, signal) {
    const json = values.json === true;
    const secrets = secretsOf(values['consul-token'], values['github-token'], values['serf-rpc-auth'], env.CONSUL_HTTP_TOKEN, env.SERF_RPC_AUTH);
    // Human lines go to stdout on a terminal; with --json, stdout carries only the result.
    const say = (line) => (json ? io.stderr : io.stdout)(`${redact(line, secrets)}\n`);
    // The action's outputs; `conclusion` too (no check run here, so no check-run-url).
    const outputs = {};
    const end = finisher(io, json, secrets);
    const finish = (code, message, dryRun) => end(code, message, () => ({
        outputs: { ...outputs, results: outputs.results ? JSON.parse(outputs.results) : undefined },
        dry_run: dryRun
    }));
    try {
        const input = (name) => {
            const value = values[name];
            return typeof value === 'boolean' ? String(value) : (value ?? '');
        };
        const config = readConfig(input, { ...env, GITHUB_SHA: commitSha(env) });
        const log = deployLog(say, io, json);
        const connection = await connect(config, log, { env, signal });
        const { store, backend } = connection;
        try {
            const result = await runPipeline(config, {
                store,
                backend,
                log,
                setOutput: (name, value) => (outputs[name] = value),
                signal
            });
            outputs.conclusion = runConclusion(result);
            return finish(result.failed ? EXIT.failed : EXIT.ok, result.message, result.dryRun);
        }
        finally {
            store.destroy();
            await connection.close();
        }
    }
    catch (error) {
        const message = error.message.split('\n')[0] ?? 'failed';
        outputs.conclusion = runConclusion({ failed: true, cancelled: signal?.aborted === true });
        return finish(error instanceof InputError ? EXIT.badInput : EXIT.failed, message);
    }
}
function consulReads(config, info) {
    const consul = operateConsul(config, info);
    return {
        status: () => readFleetStatus(consul, config),
        history: () => readReleaseHistory(consul, config)
    };
}
/**
 * Serf (contract 13): S3 for latest and history; for status also one agent,
 * serf-rpc-addr's or (serf-join) one started for the command, which leaves after.
 */
function serfReads(config, info, env) {
    const { backend, s3 } = config;
    if (backend.kind !== 'serf' || s3 === undefined)
        throw new Error('serfReads: not a Serf config');
    const log = { info, warning: info, debug: () => undefined, group: (_name, body) => body() };
    const withStore = async (body) => {
        // The AWS SDK is most of the bundle: loaded only when S3 is read.
        const { createS3Store } = await import('./lib/s3-store.js').then(function (n) { return n.b5; });
        const store = createS3Store(s3);
        try {
            return await body(store);
        }
        finally {
            store.destroy();
        }
    };
    return {
        status: () => withStore(async (store) => {
            const agent = await serfAgent(backend, log, { env });
            try {
                return await readSerfFleetStatus(agent.client, store, { ...config, backend });
            }
            finally {
                await agent.close();
            }
        }),
        history: () => withStore((store) => readSerfReleaseHistory(store, config))
    };
}
/** `status` and `history`: read the fleet (Consul, or Serf and S3), print a table (or --json), write nothing. */
async function operate(command, values, env, io) {
    const json = values.json === true;
    const takes = OPERATE_FLAGS[command];
    const secrets = secretsOf(values['consul-token'], values['serf-rpc-auth'], env.CONSUL_HTTP_TOKEN, env.SERF_RPC_AUTH);
    const finish = finisher(io, json, secrets);
    const foreign = Object.keys(values).filter((name) => values[name] !== undefined && name !== 'json' && !takes.includes(name));
    if (foreign.length > 0)
        return finish(EXIT.badInput, `${foreign.map((f) => `--${f}`).join(', ')}: not ${foreign.length === 1 ? 'a flag' : 'flags'} of ${command}, which takes ${takes.map((f) => `--${f}`).join(', ')} and --json`);
    try {
        const config = readOperateConfig((name) => {
            const value = values[name];
            return typeof value === 'string' ? value : '';
        }, env);
        const info = (line) => io.stderr(`${redact(line, secrets)}\n`);
        const read = config.backend.kind === 'serf' ? serfReads(config, info, env) : consulReads(config, info);
        if (command === 'status') {
            const status = await read.status();
            const code = status.ok ? EXIT.ok : EXIT.failed;
            if (!json)
                io.stdout(redact(statusText(status, Date.now()), secrets));
            return finish(code, status.message, () => statusJson(status));
        }
        const history = await read.history();
        if (!json) {
            io.stdout(redact(historyText(history), secrets));
            return EXIT.ok;
        }
        const n = history.rows.length;
        return finish(EXIT.ok, `${n} release${n === 1 ? '' : 's'}`, () => historyJson(history));
    }
    catch (error) {
        const message = error.message.split('\n')[0] ?? 'failed';
        return finish(error instanceof InputError ? EXIT.badInput : EXIT.failed, message);
    }
}

// `stretcher-action` on the PATH (package.json bin), for CI systems other than GitHub Actions.
// First, before the bundle's modules allocate: the young generation's growth (as the action).
const cancel = new AbortController();
process.once('SIGINT', () => cancel.abort(new Error('cancelled')));
process.once('SIGTERM', () => cancel.abort(new Error('cancelled')));
process.exitCode = await cli(process.argv.slice(2), process.env, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true
}, cancel.signal);
