#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { I as INPUT_NAMES, r as readConfig, a as runConclusion, b as InputError } from './lib/lock.js';
import { c as connect, r as runPipeline } from './lib/pipeline.js';
import 'node:path';
import 'node:crypto';
import 'node:fs/promises';
import 'node:os';
import 'node:stream';
import 'node:zlib';
import 'node:fs';

// The same pipeline for any CI: `stretcher-action deploy --path build --s3-url …`.
// Flags are named like the action's inputs; CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN
// and the AWS variables are honoured as in the action. Exit codes: 0 the fleet
// converged, 1 the deploy failed, 2 bad input.
const EXIT = { ok: 0, failed: 1, badInput: 2 };
const USAGE = `usage: stretcher-action deploy --s3-url s3://bucket/prefix --app NAME [--path DIR] [--dest DIR]
                        [--consul-addr ADDR] [--service-filter RE] [--timeout 10m] [--dry-run]
                        [--json] [...]
Every input of the GitHub Action is a flag of the same name (see README).
--dry-run checks everything and says what the deploy would do, writing nothing.
Exit codes: 0 the fleet converged, 1 the deploy failed, 2 bad input.`;
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
async function cli(argv, env, io, signal) {
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
    if (positionals.length !== 1 || positionals[0] !== 'deploy') {
        io.stderr(`error: expected the command "deploy"\n${USAGE}\n`);
        return EXIT.badInput;
    }
    const json = values.json === true;
    const secrets = [values['consul-token'], values['github-token'], env.CONSUL_HTTP_TOKEN].filter((s) => typeof s === 'string' && s !== '');
    // Human lines go to stdout on a terminal; with --json, stdout carries only the result.
    const say = (line) => (json ? io.stderr : io.stdout)(`${redact(line, secrets)}\n`);
    const log = {
        info: say,
        warning: (m) => say(`warning: ${m}`),
        debug: () => undefined,
        async group(name, body) {
            say(io.isTTY && !json ? `\x1b[1m▸ ${name}\x1b[0m` : `▸ ${name}`);
            return body();
        }
    };
    // The action's outputs; `conclusion` too (no check run here, so no check-run-url).
    const outputs = {};
    const finish = (code, message, dryRun) => {
        if (json)
            io.stdout(`${redact(JSON.stringify({ ok: code === EXIT.ok, exit_code: code, message: redact(message, secrets), outputs: { ...outputs, results: outputs.results ? JSON.parse(outputs.results) : undefined }, dry_run: dryRun }), secrets)}\n`);
        else
            (code === EXIT.ok ? io.stdout : io.stderr)(`${code === EXIT.ok ? '✔' : '✖'} ${redact(message, secrets)}\n`);
        return code;
    };
    try {
        const input = (name) => {
            const value = values[name];
            return typeof value === 'boolean' ? String(value) : (value ?? '');
        };
        const config = readConfig(input, { ...env, GITHUB_SHA: commitSha(env) });
        const { store, consul } = await connect(config, say);
        try {
            const result = await runPipeline(config, {
                store,
                consul,
                log,
                setOutput: (name, value) => (outputs[name] = value),
                signal
            });
            outputs.conclusion = runConclusion(result);
            return finish(result.failed ? EXIT.failed : EXIT.ok, result.message, result.dryRun);
        }
        finally {
            store.destroy();
        }
    }
    catch (error) {
        const message = error.message.split('\n')[0] ?? 'failed';
        outputs.conclusion = runConclusion({ failed: true, cancelled: signal?.aborted === true });
        return finish(error instanceof InputError ? EXIT.badInput : EXIT.failed, message);
    }
}

// `stretcher-action` on the PATH (package.json bin), for CI systems other than GitHub Actions.
const cancel = new AbortController();
process.once('SIGINT', () => cancel.abort(new Error('cancelled')));
process.once('SIGTERM', () => cancel.abort(new Error('cancelled')));
process.exitCode = await cli(process.argv.slice(2), process.env, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true
}, cancel.signal);
