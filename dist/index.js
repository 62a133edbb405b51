import { g as getInput, s as setSecret, i as info, a as saveState, S as STATE, b as summary, c as setOutput, d as setFailed, e as group, f as debug, w as warning } from './lib/post.js';
import { r as readConfig, C as ConsulClient } from './lib/lock.js';
import { g as createS3Store, r as runPipeline, k as kvKeys } from './lib/store.js';
import 'os';
import 'crypto';
import 'fs';
import 'path';
import 'http';
import 'https';
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
import './lib/loadSharedConfigFiles.js';
import './lib/readFile.js';
import './lib/configLoader.js';
import './lib/chain.js';
import './lib/CredentialsProviderError.js';
import './lib/hex-encoding.js';
import 'buffer';
import 'node:fs';
import 'stream';
import './lib/node-http-handler.js';
import 'node:https';
import './lib/EventStreamSerdeConfig.js';
import './lib/setCredentialFeature.js';
import 'node:process';

// The action's entry: read inputs, run the pipeline, set outputs or the failure.
const coreLog = {
    info: (m) => info(m),
    warning: (m) => warning(m),
    debug: (m) => debug(m),
    group: (name, body) => group(name, body)
};
/** One line, for core.setFailed: the annotation shows the first line only. */
function failureLine(error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n').find((l) => l.trim() !== '') ?? 'failed';
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
    const onSignal = () => cancel.abort(new Error('cancelled'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
        const config = readConfig((name) => getInput(name), env);
        const store = createS3Store(config.s3);
        const consul = new ConsulClient({
            addr: config.consul.addr,
            token: config.consul.token,
            onRetry: (what, attempt, delayMs) => info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`)
        });
        try {
            const result = await runPipeline(config, {
                store,
                consul,
                log: coreLog,
                setOutput: (name, value) => setOutput(name, value),
                writeSummary: env.GITHUB_STEP_SUMMARY
                    ? async (markdown) => void (await summary.addRaw(markdown).write())
                    : undefined,
                signal: cancel.signal,
                onLockSession: (id) => {
                    saveState(STATE.lockSession, id);
                    saveState(STATE.lockKey, kvKeys(config.kvPrefix).lock);
                },
                onLockReleased: () => saveState(STATE.lockReleased, 'true')
            });
            if (result.failed)
                setFailed(result.message);
            else
                info(result.message);
        }
        finally {
            store.destroy();
        }
    }
    catch (error) {
        setFailed(failureLine(error));
    }
    finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
    }
}

// The runner starts this file (action.yml: runs.main = dist/index.js).
await run();
