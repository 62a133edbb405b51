import { g as getInput, s as setSecret, a as setFailed, b as setOutput, i as info, c as createGitHubReporter, d as saveState, S as STATE, e as summary, w as warning, f as coreLog } from './lib/state.js';
import { r as readConfig, a as runConclusion, k as kvKeys } from './lib/run-facts.js';
import { c as connect, r as runPipeline, w as waveReports } from './lib/pipeline.js';
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
import 'node:fs/promises';
import 'node:child_process';
import 'node:os';

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
    const { store, consul, backend } = await connect(config, (line) => info(line));
    const reporter = createGitHubReporter({
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
    // The check run exists from the event on; whatever happens after, it is completed.
    let announced;
    const finish = async (outcome) => {
        if (!announced)
            return;
        const done = await within(reporter.finished({ ...outcome, durationMs: Date.now() - announced.at }), signal.aborted
            ? Math.min(REPORT_DEADLINE_MS.cancelled, cancelBudget())
            : REPORT_DEADLINE_MS.normal);
        // Otherwise the post step completes what is left open.
        if (done)
            saveState(STATE.reported, 'true');
    };
    // The verdict line is printed the moment the pipeline knows it; the lock
    // release, the summary and the check run follow (they never change it).
    let said = false;
    const say = (outcome) => {
        said = true;
        if (outcome.failed)
            setFailed(outcome.message);
        else
            info(outcome.message);
    };
    try {
        const result = await runPipeline(config, {
            store,
            backend,
            consul,
            log: coreLog,
            setOutput: (name, value) => setOutput(name, value),
            writeSummary: env.GITHUB_STEP_SUMMARY
                ? (markdown) => summary
                    .addRaw(markdown)
                    .write()
                    .then(() => saveState(STATE.summarized, 'true'), (error) => warning(`could not write the job summary: ${error.message}`))
                : undefined,
            signal,
            onLockSession: (id) => {
                saveState(STATE.lockSession, id);
                saveState(STATE.lockKey, kvKeys(config.kvPrefix).lock);
            },
            onLockReleased: () => saveState(STATE.lockReleased, 'true'),
            onAnnounceJournal: (journal) => saveState(STATE.announce, JSON.stringify(journal)),
            onAnnounced: async ({ fleet, facts }) => {
                announced = { at: Date.now(), fleet };
                // Not awaited: the wait (or, with wait: false, the lock release) goes on
                // meanwhile; the reporter runs its calls in order, so finish() comes after.
                void reporter.started({ fleet, notWaiting: !config.wait, facts });
            },
            onProgress: (fleet) => void reporter.progress({ fleet }),
            onVerdict: say
        });
        if (result.fleet) {
            await finish({
                fleet: result.fleet,
                verdict: result.verdict ?? { done: false },
                excerpts: result.excerpts,
                cancelled: result.cancelled,
                waves: result.rollout?.staged ? waveReports(result.rollout) : undefined
            });
        }
        end.conclusion = runConclusion(result);
        // The verdict is the pipeline's alone: reporting never changes it.
        if (!said)
            say(result);
    }
    catch (error) {
        if (announced)
            await finish({
                fleet: announced.fleet,
                verdict: announced.fleet.verdict(),
                error: failureLine(error)
            });
        throw error;
    }
    finally {
        end.checkRunUrl = reporter.checkRunUrl() ?? '';
        store.destroy();
    }
}
async function run(env = process.env) {
    // Mask secrets before anything could print them, even an input error.
    for (const secret of [
        getInput('consul-token'),
        getInput('github-token'),
        env.CONSUL_HTTP_TOKEN
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
await run();
