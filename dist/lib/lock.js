import { posix, resolve, normalize } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * An input the user gave is wrong. The message is one line that names the
 * input and what was wrong with it; main.ts prints it with core.setFailed.
 */
class InputError extends Error {
    input;
    constructor(input, message) {
        super(`${input} ${message}`.replace(/\s*\n\s*/g, ' '));
        this.name = 'InputError';
        this.input = input;
    }
}
/** Quote a user value for an error message, bounded so one line stays one line. */
function quote(value, max = 120) {
    const oneLine = value.replace(/[\r\n\t]/g, ' ');
    return JSON.stringify(oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine);
}

// Where the deploy ID is written inside the archive: one rule, used by the input
// parser (config.ts) and by pack for direct callers, so both say the same thing.
/** `meta/DEPLOY_ID` stays, `.\meta\DEPLOY_ID` and `./meta/DEPLOY_ID` become it; a path that
 * is empty, absolute, escaping, names a directory or holds a NUL is refused. */
function parseDeployIdFile(raw) {
    const path = raw.replace(/\\/g, '/');
    const normalized = posix.normalize(path);
    if (path.startsWith('/') ||
        path.split('/').some((s) => s === '..' || s === '') ||
        path.includes('\0') ||
        normalized === '.')
        throw new InputError('deploy-id-file', `must be a relative file path inside the archive, like "DEPLOY_ID" or "meta/DEPLOY_ID", without "..", "//" or a leading "/" (got ${quote(raw)})`);
    return normalized;
}

// Deploy IDs (contract 2a): unique per run attempt, sortable by time, carrying the
// short commit SHA, only [0-9A-Za-z._-], at most 48 characters.
const DEPLOY_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z._-]{0,47}$/;
/** UTC `YYYYMMDD-HHMMSS`: lexical order is time order. */
function timestamp(now) {
    const iso = now.toISOString(); // 2026-11-22T02:14:41.123Z
    return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}
/**
 * `20261122-021441-3f9c2ab-r9876543210.2`: time, short SHA, then the run and its
 * attempt (a re-run of the same commit gets a new ID). Outside GitHub Actions the
 * run part is random, so two runs in the same second still differ.
 */
function generateDeployId(source) {
    const sha = (source.sha ?? '')
        .toLowerCase()
        .replace(/[^0-9a-f]/g, '')
        .slice(0, 7) || 'nosha';
    const runId = source.runId?.replace(/[^0-9]/g, '').slice(0, 20);
    const attempt = source.runAttempt?.replace(/[^0-9]/g, '').slice(0, 4) || '1';
    const run = runId
        ? `r${runId}.${attempt}`
        : `x${(source.random ?? (() => randomBytes(5)))().toString('hex')}`;
    return `${timestamp(source.now)}-${sha}-${run}`;
}
/** Why a user-given deploy ID is not acceptable, or undefined when it is. */
function deployIdProblem(id) {
    if (id.length === 0)
        return 'must not be empty';
    if (id.length > 48)
        return `must be at most 48 characters (got ${id.length})`;
    if (!DEPLOY_ID_PATTERN.test(id))
        return 'may hold only letters, digits, ".", "_" and "-", and must start with a letter or digit';
    return undefined;
}

// Go-style durations (`90s`, `10m`, `1h30m`, `1.5h`, `250ms`), as Go's
// time.ParseDuration reads them, so the action's `timeout` and Consul's `wait`
// speak the same language.
const UNIT_MS = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000
};
const PART = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
/** Milliseconds, or undefined when Go's time.ParseDuration would refuse `text`. */
function parseGoDuration(text) {
    let rest = text;
    let sign = 1;
    if (rest.startsWith('-') || rest.startsWith('+')) {
        if (rest.startsWith('-'))
            sign = -1;
        rest = rest.slice(1);
    }
    if (rest === '0')
        return 0; // time.ParseDuration special-cases "0"
    if (rest === '')
        return undefined;
    let total = 0;
    while (rest !== '') {
        const match = PART.exec(rest);
        if (!match)
            return undefined;
        total += Number(match[1]) * UNIT_MS[match[2]];
        rest = rest.slice(match[0].length);
    }
    return sign * total;
}
/** The shortest Go duration text for whole milliseconds: 90000 → `1m30s`. */
function formatGoDuration(ms) {
    if (ms < 1000)
        return `${Math.max(0, Math.round(ms))}ms`;
    let rest = Math.round(ms / 1000);
    const h = Math.floor(rest / 3600);
    rest -= h * 3600;
    const m = Math.floor(rest / 60);
    const s = rest - m * 60;
    return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

// Every input is read and checked here, once, into one typed Config, before the
// run touches S3 or Consul. Each error is one line naming the input (contract 2b).
/** Every input of action.yml; a test keeps this list and action.yml identical. */
const INPUT_NAMES = [
    'path',
    'app',
    's3-url',
    'aws-region',
    's3-endpoint',
    'manifest',
    'dest',
    'exclude',
    'deploy-id-file',
    'deploy-id',
    'compression-level',
    'consul-addr',
    'consul-token',
    'kv-prefix',
    'event-name',
    'node-filter',
    'service-filter',
    'tag-filter',
    'wait',
    'timeout',
    'max-failures',
    'rollback-to',
    'github-token',
    'check-name',
    'environment'
];
/** Defaults applied when an input is empty (the runner applies action.yml's; the CLI does not). */
const INPUT_DEFAULTS = {
    path: '.',
    'deploy-id-file': 'DEPLOY_ID',
    'compression-level': '1',
    'event-name': 'deploy',
    wait: 'true',
    timeout: '10m',
    'max-failures': '0'
};
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KEY_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;
const APP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;
function parseS3Url(raw) {
    const bad = () => new InputError('s3-url', `must look like s3://bucket/prefix (got ${quote(raw)})`);
    const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(raw);
    if (!match)
        throw bad();
    const bucket = match[1];
    if (!BUCKET.test(bucket) || bucket.includes('..'))
        throw new InputError('s3-url', `has an invalid bucket name ${quote(bucket)} (3-63 lower-case letters, digits, dots, hyphens)`);
    const prefix = (match[2] ?? '').replace(/\/+$/, '');
    if (prefix !== '') {
        for (const segment of prefix.split('/')) {
            // stretcher URL-decodes the key and the event payload must stay small:
            // keep keys to characters that need no escaping anywhere.
            if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..')
                throw new InputError('s3-url', `prefix must be path segments of letters, digits and !_.*'()- (got ${quote(raw)})`);
        }
    }
    return { bucket, prefix };
}
function parseConsulAddr(raw) {
    // The Consul CLI accepts a bare host:port and reads it as http (contract 1).
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
    let url;
    try {
        url = new URL(withScheme);
    }
    catch {
        throw new InputError('consul-addr', `must be http://host:port, https://host:port or host:port (got ${quote(raw)})`);
    }
    if (url.username || url.password)
        throw new InputError('consul-addr', 'must not carry credentials; use consul-token');
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new InputError('consul-addr', `must use http or https (got ${quote(raw)})`);
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
        // Consul reads ?token= too: never quote a query or fragment, which may carry one.
        throw new InputError('consul-addr', `must be only scheme, host and port (got ${quote(`${url.protocol}//${url.host}${url.pathname}${url.search || url.hash ? '?…' : ''}`)})`);
    return `${url.protocol}//${url.host}`;
}
function parseRegexFilter(name, raw) {
    if (raw === '')
        return undefined;
    // Consul compiles filters with Go's RE2: no lookaround, no backreferences.
    if (/\(\?[=!<]|\\[1-9]/.test(raw))
        throw new InputError(name, `uses lookaround or a backreference, which Consul's Go regexp does not support (got ${quote(raw)})`);
    try {
        new RegExp(raw);
    }
    catch (error) {
        throw new InputError(name, `is not a valid regular expression: ${error.message.replace(/^Invalid regular expression: /, '')}`);
    }
    return raw;
}
function parseBoolean(name, raw) {
    // The YAML 1.2 core schema booleans, as core.getBooleanInput accepts them.
    if (['true', 'True', 'TRUE'].includes(raw))
        return true;
    if (['false', 'False', 'FALSE'].includes(raw))
        return false;
    throw new InputError(name, `must be true or false (got ${quote(raw)})`);
}
function parseInteger(name, raw, min, max) {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
        throw new InputError(name, `must be a whole number from ${min} to ${max} (got ${quote(raw)})`);
    return Number(raw);
}
function parseKvPrefix(raw) {
    const prefix = raw.replace(/^\/+|\/+$/g, '');
    if (prefix === '' ||
        prefix
            .split('/')
            .some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s)))
        throw new InputError('kv-prefix', `must be path segments of letters, digits and ._- (got ${quote(raw)})`);
    return prefix;
}
function parseDest(raw) {
    if (raw === '')
        return undefined;
    if (!raw.startsWith('/') || /[\0\r\n]/.test(raw))
        throw new InputError('dest', `must be an absolute directory on the nodes (got ${quote(raw)})`);
    if (raw.includes('{{'))
        throw new InputError('dest', `must not contain "{{": stretcher would evaluate it as a template (got ${quote(raw)})`);
    if (normalize(raw) === '/')
        throw new InputError('dest', 'must not be "/": rsync --delete would empty the root');
    return raw;
}
/**
 * Read every input once. `input` returns '' for an unset input (as core.getInput
 * does); `env` is the process environment (GITHUB_*, AWS_*, CONSUL_HTTP_*).
 */
function readConfig(input, env, now = new Date()) {
    const get = (name) => {
        const value = input(name).trim();
        return value === '' ? (INPUT_DEFAULTS[name] ?? '') : value;
    };
    const workspace = env.GITHUB_WORKSPACE || process.cwd();
    const path = resolve(workspace, get('path'));
    const repository = env.GITHUB_REPOSITORY;
    const app = get('app') || repository?.split('/')[1] || '';
    if (app === '')
        throw new InputError('app', 'is required outside GitHub Actions (no GITHUB_REPOSITORY to take the name from)');
    if (!APP.test(app))
        throw new InputError('app', `must be letters, digits and ._- (at most 64, starting with a letter or digit; got ${quote(app)})`);
    const s3Url = get('s3-url');
    if (s3Url === '')
        throw new InputError('s3-url', 'is required (s3://bucket/prefix)');
    const { bucket, prefix } = parseS3Url(s3Url);
    const endpointRaw = get('s3-endpoint');
    let endpoint;
    if (endpointRaw !== '') {
        let url;
        try {
            url = new URL(endpointRaw);
        }
        catch {
            url = undefined;
        }
        // The endpoint appears in error messages: it must not carry a secret.
        if (url && (url.username || url.password))
            throw new InputError('s3-endpoint', 'must not carry credentials; the AWS SDK takes them from the environment');
        if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
            throw new InputError('s3-endpoint', `must be an http:// or https:// URL (got ${quote(endpointRaw)})`);
        if (url.search || url.hash)
            throw new InputError('s3-endpoint', `must be only scheme, host, port and path (got ${quote(`${url.protocol}//${url.host}${url.pathname}?…`)})`);
        endpoint = endpointRaw.replace(/\/+$/, '');
    }
    const region = get('aws-region') || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : '');
    if (region === '')
        throw new InputError('aws-region', 'is required (set the input, AWS_REGION or AWS_DEFAULT_REGION)');
    if (!REGION.test(region))
        throw new InputError('aws-region', `must look like us-east-1 (got ${quote(region)})`);
    const manifestRaw = get('manifest');
    const manifestFile = manifestRaw === '' ? undefined : resolve(workspace, manifestRaw);
    const exclude = get('exclude')
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
    const deployIdFile = parseDeployIdFile(get('deploy-id-file'));
    const deployIdRaw = get('deploy-id');
    if (deployIdRaw !== '') {
        const problem = deployIdProblem(deployIdRaw);
        if (problem)
            throw new InputError('deploy-id', `${problem} (got ${quote(deployIdRaw)})`);
    }
    const rollbackRaw = get('rollback-to');
    if (rollbackRaw !== '') {
        const problem = deployIdProblem(rollbackRaw);
        if (problem)
            throw new InputError('rollback-to', `${problem} (got ${quote(rollbackRaw)})`);
        if (deployIdRaw !== '' && deployIdRaw !== rollbackRaw)
            throw new InputError('rollback-to', 'cannot be combined with a different deploy-id');
    }
    const sha = env.GITHUB_SHA || undefined;
    const deployId = rollbackRaw ||
        deployIdRaw ||
        generateDeployId({ now, sha, runId: env.GITHUB_RUN_ID, runAttempt: env.GITHUB_RUN_ATTEMPT });
    if (!DEPLOY_ID_PATTERN.test(deployId))
        throw new Error(`generated deploy ID ${quote(deployId)} is malformed`);
    const compressionLevel = parseInteger('compression-level', get('compression-level'), 1, 9);
    const consulAddr = parseConsulAddr(get('consul-addr') || env.CONSUL_HTTP_ADDR || 'http://127.0.0.1:8500');
    const consulToken = get('consul-token') || env.CONSUL_HTTP_TOKEN || undefined;
    if (consulToken !== undefined && /[\r\n]/.test(consulToken))
        // Never quote a token's value, not even in an error.
        throw new InputError('consul-token', 'must be a single line');
    const kvPrefix = parseKvPrefix(get('kv-prefix') || `stretcher/${app}`);
    const eventName = get('event-name');
    if (!EVENT_NAME.test(eventName))
        throw new InputError('event-name', `must be letters, digits and ._- (at most 64, not starting with "_"; got ${quote(eventName)})`);
    const filters = {
        node: parseRegexFilter('node-filter', get('node-filter')),
        service: parseRegexFilter('service-filter', get('service-filter')),
        tag: parseRegexFilter('tag-filter', get('tag-filter'))
    };
    if (filters.tag !== undefined && filters.service === undefined)
        // Consul refuses it: "Cannot provide tag filter without service filter".
        throw new InputError('tag-filter', 'needs service-filter (Consul filters tags within a service)');
    const wait = parseBoolean('wait', get('wait'));
    const timeoutRaw = get('timeout');
    const timeoutMs = parseGoDuration(timeoutRaw);
    if (timeoutMs === undefined)
        throw new InputError('timeout', `must be a Go duration such as 90s, 10m or 1h30m (got ${quote(timeoutRaw)})`);
    if (timeoutMs < 1000 || timeoutMs > 24 * 3_600_000)
        throw new InputError('timeout', `must be between 1s and 24h (got ${quote(timeoutRaw)} = ${formatGoDuration(timeoutMs)})`);
    const maxFailures = parseInteger('max-failures', get('max-failures'), 0, 1_000_000);
    const githubToken = get('github-token') || undefined;
    const checkName = get('check-name') || `stretcher / ${app}`;
    if (checkName.length > 100 || /[\r\n]/.test(checkName))
        throw new InputError('check-name', `must be one line of at most 100 characters (got ${quote(checkName)})`);
    const environment = get('environment') || undefined;
    const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com';
    const runUrl = repository && env.GITHUB_RUN_ID
        ? `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
        : undefined;
    return {
        path,
        app,
        s3: { bucket, prefix, region, endpoint },
        manifestFile,
        manifestName: manifestRaw || undefined,
        dest: parseDest(get('dest')),
        exclude,
        deployIdFile,
        deployId,
        deployIdGiven: deployIdRaw !== '',
        compressionLevel,
        consul: { addr: consulAddr, token: consulToken },
        kvPrefix,
        eventName,
        filters,
        wait,
        timeoutMs,
        maxFailures,
        rollbackTo: rollbackRaw || undefined,
        github: { token: githubToken, checkName, environment },
        run: { sha, repository, runUrl }
    };
}
/** S3 key of a release object: `<prefix>/<app>/<deploy-id>.<ext>`. Short, so the manifest URL stays a small event payload. */
function releaseKey(config, deployId, ext) {
    return [config.s3.prefix, config.app, `${deployId}.${ext}`].filter((s) => s !== '').join('/');
}
function s3Url(bucket, key) {
    return `s3://${bucket}/${key}`;
}

// The few Consul HTTP API calls the action makes, on Node's own fetch.
// Not the npm `consul` client: the await loop needs each response's
// X-Consul-Index (also on a 404), the exact error body to name a missing ACL
// permission, AbortSignal cancellation and per-call timeouts, none of which it
// exposes cleanly (its typings even reject index/wait/token: research §8).
class ConsulError extends Error {
    status;
    transient;
    constructor(message, status, transient) {
        super(message);
        this.name = 'ConsulError';
        this.status = status;
        this.transient = transient;
    }
}
/** Node's fetch wraps socket errors as `TypeError: fetch failed` with the code in `cause`. */
function networkCode(error) {
    const cause = error.cause;
    return cause?.code ?? error.code;
}
const TRANSIENT_NETWORK = new Set([
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
    'EAI_AGAIN',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'ENOTFOUND'
]);
function firstLine(text) {
    return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300);
}
function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted)
            return reject(signal.reason);
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}
function encodeKey(key) {
    return key.split('/').map(encodeURIComponent).join('/');
}
function decodeKvEntries(body) {
    const raw = JSON.parse(body);
    return raw.map((e) => ({
        key: e.Key,
        value: e.Value === null || e.Value === undefined
            ? null
            : Buffer.from(e.Value, 'base64').toString('utf8'),
        flags: e.Flags ?? 0,
        createIndex: e.CreateIndex,
        modifyIndex: e.ModifyIndex,
        lockIndex: e.LockIndex ?? 0,
        session: e.Session || undefined
    }));
}
class ConsulClient {
    addr;
    token;
    retryForMs;
    onRetry;
    onNotice;
    backoffBaseMs;
    constructor(options) {
        this.addr = options.addr.replace(/\/+$/, '');
        this.token = options.token;
        this.retryForMs = options.retryForMs ?? 60_000;
        this.onRetry = options.onRetry;
        this.onNotice = options.onNotice;
        this.backoffBaseMs = options.backoffBaseMs ?? 250;
    }
    /** One API call, retried with backoff while the failure is transient (5xx, 429, resets). */
    async request(method, path, options) {
        const url = new URL(`${this.addr}/v1/${path}`);
        for (const [k, v] of Object.entries(options.query ?? {})) {
            if (v === undefined || v === false)
                continue;
            url.searchParams.set(k, v === true ? '' : String(v));
        }
        // Consul reads flags by presence (`?recurse`), so drop the `=` of empty values.
        const href = url.href.replace(/=(&|$)/g, '$1');
        const retryUntil = options.retryUntil ?? Date.now() + this.retryForMs;
        const what = `${method} /v1/${path.split('?')[0]}`;
        for (let attempt = 1;; attempt++) {
            let failure;
            try {
                const headers = {};
                if (this.token)
                    headers['X-Consul-Token'] = this.token;
                const timeout = AbortSignal.timeout(Math.ceil(options.timeoutMs ?? 30_000));
                const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
                const res = await fetch(href, { method, headers, body: options.body, signal });
                const body = await res.text();
                const index = Number(res.headers.get('x-consul-index') ?? 0);
                const knownLeader = res.headers.get('x-consul-knownleader') !== 'false';
                if (res.ok || options.accept?.includes(res.status))
                    return { status: res.status, body, index, knownLeader };
                failure = this.statusError(what, res.status, body, options.permission);
            }
            catch (error) {
                if (options.signal?.aborted)
                    throw options.signal.reason ?? error;
                if (error instanceof ConsulError)
                    throw error;
                const code = networkCode(error);
                const timedOut = error.name === 'TimeoutError';
                const transient = timedOut || (code !== undefined && TRANSIENT_NETWORK.has(code));
                failure = new ConsulError(`Consul at ${this.addr} did not answer ${what}: ${timedOut ? 'timed out' : (code ?? error.message)}`, undefined, transient);
            }
            if (!failure.transient)
                throw failure;
            const effect = await options.tookEffect?.();
            if (effect)
                return effect;
            if (options.stopRetrying?.aborted)
                throw failure;
            // Exponential backoff with full jitter, as Consul's client guidance suggests.
            const delay = Math.min(this.backoffBaseMs * 2 ** Math.min(attempt - 1, 6), 10_000) *
                (0.5 + Math.random() / 2);
            if (Date.now() + delay > retryUntil)
                throw failure;
            this.onRetry?.(`${failure.message}`, attempt, delay);
            await sleep(delay, options.stopRetrying && options.signal
                ? AbortSignal.any([options.signal, options.stopRetrying])
                : (options.stopRetrying ?? options.signal)).catch((reason) => {
                throw options.signal?.aborted ? reason : failure;
            });
        }
    }
    statusError(what, status, body, permission) {
        const text = firstLine(body);
        if (status === 403) {
            // "Permission denied" or "ACL not found" (acl/errors.go): not worth retrying.
            const reason = /ACL not found/i.test(text)
                ? 'the token is unknown to Consul (ACL not found)'
                : `the token lacks ${permission}`;
            return new ConsulError(`Consul refused ${what}: ${reason}`, status, false);
        }
        const transient = status >= 500 || status === 429;
        return new ConsulError(`Consul answered ${what} with ${status}${text ? `: ${text}` : ''}`, status, transient);
    }
    /** A KV read; a missing key or prefix is an empty list with the index still set. */
    async kvGet(key, opts = {}) {
        const blocking = opts.index !== undefined && opts.index > 0;
        const res = await this.request('GET', `kv/${encodeKey(key)}`, {
            query: {
                recurse: opts.recurse,
                index: blocking ? opts.index : undefined,
                wait: blocking && opts.waitMs ? `${Math.max(1, Math.round(opts.waitMs / 1000))}s` : undefined
            },
            signal: opts.signal,
            permission: opts.permission ?? `key:read on "${key}"`,
            // Consul adds up to wait/16 of jitter to a blocking wait.
            timeoutMs: blocking && opts.waitMs ? opts.waitMs + opts.waitMs / 16 + 5000 : 30_000,
            retryUntil: opts.retryUntil,
            accept: [404]
        });
        return { entries: res.status === 404 ? [] : decodeKvEntries(res.body), index: res.index };
    }
    /** An atomic transaction; throws with Consul's reasons when it rolled back. */
    async txn(ops, permission, opts = {}) {
        const body = JSON.stringify(ops.map((op) => ({
            KV: {
                ...op,
                Value: op.Value === undefined ? undefined : Buffer.from(op.Value).toString('base64')
            }
        })));
        const res = await this.request('PUT', 'txn', { ...opts, body, permission, accept: [409] });
        const parsed = JSON.parse(res.body);
        if (res.status === 409) {
            const reasons = (parsed.Errors ?? [])
                .map((e) => `${ops[e.OpIndex]?.Key ?? e.OpIndex}: ${e.What}`)
                .join('; ');
            if (/Permission denied/i.test(reasons))
                throw new ConsulError(`Consul refused the KV transaction: the token lacks ${permission}`, 403, false);
            throw new ConsulError(`Consul rolled back the KV transaction: ${reasons}`, 409, false);
        }
        return decodeKvEntries(JSON.stringify((parsed.Results ?? []).map((r) => r.KV)));
    }
    async kvPut(key, value, opts = {}) {
        const res = await this.request('PUT', `kv/${encodeKey(key)}`, {
            query: { acquire: opts.acquire, release: opts.release, cas: opts.cas },
            body: value,
            signal: opts.signal,
            retryUntil: opts.retryUntil,
            permission: opts.permission ?? `key:write on "${key}"`
        });
        return res.body.trim() === 'true';
    }
    /** Key names under a prefix (`?keys`); a missing prefix is an empty list. */
    async kvKeys(prefix, opts = {}) {
        const res = await this.request('GET', `kv/${encodeKey(prefix)}`, {
            query: { keys: true },
            signal: opts.signal,
            permission: opts.permission ?? `key:read on "${prefix}"`,
            accept: [404]
        });
        return res.status === 404 ? [] : JSON.parse(res.body);
    }
    /**
     * Fire a user event; the payload goes verbatim (stretcher uses it untrimmed).
     * A fire whose answer is lost (reset, timeout, a 5xx from a proxy) may have been
     * handled, and firing again would deploy every node twice: `seenBefore` (the IDs
     * of events with this payload already in the agent's list; read here when not
     * given) is compared with the list after such a failure, and an event new there
     * was ours. (The agent lists only events it received itself: when the filters
     * keep it from the event, or the list cannot be read, it is fired again.)
     */
    async fireEvent(name, payload, filters, opts = {}) {
        const seenBefore = 'seenBefore' in opts
            ? opts.seenBefore
            : await this.eventIds(name, payload, opts.signal).catch(() => undefined);
        const res = await this.request('PUT', `event/fire/${encodeURIComponent(name)}`, {
            query: { node: filters.node, service: filters.service, tag: filters.tag },
            body: payload,
            signal: opts.signal,
            stopRetrying: opts.stopRetrying,
            permission: `event:write on "${name}"`,
            tookEffect: seenBefore &&
                (async () => {
                    const fired = await this.newEventId(name, payload, seenBefore, opts.signal).catch(() => undefined);
                    if (fired === undefined)
                        return undefined;
                    this.onNotice?.(`the event was fired after all (${fired} is in the agent's event list): not firing it again`);
                    return { status: 200, body: JSON.stringify({ ID: fired }), index: 0, knownLeader: true };
                })
        });
        return { id: JSON.parse(res.body).ID };
    }
    /** IDs of the events named `name` carrying `payload` in the agent's event buffer */
    async eventIds(name, payload, signal) {
        const res = await this.request('GET', 'event/list', {
            query: { name },
            signal,
            permission: `event:read on "${name}"`,
            // a check, not the deploy: a slow agent must not hold the event back for long
            timeoutMs: 2_000,
            retryUntil: Date.now() + 2_000
        });
        const events = JSON.parse(res.body);
        const wanted = Buffer.from(payload).toString('base64');
        return events.filter((e) => e.Payload === wanted).map((e) => e.ID);
    }
    /** The ID of an event with this payload that is in the agent's list and not in `seenBefore`. */
    async newEventId(name, payload, seenBefore, signal) {
        const ids = await this.eventIds(name, payload, signal);
        return ids.find((id) => !seenBefore.includes(id));
    }
    /** The node name of the agent this client talks to (`Config.NodeName` of /v1/agent/self). */
    async agentNodeName(signal) {
        const { value } = await this.getJson('agent/self', 'agent:read', { signal });
        return value.Config?.NodeName ?? '';
    }
    async getJson(path, permission, opts = {}) {
        const blocking = opts.index !== undefined && opts.index > 0;
        const res = await this.request('GET', path, {
            query: {
                ...opts.query,
                index: blocking ? opts.index : undefined,
                wait: blocking && opts.waitMs ? `${Math.max(1, Math.round(opts.waitMs / 1000))}s` : undefined
            },
            signal: opts.signal,
            permission,
            retryUntil: opts.retryUntil,
            timeoutMs: blocking && opts.waitMs ? opts.waitMs + opts.waitMs / 16 + 5000 : 30_000
        });
        return { value: JSON.parse(res.body), index: res.index };
    }
}

/** Consul 1.22+ caps the fire request body at about 100 bytes (research §0). */
const SAFE_PAYLOAD_BYTES = 100;
/**
 * How long after a cancel a write already sent (the txn, the fire) may still
 * take to answer before it is cut short: letting it answer is what makes its
 * outcome known. The runner allows 7.5 s from SIGINT in all.
 */
const CANCEL_GRACE_MS = 1_500;
/**
 * How long a write cut short may still take effect inside Consul: a server holds
 * an RPC through a leader election for up to rpc_hold_timeout (7 s, Consul's
 * agent configuration docs), plus a margin. Only after it is a read conclusive.
 */
const WRITE_SETTLES_MS = 8_000;
const kvKeys = (prefix) => ({
    latest: `${prefix}/latest`,
    deployId: `${prefix}/deploy-id`,
    history: (id) => `${prefix}/history/${id}`,
    results: `${prefix}/results/`,
    result: (node) => `${prefix}/results/${node}`,
    log: (node) => `${prefix}/logs/${node}`,
    lock: `${prefix}/lock`
});
function isSettled(journal) {
    return journal.phase === 'fired' || journal.phase === 'settled';
}
const systemClock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms))
};
function payloadAdvice(manifestUrl) {
    return `the event payload (the manifest URL) is ${Buffer.byteLength(manifestUrl)} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`;
}
/** Consul answered no: the write did not take effect. Anything else leaves it unknown. */
function refusedByConsul(error) {
    return error instanceof ConsulError && error.status !== undefined && !error.transient;
}
/** A signal that aborts `ms` after `signal` does: writes in flight get that long to answer. */
function graceAfter(signal, ms) {
    if (!signal)
        return undefined;
    const grace = new AbortController();
    const start = () => setTimeout(() => grace.abort(signal.reason), ms).unref();
    if (signal.aborted)
        start();
    else
        signal.addEventListener('abort', start, { once: true });
    return grace.signal;
}
async function announce(consul, config, release, log, opts = {}) {
    const { signal } = opts;
    const clock = opts.clock ?? systemClock;
    const keys = kvKeys(config.kvPrefix);
    const ops = [
        { Verb: 'set', Key: keys.latest, Value: release.manifestUrl },
        { Verb: 'set', Key: keys.deployId, Value: config.deployId }
    ];
    // history/<id> is written when the release is published, never by a rollback.
    if (release.history)
        ops.push({
            Verb: 'set',
            Key: keys.history(config.deployId),
            Value: JSON.stringify(release.history)
        });
    // Every read first, while nothing is written: a cancel here leaves nothing to undo.
    // What latest and deploy-id hold, to put back (not a txn get-or-empty: Consul
    // blanks the value of every txn verb but get). X-Consul-Index of the recurse read
    // is the highest ModifyIndex under results/: every result already there is at or
    // below it. The agent's event list, to tell later whether a lost fire went out.
    const [latestNow, deployIdNow, baseline, seenBefore, agentNode] = await Promise.all([
        consul.kvGet(keys.latest, { signal, permission: `key:read on "${keys.latest}"` }),
        consul.kvGet(keys.deployId, { signal, permission: `key:read on "${keys.deployId}"` }),
        consul.kvGet(keys.results, {
            recurse: true,
            signal,
            permission: `key:read on "${keys.results}"`
        }),
        consul.eventIds(config.eventName, release.manifestUrl, signal).catch(() => undefined),
        opts.targets?.length ? consul.agentNodeName(signal).catch(() => '') : ''
    ]);
    signal?.throwIfAborted();
    const journal = {
        kvPrefix: config.kvPrefix,
        deployId: config.deployId,
        manifestUrl: release.manifestUrl,
        eventName: config.eventName,
        filters: config.filters,
        phase: 'writing',
        before: [...latestNow.entries, ...deployIdNow.entries].map((e) => ({
            key: e.key,
            value: e.value
        })),
        seenBefore,
        agentReceives: agentNode !== '' && (opts.targets ?? []).includes(agentNode)
    };
    const step = (phase, sent = false) => {
        journal.phase = phase;
        journal.sentAt = sent ? clock.now() : undefined;
        opts.onJournal?.({ ...journal });
    };
    // Writes are not cut short by a cancel (their outcome would be unknown), only
    // when they are still unanswered CANCEL_GRACE_MS after it; nor retried after it.
    const inFlight = graceAfter(signal, CANCEL_GRACE_MS);
    const bytes = Buffer.byteLength(release.manifestUrl);
    try {
        step('writing', true);
        const written = await consul.txn(ops, `key:write on "${config.kvPrefix}/"`, {
            signal: inFlight,
            stopRetrying: signal
        });
        journal.written = writtenIndexes(written, keys);
        step('written');
        log.info(`${keys.latest} → ${release.manifestUrl}; ${keys.deployId} → ${config.deployId}`);
        signal?.throwIfAborted();
        if (bytes > SAFE_PAYLOAD_BYTES)
            log.warning(payloadAdvice(release.manifestUrl));
        step('firing', true);
        const { id } = await consul.fireEvent(config.eventName, release.manifestUrl, config.filters, {
            signal: inFlight,
            stopRetrying: signal,
            seenBefore
        });
        journal.eventId = id;
        step('fired');
    }
    catch (error) {
        const refused = refusedByConsul(error);
        // A write retried or cut short may have been sent again until now.
        if (!refused && (journal.phase === 'writing' || journal.phase === 'firing'))
            journal.sentAt = clock.now();
        const outcome = await settle(consul, journal, log, {
            refused,
            clock,
            deadline: clock.now() + (signal?.aborted ? (opts.settleAfterCancelMs ?? 2_500) : 20_000),
            onJournal: opts.onJournal
        });
        if (!outcome.fired) {
            if (error instanceof ConsulError &&
                journal.written &&
                (error.status === 413 || /exceeds|too large|limit/i.test(error.message)))
                throw new ConsulError(`Consul refused the ${config.eventName} event: ${payloadAdvice(release.manifestUrl)} (${error.message})`, error.status, false);
            throw error;
        }
    }
    const firedAt = clock.now();
    const filters = Object.entries(config.filters)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`);
    log.info(`fired event "${config.eventName}" (${journal.eventId})${filters.length ? ` with ${filters.join(', ')}` : ''}, payload ${bytes} bytes`);
    return { baselineIndex: Math.max(1, baseline.index), eventId: journal.eventId ?? '', firedAt };
}
function writtenIndexes(entries, keys) {
    return entries
        .filter((e) => e.key === keys.latest || e.key === keys.deployId)
        .map((e) => ({ key: e.key, modifyIndex: e.modifyIndex }));
}
/**
 * Bring an interrupted announcement to one of its two allowed ends: the event
 * went out and latest names this release, or latest and deploy-id hold what they
 * held before. Used by the announce step itself and by the post step.
 */
async function settle(consul, journal, log, opts) {
    const clock = opts.clock ?? systemClock;
    const keys = kvKeys(journal.kvPrefix);
    const save = (phase) => {
        journal.phase = phase;
        journal.sentAt = undefined;
        opts.onJournal?.({ ...journal });
    };
    const leave = (why) => {
        log.warning(`${why}: left to the post step, which puts ${keys.latest} back unless the event went out`);
        return { fired: false, settled: false };
    };
    const remaining = () => opts.deadline - clock.now();
    // A write whose answer was lost may still take effect: wait that out before reading.
    const waitForLostWrite = async () => {
        if (opts.refused || journal.sentAt === undefined)
            return true;
        const settlesAt = journal.sentAt + WRITE_SETTLES_MS;
        if (settlesAt > opts.deadline)
            return false;
        if (settlesAt > clock.now())
            await clock.sleep(settlesAt - clock.now());
        return true;
    };
    const request = () => ({
        signal: AbortSignal.timeout(Math.max(1, remaining())),
        retryUntil: opts.deadline
    });
    try {
        if (isSettled(journal))
            return { fired: journal.phase === 'fired', settled: true };
        if (journal.phase === 'writing') {
            if (opts.refused) {
                save('settled');
                return { fired: false, settled: true };
            }
            if (!(await waitForLostWrite()))
                return leave(`the ${keys.latest} transaction's outcome is not known yet`);
            // deploy-id is unique to this run: holding it means the transaction took effect.
            const [latest, deployId] = await Promise.all([keys.latest, keys.deployId].map((key) => consul.kvGet(key, request())));
            const mine = deployId?.entries[0];
            if (mine?.value !== journal.deployId || latest?.entries[0]?.value !== journal.manifestUrl) {
                save('settled');
                return { fired: false, settled: true };
            }
            journal.written = [latest.entries[0], mine].map((e) => ({
                key: e.key,
                modifyIndex: e.modifyIndex
            }));
            save('written');
        }
        if (journal.phase === 'firing' && !opts.refused) {
            if (!(await waitForLostWrite()))
                return leave(`whether the ${journal.eventName} event went out is not known yet`);
            if (journal.seenBefore && journal.agentReceives) {
                const id = await consul.newEventId(journal.eventName, journal.manifestUrl, journal.seenBefore, request().signal);
                if (id !== undefined) {
                    log.info(`the ${journal.eventName} event went out after all (${id})`);
                    journal.eventId = id;
                    save('fired');
                    return { fired: true, settled: true };
                }
            }
            else {
                // The agent is not sent the event (or its list cannot be read), so nothing
                // can tell whether it went out. Sending it again makes it certain; a node
                // given the same manifest twice deploys the same tree.
                const { id } = await consul.fireEvent(journal.eventName, journal.manifestUrl, journal.filters, {
                    ...request(),
                    seenBefore: journal.seenBefore
                });
                log.info(`whether the ${journal.eventName} event went out could not be told (the agent is not one of its targets): sent it again (${id}) so ${keys.latest} and the fleet agree`);
                journal.eventId = id;
                save('fired');
                return { fired: true, settled: true };
            }
        }
        await restore(consul, journal, log, request());
        save('settled');
        return { fired: false, settled: true };
    }
    catch (error) {
        return leave(`could not settle ${keys.latest}: ${error.message}`);
    }
}
/**
 * Put latest and deploy-id back as they were, unless someone changed them since
 * (check-index on what this run wrote: a later run's release is left alone).
 */
async function restore(consul, journal, log, request) {
    const keys = kvKeys(journal.kvPrefix);
    const ops = [];
    for (const mine of journal.written ?? []) {
        const old = journal.before.find((e) => e.key === mine.key);
        ops.push({ Verb: 'check-index', Key: mine.key, Index: mine.modifyIndex });
        ops.push(old && old.value !== null
            ? { Verb: 'set', Key: mine.key, Value: old.value }
            : { Verb: 'delete', Key: mine.key });
    }
    if (ops.length === 0)
        return;
    try {
        await consul.txn(ops, `key:write on "${journal.kvPrefix}/"`, request);
    }
    catch (error) {
        if (error instanceof ConsulError && error.status === 409) {
            log.info(`${keys.latest} was changed by another run since: left as it is`);
            return;
        }
        throw error;
    }
    const old = journal.before.find((e) => e.key === keys.latest)?.value;
    log.info(`restored ${keys.latest} to ${old ?? '(none)'}`);
}

var commonjsGlobal = typeof globalThis !== 'undefined' ? globalThis : typeof window !== 'undefined' ? window : typeof global !== 'undefined' ? global : typeof self !== 'undefined' ? self : {};

function getDefaultExportFromCjs (x) {
	return x && x.__esModule && Object.prototype.hasOwnProperty.call(x, 'default') ? x['default'] : x;
}

/** Strip terminal control sequences and control characters; bound the length. */
function plainText(text, max = 200) {
    const clean = text.replace(
    // eslint-disable-next-line no-control-regex
    /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f\x9b]/g, '');
    return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
/**
 * Safe inside a markdown table cell, a paragraph or an HTML element: no HTML,
 * links (GFM autolinks `http://`, `www.` and e-mail addresses too), emphasis or pipes.
 */
function markdownText(text, max = 200) {
    return plainText(text, max)
        .replace(/[\r\n]+/g, ' ')
        .replace(/[\\`*_{}[\]()<>#+!|~&@"'=]/g, (c) => `&#${c.charCodeAt(0)};`)
        .replace(/:(?=\/)/g, '&#58;')
        .replace(/(www)\./gi, '$1&#46;');
}
function progressLine(c) {
    const done = c.succeeded + c.failed;
    return `${done}/${c.total} done, ${c.failed} failed, ${c.pending} waiting`;
}
/** At most `max` names, then how many more: a message stays one readable line. */
function nameList(names, max = 20) {
    const shown = names.slice(0, max).map((n) => plainText(n, 80));
    return names.length > max
        ? `${shown.join(', ')} and ${names.length - max} more`
        : shown.join(', ');
}
function verdictLine(fleet, verdict) {
    const c = fleet.counts();
    if (!verdict.done)
        return progressLine(c);
    if (verdict.reason === 'no_targets')
        return 'no live node matches the filters: nothing would receive the deploy';
    const failed = fleet.nodesByStatus('failure');
    const lost = fleet.nodesByStatus('lost');
    const silent = fleet.nodesByStatus('silent');
    // Failing fast leaves nodes that were still deploying: they are not silent.
    const waiting = fleet.nodesByStatus('pending');
    const parts = [
        failed.length ? `failed: ${nameList(failed)}` : '',
        lost.length ? `lost: ${nameList(lost)}` : '',
        silent.length ? `silent: ${nameList(silent)}` : '',
        waiting.length ? `still waiting: ${nameList(waiting)}` : ''
    ].filter(Boolean);
    const head = `${c.succeeded}/${c.total} nodes on ${fleet.deployId}`;
    if (verdict.ok)
        return parts.length
            ? `${head} (tolerated, max-failures ${fleet.maxFailures}: ${parts.join('; ')})`
            : head;
    const why = verdict.reason === 'timed_out' ? 'timed out' : `more than ${fleet.maxFailures} failed`;
    return `${head}, ${why}: ${parts.join('; ')}`;
}
/** The `results` output: one row per node, sorted by name. */
function resultRows(fleet) {
    return fleet.list().map((s) => ({
        node: s.node,
        status: s.status,
        deploy_id: s.deployId ?? null,
        at: s.at ?? null
    }));
}
const STATUS_MARK = {
    success: '✅ success',
    failure: '❌ failure',
    lost: '💀 lost',
    silent: '🔇 silent',
    pending: '⏳ pending'
};
function seconds(ms) {
    return ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`;
}
function formatDuration(ms) {
    const s = Math.round(ms / 1000);
    if (s < 60)
        return `${(ms / 1000).toFixed(1)}s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m${s % 60}s` : `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}
/** A code span that nothing inside can close or break out of (one line, no backticks). */
function codeSpan(text, max = 300) {
    return `\`${plainText(text, max)
        .replace(/[\r\n]+/g, ' ')
        .replace(/`/g, "'")}\``;
}
/** The one-line headline, plain text: the verdict, or why there is none. */
function headline(fleet, verdict, facts = {}) {
    if (facts.error)
        return `stopped waiting: ${plainText(facts.error, 300)}`;
    if (facts.cancelled)
        return `cancelled while waiting: ${progressLine(fleet.counts())}`;
    if (!verdict.done)
        return `${fleet.deployId}: ${progressLine(fleet.counts())}`;
    return verdictLine(fleet, verdict);
}
function headlineMark(verdict, facts = {}) {
    if (facts.error)
        return '❌';
    if (facts.cancelled)
        return '⛔';
    if (!verdict.done)
        return '⏳';
    return verdict.ok ? '✅' : '❌';
}
/** Deploy facts as a markdown list; a list (not a table) so a `|` in a URL is harmless. */
function factsMarkdown(deployId, facts) {
    const lines = [`- **Deploy ID:** ${codeSpan(deployId, 100)}`];
    if (facts.commit)
        lines.push(`- **Commit:** ${codeSpan(facts.commit, 64)}`);
    if (facts.manifestUrl)
        lines.push(`- **Manifest:** ${codeSpan(facts.manifestUrl)}`);
    if (facts.srcUrl)
        lines.push(`- **Archive:** ${codeSpan(facts.srcUrl)}`);
    if (facts.checksum)
        lines.push(`- **Checksum (sha256):** ${codeSpan(facts.checksum, 80)}`);
    if (facts.durationMs !== undefined)
        lines.push(`- **Duration:** ${formatDuration(facts.durationMs)} from the event to the verdict`);
    return `${lines.join('\n')}\n`;
}
/** Failed and silent nodes first: they are what a reader came for. */
function nodesForTable(fleet) {
    const order = ['failure', 'lost', 'silent', 'pending', 'success'];
    return fleet.list().sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
}
function nodeRow(s) {
    const note = `${s.joined ? 'joined during the deploy ' : ''}${s.note ? markdownText(s.note, 120) : ''}`;
    return `| ${markdownText(s.node, 80)} | ${STATUS_MARK[s.status]} | ${seconds(s.noticedMs)} | ${note} |`;
}
/** Room kept for a "left out" note when a part is cut to fit. */
const NOTE_ROOM = 200;
/**
 * The per-node table within `budget` characters and `maxRows` rows; the nodes
 * that do not fit are counted in a closing note.
 */
function nodeTableMarkdown(fleet, budget, maxRows = Infinity) {
    const rows = nodesForTable(fleet);
    const lines = ['| node | status | after event | note |', '| --- | --- | --- | --- |'];
    let size = lines.join('\n').length + 1;
    let shown = 0;
    for (const s of rows) {
        const row = nodeRow(s);
        const last = shown === rows.length - 1;
        if (shown >= maxRows || size + row.length + 1 + (last ? 0 : NOTE_ROOM) > budget)
            break;
        lines.push(row);
        size += row.length + 1;
        shown++;
    }
    const omitted = rows.length - shown;
    if (omitted > 0)
        lines.push('', `… and ${omitted} more node${omitted === 1 ? '' : 's'} left out of this table (the \`results\` output lists every node).`);
    return { markdown: `${lines.join('\n')}\n`, shown, omitted };
}
/** A fence longer than any backtick run in the text: the text cannot close it. */
function fenceFor(lines) {
    let longest = 0;
    for (const line of lines)
        for (const run of line.match(/`+/g) ?? [])
            longest = Math.max(longest, run.length);
    return '`'.repeat(Math.max(3, longest + 1));
}
function excerptBlock(node, lines, cut) {
    const fence = fenceFor(lines);
    const note = cut > 0 ? `(${cut} earlier line${cut === 1 ? '' : 's'} left out)\n\n` : '';
    return `<details><summary>${markdownText(node, 80)}: log</summary>\n\n${note}${fence}text\n${lines.join('\n')}\n${fence}\n\n</details>\n`;
}
/**
 * Failed nodes' log excerpts as collapsible blocks, within `budget` characters;
 * what does not fit is counted (nodes and lines) in a closing note. Each line is
 * stripped of control sequences and cut to 400 characters.
 */
function failedLogsMarkdown(excerpts, budget = 60_000, maxLinesPerNode = 200) {
    const parts = [];
    let size = 0;
    let omittedNodes = 0;
    let omittedLines = 0;
    for (const [i, excerpt] of excerpts.entries()) {
        const all = excerpt.text
            .replace(/\n+$/, '')
            .split('\n')
            .map((l) => plainText(l, 400));
        if (omittedNodes > 0) {
            omittedNodes++;
            omittedLines += all.length;
            continue;
        }
        const room = budget - size - (i === excerpts.length - 1 ? 0 : NOTE_ROOM);
        let lines = all.slice(-maxLinesPerNode);
        let block = excerptBlock(excerpt.node, lines, all.length - lines.length);
        // Too big: keep the tail (where the error is), dropping lines from the front.
        while (block.length > room && lines.length > 0) {
            const over = block.length - room;
            let drop = 0;
            for (let freed = 0; freed < over && drop < lines.length; drop++)
                freed += (lines[drop]?.length ?? 0) + 1;
            lines = lines.slice(Math.max(1, drop));
            block = excerptBlock(excerpt.node, lines, all.length - lines.length);
        }
        if (lines.length === 0 || block.length > room) {
            omittedNodes++;
            omittedLines += all.length;
            continue;
        }
        parts.push(block);
        size += block.length + 1;
    }
    if (omittedNodes > 0)
        parts.push(`… ${omittedLines} log line${omittedLines === 1 ? '' : 's'} from ${omittedNodes} more failed node${omittedNodes === 1 ? '' : 's'} left out (size limit).\n`);
    return parts.join('\n');
}
/** A node name as a Mermaid label: nothing that Mermaid syntax gives a meaning to. */
function mermaidLabel(name, max = 40) {
    return plainText(name, max).replace(/[^A-Za-z0-9._-]/g, '_');
}
/** At most this many bars in the timeline: beyond it a chart stops being readable. */
const TIMELINE_MAX_NODES = 60;
/**
 * The fleet at a glance, as Mermaid (GitHub renders it): a pie of outcomes and,
 * for fleets small enough to read, a timeline of when each node reported.
 */
function fleetChartMarkdown(fleet) {
    const c = fleet.counts();
    if (c.total === 0)
        return '';
    const slices = [
        ['succeeded', c.succeeded],
        ['failed', fleet.nodesByStatus('failure').length],
        ['lost', fleet.nodesByStatus('lost').length],
        ['silent', fleet.nodesByStatus('silent').length],
        ['waiting', fleet.nodesByStatus('pending').length]
    ];
    const out = [
        '```mermaid',
        `pie showData title ${c.succeeded}/${c.total} nodes on ${mermaidLabel(fleet.deployId, 64)}`,
        ...slices.filter(([, n]) => n > 0).map(([label, n]) => `  "${label}" : ${n}`),
        '```',
        ''
    ];
    const reported = fleet
        .list()
        .filter((s) => s.noticedMs !== undefined && (s.status === 'success' || s.status === 'failure'))
        .sort((a, b) => (a.noticedMs ?? 0) - (b.noticedMs ?? 0));
    if (reported.length > 0 && reported.length <= TIMELINE_MAX_NODES) {
        out.push('```mermaid', 'gantt', '  title When each node reported (mm:ss after the event)', '  dateFormat x', '  axisFormat %M:%S', '  section nodes', 
        // The mark first: a label can never start with a Mermaid keyword.
        ...reported.map((s) => `  ${s.status === 'success' ? '✔' : '✘'} ${mermaidLabel(s.node)} :${s.status === 'success' ? 'done' : 'crit'}, 0, ${Math.max(1, Math.round(s.noticedMs ?? 0))}`), '```', '');
    }
    return out.join('\n');
}
/** Well under GitHub's 1 MiB per step: a UTF-16 unit is at most 3 bytes of UTF-8. */
const SUMMARY_MAX_CHARS = 200_000;
/**
 * Markdown for the job summary: the verdict, the fleet at a glance, the deploy
 * facts, the per-node table and the failed nodes' logs, within `maxChars`.
 */
function summaryMarkdown(fleet, verdict, facts, maxRows = 500, extras = {}) {
    const maxChars = extras.maxChars ?? SUMMARY_MAX_CHARS;
    const c = fleet.counts();
    const head = [
        `### ${headlineMark(verdict, facts)} ${markdownText(headline(fleet, verdict, facts), 400)}`,
        '',
        `| deploy ID | nodes | succeeded | failed | waiting |`,
        `| --- | --- | --- | --- | --- |`,
        `| ${codeSpan(fleet.deployId, 100)} | ${c.total} | ${c.succeeded} | ${c.failed} | ${c.pending} |`,
        '',
        fleetChartMarkdown(fleet),
        factsMarkdown(fleet.deployId, facts)
    ].join('\n');
    // The logs get what the table leaves, but at least a third of the budget.
    const excerpts = extras.excerpts ?? [];
    const logsBudget = excerpts.length ? Math.floor((maxChars - head.length) / 3) : 0;
    const table = nodeTableMarkdown(fleet, maxChars - head.length - logsBudget - 2, maxRows);
    let markdown = `${head}\n${table.markdown}`;
    if (excerpts.length)
        markdown += `\n#### Failed nodes' logs\n\n${failedLogsMarkdown(excerpts, maxChars - markdown.length - 40)}`;
    return markdown;
}

const LOCK_TTL_S = 30;
function describeHolder(value) {
    if (!value)
        return 'another run';
    try {
        const h = JSON.parse(value);
        const who = [h.run_url, h.deploy_id ? `deploy ${h.deploy_id}` : undefined]
            .filter(Boolean)
            .join(', ');
        return who ? plainText(who, 300) : 'another run';
    }
    catch {
        return 'another run';
    }
}
/** Release and destroy a session's lock; used by release() and by the post step. */
async function releaseLock(consul, key, sessionId, 
/** give up at this epoch ms (a cancelled run has little time; the TTL frees it anyway) */
deadline) {
    const bounded = () => deadline === undefined
        ? {}
        : { retryUntil: deadline, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) };
    try {
        await consul.kvPut(key, '', {
            release: sessionId,
            permission: `key:write on "${key}"`,
            ...bounded()
        });
    }
    finally {
        await consul.request('PUT', `session/destroy/${sessionId}`, {
            permission: 'session:write',
            ...bounded()
        });
    }
}
/**
 * Take the lock, waiting (blocking queries on the lock key) while another run
 * holds it, until `deadline`. Resolves with a lock that renews itself.
 */
async function acquireLock(consul, opts) {
    const { key, log } = opts;
    const created = await consul.request('PUT', 'session/create', {
        body: JSON.stringify({
            Name: `stretcher-action ${key}`,
            TTL: `${LOCK_TTL_S}s`,
            Behavior: 'release'
        }),
        permission: 'session:write',
        signal: opts.signal
    });
    const sessionId = JSON.parse(created.body).ID;
    opts.onSession?.(sessionId);
    let held = false;
    let renewTimer;
    const lock = {
        sessionId,
        get held() {
            return held;
        },
        async release(deadline) {
            if (renewTimer)
                clearInterval(renewTimer);
            renewTimer = undefined;
            held = false;
            await releaseLock(consul, key, sessionId, deadline);
        }
    };
    const renew = async () => {
        try {
            await consul.request('PUT', `session/renew/${sessionId}`, { permission: 'session:write' });
        }
        catch (error) {
            // 404: the session is gone (TTL lapsed, node critical); the lock went with it.
            if (error instanceof ConsulError && error.status === 404) {
                held = false;
                if (renewTimer)
                    clearInterval(renewTimer);
                log.warning(`lost the deploy lock ${key}: its Consul session expired`);
            }
            else
                log.debug(`renewing the lock session failed, will retry: ${error.message}`);
        }
    };
    // Renew from the start: waiting for the lock can outlast a TTL.
    renewTimer = setInterval(() => void renew(), (LOCK_TTL_S * 1000) / 2);
    renewTimer.unref();
    try {
        let announcedHolder = '';
        for (;;) {
            const acquired = await consul.kvPut(key, JSON.stringify(opts.holder), {
                acquire: sessionId,
                permission: `key:write on "${key}"`,
                signal: opts.signal
            });
            if (acquired) {
                held = true;
                log.info(`holding the deploy lock ${key}`);
                return lock;
            }
            const current = await consul.kvGet(key, { signal: opts.signal });
            const entry = current.entries[0];
            const holder = describeHolder(entry?.value ?? null);
            if (holder !== announcedHolder) {
                log.info(`waiting for the deploy lock ${key}, held by ${holder}`);
                announcedHolder = holder;
            }
            const remaining = opts.deadline - Date.now();
            if (remaining <= 0)
                throw new Error(`gave up waiting for the deploy lock ${key}: still held by ${holder}`);
            if (entry?.session) {
                // Block until the lock key changes (released, or its session gone).
                await consul.kvGet(key, {
                    index: current.index,
                    waitMs: Math.min(remaining, 60_000),
                    signal: opts.signal,
                    retryUntil: opts.deadline
                });
            }
            else {
                // Free but refused: Consul's lock delay after an invalidated session (up to 15 s).
                await new Promise((r) => setTimeout(r, Math.min(1000, remaining)));
            }
        }
    }
    catch (error) {
        await lock.release().catch(() => undefined);
        throw error;
    }
}

export { ConsulClient as C, DEPLOY_ID_PATTERN as D, INPUT_NAMES as I, InputError as a, releaseKey as b, acquireLock as c, announce as d, plainText as e, progressLine as f, getDefaultExportFromCjs as g, summaryMarkdown as h, isSettled as i, resultRows as j, kvKeys as k, commonjsGlobal as l, headline as m, headlineMark as n, markdownText as o, parseDeployIdFile as p, quote as q, readConfig as r, s3Url as s, factsMarkdown as t, fleetChartMarkdown as u, verdictLine as v, nodeTableMarkdown as w, failedLogsMarkdown as x, settle as y, releaseLock as z };
