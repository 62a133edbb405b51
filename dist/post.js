import { c as connectGitHub, d as describe, s as sleep, g as getInput, a as setSecret, b as getState, e as coreLog, i as info, w as warning, S as STATE, f as summary } from './lib/state.js';
import { i as isSettled, s as settle, r as releaseLock, l as leaveSavedAgent, a as readConfig, b as runFacts, c as announcementProgress, d as abandonedMarkdown, C as ConsulClient, e as releaseS3Lock } from './lib/run-facts.js';
import 'node:fs';
import 'fs';
import 'os';
import 'http';
import 'https';
import 'crypto';
import 'path';
import 'net';
import 'tls';
import 'events';
import 'assert';
import 'util';
import 'node:assert';
import 'node:net';
import 'node:http';
import 'node:stream';
import 'node:buffer';
import 'node:util';
import 'node:querystring';
import 'node:events';
import 'node:diagnostics_channel';
import 'node:tls';
import 'node:zlib';
import 'node:perf_hooks';
import 'node:util/types';
import 'node:worker_threads';
import 'node:url';
import 'node:async_hooks';
import 'node:console';
import 'node:dns';
import 'string_decoder';
import 'child_process';
import 'timers';
import 'node:path';
import 'node:crypto';
import 'node:child_process';
import 'node:fs/promises';
import 'node:os';

const CANCELLED = 'cancelled before the fleet converged';
const SUMMARY = 'The deploy step stopped before the fleet gave its verdict (cancelled or killed). The fleet may be part-way through this release: see the run log.';
// The post step has little time: a few short retries, no long rate-limit waits.
const RETRY = {
    retries: 2,
    baseDelayMs: 500,
    maxWaitMs: 5000,
    timeoutMs: 10_000,
    sleep
};
/**
 * For the post step: complete a check run and a deployment the main step left
 * open (it was killed before its verdict). Never throws.
 */
async function completeAbandoned(opts) {
    const [owner, repo] = (opts.env.GITHUB_REPOSITORY ?? '').split('/');
    if (!opts.token ||
        !owner ||
        !repo ||
        (!opts.checkRunId && !opts.deploymentId && !opts.pendingStatus))
        return;
    const { octokit, log } = connectGitHub(opts.token, opts.env, RETRY, opts.log, Date.now);
    const cancelled = { owner, repo, state: 'error', description: CANCELLED };
    try {
        if (opts.checkRunId) {
            await octokit.rest.checks.update({
                owner,
                repo,
                check_run_id: opts.checkRunId,
                status: 'completed',
                conclusion: 'cancelled',
                completed_at: new Date().toISOString(),
                output: { title: CANCELLED, summary: SUMMARY }
            });
            opts.log.info(`completed the check run left open as cancelled`);
        }
        if (opts.pendingStatus) {
            const { sha, context } = opts.pendingStatus;
            await octokit.rest.repos.createCommitStatus({ ...cancelled, sha, context });
            opts.log.info(`completed the commit status left pending as error (cancelled)`);
        }
        if (opts.deploymentId)
            await octokit.rest.repos.createDeploymentStatus({
                ...cancelled,
                deployment_id: opts.deploymentId
            });
    }
    catch (error) {
        log.warning(`could not complete the check run, commit status or deployment left open: ${describe(error)}`);
    }
}

// The action's post step (runs.post): clean up what the main step could not,
// e.g. when the runner killed it mid-wait. State comes from core.saveState.
/** How long the post step may take to settle an interrupted announcement. */
const SETTLE_MS = 30_000;
async function post(env = process.env) {
    // The Serf RPC key is read with the config below: masked before anything could print it.
    for (const secret of [getInput('serf-rpc-auth'), env.SERF_RPC_AUTH])
        if (secret)
            setSecret(secret);
    // latest first: the lock keeps other runs out until it is settled.
    const left = await settleLeftAnnouncement(env);
    await releaseLeftLock(env);
    await leaveLeftAgent();
    if (getState(STATE.summarized) !== 'true')
        await summarizeLeft(env, left);
    if (getState(STATE.reported) !== 'true') {
        const token = getInput('github-token');
        if (token)
            setSecret(token);
        await completeAbandoned({
            token,
            env,
            checkRunId: Number(getState(STATE.checkRunId)) || undefined,
            deploymentId: Number(getState(STATE.deploymentId)) || undefined,
            pendingStatus: getState(STATE.statusSha)
                ? { sha: getState(STATE.statusSha), context: getState(STATE.statusContext) }
                : undefined,
            log: coreLog
        });
    }
}
/** serf-join: the action's agent is still running when the main step died before it left. */
async function leaveLeftAgent() {
    const saved = getState(STATE.serfAgent);
    if (!saved || getState(STATE.serfAgentLeft) === 'true')
        return;
    try {
        const agent = JSON.parse(saved);
        if (await leaveSavedAgent(agent))
            info(`the serf agent the main step left (pid ${agent.pid}) left the cluster`);
    }
    catch (error) {
        warning(`could not make the serf agent the main step left leave: ${error.message}`);
    }
}
function consulFromInputs(env, retryForMs) {
    const token = getInput('consul-token') || env.CONSUL_HTTP_TOKEN;
    if (token)
        setSecret(token);
    const config = readConfig((name) => getInput(name), env);
    return new ConsulClient({ addr: config.consul.addr, token: config.consul.token, retryForMs });
}
/** A main step that stopped with no job summary of its own: the post step writes what it knows. */
async function summarizeLeft(env, left) {
    if (!left || !env.GITHUB_STEP_SUMMARY)
        return;
    try {
        const config = readConfig((name) => getInput(name), env);
        const { journal, fired } = left;
        const facts = runFacts(config, { journal: announcementProgress(journal) });
        await summary
            .addRaw(abandonedMarkdown({
            ...facts,
            deployId: journal.deployId,
            manifestUrl: journal.manifestUrl,
            eventFired: fired,
            latestMoved: fired === undefined ? undefined : fired
        }))
            .write();
    }
    catch (error) {
        warning(`could not write the job summary: ${error.message}`);
    }
}
/** A main step cancelled or killed inside the announcement leaves its journal unsettled. */
async function settleLeftAnnouncement(env) {
    const saved = getState(STATE.announce);
    if (!saved)
        return undefined;
    let journal;
    try {
        journal = JSON.parse(saved);
    }
    catch {
        return undefined;
    }
    if (isSettled(journal))
        return { journal, fired: journal.phase === 'fired' };
    const log = coreLog;
    try {
        const consul = consulFromInputs(env, SETTLE_MS);
        const bound = consul.inDatacenter(journal.datacenter);
        const outcome = await settle(bound, journal, log, {
            deadline: Date.now() + SETTLE_MS
        });
        if (outcome.settled)
            info(outcome.fired
                ? `settled the announcement the main step left: ${journal.pointerOnly ? 'latest moved with no event' : 'its event went out'}, latest names ${journal.deployId}`
                : `settled the announcement the main step left: latest is as it was before the run`);
        return { journal, fired: outcome.settled ? outcome.fired : undefined };
    }
    catch (error) {
        warning(`could not settle the announcement the main step left: ${error.message}`);
        return { journal };
    }
}
async function releaseLeftLock(env) {
    const session = getState(STATE.lockSession);
    const key = getState(STATE.lockKey);
    if (!session || !key || getState(STATE.lockReleased) === 'true')
        return;
    try {
        // Serf (contract 13): the lock is an S3 object, named by its s3:// URL.
        if (key.startsWith('s3://'))
            await releaseObjectLock(env, key, session);
        else {
            const datacenter = getState(STATE.lockDatacenter) || undefined;
            await releaseLock(consulFromInputs(env, 10_000).inDatacenter(datacenter), key, session);
        }
        info(`released the deploy lock ${key} the main step left behind`);
    }
    catch (error) {
        // The session's TTL frees the lock anyway; the post step must not fail the job.
        warning(`could not release the deploy lock ${key} (it frees itself when its session expires): ${error.message}`);
    }
}
async function releaseObjectLock(env, url, session) {
    const config = readConfig((name) => getInput(name), env);
    const { createS3Store } = await import('./lib/s3-store.js').then(function (n) { return n.b5; });
    const store = createS3Store(config.s3);
    try {
        const key = url.slice(`s3://${store.bucket}/`.length);
        await releaseS3Lock(store, key, session, Date.now() + 10_000);
    }
    finally {
        store.destroy();
    }
}

// The runner starts this file for the post step (action.yml: runs.post).
await post();
