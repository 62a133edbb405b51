import { c as commitState, a as checkOutput, s as statusDescription, b as checkConclusion, r as runConclusion, d as connect, e as runPipeline, f as rolloutReport } from './lib/pipeline.js';
import { h as isRefused, d as describe, c as connectGitHub, s as sleep, g as getInput, a as setSecret, j as setFailed, k as setOutput, l as saveState, S as STATE, e as coreLog, f as summary, w as warning, i as info } from './lib/state.js';
import { p as plainText, a as readConfig } from './lib/run-facts.js';
import { readFileSync } from 'node:fs';
import 'node:v8';
import 'node:crypto';
import 'node:fs/promises';
import 'node:child_process';
import 'node:path';
import 'node:os';
import 'node:stream';
import 'node:zlib';
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
import 'node:buffer';
import 'node:util';
import 'node:querystring';
import 'node:events';
import 'node:diagnostics_channel';
import 'node:tls';
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

class CheckRunSink {
    mode = 'checks';
    checkRunId;
    htmlUrl;
    pendingPosted = false;
    target;
    opts;
    constructor(target, opts) {
        this.target = target;
        this.opts = opts;
    }
    /** The check run's html_url; undefined when none was created or reporting fell back. */
    url() {
        return this.mode === 'checks' && this.checkRunId !== undefined ? this.htmlUrl : undefined;
    }
    /** Check run create/update; on refusal falls back to a commit status. */
    async report(report, conclusion) {
        if (this.mode === 'checks')
            await this.writeCheckRun(report, conclusion);
        if (this.mode === 'status')
            await this.postStatus(report, commitState(conclusion));
    }
    async writeCheckRun(report, conclusion) {
        const { octokit, owner, repo, sha, log } = this.target;
        const output = checkOutput(report);
        const completed = conclusion === 'in_progress'
            ? { status: 'in_progress' }
            : {
                status: 'completed',
                conclusion,
                completed_at: new Date(this.opts.now()).toISOString()
            };
        try {
            if (this.checkRunId === undefined) {
                const created = await octokit.rest.checks.create({
                    owner,
                    repo,
                    name: this.opts.checkName,
                    head_sha: sha,
                    details_url: report.facts.runUrl || undefined,
                    external_id: report.fleet.deployId,
                    started_at: new Date(this.opts.now()).toISOString(),
                    output,
                    ...completed
                });
                this.checkRunId = created.data.id;
                this.htmlUrl = created.data.html_url ?? undefined;
                this.opts.onCreated?.('check-run', this.checkRunId);
            }
            else {
                await octokit.rest.checks.update({
                    owner,
                    repo,
                    check_run_id: this.checkRunId,
                    output,
                    ...completed
                });
            }
        }
        catch (error) {
            if (!isRefused(error)) {
                log.warning(`could not ${this.checkRunId === undefined ? 'create' : 'update'} the check run "${this.opts.checkName}": ${describe(error)}`);
                return;
            }
            this.mode = 'status';
            log.info(`the token may not write check runs (${describe(error)}); reporting as the commit status "${this.opts.checkName}" instead`);
        }
    }
    async postStatus(report, state) {
        const { octokit, owner, repo, sha, log } = this.target;
        try {
            await octokit.rest.repos.createCommitStatus({
                owner,
                repo,
                sha,
                state,
                context: this.opts.checkName,
                description: statusDescription(report),
                target_url: report.facts.runUrl || undefined
            });
            if (state === 'pending' && !this.pendingPosted) {
                this.pendingPosted = true;
                this.opts.onStatusPending?.(sha, this.opts.checkName);
            }
        }
        catch (error) {
            this.mode = 'off';
            log.warning(`could not report the fleet to GitHub: the token may write neither check runs nor commit statuses (${describe(error)}). Give the job \`permissions: checks: write\` (or \`statuses: write\`); fork PRs get a read-only token. The fleet's result is in this job's log and summary.`);
        }
    }
}

/** A neutral check (the fleet did not finish) leaves the deployment in progress. */
function deploymentState(conclusion) {
    if (conclusion === 'success')
        return 'success';
    if (conclusion === 'cancelled')
        return 'error';
    if (conclusion === 'neutral')
        return 'in_progress';
    return 'failure';
}
class DeploymentSink {
    deploymentId;
    target;
    environment;
    onCreated;
    constructor(target, environment, onCreated) {
        this.target = target;
        this.environment = environment;
        this.onCreated = onCreated;
    }
    /** Set the deployment's status, creating it first when the deploy starts; nothing without an environment. */
    async record(state, description, release) {
        const { environment } = this;
        if (!environment)
            return;
        const { octokit, owner, repo } = this.target;
        try {
            if (this.deploymentId === undefined) {
                if (state !== 'in_progress')
                    return; // never created: nothing to complete
                const id = await this.create(environment, release);
                if (id === undefined)
                    return;
                this.deploymentId = id;
                this.onCreated?.('deployment', id);
            }
            await octokit.rest.repos.createDeploymentStatus({
                owner,
                repo,
                deployment_id: this.deploymentId,
                state,
                environment,
                log_url: release.facts.runUrl || undefined,
                description
            });
        }
        catch (error) {
            this.target.log.warning(`could not record the GitHub deployment to ${plainText(environment, 100)}: ${describe(error)}`);
        }
    }
    async create(environment, { deployId, facts }) {
        const { octokit, owner, repo, sha, log } = this.target;
        const created = await octokit.rest.repos.createDeployment({
            owner,
            repo,
            ref: sha,
            task: 'deploy',
            environment,
            // GitHub would otherwise merge the default branch in, or wait for every check.
            auto_merge: false,
            required_contexts: [],
            description: plainText(`stretcher deploy ${deployId}`, 140),
            payload: {
                deploy_id: deployId,
                manifest_url: facts.manifestUrl,
                src_url: facts.srcUrl,
                checksum: facts.checksum
            }
        });
        const id = created.data.id;
        if (typeof id === 'number')
            return id;
        log.warning(`GitHub did not create the deployment: ${plainText(JSON.stringify(created.data), 200)}`);
        return undefined;
    }
}

// GitHub calls go out one chain at a time, in order, so the final report lands
// after every progress update; progress updates are throttled.
class ReportQueue {
    inflight = Promise.resolve();
    /** when the last update went out (epoch ms) */
    lastUpdate = -Infinity;
    /** a progress update is queued or in flight */
    busy = false;
    now;
    intervalMs;
    onError;
    constructor(now, intervalMs, onError) {
        this.now = now;
        this.intervalMs = intervalMs;
        this.onError = onError;
    }
    /** After everything queued; the promise settles when this task has run. */
    run(task) {
        this.inflight = this.inflight.then(task).catch(this.onError);
        return this.inflight;
    }
    /** An update went out now: the next progress update waits a whole interval. */
    restartInterval() {
        this.lastUpdate = this.now();
    }
    /** A progress update: dropped while one is pending or within the interval of the last. */
    throttled(task) {
        if (this.busy || this.now() - this.lastUpdate < this.intervalMs)
            return Promise.resolve();
        this.lastUpdate = this.now();
        this.busy = true;
        return this.run(async () => {
            try {
                await task();
            }
            finally {
                this.busy = false;
            }
        });
    }
}

// The fleet on the pull request: a check run on the commit the PR shows (or a
// commit status when the token may not write checks), a deployment when an
// environment is set. Reporting never changes the verdict: every failure here
// becomes a warning, and the run fails or succeeds on the fleet alone.
const NO_OP = {
    started: async () => { },
    progress: async () => { },
    finished: async () => { },
    checkRunUrl: () => undefined
};
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
function readEventPayload(env) {
    if (!env.GITHUB_EVENT_PATH)
        return undefined;
    try {
        return JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
    }
    catch {
        return undefined;
    }
}
/**
 * The commit the PR shows: on pull_request events GITHUB_SHA is the synthetic
 * merge commit, and a check on it never appears on the PR; the head SHA does.
 */
function reportSha(env, eventPayload) {
    if (env.GITHUB_EVENT_NAME === 'pull_request' || env.GITHUB_EVENT_NAME === 'pull_request_target') {
        const payload = (eventPayload ?? readEventPayload(env));
        const head = payload?.pull_request?.head?.sha;
        if (typeof head === 'string' && SHA.test(head))
            return head;
    }
    return env.GITHUB_SHA || undefined;
}
/** The fleet on the pull request: its own state is what the run has said of the release so far. */
class GitHubFleetReporter {
    facts = {};
    notWaiting = false;
    /** the release's deploy ID, for the deployment it creates */
    deployId = '';
    checks;
    deployments;
    queue;
    constructor(checks, deployments, queue) {
        this.checks = checks;
        this.deployments = deployments;
        this.queue = queue;
    }
    started(info) {
        this.facts = info.facts;
        this.notWaiting = info.notWaiting === true;
        this.deployId = info.fleet.deployId;
        this.queue.restartInterval();
        const r = this.report(info.fleet);
        return this.queue.run(async () => {
            await this.checks.report(r, 'in_progress');
            await this.deployments.record('in_progress', statusDescription(r), this.release());
        });
    }
    progress(snapshot) {
        if (this.checks.mode === 'off')
            return Promise.resolve();
        const r = this.report(snapshot.fleet);
        return this.queue.throttled(async () => {
            // A commit status says only pending: one was posted already.
            if (this.checks.mode === 'checks')
                await this.checks.report(r, 'in_progress');
        });
    }
    finished(outcome) {
        if (this.deployId === '')
            this.deployId = outcome.fleet.deployId;
        const r = {
            fleet: outcome.fleet,
            verdict: outcome.verdict,
            facts: {
                ...this.facts,
                durationMs: outcome.durationMs ?? this.facts.durationMs,
                cancelled: outcome.cancelled,
                error: outcome.error
            },
            excerpts: outcome.excerpts,
            notWaiting: this.notWaiting,
            waves: outcome.waves,
            rollback: outcome.rollback,
            gateFailure: outcome.gateFailure
        };
        const conclusion = checkConclusion(r);
        return this.queue.run(async () => {
            if (this.checks.mode !== 'off')
                await this.checks.report(r, conclusion);
            await this.deployments.record(deploymentState(conclusion), statusDescription(r), this.release());
        });
    }
    checkRunUrl() {
        return this.checks.url();
    }
    /** The fleet while it deploys: no verdict yet. */
    report(fleet) {
        return { fleet, verdict: { done: false }, facts: this.facts, notWaiting: this.notWaiting };
    }
    release() {
        return { deployId: this.deployId, facts: this.facts };
    }
}
/** The repository and commit to report on, or why there are none (the run reports nothing then). */
function reportTarget(opts) {
    const [owner, repo] = (opts.env.GITHUB_REPOSITORY ?? '').split('/');
    if (!opts.token || !owner || !repo)
        return 'no github-token or GITHUB_REPOSITORY: the fleet is not reported to GitHub';
    const sha = reportSha(opts.env, opts.eventPayload);
    if (!sha)
        return 'no commit SHA (GITHUB_SHA): the fleet is not reported to GitHub';
    return { token: opts.token, owner, repo, sha };
}
function createGitHubReporter(opts) {
    const where = reportTarget(opts);
    if (typeof where === 'string') {
        opts.log.debug(where);
        return NO_OP;
    }
    const now = opts.now ?? Date.now;
    const retry = {
        retries: 3,
        baseDelayMs: 1000,
        maxWaitMs: 60_000,
        timeoutMs: 30_000,
        sleep,
        ...opts.retry
    };
    const { octokit, log } = connectGitHub(where.token, opts.env, retry, opts.log, now);
    const target = {
        octokit,
        owner: where.owner,
        repo: where.repo,
        sha: where.sha,
        log
    };
    const checks = new CheckRunSink(target, {
        checkName: opts.checkName,
        now,
        onCreated: opts.onCreated,
        onStatusPending: opts.onStatusPending
    });
    const deployments = new DeploymentSink(target, opts.environment, opts.onCreated);
    const queue = new ReportQueue(now, opts.progressIntervalMs ?? 10_000, (error) => log.warning(`GitHub reporting failed: ${describe(error)}`));
    return new GitHubFleetReporter(checks, deployments, queue);
}

// The action's entry: read inputs, run the pipeline, set outputs or the failure,
// and tell the pull request (check run, commit status, deployment).
/** How long the final check-run update may take: a cancelled run has 7.5 s in all. */
const REPORT_DEADLINE_MS = { normal: 60_000, cancelled: 4_000 };
/**
 * The runner kills a step 7.5 s after SIGINT. Whatever is still running this long
 * after the signal is dropped and the process exits by itself; what it did not
 * finish (settling latest, the lock, the check run) is the post step's.
 */
const CANCEL_EXIT_MS = 6_500;
/** Time kept back at the end of the grace for the failure line and the exit. */
const CANCEL_MARGIN_MS = 500;
let cancelledAt;
/** How much of a cancelled run's grace is left for cleanup, in ms. */
function cancelBudget() {
    return cancelledAt === undefined
        ? Infinity
        : Math.max(0, cancelledAt + CANCEL_EXIT_MS - CANCEL_MARGIN_MS - Date.now());
}
/** One line, for core.setFailed: the annotation shows the first line only. */
function failureLine(error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n').find((l) => l.trim() !== '') ?? 'failed';
}
/** True when `work` finished within `ms`; false when the time ran out first. */
function within(work, ms) {
    let timer;
    const limit = new Promise((resolve) => {
        timer = setTimeout(() => {
            coreLog.warning(`gave up updating the pull request after ${ms / 1000}s`);
            resolve(false);
        }, ms);
    });
    return Promise.race([work.then(() => true), limit]).finally(() => clearTimeout(timer));
}
async function deploy(config, env, signal, end) {
    const connection = await connect(config, coreLog, {
        env,
        signal,
        // serf-join: the post step makes the agent leave if this process dies first.
        onOwnAgent: (agent) => saveState(STATE.serfAgent, JSON.stringify(agent)),
        onOwnAgentLeft: () => saveState(STATE.serfAgentLeft, 'true')
    });
    const { store, backend } = connection;
    const report = pullRequestReport(createReporter(config, env), signal);
    const verdict = verdictLine();
    try {
        const result = await runPipeline(config, {
            store,
            backend,
            log: coreLog,
            setOutput: (name, value) => setOutput(name, value),
            writeSummary: summaryWriter(env),
            signal,
            ...postStepState(backend.lockName),
            onAnnounced: async ({ fleet, facts }) => report.started({ fleet, notWaiting: !config.wait, facts }),
            onProgress: (fleet) => report.progress(fleet),
            onVerdict: (outcome) => verdict.say(outcome)
        });
        if (result.fleet) {
            await report.finished({
                fleet: result.fleet,
                verdict: result.verdict ?? { done: false },
                excerpts: result.excerpts,
                cancelled: result.cancelled,
                ...rolloutReport(result.rollout)
            });
        }
        end.conclusion = runConclusion(result);
        // The verdict is the pipeline's alone: reporting never changes it.
        if (!verdict.said)
            verdict.say(result);
    }
    catch (error) {
        await report.failed(error);
        throw error;
    }
    finally {
        end.checkRunUrl = report.checkRunUrl();
        store.destroy();
        await connection.close();
    }
}
/** The GitHub reporter; what it creates is saved for the post step to complete. */
function createReporter(config, env) {
    return createGitHubReporter({
        token: config.github.token,
        env,
        checkName: config.github.checkName,
        environment: config.github.environment,
        log: coreLog,
        onCreated: (what, id) => saveState(what === 'check-run' ? STATE.checkRunId : STATE.deploymentId, String(id)),
        onStatusPending: (sha, context) => {
            saveState(STATE.statusSha, sha);
            saveState(STATE.statusContext, context);
        }
    });
}
/**
 * The pull request's side of the run. The check run exists from the event on;
 * whatever happens after, it is completed (within the time a cancel leaves).
 */
function pullRequestReport(reporter, signal) {
    let announced;
    const finished = async (outcome) => {
        if (!announced)
            return;
        const done = await within(reporter.finished({ ...outcome, durationMs: Date.now() - announced.at }), signal.aborted
            ? Math.min(REPORT_DEADLINE_MS.cancelled, cancelBudget())
            : REPORT_DEADLINE_MS.normal);
        // Otherwise the post step completes what is left open.
        if (done)
            saveState(STATE.reported, 'true');
    };
    return {
        started(info) {
            announced = { at: Date.now(), fleet: info.fleet };
            // Not awaited: the wait (or, with wait: false, the lock release) goes on
            // meanwhile; the reporter runs its calls in order, so finished() comes after.
            void reporter.started(info);
        },
        progress: (fleet) => void reporter.progress({ fleet }),
        finished,
        /** The run broke off with `error`: the check run shows the fleet as far as it got. */
        async failed(error) {
            if (announced)
                await finished({
                    fleet: announced.fleet,
                    verdict: announced.fleet.verdict(),
                    error: failureLine(error)
                });
        },
        checkRunUrl: () => reporter.checkRunUrl() ?? ''
    };
}
/**
 * The verdict line, printed the moment the pipeline knows it; the lock release,
 * the summary and the check run follow (they never change it). Said once.
 */
function verdictLine() {
    let said = false;
    return {
        get said() {
            return said;
        },
        say(outcome) {
            said = true;
            if (outcome.failed)
                setFailed(outcome.message);
            else
                info(outcome.message);
        }
    };
}
/** The job summary, when the runner gives one; a failure to write it only warns. */
function summaryWriter(env) {
    if (!env.GITHUB_STEP_SUMMARY)
        return undefined;
    return (markdown) => summary
        .addRaw(markdown)
        .write()
        .then(() => saveState(STATE.summarized, 'true'), (error) => warning(`could not write the job summary: ${error.message}`));
}
/** What the post step needs to finish the lock and the announcement if this process dies. */
function postStepState(lockName) {
    return {
        onLockSession: (id, datacenter) => {
            saveState(STATE.lockSession, id);
            saveState(STATE.lockDatacenter, datacenter ?? '');
            saveState(STATE.lockKey, lockName);
        },
        onLockReleased: () => saveState(STATE.lockReleased, 'true'),
        onAnnounceJournal: (record) => saveState(STATE.announce, JSON.stringify(record))
    };
}
async function run(env = process.env) {
    // Mask secrets before anything could print them, even an input error.
    for (const secret of [
        getInput('consul-token'),
        getInput('github-token'),
        getInput('serf-rpc-auth'),
        env.CONSUL_HTTP_TOKEN,
        env.SERF_RPC_AUTH
    ]) {
        if (secret)
            setSecret(secret);
    }
    const cancel = new AbortController();
    const end = { conclusion: 'failure', checkRunUrl: '' };
    const onSignal = () => {
        cancelledAt = Date.now();
        cancel.abort(new Error('cancelled'));
        setTimeout(() => {
            setOutput('conclusion', 'cancelled');
            setOutput('check-run-url', end.checkRunUrl);
            setFailed(`cancelled: clean-up did not finish within ${CANCEL_EXIT_MS / 1000}s of the signal; the post step finishes it`);
            process.exit(1);
        }, CANCEL_EXIT_MS).unref();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
        await deploy(readConfig((name) => getInput(name), env), env, cancel.signal, end);
    }
    catch (error) {
        end.conclusion = runConclusion({ failed: true, cancelled: cancel.signal.aborted });
        setFailed(failureLine(error));
    }
    finally {
        // Set on every path, bad input included, so a notification step can read them.
        setOutput('conclusion', end.conclusion);
        setOutput('check-run-url', end.checkRunUrl);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
    }
}

// The runner starts this file (action.yml: runs.main = dist/index.js).
// First, before the bundle's modules allocate: the young generation's growth.
await run();
