import { setFlagsFromString } from 'node:v8';
import { x as markdownText, N as NOT_A_CAUSE, y as cellCode, z as plural, A as statesByLabel, B as formatDuration, D as middleCut, E as logsByLabel, F as logLines, G as mermaidLabel, t as compareNatural, H as outcomeOf, J as utcTime, p as plainText, K as rollbackMarkdown, L as analyse, M as headlineMark, O as endedEarly, P as stateMarkdown, Q as factsMarkdown, S as headlineMarkdown, T as markedHeadline, U as releaseLine, V as timeLine, W as headline, X as quote, v as kvKeys, Y as graceAfter, Z as CANCEL_GRACE_MS, _ as ConsulError, $ as raftIndex, a0 as systemClock, s as settle, a1 as compileFilter, q as matchesFilters, a2 as sleep, a3 as filterMatcher, a4 as targetedServices, I as InputError, a5 as acquireLock, c as announcementProgress, a6 as selectMembers, a7 as isGone, u as memberMatcher, a8 as readS3Lock, a9 as acquireS3Lock, aa as connectSerf, ab as SerfRpcError, C as ConsulClient, ac as startOwnAgent, ad as ownAgentName, ae as DEPLOY_ID_PATTERN, af as sendsByFilters, ag as getDefaultExportFromCjs, ah as parseDeployIdFile, ai as s3Url$1, aj as releaseKey, ak as waveCounts$1, al as nameList, am as codeSpan, an as progressLine, ao as verdictMessage, o as formatGoDuration, b as runFacts } from './run-facts.js';
import { createHash } from 'node:crypto';
import { readFile, stat, access, constants as constants$1, mkdtemp, mkdir, chmod, writeFile, utimes, rm } from 'node:fs/promises';
import { execFile, spawn } from 'node:child_process';
import { delimiter, resolve, sep, posix, join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { readlinkSync, readdirSync, lstatSync, accessSync, constants as constants$2 } from 'node:fs';

// Keeps the action's heap near what it holds (issue #19: peak RSS at 10,000
// nodes). The action reads answers of megabytes (the catalog, each blocking read
// of results/) whose objects survive a scavenge or two while they are parsed and
// used; V8 answers that by doubling the young generation up to 2 × 64 MB, and the
// peak RSS followed (237-285 MB) while data that survives a full GC is ~25 MB.
// The semi-space size flags are read only when the heap is made (an action
// cannot give its `node` flags), but these two are read each time V8 grows a
// space: the young generation stays at its start size, and the old one, which
// now takes the survivors, is collected once it grows 30% past what it held
// (V8 otherwise lets it double or more first). Costs ~0.5 s of CPU at 10,000 nodes.
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--heap-growing-percent=30');

// Node names as markdown within a character budget, the rest counted (`a, b
// and 40 more`). Apart because the causes table, the succeeded list and the
// waves table all name nodes this way. Pure; names are untrusted and escaped.
/** Names, escaped, joined, within `budget` characters; the rest counted. */
function namesWithin(names, budget) {
    const parts = [];
    let size = 0;
    for (const [i, name] of names.entries()) {
        const item = markdownText(name, 80);
        const rest = names.length - i - 1;
        const reserve = rest > 0 ? 24 : 0;
        if (size + item.length + 2 + reserve > budget && i > 0) {
            return { text: `${parts.join(', ')} and ${names.length - i} more`, shown: i };
        }
        parts.push(item);
        size += item.length + 2;
    }
    return { text: parts.join(', '), shown: names.length };
}

const STATUS_MARK = {
    success: '✅ succeeded',
    failure: '❌ failed',
    lost: '💀 lost',
    silent: '🔇 silent',
    pending: '⏳ not reported',
    not_sent: '⚪ not sent',
    prepared: '📦 prepared',
    rolled_back: '↩️ rolled back'
};
/** Failures grouped by cause: a count, the cause, the nodes (all named within `budget`). */
function causesMarkdown(a, budget) {
    if (a.groups.length === 0)
        return '';
    const lines = ['| nodes | cause | which |', '| --- | --- | --- |'];
    let size = 40;
    const total = a.groups.reduce((n, g) => n + g.nodes.length, 0);
    for (const [i, g] of a.groups.entries()) {
        const rest = a.groups.length - i - 1;
        const room = budget - size - rest * 300;
        // Each group's names get a share of what is left, by size, at least 200 characters.
        const share = Math.max(200, Math.floor((room * g.nodes.length) / Math.max(1, total)));
        const mark = STATUS_MARK[g.status].split(' ')[0];
        // Where nodes ended (not sent, rolled back) is no cause to read node by node: a few names.
        const cap = NOT_A_CAUSE.has(g.status) ? 300 : Infinity;
        const names = namesWithin(g.nodes, Math.min(share, room - 400, cap));
        const row = `| ${mark} ${g.nodes.length} | ${g.status === 'failure' ? cellCode(g.cause, 200) : markdownText(g.cause, 200)} | ${names.text} |`;
        if (size + row.length + 1 > budget) {
            const left = a.groups.slice(i).reduce((n, x) => n + x.nodes.length, 0);
            lines.push('', `… ${plural(a.groups.length - i, 'more cause')} (${plural(left, 'node')}) left out (size limit).`);
            break;
        }
        lines.push(row);
        size += row.length + 1;
    }
    return `${lines.join('\n')}\n`;
}
/** One row per node that did not succeed, natural order within its status, with its cause. */
function problemTableMarkdown(a, fleet, budget, maxRows = 500) {
    const states = statesByLabel(fleet);
    const nodes = [...a.failed, ...a.lost, ...a.silent, ...a.pending];
    if (nodes.length === 0)
        return { markdown: '', shown: 0, omitted: 0 };
    const lines = ['| node | status | after the event | cause |', '| --- | --- | --- | --- |'];
    let size = 100;
    let shown = 0;
    for (const node of nodes) {
        const s = states.get(node);
        const cause = a.causeOf.get(node) ?? '';
        const row = `| ${markdownText(node, 80)} | ${STATUS_MARK[s?.status ?? 'pending']} | ${s?.noticedMs !== undefined ? formatDuration(s.noticedMs) : ''} | ${s?.status === 'failure' ? cellCode(middleCut(cause, 64), 64) : markdownText(cause, 160)} |`;
        if (shown >= maxRows || size + row.length + 1 > budget - 200)
            break;
        lines.push(row);
        size += row.length + 1;
        shown++;
    }
    const omitted = nodes.length - shown;
    if (omitted > 0)
        lines.push('', `… and ${plural(omitted, 'more node')} left out of this table (the \`results\` output lists every node).`);
    return { markdown: `${lines.join('\n')}\n`, shown, omitted };
}
/** The succeeded nodes: a count, and their names (with times, for small fleets) collapsed. */
function succeededMarkdown(a, fleet, budget, tableMax = 50) {
    const n = a.succeeded.length;
    if (n === 0)
        return '';
    const states = statesByLabel(fleet);
    const joined = a.succeeded.filter((node) => states.get(node)?.joined);
    const joinedNote = joined.length
        ? `, ${plural(joined.length, 'node')} of them joined during the deploy (${namesWithin(joined, 400).text})`
        : '';
    const summary = `<details><summary>✅ ${plural(n, 'node')} succeeded${joinedNote}</summary>\n\n`;
    if (n <= tableMax) {
        const rows = a.succeeded.map((node) => {
            const s = states.get(node);
            const ms = s?.noticedMs;
            return `| ${markdownText(node, 80)} | ${ms !== undefined ? formatDuration(ms) : ''} | ${s?.joined ? 'joined during the deploy' : ''} |`;
        });
        const md = `${summary}| node | after the event | note |\n| --- | --- | --- |\n${rows.join('\n')}\n\n</details>\n`;
        if (md.length <= budget)
            return md;
    }
    if (budget < 400 + summary.length)
        return `✅ ${plural(n, 'node')} succeeded${joinedNote}.\n`;
    const names = namesWithin(a.succeeded, budget - summary.length - 40);
    return `${summary}${names.text}\n\n</details>\n`;
}
/**
 * `3 of 5 nodes did not succeed, by cause` when some failed; `2 of 5 nodes had
 * not reported` when the rest only had not; else `4 of 5 nodes not on <id>`
 * (never sent, prepared only, rolled back: they did report, or were not asked).
 */
function causesHeading(a, deployId) {
    const notOk = a.counts.total - a.counts.succeeded;
    const of = `${notOk} of ${a.counts.total} nodes`;
    if (a.failed.length + a.lost.length + a.silent.length > 0)
        return `${of} did not succeed, by cause`;
    if (notOk === a.pending.length)
        return `${of} had not reported`;
    return `${of} not on ${markdownText(deployId, 100)}`;
}

/** A fence longer than any backtick run in the text: the text cannot close it. */
function fenceFor(lines) {
    let longest = 0;
    for (const line of lines)
        for (const run of line.match(/`+/g) ?? [])
            longest = Math.max(longest, run.length);
    return '`'.repeat(Math.max(3, longest + 1));
}
function fenced(lines) {
    const fence = fenceFor(lines);
    return `${fence}text\n${lines.join('\n')}\n${fence}\n`;
}
/** Lines (from the end) that fit `budget` characters once fenced. */
function tailWithin(lines, budget) {
    const out = [];
    let size = 20;
    for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i];
        if (size + l.length + 1 > budget)
            break;
        out.unshift(l);
        size += l.length + 1;
    }
    return out;
}
/**
 * One cause's log block within `room` characters, or undefined when it does not
 * fit: the lines that matter, then the whole log's tail collapsed.
 */
function causeLogBlock(g, node, d, text, room, open) {
    const name = markdownText(node, 80);
    const others = g.nodes.length > 1 ? ` (and ${plural(g.nodes.length - 1, 'other node')} with this cause)` : '';
    const useful = tailWithin(d.useful, Math.floor(room * 0.45));
    const all = logLines(text);
    const listing = d.listing ? `; ${plural(d.listing, 'line')} of file listings left out` : '';
    const build = (tail) => [
        `<details${open ? ' open' : ''}><summary><b>${name}</b>${others}: the lines that matter (${useful.length} of ${plural(d.total, 'line')}${listing})</summary>`,
        '',
        fenced(useful.length ? useful : ['(nothing)']),
        `<details><summary>${name}: the whole log${tail.length < all.length ? ` (last ${tail.length} of ${all.length} lines)` : ` (${plural(all.length, 'line')})`}</summary>`,
        '',
        fenced(tail),
        '</details>',
        '</details>',
        ''
    ].join('\n');
    // The whole log gets what the rest leaves; a long fence can take more: cut again.
    let tailBudget = room - build([]).length;
    let tail = tailWithin(all, tailBudget);
    let block = build(tail);
    for (let tries = 0; block.length > room && tries < 3; tries++) {
        tailBudget -= block.length - room + 100;
        tail = tailWithin(all, tailBudget);
        block = build(tail);
    }
    return block.length > room ? undefined : block;
}
/**
 * Each cause's log, its first node's: the lines that matter first (errors, the
 * failing command and its output), then the whole tail collapsed. The first
 * group's is open. At most `maxGroups` groups, within `budget` characters.
 */
function causeLogsMarkdown(r, a, budget, maxGroups = 5) {
    const logs = logsByLabel(r);
    const parts = [];
    let size = 0;
    const groups = a.groups.filter((g) => g.status === 'failure');
    let left = 0;
    for (const [i, g] of groups.entries()) {
        const node = g.nodes.find((n) => logs.has(n));
        const d = node === undefined ? undefined : a.digests.get(node);
        if (node === undefined || d === undefined || i >= maxGroups) {
            if (node !== undefined)
                left++;
            continue;
        }
        const room = budget - size - 200;
        const block = room < 600 ? undefined : causeLogBlock(g, node, d, logs.get(node) ?? '', room, i === 0);
        if (block === undefined) {
            left++;
            continue;
        }
        parts.push(block);
        size += block.length + 1;
    }
    if (left > 0)
        parts.push(`… the logs of ${plural(left, 'more cause')} are left out (size limit); Consul keeps each under \`<kv-prefix>/logs/<node>\`.\n`);
    return parts.join('\n');
}

// The pictures of the job summary, as Mermaid (GitHub renders it there, not in
// a check run). Colours are fixed and mean one thing each: green succeeded, red
// failed, grey not reported, blue rolled back, purple prepared, light grey not
// sent; each reads on GitHub's light and dark backgrounds,
// and labels on them are white. Time is a numeric axis in seconds from the
// event: no dates, no time zone. Pure; every label is reduced to a safe alphabet.
/** Contrast of at least 3:1 with both #ffffff and #0d1117 (WCAG's bar for graphics). */
const COLOURS = {
    success: '#2da44e',
    failure: '#cf222e',
    pending: '#6e7781',
    rolledBack: '#0969da',
    prepared: '#8250df',
    notSent: '#8c959f'
};
/** Each slice's colour: its meaning (contract 8a's node states). */
const SLICE_COLOUR = {
    succeeded: COLOURS.success,
    failed: COLOURS.failure,
    'not reported': COLOURS.pending,
    'rolled back': COLOURS.rolledBack,
    prepared: COLOURS.prepared,
    'not sent': COLOURS.notSent
};
/** Text inside a quoted Mermaid label: letters, digits and a few harmless marks. */
function mermaidText(text, max = 60) {
    // Quotes become typographic ones (Mermaid's own quote ends a label); the rest of the unsafe, _.
    const clean = text
        .replace(/'/g, '’')
        .replace(/"([^"]*)"/g, '“$1”')
        .replace(/"/g, '”')
        .replace(/[^A-Za-z0-9 ._:,%/()+→✔✘·’“”-]/g, '_');
    return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
function init(themeVariables) {
    // Only themeVariables: GitHub picks the theme (light or dark) and its text colours.
    return `%%{init: ${JSON.stringify({ themeVariables })}}%%`;
}
/** Outcomes as a pie; each slice's colour is its meaning, whatever slices are present. */
function outcomePie(slices, title) {
    const shown = slices.filter((s) => s.count > 0);
    if (shown.length === 0)
        return '';
    const colour = (s) => SLICE_COLOUR[s.label];
    const vars = {
        pieOpacity: '1',
        pieSectionTextColor: '#ffffff',
        pieStrokeColor: '#ffffff',
        pieOuterStrokeColor: '#8c959f'
    };
    shown.forEach((s, i) => (vars[`pie${i + 1}`] = colour(s)));
    return [
        '```mermaid',
        init(vars),
        `pie showData title ${mermaidText(title, 80)}`,
        ...shown.map((s) => `  "${s.label}" : ${s.count}`),
        '```',
        ''
    ].join('\n');
}
/** At most this many bars, one per node; above it the cumulative curve says more. */
const BARS_MAX = 30;
/** Seconds with one decimal, as Mermaid reads numbers. */
const sec = (ms) => Math.round(ms / 100) / 10;
function axisMax(ms) {
    const s = Math.max(1, Math.ceil(ms / 1000));
    const step = s <= 10 ? 1 : s <= 60 ? 5 : s <= 600 ? 30 : 300;
    return Math.ceil(s / step) * step;
}
/**
 * When the nodes reported, in seconds after the event. Up to BARS_MAX nodes: a
 * bar per node (green succeeded, red failed), slowest last. More: how many had
 * reported by each second, one green line for successes and a red one for failures.
 */
function reportTimeChart(reported) {
    if (reported.length === 0)
        return '';
    const sorted = [...reported].sort((a, b) => a.ms - b.ms);
    const max = axisMax(sorted.at(-1)?.ms ?? 0);
    const anyFailed = sorted.some((r) => !r.ok);
    const palette = anyFailed ? `${COLOURS.success}, ${COLOURS.failure}` : COLOURS.success;
    const head = ['```mermaid', init({ xyChart: { plotColorPalette: palette } })];
    if (sorted.length <= BARS_MAX) {
        // Each node's bar is in one series; in the other it is below the axis (which
        // starts at 0), so nothing is drawn for it, not even the sliver a 0 gets.
        const ok = sorted.map((r) => (r.ok ? sec(r.ms) : -max));
        const bad = sorted.map((r) => (r.ok ? -max : sec(r.ms)));
        return [
            ...head,
            'xychart-beta horizontal',
            `  title "Seconds from the event to each node's report"`,
            `  x-axis [${sorted.map((r) => `"${mermaidLabel(r.node, 30)}"`).join(', ')}]`,
            `  y-axis "seconds after the event" 0 --> ${max}`,
            `  bar [${ok.join(', ')}]`,
            ...(anyFailed ? [`  bar [${bad.join(', ')}]`] : []),
            '```',
            ''
        ].join('\n');
    }
    // Cumulative counts at POINTS evenly spaced instants from 0 to max seconds.
    const POINTS = 31;
    const okAt = [];
    const badAt = [];
    let i = 0;
    let okN = 0;
    let badN = 0;
    for (let p = 0; p < POINTS; p++) {
        const t = (max * 1000 * p) / (POINTS - 1);
        while (i < sorted.length && sorted[i].ms <= t) {
            if (sorted[i].ok)
                okN++;
            else
                badN++;
            i++;
        }
        okAt.push(okN);
        badAt.push(badN);
    }
    return [
        ...head,
        'xychart-beta',
        `  title "Nodes reported by each second after the event"`,
        `  x-axis "seconds after the event" 0 --> ${max}`,
        `  y-axis "nodes" 0 --> ${Math.max(1, okN, badN)}`,
        `  line [${okAt.join(', ')}]`,
        ...(anyFailed ? [`  line [${badAt.join(', ')}]`] : []),
        '```',
        ''
    ].join('\n');
}
/** At most this many waves drawn; the table lists all. */
const WAVES_DRAWN_MAX = 20;
/** The staged rollout: one box per wave, in order, coloured by how it went. */
function wavesChart(waves) {
    if (waves.length === 0)
        return '';
    const shown = waves.slice(0, WAVES_DRAWN_MAX);
    // By position: the same wave number recurs (each datacenter has its waves).
    const id = (i) => `w${i}`;
    const cls = (w) => w.state === 'passed' ? 'passed' : w.state === 'failed' ? 'failed' : 'waiting';
    const boxes = shown.map((w, i) => `  ${id(i)}["${w.lines.map((l) => mermaidText(l, 60)).join('<br/>')}"]:::${cls(w)}`);
    const arrows = shown.slice(1).map((_, i) => `  ${id(i)} --> ${id(i + 1)}`);
    return [
        '```mermaid',
        'flowchart LR',
        ...boxes,
        ...arrows,
        `  classDef passed fill:${COLOURS.success},stroke:${COLOURS.success},color:#ffffff`,
        `  classDef failed fill:${COLOURS.failure},stroke:${COLOURS.failure},color:#ffffff`,
        `  classDef waiting fill:${COLOURS.pending},stroke:${COLOURS.pending},color:#ffffff`,
        '```',
        ''
    ].join('\n');
}

/** A wave that went out and has no outcome is running, or stopped when the run was cancelled or broke off. */
function waveState(w, r) {
    if (w.passed === true)
        return 'passed';
    if (w.passed === false)
        return 'failed';
    if (w.startedAt === undefined)
        return 'not started';
    return r.facts.cancelled || r.facts.error ? 'stopped' : 'running';
}
const WAVE_MARK = {
    passed: '✅ passed',
    failed: '❌ failed',
    running: '⏳ running',
    stopped: '⛔ stopped',
    'not started': '⚪ not started'
};
/** `wave 2`, `prepare`, `dc2 wave 1`: the wave 0 of layout: releases is its prepare. */
function waveName(w) {
    const name = w.wave === 0 ? 'prepare' : `wave ${w.wave}`;
    return w.datacenter ? `${plainText(w.datacenter, 40)} ${name}` : name;
}
function waveCounts(w, states) {
    let ok = 0;
    let bad = 0;
    let unsent = 0;
    for (const node of w.nodes) {
        const s = outcomeOf(states.get(node));
        // A prepare's node that is left prepared did what the prepare asked.
        if (s === 'success' || (w.wave === 0 && s === 'prepared'))
            ok++;
        else if (s === 'failure' || s === 'lost')
            bad++;
        // Never sent this wave's event (or only prepared for it): nothing to report.
        else if (s === 'not_sent' || s === 'prepared')
            unsent++;
    }
    return { ok, bad, quiet: w.nodes.length - ok - bad - unsent };
}
function sinceEvent(at, r) {
    if (at === undefined)
        return '';
    const base = r.facts.firedAt ?? r.waves?.[0]?.startedAt;
    return base === undefined ? utcTime(at) : `+${formatDuration(at - base)}`;
}
/** The waves as a table: nodes, how they did, when, the gate. */
function wavesTableMarkdown(r, budget) {
    const waves = r.waves ?? [];
    if (waves.length === 0)
        return '';
    const states = statesByLabel(r.fleet);
    const lines = [
        '| wave | result | nodes | succeeded | failed | not reported | started | took | gate |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ];
    let size = 200;
    for (const [i, w] of waves.entries()) {
        const c = waveCounts(w, states);
        const names = namesWithin([...w.nodes].sort(compareNatural), 160);
        const took = w.startedAt !== undefined && w.endedAt !== undefined
            ? formatDuration(w.endedAt - w.startedAt)
            : '';
        const wave = w.wave === 0 || w.datacenter ? markdownText(waveName(w), 60) : String(w.wave);
        const row = `| ${wave} | ${WAVE_MARK[waveState(w, r)]} | ${w.nodes.length}: ${names.text} | ${c.ok} | ${c.bad} | ${c.quiet} | ${sinceEvent(w.startedAt, r)} | ${took} | ${w.gate ? markdownText(w.gate, 120) : ''} |`;
        if (size + row.length > budget) {
            lines.push('', `… ${plural(waves.length - i, 'more wave')} left out (size limit).`);
            break;
        }
        lines.push(row);
        size += row.length + 1;
    }
    return `${lines.join('\n')}\n`;
}
/** The waves as boxes in a row, coloured by result (Mermaid). */
function wavesPicture(r) {
    const states = statesByLabel(r.fleet);
    return wavesChart((r.waves ?? []).map((w) => {
        const c = waveCounts(w, states);
        const state = waveState(w, r);
        const took = w.startedAt !== undefined && w.endedAt !== undefined
            ? `${sinceEvent(w.startedAt, r)} → ${sinceEvent(w.endedAt, r)}`
            : w.startedAt !== undefined
                ? `from ${sinceEvent(w.startedAt, r)}`
                : '';
        return {
            wave: w.wave,
            state,
            lines: [
                `${waveName(w)}: ${plural(w.nodes.length, 'node')}`,
                `${state === 'passed' ? '✔ ' : state === 'failed' ? '✘ ' : ''}${state} · ${c.ok} ok${c.bad ? `, ${c.bad} failed` : ''}`,
                ...(took ? [took] : []),
                ...(w.gate ? [`gate: ${w.gate}`] : [])
            ]
        };
    }));
}

/** p50/p90/max time to report and the slowest nodes, as one line. */
function timingLine(a) {
    if (!a.percentiles)
        return '';
    const p = a.percentiles;
    const slow = a.slowest
        .map((s) => `${markdownText(s.node, 60)} ${formatDuration(s.ms)}`)
        .join(', ');
    return `**Time to report** (${plural(a.reported.length, 'node')}): p50 ${formatDuration(p.p50)} · p90 ${formatDuration(p.p90)} · max ${formatDuration(p.max)}. Slowest: ${slow}.\n`;
}
/** The outcome pie's slices, every node in one: green, red, grey; where the others ended. */
function slices(a) {
    return [
        { label: 'succeeded', count: a.succeeded.length },
        { label: 'failed', count: a.failed.length + a.lost.length },
        { label: 'not reported', count: a.silent.length + a.pending.length },
        { label: 'rolled back', count: a.rolledBack.length },
        { label: 'prepared', count: a.prepared.length },
        { label: 'not sent', count: a.notSent.length }
    ];
}
/**
 * One row per datacenter (contract 10: summary and check break the fleet down by
 * datacenter), in the order they were rolled out; empty when no node names one.
 */
function datacentersMarkdown(fleet) {
    const empty = () => ({ total: 0, ok: 0, bad: 0, quiet: 0, unsent: 0 });
    const rows = new Map(fleet.datacenters().map((dc) => [dc, empty()]));
    for (const s of fleet.list()) {
        if (s.datacenter === undefined)
            continue;
        const row = rows.get(s.datacenter) ?? empty();
        row.total++;
        const outcome = outcomeOf(s);
        if (outcome === 'success')
            row.ok++;
        else if (outcome === 'failure' || outcome === 'lost')
            row.bad++;
        // Never sent, or prepared and never switched: not "not reported".
        else if (outcome === 'not_sent' || outcome === 'prepared')
            row.unsent++;
        else
            row.quiet++;
        rows.set(s.datacenter, row);
    }
    if (rows.size === 0)
        return '';
    return [
        '| datacenter | nodes | succeeded | failed | not reported | not sent or not switched |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        ...[...rows].map(([dc, c]) => `| ${markdownText(dc, 64)} | ${c.total} | ${c.ok} | ${c.bad} | ${c.quiet} | ${c.unsent} |`)
    ].join('\n');
}
function picturesMarkdown(r, a, mermaid) {
    // Nothing reported yet (wait: false, an early cancel): a one-colour pie says nothing.
    if (!mermaid || a.counts.succeeded + a.counts.failed === 0)
        return '';
    return [
        outcomePie(slices(a), `${a.counts.succeeded} of ${a.counts.total} nodes on ${r.fleet.deployId}`),
        reportTimeChart(a.reported)
    ].join('\n');
}

/** The `results` output's status words: the node states of contract 8a. */
const RESULT_STATUS = {
    success: 'success',
    failure: 'failure',
    lost: 'lost',
    silent: 'silent',
    pending: 'pending',
    not_sent: 'not sent',
    prepared: 'prepared',
    rolled_back: 'rolled back'
};
/** The `results` output: one row per node, sorted by name. */
function resultRows(fleet) {
    return fleet.list().map((s) => ({
        node: s.node,
        status: RESULT_STATUS[s.status],
        deploy_id: s.deployId ?? null,
        at: s.at ?? null,
        ...(s.wave !== undefined ? { wave: s.wave } : {}),
        ...(s.datacenter !== undefined ? { datacenter: s.datacenter } : {}),
        ...(s.phase !== undefined ? { phase: s.phase } : {})
    }));
}

/**
 * Well under GitHub's 1 MiB per step summary: a UTF-16 unit is at most 3 bytes
 * of UTF-8, so 200,000 characters are at most 600,000 bytes, and in practice
 * (ASCII entities for anything untrusted) about 200 KB.
 */
const SUMMARY_MAX_CHARS = 200_000;
/** The verdict line (marked), then the release and time line. */
function headMarkdown(r, a, mark) {
    return [
        `${mark} ${headlineMarkdown(markedHeadline(r, a, false))}`,
        '',
        [releaseLine(r), timeLine(r)].filter(Boolean).join(' · '),
        ''
    ].join('\n');
}
/** The parts of a report, each within its own budget, for the summary or the check run. */
function reportParts(r, maxChars, opts) {
    const a = analyse(r);
    const mark = headlineMark(r.verdict, r.facts, r.notWaiting);
    const head = headMarkdown(r, a, mark);
    const state = endedEarly(r) ? stateMarkdown(r, a) : '';
    const pictures = picturesMarkdown(r, a, opts.mermaid);
    const waves = r.waves?.length
        ? `${opts.mermaid ? wavesPicture(r) : ''}\n${wavesTableMarkdown(r, 20_000)}`
        : '';
    const facts = factsMarkdown(r);
    const timing = timingLine(a);
    const datacenters = datacentersMarkdown(r.fleet);
    // What has no budget of its own, and a margin for the headings between parts.
    const fixed = [head, state, pictures, waves, datacenters, facts, timing].reduce((n, p) => n + p.length, 0) +
        600;
    const room = Math.max(2000, maxChars - fixed);
    const causes = causesMarkdown(a, Math.floor(room * 0.45));
    const logs = opts.mermaid ? causeLogsMarkdown(r, a, Math.floor(room * 0.25)) : '';
    const left = room - causes.length - logs.length;
    // Only nodes not heard from yet: the causes table names them all already.
    const onlyPending = a.groups.every((g) => g.status === 'pending');
    const table = onlyPending
        ? { markdown: '', shown: 0, omitted: 0 }
        : problemTableMarkdown(a, r.fleet, Math.floor(left * 0.7));
    const succeeded = succeededMarkdown(a, r.fleet, left - table.markdown.length - 100);
    return {
        a,
        mark,
        head,
        state,
        causes,
        logs,
        pictures,
        timing,
        datacenters,
        waves,
        table,
        succeeded,
        facts
    };
}
/**
 * Markdown for the job summary: the verdict with its cause, what an early end
 * left behind, failures by cause with the first one's log open, the pictures,
 * the waves, the nodes that did not succeed, the successes as a count, and the
 * release's facts; within `maxChars`.
 */
function summaryMarkdown(r, maxChars = SUMMARY_MAX_CHARS) {
    const p = reportParts(r, maxChars, { mermaid: true });
    const out = [`### ${p.head}`];
    if (r.rollback)
        out.push(rollbackMarkdown(r));
    if (p.state)
        out.push(`#### What this run left behind\n\n${p.state}`);
    if (p.causes)
        out.push(`#### ${causesHeading(p.a, r.fleet.deployId)}\n\n${p.causes}`);
    if (p.logs)
        out.push(p.logs);
    if (p.pictures || p.timing)
        out.push(`#### The fleet\n\n${p.pictures}${p.timing}`);
    if (p.datacenters)
        out.push(`#### Datacenters\n\n${p.datacenters}`);
    if (p.waves)
        out.push(`#### Waves\n\n${p.waves}`);
    if (p.table.markdown)
        out.push(`#### Nodes that did not succeed\n\n${p.table.markdown}`);
    if (p.succeeded)
        out.push(p.succeeded);
    out.push(`#### Release\n\n${p.facts}`);
    return out.join('\n');
}

/** GitHub's "Maximum length: 65535 characters" for output.summary and output.text. */
const CHECK_FIELD_MAX = 65_535;
/** Commit and deployment status descriptions: over 140 is a 422. */
const STATUS_DESCRIPTION_MAX = 140;
/** Check run titles are one line; kept short so the PR's checks list shows them whole. */
const TITLE_MAX = 160;
function checkConclusion(report) {
    const { verdict, facts } = report;
    if (facts.cancelled)
        return 'cancelled';
    if (facts.error)
        return 'failure';
    // Not waited for: GitHub learns nothing about the fleet, so it neither passes nor fails.
    if (!verdict.done)
        return 'neutral';
    if (verdict.ok)
        return 'success';
    return verdict.reason === 'timed_out' ? 'timed_out' : 'failure';
}
/**
 * `cancelled` on SIGINT/SIGTERM; `success` when the run succeeds (`wait: false`
 * included, whose check run is neutral); `timed_out` when silent nodes at the
 * timeout failed it; `failure` otherwise (failed nodes, an error, bad input).
 */
function runConclusion(run) {
    if (run.cancelled)
        return 'cancelled';
    if (!run.failed)
        return 'success';
    return run.verdict?.done === true && run.verdict.reason === 'timed_out' ? 'timed_out' : 'failure';
}
/**
 * The check's title: the headline in fewer words (the check's name carries the
 * app): `production: 1 of 5 nodes failed (node-3: exit status 1)`.
 */
function checkTitle(report) {
    return plainText(headline(report, analyse(report), true), TITLE_MAX);
}
/**
 * The check run's `output`, each field within `limit` characters: text and
 * tables only (the Checks tab may show Mermaid as code). The summary has the
 * verdict, what an early end left, the causes, timing, waves and nodes; the
 * text has each cause's log, the lines that matter first.
 */
function checkOutput(report, limit = CHECK_FIELD_MAX) {
    const p = reportParts(report, limit - 2000, { mermaid: false });
    const parts = [`## ${p.head}`];
    if (report.rollback)
        parts.push(rollbackMarkdown(report));
    if (p.state)
        parts.push(`### What this run left behind\n\n${p.state}`);
    if (p.causes)
        parts.push(`### ${causesHeading(p.a, report.fleet.deployId)}\n\n${p.causes}`);
    if (p.timing)
        parts.push(p.timing);
    if (p.datacenters)
        parts.push(`### Datacenters\n\n${p.datacenters}`);
    if (p.waves)
        parts.push(`### Waves\n\n${p.waves}`);
    if (p.table.markdown)
        parts.push(`### Nodes that did not succeed\n\n${p.table.markdown}`);
    if (p.succeeded)
        parts.push(p.succeeded);
    parts.push(`### Release\n\n${p.facts}`);
    let summary = parts.join('\n');
    if (summary.length > limit)
        summary = `${summary.slice(0, limit - 40)}\n\n… (cut to GitHub's limit)\n`;
    const logs = report.excerpts?.length ? causeLogsMarkdown(report, p.a, limit - 40, 10) : '';
    const text = logs ? `## Failed nodes' logs, by cause\n\n${logs}` : undefined;
    return { title: checkTitle(report), summary, text };
}
/** The one line a commit status or deployment status carries (at most 140 characters). */
function statusDescription(report) {
    return plainText(checkTitle(report).replace(/\s+/g, ' '), STATUS_DESCRIPTION_MAX);
}
function commitState(conclusion) {
    switch (conclusion) {
        case 'in_progress':
            return 'pending';
        case 'success':
        case 'neutral':
            return 'success';
        case 'cancelled':
            return 'error';
        default:
            return 'failure';
    }
}

// A node's identity (contract 8a): one (datacenter, node name) pair. Consul names
// are unique only within a datacenter, so two datacenters may each have a
// `web-1`; Serf has no datacenters (its nodes have none). Pure.
/** One string per node, for maps and sets: names repeat across datacenters, pairs do not. */
function nodeKey(datacenter, node) {
    // NUL is in no datacenter name (Consul allows [a-zA-Z0-9_-]), so the key is unambiguous.
    return `${datacenter ?? ''}\u0000${node}`;
}
const idKey = (id) => nodeKey(id.datacenter, id.node);
/** The pair, with `datacenter` only when there is one (so records of a plain run stay as they were). */
function nodeId(datacenter, node) {
    return datacenter === undefined ? { node } : { node, datacenter };
}
/** Every node the steps name, once, in their order (a prepare step names its switch steps' nodes again). */
function nodesOfSteps(steps) {
    const seen = new Map();
    for (const step of steps)
        for (const node of step.nodes) {
            const key = nodeKey(step.datacenter, node);
            if (!seen.has(key))
                seen.set(key, nodeId(step.datacenter, node));
        }
    return [...seen.values()];
}
/**
 * The name a person reads: the node's name, and `web-1 (dc2)` where the name is
 * also a node of another datacenter of the same run. Naming the datacenter only
 * where it tells two nodes apart keeps every report of a run without repeated
 * names as it was; name first, so a list still sorts by name.
 */
function nodeLabel(id, repeated) {
    return repeated && id.datacenter !== undefined ? `${id.node} (${id.datacenter})` : id.node;
}
/** The steps' nodes by their labels, step after step (a repeated name with its datacenter). */
function labelsOfSteps(steps) {
    const named = new Map();
    for (const { node } of nodesOfSteps(steps))
        named.set(node, (named.get(node) ?? 0) + 1);
    return steps.flatMap((step) => step.nodes.map((node) => nodeLabel(nodeId(step.datacenter, node), (named.get(node) ?? 0) > 1)));
}

const COUNTED_AS = {
    success: 'succeeded',
    failure: 'failed',
    lost: 'failed',
    pending: 'pending',
    silent: 'pending',
    not_sent: 'notSent',
    prepared: 'prepared',
    rolled_back: 'rolledBack'
};
/** What a node writes (contract 5); anything else is not a result (its reason, as a string). */
function parseResult(value) {
    if (value === null || value === '')
        return 'empty result';
    let parsed;
    try {
        parsed = JSON.parse(value);
    }
    catch {
        return 'result is not JSON';
    }
    if (typeof parsed !== 'object' || parsed === null)
        return 'result is not a JSON object';
    const r = parsed;
    if (typeof r.deploy_id !== 'string')
        return 'result has no deploy_id';
    if (r.status !== 'success' && r.status !== 'failure')
        return 'result status is neither success nor failure';
    const at = typeof r.at === 'number' && Number.isFinite(r.at) ? r.at : undefined;
    const phase = r.phase === 'prepare' || r.phase === 'switch' ? r.phase : undefined;
    const releases = Array.isArray(r.releases)
        ? r.releases.filter((x) => typeof x === 'string')
        : undefined;
    return {
        deployId: r.deploy_id,
        status: r.status,
        at,
        ...(phase ? { phase } : {}),
        ...(releases ? { releases } : {})
    };
}
class FleetState {
    deployId;
    /** KV index read before the event was fired: results at or below it are old */
    baselineIndex;
    maxFailures;
    /** layout: releases: only results of this phase count (a prepare result does not finish a switch) */
    phase;
    /** the datacenter of nodes named by name alone (a step's; undefined: the agent's own, or Serf) */
    datacenter;
    /** by nodeKey(datacenter, name) */
    nodes = new Map();
    /** nodes the catalog listed at the start but the filters left out (by nodeKey) */
    untargeted = new Set();
    /** how many nodes carry each name: a repeated name is labelled with its datacenter */
    named = new Map();
    timedOut = false;
    constructor(opts) {
        this.deployId = opts.deployId;
        if (opts.phase)
            this.phase = opts.phase;
        if (opts.datacenter !== undefined)
            this.datacenter = opts.datacenter;
        this.baselineIndex = opts.baselineIndex;
        this.maxFailures = opts.maxFailures;
        for (const ref of opts.targets) {
            const id = this.idOf(ref);
            if (!this.nodes.has(idKey(id)))
                this.put({ ...id, status: 'pending' });
        }
        for (const ref of opts.untargeted ?? [])
            this.untargeted.add(idKey(this.idOf(ref)));
    }
    /** A bare name is a node of this fleet's datacenter. */
    idOf(ref) {
        return typeof ref === 'string' ? nodeId(this.datacenter, ref) : nodeId(ref.datacenter, ref.node);
    }
    get(ref) {
        return this.nodes.get(idKey(this.idOf(ref)));
    }
    /** Record a node's state under its identity (a new node counts towards its name). */
    put(state) {
        const key = idKey(state);
        if (!this.nodes.has(key))
            this.named.set(state.node, (this.named.get(state.node) ?? 0) + 1);
        this.nodes.set(key, state);
    }
    /** Feed the current results/ entries (all, or only changed ones). Returns the nodes whose state changed. */
    applyResults(entries, elapsedMs = 0) {
        const changed = [];
        for (const entry of entries) {
            let state = this.get(entry.node);
            if (!state && this.untargeted.has(nodeKey(this.datacenter, entry.node)))
                continue; // filtered out: not this run's business
            if (state && state.status !== 'pending' && state.status !== 'lost')
                continue; // first counted answer stands
            // A result written before the event belongs to an earlier deploy or attempt.
            if (entry.modifyIndex <= this.baselineIndex)
                continue;
            const result = parseResult(entry.value);
            const otherPhase = typeof result !== 'string' && this.phase !== undefined && result.phase !== this.phase;
            if (typeof result === 'string' || result.deployId !== this.deployId || otherPhase) {
                if (state) {
                    const note = typeof result === 'string'
                        ? result
                        : result.deployId !== this.deployId
                            ? `reported deploy ${result.deployId}`
                            : `reported the ${result.phase ?? 'whole'} phase of ${result.deployId}`;
                    if (state.note !== note) {
                        state.note = note;
                        changed.push(state);
                    }
                }
                continue;
            }
            if (!state) {
                // Not in the catalog at the start: it joined and caught up to this deploy.
                state = { ...nodeId(this.datacenter, entry.node), status: 'pending', joined: true };
                this.put(state);
            }
            state.status = result.status;
            state.deployId = result.deployId;
            state.at = result.at;
            state.noticedMs = elapsedMs;
            state.note = undefined;
            if (result.phase)
                state.phase = result.phase;
            if (result.releases)
                state.releases = result.releases;
            changed.push(state);
        }
        return changed;
    }
    /**
     * Take over another state's nodes (a wave's, in a staged rollout), as they are,
     * marked with their wave; a node of this fleet that no wave reached keeps its
     * state here (pending, with a note saying why).
     */
    absorb(part, wave, datacenter) {
        for (const state of part.nodes.values()) {
            const dc = datacenter ?? state.datacenter;
            this.put({ ...state, wave, ...(dc !== undefined ? { datacenter: dc } : {}) });
        }
    }
    /** A node still pending here was never sent the release: say why. A bare name is of `datacenter`. */
    noteNotSent(node, note, wave, datacenter) {
        const state = this.get(typeof node === 'string' ? nodeId(datacenter ?? this.datacenter, node) : node);
        if (state?.status === 'pending')
            Object.assign(state, {
                status: 'not_sent',
                note,
                wave,
                ...(datacenter !== undefined ? { datacenter } : {})
            });
    }
    /** layout: releases: nodes whose last counted result is the prepare are prepared, not switched. */
    markPrepared() {
        for (const state of this.nodes.values())
            if (state.status === 'success' && state.phase === 'prepare')
                state.status = 'prepared';
    }
    /** The node reported the previous release after auto-rollback sent it back. */
    markRolledBack(node, previous) {
        const state = this.get(node);
        if (!state || state.status === 'not_sent')
            return;
        Object.assign(state, {
            status: 'rolled_back',
            was: state.status,
            deployId: previous.deployId,
            at: previous.at
        });
    }
    /** A target whose serfHealth went critical before it reported is lost, not waited for. */
    markLost(node) {
        const state = this.get(node);
        if (!state || state.status !== 'pending')
            return undefined;
        state.status = 'lost';
        return state;
    }
    /** The deadline passed: whoever has not reported is silent. */
    expire() {
        this.timedOut = true;
        for (const state of this.nodes.values())
            if (state.status === 'pending')
                state.status = 'silent';
    }
    counts() {
        const c = { succeeded: 0, failed: 0, pending: 0, notSent: 0, prepared: 0, rolledBack: 0 };
        for (const s of this.nodes.values())
            c[COUNTED_AS[s.status]]++;
        return { total: this.nodes.size, ...c };
    }
    verdict() {
        if (this.nodes.size === 0)
            return { done: true, ok: false, reason: 'no_targets' };
        const { failed, pending } = this.counts();
        if (failed > this.maxFailures)
            return { done: true, ok: false, reason: 'failures' };
        const reason = failed + pending === 0 ? 'converged' : 'tolerated';
        if (this.timedOut) {
            return failed + pending > this.maxFailures
                ? { done: true, ok: false, reason: 'timed_out' }
                : { done: true, ok: true, reason };
        }
        if (pending === 0)
            return { done: true, ok: true, reason };
        return { done: false };
    }
    /** The datacenters nodes were recorded in, in the order of the targets (rollout order). */
    datacenters() {
        const seen = new Set();
        for (const s of this.nodes.values())
            if (s.datacenter !== undefined)
                seen.add(s.datacenter);
        return [...seen];
    }
    /** The datacenter a node was recorded in (undefined: the agent's own, or not named). */
    datacenterOf(node) {
        return this.get(node)?.datacenter;
    }
    isTarget(node) {
        return this.get(node) !== undefined;
    }
    /** A target, or a node known to be left out: either way no catalog look-up is needed. */
    isKnown(node) {
        return this.isTarget(node) || this.untargeted.has(idKey(this.idOf(node)));
    }
    /** A reporter that is not a node the filters pick (not in the catalog, or not matching): ignore it. */
    markUntargeted(node) {
        if (!this.isTarget(node))
            this.untargeted.add(idKey(this.idOf(node)));
    }
    /** Would this entry be counted (or noted) if its node were a target? Cheap pre-check for look-ups. */
    isFresh(entry) {
        return entry.modifyIndex > this.baselineIndex;
    }
    /** The nodes in this state by their labels (labelOf: a name, with its datacenter where it repeats). */
    nodesByStatus(status) {
        return [...this.nodes.values()]
            .filter((s) => s.status === status)
            .map((s) => this.labelOf(s))
            .sort();
    }
    /** A node's name as a person reads it: `web-1`, or `web-1 (dc2)` when another datacenter has a `web-1`. */
    labelOf(id) {
        return nodeLabel(id, (this.named.get(id.node) ?? 0) > 1);
    }
    /** Every node, sorted by name, then datacenter. */
    list() {
        return [...this.nodes.values()].sort((a, b) => byText(a.node, b.node) || byText(a.datacenter ?? '', b.datacenter ?? ''));
    }
}
const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// Node filters for wave events (contract 8): anchored RE2 alternations that
// match exactly a wave's nodes, cut to fit serf's 512-byte user event. Pure.
// Go's regexp.QuoteMeta set: the characters RE2 gives a meaning outside a
// class. `-` and `_` are literal there, so they stay as they are.
const RE2_META = /[\\.+*?()|[\]{}^$]/g;
/** A node name as an RE2 literal, as Go's regexp.QuoteMeta writes it. */
function escapeRe2(name) {
    return name.replace(RE2_META, (c) => `\\${c}`);
}
/**
 * Serf caps a user event at 512 bytes (serf UserEventSizeLimit, not raised by
 * Consul; research/consul-api.md §3), and the node filter travels inside that
 * event: Consul msgpack-encodes {ID, Name, Payload, NodeFilter, ServiceFilter,
 * TagFilter, Version} (agent/user_event.go, `nf`/`sf`/`tf`) and serf wraps that
 * again with the serf name `consul:event:<name>` and its Lamport time. The
 * query string is not the binding limit (Go's net/http takes 1 MiB of
 * headers): the event is.
 *
 * This default assumes the event name `deploy`, a payload (manifest URL) of at
 * most 100 bytes (the action warns above that, contract 6), no service or tag
 * filter on wave events, and keeps a margin for the estimate: see
 * nodeFilterBudget() for the arithmetic. About 30 names like `web-12` fit.
 */
const DEFAULT_NODE_FILTER_BYTES = 256;
function byteLength(text) {
    return Buffer.byteLength(text, 'utf8');
}
/**
 * Anchored filters that together match exactly `names`, each at most
 * `maxBytes` bytes (UTF-8), names packed in order. Throws when one name alone
 * does not fit (it could never be sent an event of its own).
 */
function nodeFilters(names, maxBytes = DEFAULT_NODE_FILTER_BYTES) {
    return nodeGroups(names, maxBytes).map((group) => `^(${group.map(escapeRe2).join('|')})$`);
}
/** The names each of nodeFilters' filters matches, in the same order. */
function nodeGroups(names, maxBytes = DEFAULT_NODE_FILTER_BYTES) {
    const groups = [];
    let group = [];
    let size = 0;
    const frame = byteLength('^()$');
    for (const name of names) {
        const bytes = byteLength(escapeRe2(name));
        if (frame + bytes > maxBytes)
            throw new Error(`node ${quote(name)} is too long for an event's node filter (${frame + bytes} bytes, at most ${maxBytes})`);
        const grown = group.length === 0 ? frame + bytes : size + 1 + bytes;
        if (group.length > 0 && grown > maxBytes) {
            groups.push(group);
            group = [];
            size = frame + bytes;
        }
        else {
            size = grown;
        }
        group.push(name);
    }
    if (group.length > 0)
        groups.push(group);
    return groups;
}

/** latest and deploy-id together, and the release's history record when it has one. */
function announcementOps(config, release) {
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
    return ops;
}
/**
 * Every read first, while nothing is written: a cancel here leaves nothing to undo.
 * What latest and deploy-id hold, to put back (not a txn get-or-empty: Consul
 * blanks the value of every txn verb but get). X-Consul-Index of the recurse read
 * is the highest ModifyIndex under results/: every result already there is at or
 * below it. The agent's event list, to tell later whether a lost fire went out.
 */
async function readBefore(consul, config, eventUrl, opts) {
    const { signal } = opts;
    const keys = kvKeys(config.kvPrefix);
    const [latestNow, deployIdNow, baseline, seenBefore, agentNode] = await Promise.all([
        consul.kvGet(keys.latest, { signal, permission: `key:read on "${keys.latest}"` }),
        consul.kvGet(keys.deployId, { signal, permission: `key:read on "${keys.deployId}"` }),
        consul.kvGet(keys.results, {
            recurse: true,
            signal,
            permission: `key:read on "${keys.results}"`
        }),
        consul.eventIds(config.eventName, eventUrl, signal).catch(() => undefined),
        opts.targets?.length ? consul.agentNodeName(signal).catch(() => '') : ''
    ]);
    return {
        before: [...latestNow.entries, ...deployIdNow.entries].map((e) => ({
            key: e.key,
            value: e.value
        })),
        baseline: baseline.index,
        seenBefore,
        agentReceives: agentNode !== '' && (opts.targets ?? []).includes(agentNode)
    };
}
/** The journal as the first write goes out: what to put back, and how to tell the fire. */
function openJournal(config, release, eventUrl, filters, read, opts) {
    return {
        kvPrefix: config.kvPrefix,
        ...(opts.datacenter ? { datacenter: opts.datacenter } : {}),
        deployId: config.deployId,
        manifestUrl: release.manifestUrl,
        ...(eventUrl === release.manifestUrl ? {} : { eventUrl }),
        eventName: config.eventName,
        filters,
        phase: 'writing',
        before: read.before,
        seenBefore: read.seenBefore,
        agentReceives: read.agentReceives
    };
}
/** Move the journal to `phase` and tell it; `sent`: that phase's write goes out now. */
function step(a, phase, sent = false) {
    a.journal.phase = phase;
    a.journal.sentAt = sent ? a.clock.now() : undefined;
    a.opts.onJournal?.({ ...a.journal });
}
/** The txn that moves latest and deploy-id, journalled before it is sent. */
async function writeLatest(a, ops) {
    const { consul, config, journal, log } = a;
    const { signal } = a.opts;
    const keys = kvKeys(config.kvPrefix);
    // Writes are not cut short by a cancel (their outcome would be unknown), only
    // when they are still unanswered CANCEL_GRACE_MS after it; nor retried after it.
    step(a, 'writing', true);
    const written = await consul.txn(ops, `key:write on "${config.kvPrefix}/"`, {
        signal: graceAfter(signal, CANCEL_GRACE_MS),
        stopRetrying: signal
    });
    journal.written = writtenIndexes(written, keys);
    step(a, 'written');
    log.info(`${keys.latest} → ${journal.manifestUrl}; ${keys.deployId} → ${config.deployId}`);
}
function writtenIndexes(entries, keys) {
    return entries
        .filter((e) => e.key === keys.latest || e.key === keys.deployId)
        .map((e) => ({ key: e.key, modifyIndex: e.modifyIndex }));
}

/** Consul 1.22+ caps the fire request body at about 100 bytes (research §0). */
const SAFE_PAYLOAD_BYTES = 100;
function payloadAdvice(manifestUrl) {
    return `the event payload (the manifest URL) is ${Buffer.byteLength(manifestUrl)} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`;
}
/** A refused event that reads as too large says what to shorten; anything else is as it was. */
function withPayloadAdvice(error, journal, eventUrl) {
    if (error instanceof ConsulError &&
        journal.written &&
        (error.status === 413 || /exceeds|too large|limit/i.test(error.message)))
        return new ConsulError(`Consul refused the ${journal.eventName} event: ${payloadAdvice(eventUrl)} (${error.message})`, error.status, false);
    return error;
}
function logFired(log, eventName, eventId, filters, bytes) {
    const shown = Object.entries(filters)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`);
    log.info(`fired event "${eventName}" (${eventId})${shown.length ? ` with ${shown.join(', ')}` : ''}, payload ${bytes} bytes`);
}
/** The event alone, latest left where it is: a refusal or a lost answer fails the step. */
async function fireOnly(consul, config, manifestUrl, filters, log, opts, clock) {
    const { signal, continuing } = opts;
    const keys = kvKeys(config.kvPrefix);
    const [baselineIndex, seenBefore] = continuing
        ? [continuing.baselineIndex, continuing.seenAfter]
        : await Promise.all([
            consul
                .kvGet(keys.results, {
                recurse: true,
                signal,
                permission: `key:read on "${keys.results}"`
            })
                .then((read) => Math.max(1, raftIndex(read.index))),
            consul.eventIds(config.eventName, manifestUrl, signal).catch(() => undefined)
        ]);
    signal?.throwIfAborted();
    const bytes = Buffer.byteLength(manifestUrl);
    if (bytes > SAFE_PAYLOAD_BYTES)
        log.warning(payloadAdvice(manifestUrl));
    const { id } = await consul.fireEvent(config.eventName, manifestUrl, filters, {
        signal: graceAfter(signal, CANCEL_GRACE_MS),
        stopRetrying: signal,
        seenBefore
    });
    logFired(log, config.eventName, id, filters, bytes);
    return {
        baselineIndex,
        eventId: id,
        firedAt: clock.now(),
        seenAfter: seenBefore ? [...seenBefore, id] : undefined
    };
}

/** Consul answered no: the write did not take effect. Anything else leaves it unknown. */
function refusedByConsul(error) {
    return error instanceof ConsulError && error.status !== undefined && !error.transient;
}
/** Move latest with the event, all or nothing (see above); `movesLatest: false` fires only. */
async function announce(consul, config, release, log, opts = {}) {
    const { signal } = opts;
    const clock = opts.clock ?? systemClock;
    const filters = opts.filters ?? config.filters;
    // latest names the manifest a booting node runs; the event may send another
    // (layout: releases: latest the combined manifest, the event the switch).
    const eventUrl = release.eventUrl ?? release.manifestUrl;
    if (opts.movesLatest === false)
        return fireOnly(consul, config, eventUrl, filters, log, opts, clock);
    const ops = announcementOps(config, release);
    const read = await readBefore(consul, config, eventUrl, opts);
    signal?.throwIfAborted();
    const journal = openJournal(config, release, eventUrl, filters, read, opts);
    const announcing = { consul, config, log, opts, clock, journal, eventUrl };
    try {
        await writeAndFire(announcing, ops);
    }
    catch (error) {
        await settleFailed(announcing, error);
    }
    const firedAt = clock.now();
    logFired(log, config.eventName, journal.eventId ?? '', filters, Buffer.byteLength(eventUrl));
    return {
        baselineIndex: Math.max(1, raftIndex(read.baseline)),
        eventId: journal.eventId ?? '',
        firedAt,
        seenAfter: read.seenBefore && journal.eventId ? [...read.seenBefore, journal.eventId] : undefined
    };
}
/**
 * latest and deploy-id (and the history record) in the announcement's
 * transaction, with no event: the last switch wave has no node left to send
 * to (contract 8). Journalled as an announcement whose end is the write, so a
 * cancel's post step knows latest moved, or puts it back when it cannot tell.
 */
async function moveLatestOnly(consul, config, release, log, opts = {}) {
    const clock = opts.clock ?? systemClock;
    const read = await readBefore(consul, config, release.manifestUrl, opts);
    opts.signal?.throwIfAborted();
    const journal = {
        ...openJournal(config, release, release.manifestUrl, config.filters, read, opts),
        pointerOnly: true
    };
    const moving = {
        consul,
        config,
        log,
        opts,
        clock,
        journal,
        eventUrl: release.manifestUrl
    };
    try {
        await writeLatest(moving, announcementOps(config, release));
        step(moving, 'fired');
    }
    catch (error) {
        await settleFailed(moving, error);
    }
}
/** The txn, then the event, each journalled before it is sent. */
async function writeAndFire(a, ops) {
    const { consul, config, journal, log, eventUrl } = a;
    const { signal } = a.opts;
    const inFlight = graceAfter(signal, CANCEL_GRACE_MS);
    await writeLatest(a, ops);
    signal?.throwIfAborted();
    if (Buffer.byteLength(eventUrl) > SAFE_PAYLOAD_BYTES)
        log.warning(payloadAdvice(eventUrl));
    step(a, 'firing', true);
    const { id } = await consul.fireEvent(config.eventName, eventUrl, journal.filters, {
        signal: inFlight,
        stopRetrying: signal,
        seenBefore: journal.seenBefore
    });
    journal.eventId = id;
    step(a, 'fired');
}
/**
 * The write or the fire failed or was cut short: settle to one of the two allowed
 * ends. Returns when the event went out after all; otherwise throws `error`.
 */
async function settleFailed(a, error) {
    const { journal, clock, opts } = a;
    const refused = refusedByConsul(error);
    // A write retried or cut short may have been sent again until now.
    if (!refused && (journal.phase === 'writing' || journal.phase === 'firing'))
        journal.sentAt = clock.now();
    const outcome = await settle(a.consul, journal, a.log, {
        refused,
        clock,
        deadline: clock.now() + (opts.signal?.aborted ? (opts.settleAfterCancelMs ?? 2_500) : 20_000),
        onJournal: opts.onJournal
    });
    if (!outcome.fired)
        throw withPayloadAdvice(error, journal, a.eventUrl);
}

/** Consul caps a blocking wait at 10 minutes; 5 minutes is its default. The client
 * asks less, to stay under fetch's header timeout (consul.ts blockingBudget). */
const MAX_WAIT_MS = 5 * 60_000;
/** The values of `reads`, all sent at once; a failure is the first in `reads`' order, as if read one by one. */
async function inOrder(reads) {
    const settled = await Promise.allSettled(reads);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed)
        throw failed.reason;
    return settled.map((r) => r.value);
}
/** Catalog nodes with their services and serfHealth, as the targets need them. */
async function readCatalog(consul, filters, signal, retryUntil) {
    // Independent reads go out together: one round trip instead of three. Each
    // answer is cut down to what the targets need as soon as it is in: at 10,000
    // nodes an answer is megabytes of objects, and three held at once grew the
    // young generation (and the action's peak RSS) by tens of MB.
    const [nodes, services, serfHealth] = await inOrder([
        consul
            .getJson('catalog/nodes', 'node:read', { signal, retryUntil })
            .then(({ value }) => value.map((n) => n.Node)),
        filters.service === undefined
            ? Promise.resolve(undefined)
            : consul.getJson('catalog/services', 'service:read', {
                signal,
                retryUntil
            }),
        consul
            .getJson('health/state/any', 'node:read', {
            signal,
            retryUntil,
            query: { filter: 'CheckID == "serfHealth"' }
        })
            .then(({ value }) => value.filter((c) => c.CheckID === 'serfHealth').map((c) => [c.Node, c.Status]))
    ]);
    const byName = new Map(nodes.map((n) => [n, { node: n, services: [] }]));
    if (filters.service !== undefined && services) {
        // Only services whose name can match are listed node by node.
        const re = compileFilter(filters.service);
        const names = Object.keys(services.value).filter((s) => re.test(s));
        const lists = await inOrder(names.map((name) => consul
            .getJson(`catalog/service/${encodeURIComponent(name)}`, 'service:read', { signal, retryUntil })
            .then(({ value }) => value.map((i) => ({ node: i.Node, name: i.ServiceName, tags: i.ServiceTags ?? [] })))));
        for (const instances of lists)
            for (const i of instances)
                byName.get(i.node)?.services.push({ name: i.name, tags: i.tags });
    }
    for (const [name, status] of serfHealth) {
        const node = byName.get(name);
        if (node)
            node.serfHealth = status;
    }
    return [...byName.values()];
}
/**
 * A token bucket, as Consul's docs advise for blocking-query loops: `burst`
 * requests may go at once, then `ratePerSecond`. `initial` tokens at the start
 * (default: a full bucket), so a bucket can bank more than it starts with.
 */
function tokenBucket(ratePerSecond, burst, now = Date.now, initial = burst) {
    let tokens = Math.min(burst, initial);
    let last = now();
    return {
        /** ms to wait before the next request may go */
        take() {
            const t = now();
            tokens = Math.min(burst, tokens + ((t - last) / 1000) * ratePerSecond);
            last = t;
            if (tokens >= 1) {
                tokens -= 1;
                return 0;
            }
            const wait = ((1 - tokens) / ratePerSecond) * 1000;
            tokens = 0;
            last = t + wait;
            return wait;
        }
    };
}
/**
 * How the results loop spends its read budget. A parked blocking read costs
 * nothing, so reads are spent only while reports arrive faster than the budget.
 * Then the loop reads slowly while the verdict is far off (the fleet's progress
 * is logged every few seconds anyway), banks the saved reads, and spends them
 * when the last reports are due, which is when a late notice delays the verdict.
 * The bucket stays the hard limit: at most INITIAL_READS + rate × seconds.
 */
const PACING = {
    /** reads at the start, as the old burst of 2 */
    initialReads: 2,
    /** reads the loop may bank, in seconds of budget */
    bankSeconds: 4,
    /** spacing while the verdict is far off, in budget intervals (3 → 1.5 s at 2/s) */
    farSpacing: 3,
    /** spacing near the end, in budget intervals (1/3 → 167 ms at 2/s) */
    nearSpacing: 1 / 3,
    /** "near": the pending nodes are due within this, at the rate reports came so far */
    nearMs: 1500
};
/** Least ms between the starts of two results reads, given how the fleet is doing. */
function readSpacingMs(ratePerSecond, p) {
    const interval = 1000 / ratePerSecond;
    const near = interval * PACING.nearSpacing;
    // no arrival rate to go by yet: the plain budget
    if (p.reported <= 1 || p.reportingMs < interval)
        return interval;
    const etaMs = (p.pending * p.reportingMs) / p.reported;
    if (etaMs <= PACING.nearMs)
        return near;
    // far off: read slowly, but never so late that the near phase starts after its time
    return Math.max(near, Math.min(interval * PACING.farSpacing, etaMs - PACING.nearMs));
}
/**
 * Next index per Consul's rules: reset to 0 if it went backwards, never below 1
 * (features/blocking.mdx). BigInt: an index is a uint64 and is sent back exactly.
 */
function nextIndex(previous, answered) {
    if (answered < previous)
        return 0n;
    return answered < 1n ? 1n : answered;
}
/** Catalog check for late joiners: the node exists, matches the filters and its serfHealth passes. */
function catalogJoinerCheck(consul, filters, signal) {
    return async (node) => {
        const { value } = await consul.getJson(`catalog/node/${encodeURIComponent(node)}`, 'node:read', { signal });
        if (!value?.Node)
            return false;
        const { value: checks } = await consul.getJson(`health/node/${encodeURIComponent(node)}`, 'node:read', { signal });
        const serf = checks.find((c) => c.CheckID === 'serfHealth');
        const services = Object.values(value.Services ?? {}).map((s) => ({
            name: s.Service,
            tags: s.Tags ?? []
        }));
        return matchesFilters({ node, services }, filters) && serf?.Status === 'passing';
    };
}
/**
 * Wait until the fleet has a verdict. Resolves when it has one, at the deadline
 * (after marking silent nodes) or when `signal` aborts; throws on a permanent
 * Consul error (e.g. a 403).
 */
async function awaitFleet(options) {
    const { fleet } = options;
    // `stop` ends both loops: at the deadline, at a verdict, or when one fails.
    const stop = new AbortController();
    const signals = [stop.signal, ...(options.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    const deadlineTimer = setTimeout(() => stop.abort(), Math.max(0, options.deadline - Date.now()));
    const finish = () => stop.abort();
    const guard = async (loop) => {
        try {
            await loop(options, signal, finish);
        }
        catch (error) {
            if (signal.aborted)
                return; // the deadline or a cancel interrupted a read
            finish();
            throw error;
        }
    };
    try {
        await Promise.all([guard(watchResults$1), guard(watchHealth)]);
    }
    finally {
        clearTimeout(deadlineTimer);
    }
    if (!fleet.verdict().done && Date.now() >= options.deadline && !options.signal?.aborted)
        fleet.expire();
}
/** How long a blocking read may wait: until the deadline, within [1 s, MAX_WAIT_MS]. */
function blockingWaitMs(deadline) {
    return Math.max(1000, Math.min(MAX_WAIT_MS, deadline - Date.now()));
}
/** The results reports, read with a blocking query on results/ paced by `resultsPacing`. */
async function watchResults$1(options, signal, finish) {
    const { consul, fleet } = options;
    const pacing = resultsPacing(fleet, options.readsPerSecond ?? 2);
    let index = BigInt(options.baselineIndex);
    while (!signal.aborted) {
        await pacing.beforeRead(signal);
        if (signal.aborted)
            return;
        const read = await consul.kvGet(options.resultsPrefix, {
            recurse: true,
            index,
            waitMs: blockingWaitMs(options.deadline),
            signal,
            retryUntil: options.deadline,
            // Entries at or below `index` were applied by an earlier read (or predate
            // the event): only the ones written since are decoded and applied.
            changedAfter: index
        });
        const entries = read.entries.map((e) => ({
            node: e.key.slice(options.resultsPrefix.length),
            value: e.value,
            modifyIndex: e.modifyIndex
        }));
        await screenStrangers(options, entries);
        const changed = fleet.applyResults(entries, Date.now() - options.firedAt);
        if (changed.length)
            options.onChange?.(changed);
        if (fleet.verdict().done)
            return finish();
        index = nextIndex(index, read.index);
    }
}
/**
 * The results loop's pacing (PACING): the bucket is the hard limit; the spacing
 * between reads follows how fast the fleet reports.
 */
function resultsPacing(fleet, rate) {
    const bucket = tokenBucket(rate, PACING.bankSeconds * rate, Date.now, PACING.initialReads);
    let lastReadAt = -Infinity;
    /** when a read first brought a report back (a blocking read returns at the first change) */
    let firstReportAt;
    return {
        /** Wait until the next read may go (or `signal` aborts); the read is counted as sent. */
        async beforeRead(signal) {
            const { pending, total } = fleet.counts();
            if (firstReportAt === undefined && pending < total)
                firstReportAt = Date.now();
            const spacing = readSpacingMs(rate, {
                pending,
                reported: total - pending,
                reportingMs: firstReportAt === undefined ? 0 : Date.now() - firstReportAt
            });
            await sleep(lastReadAt + spacing - Date.now(), signal);
            await sleep(bucket.take(), signal);
            lastReadAt = Date.now();
        }
    };
}
/** A fresh result from a node nobody knows: a late joiner, or a forgery that never counts. */
async function screenStrangers(options, entries) {
    const { fleet } = options;
    for (const entry of entries) {
        if (fleet.isKnown(entry.node) || !fleet.isFresh(entry))
            continue;
        const admitted = options.admitJoiner ? await options.admitJoiner(entry.node) : false;
        if (!admitted)
            fleet.markUntargeted(entry.node);
    }
}
/** Lost nodes: a blocking query on critical checks, whose serfHealth ones mark a node lost. */
async function watchHealth(options, signal, finish) {
    const { consul, fleet } = options;
    let index = 0n;
    const bucket = tokenBucket(1, 2);
    while (!signal.aborted) {
        await sleep(bucket.take(), signal);
        if (signal.aborted)
            return;
        const { value: checks, index: answered } = await consul.getJson('health/state/critical', 'node:read', { signal, index, waitMs: blockingWaitMs(options.deadline) });
        const lost = checks
            .filter((c) => c.CheckID === 'serfHealth')
            .map((c) => fleet.markLost(c.Node))
            .filter((s) => s !== undefined);
        if (lost.length)
            options.onChange?.(lost);
        if (fleet.verdict().done)
            return finish();
        index = nextIndex(index, answered);
    }
}

/**
 * Whether the bake gate watches this check (contract 8): the targeted
 * service's checks with a service filter (by ServiceName, and ServiceTags with
 * a tag filter); without one, every check of the node but `serfHealth` (a node
 * whose serfHealth fails is lost, contract 6, not a gate failure).
 */
function gateWatches(check, filters) {
    if (check.CheckID === 'serfHealth')
        return false;
    if (filters.service === undefined)
        return true;
    const name = check.ServiceName ?? '';
    if (name === '' || !filterMatcher(filters.service)(name))
        return false;
    return filters.tag === undefined || (check.ServiceTags ?? []).some(filterMatcher(filters.tag));
}
/**
 * The watched checks of `nodes` that are critical (a warning does not fail the
 * gate): contract 8 "a check seen critical fails the wave at once, naming node
 * and check". In the order of `checks`.
 */
function gateFailures(nodes, checks, filters) {
    const wave = new Set(nodes);
    return checks
        .filter((c) => wave.has(c.Node) && c.Status === 'critical' && gateWatches(c, filters))
        .map((c) => ({
        node: c.Node,
        checkId: c.CheckID,
        name: c.Name ?? c.CheckID,
        output: c.Output ?? ''
    }));
}

/**
 * Watch the wave's checks for `bakeMs`. Resolves with the critical checks that
 * fail the gate (empty: it passed). Throws on a permanent Consul error and when
 * `signal` aborts.
 */
async function bake(opts) {
    const until = Date.now() + opts.bakeMs;
    let index = 0n;
    for (;;) {
        const remaining = until - Date.now();
        const { value, index: answered } = await opts.consul.getJson('health/state/critical', 'node:read and service:read', {
            signal: opts.signal,
            // The first read answers at once (the checks as they are now); then block.
            index: index > 0n ? index : undefined,
            waitMs: Math.max(1, remaining),
            retryUntil: until + 30_000
        });
        opts.signal?.throwIfAborted();
        const failures = gateFailures(opts.nodes, value, opts.filters);
        if (failures.length > 0)
            return failures;
        if (Date.now() >= until)
            return [];
        index = nextIndex(index, answered);
    }
}

function selectTargets(catalog, filters) {
    const targets = [];
    const filteredOut = [];
    const notLive = [];
    for (const node of catalog) {
        if (!matchesFilters(node, filters))
            filteredOut.push(node.node);
        else if (node.serfHealth !== 'passing')
            notLive.push(node.node);
        else
            targets.push(node.node);
    }
    return { targets: targets.sort(), filteredOut: filteredOut.sort(), notLive: notLive.sort() };
}
/** Contract 8: nodes whose targeted service carries the tag `canary` (passed to orderTargets). */
function canaryNodes(nodes, filters) {
    return nodes
        .filter((node) => targetedServices(node, filters).some((s) => s.tags.includes('canary')))
        .map((node) => node.node);
}

/**
 * The datacenters to roll out to, in order, from the `datacenters` selection and
 * what `GET /v1/catalog/datacenters` listed (ConsulClient.datacentersList: the
 * agent's own first, the others by round-trip time). Call it in the plan stage,
 * before anything is written: a named datacenter Consul does not know fails the
 * run there, in one line naming every such datacenter (the `datacenters` input),
 * rather than later as Consul's "No path to datacenter".
 *
 * - `agent` (input unset): the agent's own, `listed[0]` (the caller may skip
 *   listing altogether and send no `?dc`, as a one-datacenter run always did);
 * - `all`: every listed datacenter, in Consul's order;
 * - `named`: the names in the order given.
 */
function resolveDatacenters(selection, listed) {
    if (selection.kind === 'agent')
        return listed.slice(0, 1);
    if (listed.length === 0)
        throw new InputError('datacenters', 'cannot be resolved: Consul lists no datacenters (GET /v1/catalog/datacenters answered [])');
    if (selection.kind === 'all')
        return [...listed];
    const unknown = selection.names.filter((name) => !listed.includes(name));
    if (unknown.length > 0)
        throw new InputError('datacenters', `names ${unknown.length === 1 ? 'a datacenter' : 'datacenters'} Consul does not know: ${unknown.map((name) => quote(name)).join(', ')} (it knows ${listed.join(', ')})`);
    return [...selection.names];
}

/** Failed nodes' logs are read 8 at a time, at most this many. */
const MAX_LOGS_READ = 200;
function consulBackend(consul, config, log) {
    const keys = kvKeys(config.kvPrefix);
    return {
        at: (datacenter) => consulBackend(consul.inDatacenter(datacenter), config, log),
        lockName: keys.lock,
        datacenters: (selection, signal) => listDatacenters(consul, selection, signal),
        targets: (signal, retryUntil) => readTargets$2(consul, config.filters, signal, retryUntil),
        lastResults: (signal) => readLastResults$1(consul, keys.results, signal),
        releasePointer: (signal) => readPointer(consul, config.kvPrefix, signal),
        history: (deployId, signal) => readHistory$2(consul, keys.history(deployId), signal),
        recentDeployIds: (count = 5) => readRecentDeployIds$1(consul, config.kvPrefix, count),
        send: (request) => sendEvents(consul, config, log, request),
        movePointer: (request) => moveLatestOnly(consul, { ...config, deployId: request.deployId }, { manifestUrl: request.manifestUrl, history: request.history }, log, {
            signal: request.signal,
            datacenter: consul.datacenter,
            onJournal: toSeam(request.onJournal)
        }),
        watch: (request) => watchResults(consul, config.filters, keys.results, request),
        health: (nodes, bakeMs, signal) => bake({ consul, nodes, filters: config.filters, bakeMs, signal }),
        async writeHistory(record, signal) {
            await consul.kvPut(keys.history(record.deploy_id), JSON.stringify(record), { signal });
        },
        async recordRollout(record, signal) {
            if (record === undefined)
                await consul.kvDelete(keys.rollout);
            else
                await consul.kvPut(keys.rollout, JSON.stringify(record), { signal });
        },
        lock: (request) => takeLock$1(consul, keys.lock, request),
        lockState: (signal) => readLock(consul, keys.lock, signal),
        readLogs: (nodes) => readLogs$1(consul, keys, nodes)
    };
}
/** The datacenters a run goes through; [undefined]: the agent's own, no `?dc`. */
async function listDatacenters(consul, selection, signal) {
    if (selection.kind === 'agent')
        return [undefined];
    return resolveDatacenters(selection, await consul.datacentersList(signal));
}
/** The live nodes the filters select, and the canaries among all that match. */
async function readTargets$2(consul, filters, signal, retryUntil) {
    const catalog = await readCatalog(consul, filters, signal, retryUntil);
    const selection = selectTargets(catalog, filters);
    const matching = new Set([...selection.targets, ...selection.notLive]);
    return {
        selection,
        canaries: canaryNodes(catalog.filter((node) => matching.has(node.node)), filters),
        known: catalog.length
    };
}
/** Each node's last readable result under results/, keyed by node name. */
async function readLastResults$1(consul, resultsPrefix, signal) {
    const read = await consul.kvGet(resultsPrefix, { recurse: true, signal });
    const byNode = new Map();
    for (const entry of read.entries) {
        const result = parseResult(entry.value);
        if (typeof result !== 'string')
            byNode.set(entry.key.slice(resultsPrefix.length), result);
    }
    return byNode;
}
/** The history record stored at `where` (history/<deploy-id>). */
async function readHistory$2(consul, where, signal) {
    const value = (await consul.kvGet(where, { signal })).entries[0]?.value;
    if (!value)
        return { found: false, where };
    try {
        return { found: true, where, record: JSON.parse(value) };
    }
    catch {
        return { found: true, where, unreadable: true };
    }
}
/** The newest `count` deploy IDs under history/ (IDs sort by time). */
async function readRecentDeployIds$1(consul, kvPrefix, count) {
    const prefix = `${kvPrefix}/history/`;
    const ids = await consul.kvKeys(prefix);
    return ids
        .map((k) => k.slice(prefix.length))
        .filter((id) => id !== '' && !id.includes('/'))
        .sort()
        .reverse()
        .slice(0, count);
}
/** Follow results/ and serfHealth until a verdict; late joiners are checked in the catalog. */
async function watchResults(consul, filters, resultsPrefix, request) {
    const joinerCheck = catalogJoinerCheck(consul, filters, request.signal);
    await awaitFleet({
        consul,
        fleet: request.fleet,
        resultsPrefix,
        firedAt: request.sent.firedAt,
        deadline: request.deadline,
        baselineIndex: request.sent.baseline,
        signal: request.signal,
        admitJoiner: request.admitJoiners ? (node) => joinerCheck(node).catch(() => false) : undefined,
        onChange: request.onChange
    });
}
/** Failed nodes' logs, 8 reads at a time, at most MAX_LOGS_READ nodes. */
async function readLogs$1(consul, keys, nodes) {
    const excerpts = [];
    const failed = nodes.slice(0, MAX_LOGS_READ);
    for (let i = 0; i < failed.length; i += 8) {
        const batch = failed.slice(i, i + 8);
        const texts = await Promise.all(batch.map((node) => readLog(consul, keys.log(node))));
        batch.forEach((node, j) => {
            const text = texts[j];
            if (text !== undefined)
                excerpts.push({ node, text });
        });
    }
    return excerpts;
}
/** The seam's journal callback, fed from Consul's announcement journal. */
function toSeam(onJournal) {
    return onJournal && ((journal) => onJournal(announcementProgress(journal)));
}
/**
 * A step's events, one per filter set (a wave too large for one node filter is
 * several): latest moves with the first when the step moves it; the later ones
 * read nothing again (their results count from the first event's baseline).
 * Resolves with the first event's mark; `onFired` hears of each.
 */
async function sendEvents(consul, config, log, request) {
    // The one-wave default keeps the configured filters; waves name their nodes.
    const groups = request.byFilters ? undefined : nodeGroups(request.nodes);
    const filterSets = groups
        ? nodeFilters(request.nodes).map((node) => ({ node }))
        : [config.filters];
    const sending = { ...config, deployId: request.deployId };
    let first;
    let last;
    for (const [n, filters] of filterSets.entries()) {
        const moves = request.pointer !== undefined && n === 0;
        last = await announce(consul, sending, {
            manifestUrl: request.pointer?.manifestUrl ?? request.eventUrl,
            eventUrl: request.eventUrl,
            history: moves ? request.pointer?.history : undefined
        }, log, {
            signal: request.signal,
            targets: request.nodes,
            filters,
            movesLatest: moves,
            continuing: first &&
                last && { baselineIndex: first.baselineIndex, seenAfter: last.seenAfter },
            datacenter: consul.datacenter,
            onJournal: moves ? toSeam(request.onJournal) : undefined
        });
        first ??= last;
        request.onFired?.({
            firedAt: last.firedAt,
            baseline: last.baselineIndex,
            ...(groups ? { nodes: groups[n] } : {})
        });
    }
    return first && { firedAt: first.firedAt, baseline: first.baselineIndex };
}
/**
 * The deploy lock (contract 5, 10); its session hangs off a server of the lock's
 * datacenter when that is not the agent's own.
 */
async function takeLock$1(consul, key, request) {
    const remote = consul.datacenter !== undefined &&
        consul.datacenter !== (await consul.agentDatacenter(request.signal));
    const node = remote ? (await consul.serverNodes(request.signal))[0] : undefined;
    return acquireLock(consul, { key, node, ...request });
}
/** A failed node's stretcher log (at most 64 KiB, contract 5); '' when none is stored. */
async function readLog(consul, key) {
    const read = await consul.kvGet(key).catch(() => undefined);
    return read === undefined ? undefined : (read.entries[0]?.value ?? '');
}
/** What `latest` and `deploy-id` name now, and the history record of that ID. */
async function readPointer(consul, kvPrefix, signal) {
    const keys = kvKeys(kvPrefix);
    const latest = (await consul.kvGet(keys.latest, { signal })).entries[0]?.value ?? undefined;
    const deployId = (await consul.kvGet(keys.deployId, { signal })).entries[0]?.value ?? undefined;
    let history;
    if (deployId) {
        const record = (await consul.kvGet(keys.history(deployId), { signal })).entries[0]?.value;
        try {
            const parsed = record ? JSON.parse(record) : undefined;
            if (parsed && typeof parsed === 'object')
                history = parsed;
        }
        catch {
            history = undefined;
        }
    }
    return { manifestUrl: latest, deployId, history };
}
/** Who holds the deploy lock, read without taking it (no session is created). */
async function readLock(consul, key, signal) {
    const entry = (await consul.kvGet(key, { signal })).entries[0];
    if (!entry?.session)
        return { held: false };
    let holder;
    try {
        const parsed = entry.value ? JSON.parse(entry.value) : undefined;
        if (parsed && typeof parsed === 'object')
            holder = parsed;
    }
    catch {
        holder = undefined;
    }
    // The session's node and name say more when the holder wrote nothing readable;
    // a token without session:read only loses that detail.
    const info = await consul
        .getJson(`session/info/${encodeURIComponent(entry.session)}`, 'session:read', { signal })
        .then((r) => r.value?.[0])
        .catch(() => undefined);
    return { held: true, session: entry.session, holder, node: info?.Node, name: info?.Name };
}

// Serf refuses a query over 1 KB encoded, its FilterNodes included
// ("query exceeds limit of 1024 bytes"; research/serf.md): a wave's node list
// is cut into queries that each fit. The encoding is msgpack of Serf's
// messageQuery; measured against serf 0.9.4 its fixed part (field names, clocks,
// address, timeout) takes 112-119 bytes besides the source node's name.
const QUERY_LIMIT = 1024;
/** the fixed part of an encoded query, with a margin over the measured 119 bytes */
const QUERY_OVERHEAD = 128;
const utf8$1 = (s) => Buffer.byteLength(s, 'utf8');
/** A msgpack string's header: fixstr below 32 bytes, str8 below 256, str16 above. */
const strBytes = (s) => {
    const n = utf8$1(s);
    return n + (n < 32 ? 1 : n < 256 ? 2 : 3);
};
/** Bytes a query takes without its FilterNodes. */
function queryBaseBytes(name, payload, sourceNode) {
    return QUERY_OVERHEAD + utf8$1(name) + utf8$1(payload) + utf8$1(sourceNode);
}
/**
 * The nodes in lists that each fit one query of `baseBytes` (queryBaseBytes);
 * throws naming the node when even one alone does not.
 */
function nodeChunks(nodes, baseBytes) {
    const chunks = [];
    let chunk = [];
    let size = baseBytes;
    for (const node of nodes) {
        const cost = strBytes(node);
        if (baseBytes + cost > QUERY_LIMIT)
            throw new Error(`a Serf query to node ${JSON.stringify(node.slice(0, 80))} would exceed Serf's ${QUERY_LIMIT}-byte query limit (name, payload and node name ${baseBytes - QUERY_OVERHEAD + cost} bytes): shorten the manifest URL (s3-url prefix, app name) or the node name`);
        if (size + cost > QUERY_LIMIT && chunk.length > 0) {
            chunks.push(chunk);
            chunk = [];
            size = baseBytes;
        }
        chunk.push(node);
        size += cost;
    }
    if (chunk.length > 0)
        chunks.push(chunk);
    return chunks;
}

/**
 * How long a failed node has to answer the log query. Its agent runs handlers
 * one at a time: it answers once the failed deploy's handler has exited, which
 * under load took over 5 s. The call ends as soon as every node answered.
 */
const LOG_QUERY_MS = 15_000;
/** Serf drops an answer over 1 KB: what is shown is at most this. */
const LOG_MAX_BYTES = 1024;
/** Each node's answer ('' when it gave none); a silent node's handler is named in the log. */
async function readLogs(client, app, sourceNode, nodes, log) {
    if (nodes.length === 0)
        return [];
    const name = `stretcher-${app}-log`;
    const chunks = nodeChunks(nodes, queryBaseBytes(name, '', await sourceNode()));
    const answers = new Map();
    await Promise.all(chunks.map((chunk) => askChunk(client, name, chunk, answers, log)));
    const silent = nodes.filter((n) => !answers.has(n));
    if (silent.length > 0)
        log.info(`no answer to the log query ${name} from ${silent.join(', ')} (the node needs -event-handler "query:${name}=tail -c 900 <its stretcher log>")`);
    return nodes.map((node) => ({ node, text: answers.get(node) ?? '' }));
}
/** One query to a chunk of nodes; their answers go into `answers`. A failed query is a warning. */
async function askChunk(client, name, chunk, answers, log) {
    const result = await client
        .query({ name, filterNodes: chunk, timeoutMs: LOG_QUERY_MS })
        .catch((error) => {
        log.warning(`the log query ${name} failed: ${error.message}`);
        return undefined;
    });
    for (const r of result?.responses ?? [])
        answers.set(r.from, new TextDecoder().decode(r.payload.subarray(0, LOG_MAX_BYTES)));
}

// A node's result on Serf (contract 13), the one place its format lives: the
// tag `stretcher-<app>` = `<deploy-id>:<success|failure>:<clock>[:<phase>]`.
// The node's reporting commands write it (publish/manifest/node-report.ts) and
// the Serf backend reads it (serf/). Pure.
//
// <clock> says when the node took the deploy, on Serf's Lamport clocks (Serf
// keeps one for user events and one for queries):
// - `N`: a user event delivered it, `$SERF_USER_LTIME`;
// - `qN`: a query delivered it, `$SERF_QUERY_LTIME`;
// - `NqM`: nothing delivered it (a node booting from `latest`, or a run by
//   hand): its agent's event clock N and query clock M when it reported. A
//   joining agent takes the cluster's clocks in its first full sync, so a node
//   that joined after a send and then booted the release reports clocks at or
//   above that send's. (Before this form, such a report wrote `0`.)
// <phase> is there with `layout: releases` (contract 9) only.
/** The tag an app's result is in. */
function serfResultTagName(app) {
    return `stretcher-${app}`;
}
// Deploy IDs are [0-9A-Za-z._-] (contract 2a): no colon.
const TAG = /^([0-9A-Za-z._-]+):(success|failure):(?:(\d{1,15})q(\d{1,15})|q(\d{1,15})|(\d{1,15}))(?::(prepare|switch))?$/;
/** A tag as a node wrote it, or why it is not a result. */
function parseSerfResult(value) {
    if (value === undefined || value === '')
        return 'no result tag';
    const m = TAG.exec(value.trim());
    if (!m)
        return 'result tag is not <deploy-id>:<success|failure>:<clock>[:<phase>]';
    const [, deployId = '', status, bootEvent, bootQuery, query, event, phase] = m;
    const clock = bootEvent !== undefined
        ? { kind: 'boot', event: Number(bootEvent), query: Number(bootQuery) }
        : query !== undefined
            ? { kind: 'query', time: Number(query) }
            : { kind: 'event', time: Number(event) };
    return {
        deployId,
        status: status,
        clock,
        ...(phase ? { phase: phase } : {})
    };
}
/**
 * The tag's value with `clock` as given: formatSerfClock's text, or a shell
 * expansion that the reporting command splices in on the node.
 */
function serfResultValue(deployId, status, clock, phase) {
    return `${deployId}:${status}:${clock}${phase ? `:${phase}` : ''}`;
}
/**
 * Whether a result's clock answers a send's: on the same clock, at or after
 * the send's own (a boot report's clock of the send's kind). An older deploy
 * of the same ID (a rollback to it) has an earlier clock and does not count.
 */
function answersClock(result, sent) {
    if (result.kind === 'boot')
        return (sent.kind === 'event' ? result.event : result.query) >= sent.time;
    return result.kind === sent.kind && result.time >= sent.time;
}

/** How often the bake gate reads member status. */
const HEALTH_POLL_MS = 250;
/** `members`, read again every 500 ms until `retryUntil` while the agent is briefly away. */
async function readMembers(client, signal, retryUntil) {
    for (;;) {
        try {
            return await client.members();
        }
        catch (error) {
            if (signal?.aborted || retryUntil === undefined || Date.now() >= retryUntil)
                throw error;
            await sleep(Math.min(500, retryUntil - Date.now()), signal);
        }
    }
}
async function readTargets$1(client, filters, signal, retryUntil) {
    return selectMembers(await readMembers(client, signal, retryUntil), filters);
}
/** Each member's last readable result, by member name. */
async function readLastResults(client, app, signal) {
    const byNode = new Map();
    for (const member of await readMembers(client, signal)) {
        const tag = parseSerfResult(member.tags[serfResultTagName(app)]);
        if (typeof tag === 'string')
            continue;
        byNode.set(member.name, {
            deployId: tag.deployId,
            status: tag.status,
            ...(tag.phase ? { phase: tag.phase } : {})
        });
    }
    return byNode;
}
/**
 * The bake gate: reads member status every HEALTH_POLL_MS for `bakeMs`;
 * resolves with the watched nodes gone (failed, left or no longer a member) at
 * the first read that finds any, or none when the time passed without.
 */
async function watchMemberStatus(client, nodes, bakeMs, signal) {
    const until = Date.now() + bakeMs;
    const watched = new Set(nodes);
    for (;;) {
        signal?.throwIfAborted();
        const failures = goneNodes(watched, await readMembers(client, signal));
        if (failures.length > 0)
            return failures;
        if (Date.now() >= until)
            return [];
        await sleep(Math.min(HEALTH_POLL_MS, until - Date.now()), signal);
    }
}
function goneNodes(watched, members) {
    const byName = new Map(members.map((m) => [m.name, m]));
    const failures = [];
    for (const node of watched) {
        const status = byName.get(node)?.status ?? 'gone from the members';
        if (status === 'gone from the members' || isGone(status))
            failures.push({ node, checkId: 'serf:member', name: 'member status', output: status });
    }
    return failures;
}

/** The S3 keys of an app's objects (contract 13). */
function serfObjectKeys(s3Prefix, app) {
    const base = [s3Prefix.replace(/^\/+|\/+$/g, ''), app].filter((p) => p !== '').join('/');
    return {
        latest: `${base}/latest`,
        lock: `${base}/lock`,
        rollout: `${base}/rollout`,
        historyPrefix: `${base}/history/`,
        history: (deployId) => `${base}/history/${deployId}.json`
    };
}
/** An object's address, for messages. */
const s3Url = (store, key) => `s3://${store.bucket}/${key}`;
/** A manifest URL's deploy ID: its file name without `.yml`. */
function deployIdOfManifest(url) {
    const name = url.trim().split('/').pop() ?? '';
    return name.endsWith('.yml') && name.length > 4 ? name.slice(0, -4) : undefined;
}
function parseJson(text) {
    if (text === undefined)
        return undefined;
    try {
        const parsed = JSON.parse(text);
        return parsed && typeof parsed === 'object' ? parsed : 'unreadable';
    }
    catch {
        return 'unreadable';
    }
}
/** What `latest` names, with the history record of its deploy ID when one is readable. */
async function readReleasePointer(store, keys) {
    const manifestUrl = (await store.readText(keys.latest))?.trim().split('\n')[0];
    if (!manifestUrl)
        return {};
    const deployId = deployIdOfManifest(manifestUrl);
    if (deployId === undefined)
        return { manifestUrl };
    const record = parseJson(await store.readText(keys.history(deployId)));
    return {
        manifestUrl,
        deployId,
        ...(record && record !== 'unreadable' ? { history: record } : {})
    };
}
async function readHistory$1(store, keys, deployId) {
    const where = s3Url(store, keys.history(deployId));
    const record = parseJson(await store.readText(keys.history(deployId)));
    if (record === undefined)
        return { found: false, where };
    if (record === 'unreadable')
        return { found: true, where, unreadable: true };
    return { found: true, where, record };
}
/** The newest `count` deploy IDs under history/ (IDs sort by time). */
async function readRecentDeployIds(store, keys, count) {
    return (await store.list(keys.historyPrefix))
        .map((k) => k.slice(keys.historyPrefix.length))
        .filter((name) => name.endsWith('.json') && !name.includes('/'))
        .map((name) => name.slice(0, -'.json'.length))
        .filter((id) => id !== '')
        .sort()
        .reverse()
        .slice(0, count);
}
async function writeHistory(store, keys, record) {
    await store.writeText(keys.history(record.deploy_id), JSON.stringify(record));
}
/** Writes the rollout record, or deletes it (undefined). */
async function recordRollout(store, keys, record) {
    if (record === undefined)
        await store.remove(keys.rollout);
    else
        await store.writeText(keys.rollout, JSON.stringify(record));
}

/** Never before this long after the event: a deploy takes seconds. */
const NUDGE_MIN_MS = 8000;
/** Nor before this many times the median time the reported nodes took (a slow fleet). */
const NUDGE_MEDIAN_FACTOR = 3;
/** How many times the silent nodes are sent the query, the second after twice the wait. */
const MAX_NUDGES = 2;
/**
 * Milliseconds after the event at which the nodes still silent are sent the
 * query for the `count`-th time (0-based), or undefined while no node
 * reported, or fewer than half did and the wait (`waitMs`, event to deadline)
 * is not known.
 */
function nudgeDueMs(fleet, count, waitMs) {
    const nodes = fleet.list();
    const reported = nodes
        .map((s) => s.noticedMs)
        .filter((ms) => ms !== undefined)
        .sort((a, b) => a - b);
    if (reported.length === 0)
        return undefined;
    const median = reported[Math.floor(reported.length / 2)];
    const due = Math.max(NUDGE_MIN_MS, NUDGE_MEDIAN_FACTOR * median);
    if (reported.length * 2 >= nodes.length)
        return due * (count + 1);
    return waitMs === undefined ? undefined : Math.max(due, waitMs / 2) * (count + 1);
}

/**
 * A send's mark as one number (Sent.baseline): the clock's time, doubled, plus
 * one for the query clock. Marks of one kind keep their order.
 */
function encodeMark(clock) {
    return clock.time * 2 + (clock.kind === 'query' ? 1 : 0);
}
function decodeMark(mark) {
    const time = Math.floor(mark / 2);
    return { kind: mark % 2 === 1 ? 'query' : 'event', time };
}
/**
 * Whether a result answers the send that left `mark`: written for an event or
 * query on the same clock, at or after the send's own, or a boot report whose
 * clock of that kind is (the node joined after the send and booted `latest`).
 * An older deploy of the same ID (a rollback to it) has an earlier clock and
 * does not count.
 */
function answersMark(result, mark) {
    return answersClock(result, mark);
}

/** How often `members` is read while nodes are pending (research/serf.md: tags spread in ~1 s). */
const POLL_MS = 150;
/** A query not acked within this is sent again to the nodes that did not ack. */
const ACK_MS = 3000;
/** Errors of `members` tolerated for this long in a row before the wait fails. */
const READ_FAILURE_MS = 10_000;
/**
 * The members' tags as results/ entries for FleetState: a tag that answers the
 * mark gets an index above the fleet's baseline (it counts, or is noted when it
 * names another deploy), any other one the baseline itself (an older result).
 */
function tagEntries(members, app, mark, baselineIndex, 
/** nodes sent the deploy again as a query: that query's clock counts for them too */
nodeMarks) {
    const tagName = serfResultTagName(app);
    const entries = [];
    for (const member of members) {
        const tag = parseSerfResult(member.tags[tagName]);
        if (typeof tag === 'string')
            continue;
        const again = nodeMarks?.get(member.name);
        const answers = answersMark(tag.clock, mark) || (again !== undefined && answersMark(tag.clock, again));
        entries.push({
            node: member.name,
            value: JSON.stringify({
                deploy_id: tag.deployId,
                status: tag.status,
                ...(tag.phase ? { phase: tag.phase } : {})
            }),
            modifyIndex: answers ? baselineIndex + 1 : baselineIndex
        });
    }
    return entries;
}
/** Feed one `members` read to the fleet; returns the nodes whose state changed. */
function applyMembers(opts, members, nodeMarks) {
    const { fleet } = opts;
    const byName = new Map(members.map((m) => [m.name, m]));
    const entries = tagEntries(members, opts.app, opts.mark, fleet.baselineIndex, nodeMarks);
    // A fresh result from a member nobody targeted: a joiner, or not this run's business.
    for (const entry of entries) {
        if (fleet.isKnown(entry.node) || !fleet.isFresh(entry))
            continue;
        const member = byName.get(entry.node);
        const admitted = member !== undefined && (opts.admitJoiner?.(member) ?? false);
        if (!admitted)
            fleet.markUntargeted(entry.node);
    }
    const changed = fleet.applyResults(entries, Date.now() - opts.firedAt);
    // Results first: a node that reported and then died keeps its result.
    for (const node of fleet.nodesByStatus('pending')) {
        const member = byName.get(node);
        if (member === undefined || isGone(member.status)) {
            const lost = fleet.markLost(node);
            if (lost)
                changed.push(lost);
        }
    }
    return changed;
}
/**
 * Wait until the fleet has a verdict. Resolves when it has one, at the deadline
 * (after marking silent nodes) or when `signal` aborts; throws when the agent
 * cannot be read for a while.
 */
async function awaitTags(opts) {
    const wait = new TagWait(opts);
    try {
        await Promise.all([
            wait.watchTags().catch((error) => {
                wait.stop.abort();
                throw error;
            }),
            opts.resend ? wait.resendUnacked(opts.resend) : undefined,
            opts.nudge ? wait.nudgeSilent(opts.nudge) : undefined
        ]);
    }
    finally {
        wait.close();
    }
    if (!opts.fleet.verdict().done &&
        (wait.deadlinePassed || Date.now() >= opts.deadline) &&
        !opts.signal?.aborted)
        opts.fleet.expire();
}
/**
 * One wait's state: `stop` ends it (a verdict, the deadline, a failed read),
 * `signal` is that or the caller's, and the resends go only to nodes alive at
 * the last read, after the first.
 */
class TagWait {
    stop = new AbortController();
    /** a timer may fire a moment before Date.now() reaches the deadline: it says when it passed */
    deadlinePassed = false;
    opts;
    signal;
    deadlineTimer;
    /** the members alive at the last read */
    alive = new Set();
    /** nodes nudged with a query, and its clock */
    nodeMarks = new Map();
    firstRead = () => { };
    /** resolves at the first read of `members` */
    read;
    /** resolves when the wait ends */
    ended;
    constructor(opts) {
        this.opts = opts;
        const signal = AbortSignal.any([this.stop.signal, ...(opts.signal ? [opts.signal] : [])]);
        this.signal = signal;
        this.deadlineTimer = setTimeout(() => {
            this.deadlinePassed = true;
            this.stop.abort();
        }, Math.max(0, opts.deadline - Date.now()));
        this.read = new Promise((resolve) => (this.firstRead = resolve));
        this.ended = new Promise((resolve) => {
            if (signal.aborted)
                resolve();
            else
                signal.addEventListener('abort', () => resolve(), { once: true });
        });
    }
    close() {
        clearTimeout(this.deadlineTimer);
        this.stop.abort();
    }
    /** Reads `members` every poll until a verdict or the end; read errors pass for READ_FAILURE_MS. */
    async watchTags() {
        let lastRead = Date.now();
        while (!this.signal.aborted) {
            let members;
            try {
                members = await this.opts.client.members();
                lastRead = Date.now();
            }
            catch (error) {
                if (this.signal.aborted)
                    return;
                if (Date.now() - lastRead > READ_FAILURE_MS)
                    throw error;
                this.opts.log.debug(`reading Serf members failed, trying again: ${error.message}`);
                await sleep(500, this.signal);
                continue;
            }
            if (this.signal.aborted)
                return;
            if (this.apply(members))
                return this.stop.abort();
            await sleep(this.opts.pollMs ?? POLL_MS, this.signal);
        }
    }
    /** Feeds one read to the fleet; true when the fleet has its verdict. */
    apply(members) {
        this.alive = new Set(members.filter((m) => m.status === 'alive').map((m) => m.name));
        this.firstRead();
        const changed = applyMembers(this.opts, members, this.nodeMarks);
        if (changed.length)
            this.opts.onChange?.(changed);
        return this.opts.fleet.verdict().done;
    }
    /** From the first read on, sends the query again to unacked nodes alive and pending, every ACK_MS. */
    async resendUnacked(resend) {
        await Promise.race([this.read, this.ended]);
        while (!this.signal.aborted && resend.unacked.size > 0) {
            const due = [...resend.unacked].filter((node) => this.alive.has(node) && this.opts.fleet.nodesByStatus('pending').includes(node));
            if (due.length > 0)
                await this.resendTo(resend, due);
            else
                await sleep(ACK_MS, this.signal);
        }
    }
    /**
     * After an event: once most nodes reported, or one did and half the wait is
     * gone (nudgeDueMs), sends the deploy as
     * a query to the nodes alive and still pending, at most MAX_NUDGES times.
     */
    async nudgeSilent(nudge) {
        await Promise.race([this.read, this.ended]);
        for (let count = 0; count < MAX_NUDGES && !this.signal.aborted;) {
            const due = nudgeDueMs(this.opts.fleet, count, this.opts.deadline - this.opts.firedAt);
            const elapsed = Date.now() - this.opts.firedAt;
            if (due === undefined || elapsed < due) {
                await sleep(due === undefined ? 500 : Math.min(500, due - elapsed), this.signal);
                continue;
            }
            count++;
            const silent = this.opts.fleet.nodesByStatus('pending').filter((n) => this.alive.has(n));
            if (silent.length === 0)
                continue;
            const nodes = this.opts.fleet.list();
            const reported = nodes.filter((n) => n.noticedMs !== undefined).length;
            this.opts.log.info(`${silent.length} node(s) silent ${Math.round(elapsed / 1000)} s after the event while ${reported} of ${nodes.length} reported (gossip can miss a node): sending them the deploy as a query: ${silent.slice(0, 10).join(', ')}${silent.length > 10 ? ', …' : ''}`);
            const clock = await nudge.send(silent).catch((error) => {
                this.opts.log.debug(`sending the query to silent nodes failed: ${error.message}`);
                return undefined;
            });
            if (clock)
                for (const node of silent)
                    this.nodeMarks.set(node, clock);
        }
    }
    /** One resend; the nodes that ack it leave `resend.unacked`. */
    async resendTo(resend, due) {
        this.opts.log.info(`sending the query again to ${due.length} node(s) that did not ack it within ${ACK_MS / 1000} s: ${due.slice(0, 10).join(', ')}${due.length > 10 ? ', …' : ''}`);
        const acked = await Promise.race([
            resend.send(due).catch((error) => {
                this.opts.log.debug(`sending the query again failed: ${error.message}`);
                return [];
            }),
            this.ended.then(() => [])
        ]);
        for (const node of acked)
            resend.unacked.delete(node);
    }
}

/** Serf's cap on a user event's name and payload together (bytes, before encoding). */
const USER_EVENT_LIMIT = 512;
/** How long the event may take to show on the agent's own stream before `stats` stands in. */
const EVENT_SEEN_MS = 3000;
const utf8 = (s) => Buffer.byteLength(s, 'utf8');
const text$1 = (bytes) => new TextDecoder().decode(bytes);
/** Sends a query to `nodes` (cut to fit) and resolves with the nodes that acked within ACK_MS. */
async function queryNodes(client, name, payload, nodes, sourceNode, onSent) {
    const one = async (chunk) => {
        const firedAt = Date.now();
        // Out once the agent took it: its first ack says so, or its end when none acked.
        let said = false;
        const sent = () => {
            if (!said)
                onSent?.(firedAt, chunk);
            said = true;
        };
        try {
            const result = await client.query({
                name,
                payload,
                filterNodes: chunk,
                requestAck: true,
                until: 'acks',
                timeoutMs: ACK_MS,
                onRecord: sent
            });
            sent();
            return result.acks;
        }
        catch (error) {
            // The estimate of the encoding was short: halve the list.
            if (chunk.length > 1 && /exceeds limit/i.test(error.message)) {
                const half = Math.ceil(chunk.length / 2);
                const acks = await Promise.all([one(chunk.slice(0, half)), one(chunk.slice(half))]);
                return acks.flat();
            }
            throw error;
        }
    };
    const chunks = nodeChunks(nodes, queryBaseBytes(name, payload, sourceNode));
    const settled = await Promise.allSettled(chunks.map(one));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed)
        throw failed.reason;
    return settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
}
/** The user event, and its LTime as the agent's own stream shows it. */
async function fireEvent(ctx, url, clockBefore) {
    let seen = () => { };
    const ltime = new Promise((resolve) => (seen = resolve));
    const onRecord = (r) => {
        if (r.event === 'user' && r.name === ctx.eventName && text$1(r.payload) === url)
            if (r.ltime >= clockBefore)
                seen(r.ltime);
    };
    const stream = await ctx.client.stream(`user:${ctx.eventName}`, onRecord).catch(() => undefined);
    try {
        const firedAt = Date.now();
        await ctx.client.event(ctx.eventName, url, { coalesce: false });
        let timer;
        const time = stream
            ? await Promise.race([
                ltime,
                new Promise((resolve) => {
                    timer = setTimeout(() => resolve(undefined), EVENT_SEEN_MS);
                })
            ]).finally(() => clearTimeout(timer))
            : undefined;
        if (time === undefined)
            ctx.log.debug(`the ${ctx.eventName} event did not show on the agent's stream: counting results from the event clock read before it (${clockBefore})`);
        return { firedAt, clock: { kind: 'event', time: time ?? clockBefore } };
    }
    finally {
        await stream?.stop();
    }
}
/**
 * Sends a step; resolves with its mark, or throws when nothing went out (then
 * `latest` is put back as it was when this send moved it). A wave whose first
 * queries went out and a later one failed throws too, `latest` left moved.
 */
async function sendRelease(ctx, request) {
    const url = request.eventUrl;
    if (request.byFilters)
        checkEventSize(ctx.eventName, url);
    else if (request.nodes.length === 0)
        return undefined;
    const stats = await ctx.client.stats();
    const sourceNode = stats.sections.agent?.name ?? '';
    // Checked before anything is written: a node list that cannot be sent throws here.
    if (!request.byFilters)
        nodeChunks(request.nodes, queryBaseBytes(ctx.eventName, url, sourceNode));
    request.signal?.throwIfAborted();
    const restore = request.pointer
        ? await movePointer(ctx, request.deployId, request.pointer)
        : undefined;
    // Set once anything went out: from then on `latest` stays moved.
    const progress = { wentOut: false };
    try {
        request.signal?.throwIfAborted();
        return request.byFilters
            ? await sendEvent(ctx, request, stats.eventTime, progress)
            : await sendQueries(ctx, request, { time: stats.queryTime, sourceNode }, progress);
    }
    catch (error) {
        if (restore && !progress.wentOut)
            await putBack(ctx, restore);
        throw error;
    }
}
function checkEventSize(eventName, url) {
    const bytes = utf8(eventName) + utf8(url);
    if (bytes > USER_EVENT_LIMIT)
        throw new Error(`the Serf event ${eventName} would carry ${bytes} bytes of name and manifest URL, over Serf's ${USER_EVENT_LIMIT}-byte limit for a user event: shorten the s3-url prefix or the app name`);
}
/** Writes the history record (when given) and moves `latest`; resolves with how to put it back. */
async function movePointer(ctx, deployId, pointer) {
    const { store, keys } = ctx;
    const { manifestUrl, history } = pointer;
    const before = await store.readText(keys.latest);
    if (history)
        await store.writeText(keys.history(deployId), JSON.stringify(history));
    await store.writeText(keys.latest, `${manifestUrl}\n`);
    ctx.log.info(`s3://${store.bucket}/${keys.latest} → ${manifestUrl}`);
    return () => before === undefined ? store.remove(keys.latest) : store.writeText(keys.latest, before).then();
}
/** Nothing was sent: `latest` goes back to what it was (a failure to is a warning). */
async function putBack(ctx, restore) {
    const { store, keys, log } = ctx;
    await restore().catch((e) => log.warning(`could not put latest back: ${e.message}`));
    log.info(`put s3://${store.bucket}/${keys.latest} back: nothing was sent`);
}
/** The one-wave default: the user event, marked with its LTime. */
async function sendEvent(ctx, request, eventTime, progress) {
    const { firedAt, clock } = await fireEvent(ctx, request.eventUrl, eventTime);
    progress.wentOut = true;
    const sent = { firedAt, baseline: encodeMark(clock) };
    request.onFired?.(sent);
    ctx.log.info(`fired the Serf event ${ctx.eventName} (LTime ${clock.time})`);
    return { sent, clock, unacked: [] };
}
/** A wave: queries to its nodes, marked with the query clock read before them. */
async function sendQueries(ctx, request, before, progress) {
    const { eventName } = ctx;
    const clock = { kind: 'query', time: before.time };
    const baseline = encodeMark(clock);
    let firstFiredAt;
    const onSent = (firedAt, nodes) => {
        firstFiredAt ??= firedAt;
        progress.wentOut = true;
        request.onFired?.({ firedAt, baseline, nodes });
    };
    const acked = new Set(await queryNodes(ctx.client, eventName, request.eventUrl, request.nodes, before.sourceNode, onSent));
    const unacked = request.nodes.filter((n) => !acked.has(n));
    ctx.log.info(`sent the Serf query ${eventName} to ${request.nodes.length} node(s) (query clock ${clock.time})${unacked.length ? `; ${unacked.length} did not ack yet` : ''}`);
    return { sent: { firedAt: firstFiredAt ?? Date.now(), baseline }, clock, unacked };
}

class Sends {
    ctx;
    /** whether a member matches the filters (for joiners), whatever its status */
    matches;
    /** query sends whose nodes have not all acked, by the send's mark */
    unackedBySend = new Map();
    /** event sends: how to send their deploy as a query to nodes still silent, by the send's mark */
    nudgeBySend = new Map();
    constructor(ctx) {
        this.ctx = ctx;
        this.matches = memberMatcher(ctx.filters);
    }
    async send(request) {
        const { client, store, eventName, keys, log } = this.ctx;
        const outcome = await sendRelease({ client, store, eventName, keys, log }, request);
        if (!outcome)
            return undefined;
        if (request.byFilters)
            this.nudgeBySend.set(outcome.sent.baseline, {
                send: async (nodes) => {
                    const stats = await client.stats();
                    const clock = { kind: 'query', time: stats.queryTime };
                    await queryNodes(client, eventName, request.eventUrl, nodes, await this.ctx.sourceNode());
                    return clock;
                }
            });
        if (outcome.unacked.length > 0) {
            const node = await this.ctx.sourceNode();
            this.unackedBySend.set(outcome.sent.baseline, {
                unacked: new Set(outcome.unacked),
                send: (nodes) => queryNodes(client, eventName, request.eventUrl, nodes, node)
            });
        }
        return outcome.sent;
    }
    async watch(request) {
        const { client, app, filters, log } = this.ctx;
        const key = request.sent.baseline;
        const resend = this.unackedBySend.get(key);
        this.unackedBySend.delete(key);
        const nudge = this.nudgeBySend.get(key);
        this.nudgeBySend.delete(key);
        if (filters.nodeFilter === undefined && Object.keys(filters.tags).length === 0)
            log.debug('no node-filter or serf-tags: every alive member is a target');
        await awaitTags({
            client,
            app,
            fleet: request.fleet,
            mark: decodeMark(request.sent.baseline),
            firedAt: request.sent.firedAt,
            deadline: request.deadline,
            signal: request.signal,
            admitJoiner: request.admitJoiners
                ? (member) => member.status === 'alive' && this.matches(member)
                : undefined,
            onChange: request.onChange,
            resend,
            nudge,
            log
        });
    }
}

function serfBackend(client, store, opts) {
    const keys = serfObjectKeys(opts.s3Prefix, opts.app);
    const { app, log } = opts;
    const filters = { nodeFilter: opts.nodeFilter, tags: opts.tags };
    const sourceNode = agentName(client);
    const sends = new Sends({
        client,
        store,
        keys,
        app,
        eventName: opts.eventName,
        filters,
        sourceNode,
        log
    });
    const backend = {
        at: () => backend,
        lockName: s3Url(store, keys.lock),
        datacenters: () => Promise.resolve([undefined]),
        targets: (signal, retryUntil) => readTargets$1(client, filters, signal, retryUntil),
        lastResults: (signal) => readLastResults(client, app, signal),
        releasePointer: () => readReleasePointer(store, keys),
        history: (deployId) => readHistory$1(store, keys, deployId),
        recentDeployIds: (count = 5) => readRecentDeployIds(store, keys, count),
        writeHistory: (record) => writeHistory(store, keys, record),
        recordRollout: (record) => recordRollout(store, keys, record),
        lock: (request) => acquireS3Lock(store, keys.lock, request),
        lockState: () => readS3Lock(store, keys.lock),
        send: (request) => sends.send(request),
        // One PUT of latest (the history record first): nothing to journal, it is whole or not.
        movePointer: async ({ deployId, manifestUrl, history, signal }) => {
            signal?.throwIfAborted();
            await movePointer({ store, keys, log }, deployId, { manifestUrl, history });
        },
        watch: (request) => sends.watch(request),
        health: (nodes, bakeMs, signal) => watchMemberStatus(client, nodes, bakeMs, signal),
        readLogs: (nodes) => readLogs(client, app, sourceNode, nodes, log)
    };
    return backend;
}
/** The agent's member name, read from `stats` at its first use and kept. */
function agentName(client) {
    let name;
    return async () => (name ??= (await client.stats()).sections.agent?.name ?? '');
}

// The action's connection to its Serf agent (contract 13), checked before
// anything is uploaded: a `stats` call proves the agent answers and takes the
// key (Serf says "Authentication required" only at the first command after the
// handshake). An agent that cannot be reached or refuses the key is bad input:
// one line naming serf-rpc-addr or serf-rpc-auth. The key is never quoted.
const AUTH_ERROR = /authentication|auth token/i;
async function connectAgent(rpcAddr, rpcAuth) {
    let client;
    try {
        client = await connectSerf(rpcAddr, rpcAuth === undefined ? {} : { authKey: rpcAuth });
        await client.stats();
        return client;
    }
    catch (error) {
        await client?.close().catch(() => undefined);
        throw asInputError(error, rpcAddr, rpcAuth !== undefined);
    }
}
function asInputError(error, rpcAddr, keyGiven) {
    if (!(error instanceof SerfRpcError))
        return error;
    if (error.command === 'auth' || AUTH_ERROR.test(error.agentError ?? ''))
        return new InputError('serf-rpc-auth', keyGiven
            ? `was refused by the Serf agent at ${rpcAddr} (${error.agentError ?? error.message}): give the agent's rpc_auth key`
            : `is needed: the Serf agent at ${rpcAddr} requires an RPC auth key (set serf-rpc-auth or SERF_RPC_AUTH)`);
    if (error.command === 'connect' || error.command === 'handshake')
        return new InputError('serf-rpc-addr', `reaches no Serf agent RPC at ${rpcAddr} (${error.message.replace(/^Serf agent [^:]+:\d+: /, '')}): set serf-rpc-addr (or SERF_RPC_ADDR; the default is 127.0.0.1:7373) to an agent's -rpc-addr`);
    return error;
}

async function connect(config, log, opts = {}) {
    // The AWS SDK is most of the bundle: load it once the inputs are known good,
    // so an input error is reported at once.
    const { createS3Store } = await import('./s3-store.js').then(function (n) { return n.b5; });
    const store = createS3Store(config.s3);
    const serf = config.backend;
    if (serf.kind === 'consul') {
        const consul = new ConsulClient({
            addr: config.consul.addr,
            token: config.consul.token,
            onRetry: (what, attempt, delayMs) => log.info(`retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${what}`),
            onNotice: (line) => log.info(line)
        });
        return { store, backend: consulBackend(consul, config, log), close: async () => { } };
    }
    let agent;
    try {
        agent = await serfAgent(serf, log, opts);
    }
    catch (error) {
        store.destroy();
        throw error;
    }
    const backend = serfBackend(agent.client, store, {
        app: config.app,
        s3Prefix: config.s3.prefix,
        eventName: config.eventName,
        nodeFilter: config.filters.node,
        tags: serf.tags,
        log
    });
    return { store, backend, close: agent.close };
}
/**
 * A client of the agent at serf-rpc-addr, or (serf-join) of an agent started
 * and joined for this run, which `close` makes leave.
 */
async function serfAgent(serf, log, opts = {}) {
    if (serf.join === undefined) {
        const client = await connectAgent(serf.rpcAddr, serf.rpcAuth);
        log.info(`serf: talking to the agent at ${serf.rpcAddr}`);
        return { client, close: () => client.close() };
    }
    const agent = await startOwnAgent({
        join: serf.join,
        name: ownAgentName(opts.env ?? process.env),
        log,
        signal: opts.signal,
        onStarted: opts.onOwnAgent
    });
    let client;
    try {
        client = await connectSerf(agent.rpcAddr, { authKey: agent.authKey });
    }
    catch (error) {
        await leave(agent, log, opts);
        throw error;
    }
    return {
        client,
        close: async () => {
            await client.close();
            await leave(agent, log, opts);
        }
    };
}
async function leave(agent, log, opts) {
    await agent.leave();
    opts.onOwnAgentLeft?.();
    log.info(`serf: the action's agent ${agent.name} left the cluster`);
}

// `rollback-to: <deploy-id>`: no build, no upload. The release must still be
// whole: its history record in Consul, its manifest and archive in S3, and the
// archive's sha256 as recorded. Then announce and await run as for a new deploy.
function keyOf(bucket, url) {
    const prefix = `s3://${bucket}/`;
    return url.startsWith(prefix) ? url.slice(prefix.length) : undefined;
}
/**
 * The release's history record, from the first datacenter (in rollout order) that
 * recorded it: history/ is per datacenter (contract 8a).
 */
async function readHistory(backends, config, { id, input }) {
    let missing;
    for (const backend of backends) {
        const read = await backend.history(id);
        if (!read.found) {
            missing ??= read.where;
            continue;
        }
        if ('unreadable' in read)
            throw new Error(`${read.where} is not a JSON history record`);
        return { record: read.record, where: read.where };
    }
    const recent = await backends[0].recentDeployIds();
    throw new InputError(input, `${JSON.stringify(id)} is not a release of ${config.app} (no ${missing}); ${recent.length ? `most recent: ${recent.join(', ')}` : 'no release is recorded yet'}`);
}
/** The manifest and archive are still in S3, and the archive is what was published. */
async function verifyArchive(store, history, { id, input, verb }) {
    const srcKey = keyOf(store.bucket, history.src_url);
    const manifestKey = keyOf(store.bucket, history.manifest_url);
    if (!srcKey || !manifestKey)
        throw new InputError(input, `${id} was published to another bucket (${history.manifest_url}); set s3-url to its bucket`);
    if ((await store.head(manifestKey)) === undefined)
        throw new Error(`cannot ${verb} ${id}: its manifest ${history.manifest_url} is gone from S3`);
    const size = await store.head(srcKey);
    if (size === undefined)
        throw new Error(`cannot ${verb} ${id}: its archive ${history.src_url} is gone from S3`);
    // Hash the archive as the nodes will: a changed object would fail on every node.
    const hash = createHash('sha256');
    for await (const chunk of await store.getStream(srcKey))
        hash.update(chunk);
    const checksum = hash.digest('hex');
    if (checksum !== history.checksum)
        throw new Error(`cannot ${verb} ${id}: ${history.src_url} has sha256 ${checksum}, but the release recorded ${history.checksum}`);
    return { checksum, size };
}
/** layout: releases announces the release's prepare and switch manifests (contract 9). */
async function releasePhases(store, config, { record: history, where }, { id, input, verb }) {
    if (config.layout !== 'releases' && history.switch_manifest_url)
        // Its <id>.yml is the combined manifest: in place it would switch the nodes to
        // <dest>/current under a dest they serve from directly.
        throw new InputError(input, `${id} was published with layout: releases; set layout: releases to ${verb} it`);
    if (config.layout !== 'releases')
        return undefined;
    const prepareUrl = history.prepare_manifest_url;
    const switchUrl = history.switch_manifest_url;
    if (!prepareUrl || !switchUrl)
        throw new InputError(input, `${id} was published with layout: in-place (no prepare or switch manifest in ${where}); with layout: releases ${verb} a release published with it`);
    for (const url of [prepareUrl, switchUrl]) {
        const key = keyOf(store.bucket, url);
        if (!key || (await store.head(key)) === undefined)
            throw new Error(`cannot ${verb} ${id}: its manifest ${url} is gone from S3`);
    }
    return { prepareUrl, switchUrl };
}
/** Find and verify the release to roll back to; nothing is written. */
async function findRelease(
/** the backend in each datacenter of the run, in rollout order */
backends, store, config, log) {
    // promote announces a published release the same way (contract 8).
    const wanted = config.rollbackTo
        ? { id: config.rollbackTo, input: 'rollback-to', verb: 'roll back to' }
        : { id: config.promote, input: 'promote', verb: 'promote' };
    const id = wanted.id;
    const found = await readHistory(backends, config, wanted);
    const history = found.record;
    const { checksum, size } = await verifyArchive(store, history, wanted);
    const phases = await releasePhases(store, config, found, wanted);
    log.info(`release ${id} (published ${history.published_at}${history.commit ? ` from ${history.commit.slice(0, 7)}` : ''}): archive and manifest verified`);
    return {
        deployId: id,
        srcUrl: history.src_url,
        manifestUrl: history.manifest_url,
        ...phases,
        checksum,
        archiveBytes: size,
        files: 0,
        commit: history.commit,
        publishedAt: history.published_at
    };
}
/** The release this run rolls out already exists (rollback-to, promote): nothing is built. */
function existingRelease(config) {
    return config.rollbackTo ?? config.promote;
}

/** How long the plan stage retries an unreachable Consul before saying so. */
const PLAN_RETRY_MS = 15_000;
/**
 * Several datacenters (contract 10): each one's targets, in order; an unknown one
 * fails here. Unset: the agent's own, with no `?dc` at all, as always.
 */
async function readTargets(config, deps, signal) {
    const { backend } = deps;
    const datacenters = await backend.datacenters(config.datacenters, signal);
    const found = await Promise.all(datacenters.map((dc) => backend.at(dc).targets(signal, Date.now() + PLAN_RETRY_MS)));
    return datacenters.map((datacenter, i) => ({ datacenter, found: found[i] }));
}
/** One datacenter's targets: those not on a promoted release yet, canaries, nodes keeping it. */
async function planDatacenter(config, deps, datacenter, found) {
    const { log } = deps;
    const where = datacenter ? ` in datacenter ${datacenter}` : '';
    const { selection } = found;
    if (selection.targets.length === 0)
        throw new Error(`no live node${where} matches the filters (${found.known} in the catalog, ${selection.notLive.length} of them matching but not live): nothing would receive the deploy`);
    let targets = selection.targets;
    const existingId = existingRelease(config);
    // Read once for promote and for layout: releases (which nodes run or keep it).
    const results = config.promote || (config.layout === 'releases' && existingId)
        ? await deps.backend.at(datacenter).lastResults(deps.signal)
        : undefined;
    if (config.promote && results) {
        // Promote goes on over the targets not on the release yet (contract 8).
        const on = nodesOnRelease(results, config.promote);
        targets = targets.filter((node) => !on.has(node));
        log.info(`promote ${config.promote}${where}: ${on.size} of the ${selection.targets.length} targets already run it`);
    }
    const targetSet = new Set(targets);
    const canaries = found.canaries.filter((node) => targetSet.has(node));
    // layout: releases: a published release the nodes still keep needs only the switch.
    const prepared = config.layout === 'releases' && existingId && results
        ? nodesKeeping(results, existingId)
        : undefined;
    if (prepared)
        log.info(`${existingId}${where}: ${targets.filter((n) => prepared.has(n)).length} of ${targets.length} targets still keep it (switch only, no download); the rest prepare it first`);
    return { datacenter, targets, canaries, prepared: prepared ? [...prepared] : undefined };
}
/**
 * Nodes that run `deployId`: their last result holds it with success (a node that
 * only prepared it, layout: releases, does not run it yet).
 */
function nodesOnRelease(results, deployId) {
    const on = new Set();
    for (const [node, r] of results)
        if (r.deployId === deployId && r.status === 'success' && r.phase !== 'prepare')
            on.add(node);
    return on;
}
/**
 * layout: releases (contract 9): the nodes that still keep `deployId` under
 * <dest>/releases. Each node's last result lists the releases it keeps
 * (`"releases"`, written by the reporting commands after every prepare and
 * switch), and a node whose last result is this release's prepare or switch
 * success has it too. A node with no such record is sent prepare and switch.
 */
function nodesKeeping(results, deployId) {
    const keeping = new Set();
    for (const [node, r] of results) {
        const has = r.releases !== undefined
            ? r.releases.includes(deployId)
            : r.deployId === deployId && r.status === 'success' && r.phase !== undefined;
        if (has)
            keeping.add(node);
    }
    return keeping;
}
/** The backend in each datacenter of the run, in rollout order. */
function backendsOf(deps, plan) {
    return plan.datacenters.map((dc) => deps.backend.at(dc));
}

/*! js-yaml 5.5.0 https://github.com/nodeca/js-yaml @license MIT */
//#region src/tag.ts
/**
* Returned by a scalar resolver when the source does not match its tag.
*
* @category Tags
*/
var NOT_RESOLVED = Symbol("NOT_RESOLVED");
/**
* Create a normalized scalar tag definition.
*
* @category Tags
*/
function defineScalarTag(tagName, options) {
	return {
		tagName,
		nodeKind: "scalar",
		implicit: options.implicit ?? false,
		matchByTagPrefix: options.matchByTagPrefix ?? false,
		implicitFirstChars: options.implicitFirstChars ?? null,
		resolve: options.resolve,
		identify: options.identify,
		represent: options.represent ?? ((data) => String(data)),
		representTagName: options.representTagName ?? (() => tagName)
	};
}
/**
* Create a normalized sequence tag definition.
*
* @category Tags
*/
function defineSequenceTag(tagName, options) {
	const carrierIsResult = options.finalize === void 0;
	return {
		tagName,
		nodeKind: "sequence",
		implicit: false,
		matchByTagPrefix: options.matchByTagPrefix ?? false,
		create: options.create,
		addItem: options.addItem,
		finalize: options.finalize ?? ((carrier) => carrier),
		carrierIsResult,
		identify: options.identify,
		represent: options.represent ?? ((data) => data),
		representTagName: options.representTagName ?? (() => tagName)
	};
}
/**
* Create a normalized mapping tag definition.
*
* @category Tags
*/
function defineMappingTag(tagName, options) {
	const carrierIsResult = options.finalize === void 0;
	return {
		tagName,
		nodeKind: "mapping",
		implicit: false,
		matchByTagPrefix: options.matchByTagPrefix ?? false,
		create: options.create,
		addPair: options.addPair,
		has: options.has,
		keys: options.keys,
		get: options.get,
		finalize: options.finalize ?? ((carrier) => carrier),
		carrierIsResult,
		identify: options.identify,
		represent: options.represent ?? ((data) => data),
		representTagName: options.representTagName ?? (() => tagName)
	};
}
//#endregion
//#region src/tag/scalar/str.ts
/** @category Tags */
var strTag = defineScalarTag("tag:yaml.org,2002:str", {
	resolve: (source) => source,
	identify: (data) => typeof data === "string"
});
//#endregion
//#region src/tag/scalar/null_core.ts
var NULL_VALUES$1 = [
	"",
	"~",
	"null",
	"Null",
	"NULL"
];
/** @category Tags */
var nullCoreTag = defineScalarTag("tag:yaml.org,2002:null", {
	implicit: true,
	implicitFirstChars: [
		"",
		"~",
		"n",
		"N"
	],
	resolve: (source) => {
		if (NULL_VALUES$1.indexOf(source) !== -1) return null;
		return NOT_RESOLVED;
	},
	identify: (object) => object === null,
	represent: () => "null"
});
//#endregion
//#region src/tag/scalar/null_json.ts
/** @category Tags */
var nullJsonTag = defineScalarTag("tag:yaml.org,2002:null", {
	implicit: true,
	implicitFirstChars: ["n"],
	resolve: (source, isExplicit) => {
		if (source === "null" || isExplicit && source === "") return null;
		return NOT_RESOLVED;
	},
	identify: (object) => object === null,
	represent: () => "null"
});
//#endregion
//#region src/tag/scalar/null_yaml11.ts
var NULL_VALUES = [
	"",
	"~",
	"null",
	"Null",
	"NULL"
];
/** @category Tags */
var nullYaml11Tag = defineScalarTag("tag:yaml.org,2002:null", {
	implicit: true,
	implicitFirstChars: [
		"",
		"~",
		"n",
		"N"
	],
	resolve: (source) => {
		if (NULL_VALUES.indexOf(source) !== -1) return null;
		return NOT_RESOLVED;
	},
	identify: (object) => object === null,
	represent: () => "null"
});
//#endregion
//#region src/tag/scalar/bool_core.ts
var TRUE_VALUES$2 = [
	"true",
	"True",
	"TRUE"
];
var FALSE_VALUES$2 = [
	"false",
	"False",
	"FALSE"
];
/** @category Tags */
var boolCoreTag = defineScalarTag("tag:yaml.org,2002:bool", {
	implicit: true,
	implicitFirstChars: [
		"t",
		"T",
		"f",
		"F"
	],
	resolve: (source) => {
		if (TRUE_VALUES$2.indexOf(source) !== -1) return true;
		if (FALSE_VALUES$2.indexOf(source) !== -1) return false;
		return NOT_RESOLVED;
	},
	identify: (object) => Object.prototype.toString.call(object) === "[object Boolean]",
	represent: (object) => object ? "true" : "false"
});
//#endregion
//#region src/tag/scalar/bool_json.ts
var TRUE_VALUES$1 = ["true"];
var FALSE_VALUES$1 = ["false"];
/** @category Tags */
var boolJsonTag = defineScalarTag("tag:yaml.org,2002:bool", {
	implicit: true,
	implicitFirstChars: ["t", "f"],
	resolve: (source) => {
		if (TRUE_VALUES$1.indexOf(source) !== -1) return true;
		if (FALSE_VALUES$1.indexOf(source) !== -1) return false;
		return NOT_RESOLVED;
	},
	identify: (object) => Object.prototype.toString.call(object) === "[object Boolean]",
	represent: (object) => object ? "true" : "false"
});
//#endregion
//#region src/tag/scalar/bool_yaml11.ts
var TRUE_VALUES = [
	"true",
	"True",
	"TRUE",
	"y",
	"Y",
	"yes",
	"Yes",
	"YES",
	"on",
	"On",
	"ON"
];
var FALSE_VALUES = [
	"false",
	"False",
	"FALSE",
	"n",
	"N",
	"no",
	"No",
	"NO",
	"off",
	"Off",
	"OFF"
];
/** @category Tags */
var boolYaml11Tag = defineScalarTag("tag:yaml.org,2002:bool", {
	implicit: true,
	implicitFirstChars: [
		"y",
		"Y",
		"n",
		"N",
		"t",
		"T",
		"f",
		"F",
		"o",
		"O"
	],
	resolve: (source) => {
		if (TRUE_VALUES.indexOf(source) !== -1) return true;
		if (FALSE_VALUES.indexOf(source) !== -1) return false;
		return NOT_RESOLVED;
	},
	identify: (object) => Object.prototype.toString.call(object) === "[object Boolean]",
	represent: (object) => object ? "true" : "false"
});
//#endregion
//#region src/tag/scalar/int_core.ts
var YAML_INTEGER_IMPLICIT_PATTERN$1 = /* @__PURE__ */ new RegExp("^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?[0-9]+)$");
var YAML_INTEGER_EXPLICIT_PATTERN$1 = /* @__PURE__ */ new RegExp("^(?:[-+]?0b[0-1]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+|[-+]?[0-9]+)$");
function parseYamlInteger$2(source) {
	let value = source;
	let sign = 1;
	if (value[0] === "-" || value[0] === "+") {
		if (value[0] === "-") sign = -1;
		value = value.slice(1);
	}
	if (value.startsWith("0b")) return sign * parseInt(value.slice(2), 2);
	if (value.startsWith("0o")) return sign * parseInt(value.slice(2), 8);
	if (value.startsWith("0x")) return sign * parseInt(value.slice(2), 16);
	return sign * parseInt(value, 10);
}
function resolveYamlInteger$2(source, isExplicit) {
	if (isExplicit) {
		if (!YAML_INTEGER_EXPLICIT_PATTERN$1.test(source)) return NOT_RESOLVED;
	} else if (!YAML_INTEGER_IMPLICIT_PATTERN$1.test(source)) return NOT_RESOLVED;
	const result = parseYamlInteger$2(source);
	return Number.isFinite(result) ? result : NOT_RESOLVED;
}
/** @category Tags */
var intCoreTag = defineScalarTag("tag:yaml.org,2002:int", {
	implicit: true,
	implicitFirstChars: [
		"-",
		"+",
		..."0123456789"
	],
	resolve: resolveYamlInteger$2,
	identify: (object) => Number.isInteger(object) && !Object.is(object, -0) && object.toString(10).indexOf("e") < 0,
	represent: (object) => object.toString(10)
});
//#endregion
//#region src/tag/scalar/int_json.ts
var YAML_INTEGER_IMPLICIT_PATTERN = /* @__PURE__ */ new RegExp("^-?(?:0|[1-9][0-9]*)$");
var YAML_INTEGER_EXPLICIT_PATTERN = /* @__PURE__ */ new RegExp("^(?:[-+]?0b[0-1]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+|[-+]?[0-9]+)$");
function parseYamlInteger$1(source) {
	let value = source;
	let sign = 1;
	if (value[0] === "-" || value[0] === "+") {
		if (value[0] === "-") sign = -1;
		value = value.slice(1);
	}
	if (value.startsWith("0b")) return sign * parseInt(value.slice(2), 2);
	if (value.startsWith("0o")) return sign * parseInt(value.slice(2), 8);
	if (value.startsWith("0x")) return sign * parseInt(value.slice(2), 16);
	return sign * parseInt(value, 10);
}
function resolveYamlInteger$1(source, isExplicit) {
	if (isExplicit) {
		if (!YAML_INTEGER_EXPLICIT_PATTERN.test(source)) return NOT_RESOLVED;
	} else if (!YAML_INTEGER_IMPLICIT_PATTERN.test(source)) return NOT_RESOLVED;
	const result = parseYamlInteger$1(source);
	return Number.isFinite(result) ? result : NOT_RESOLVED;
}
/** @category Tags */
var intJsonTag = defineScalarTag("tag:yaml.org,2002:int", {
	implicit: true,
	implicitFirstChars: ["-", ..."0123456789"],
	resolve: resolveYamlInteger$1,
	identify: (object) => Number.isInteger(object) && !Object.is(object, -0) && object.toString(10).indexOf("e") < 0,
	represent: (object) => object.toString(10)
});
//#endregion
//#region src/tag/scalar/int_yaml11.ts
var YAML_INTEGER_PATTERN = /* @__PURE__ */ new RegExp("^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+|[-+]?(?:0|[1-9][0-9_]*))$");
function parseYamlInteger(source) {
	let value = source.replace(/_/g, "");
	let sign = 1;
	if (value[0] === "-" || value[0] === "+") {
		if (value[0] === "-") sign = -1;
		value = value.slice(1);
	}
	if (value.startsWith("0b")) return sign * parseInt(value.slice(2), 2);
	if (value.startsWith("0x")) return sign * parseInt(value.slice(2), 16);
	if (value.includes(":")) {
		let result = 0;
		for (const part of value.split(":")) result = result * 60 + Number(part);
		return sign * result;
	}
	if (value !== "0" && value[0] === "0") return sign * parseInt(value, 8);
	return sign * parseInt(value, 10);
}
function resolveYamlInteger(source) {
	if (!YAML_INTEGER_PATTERN.test(source)) return NOT_RESOLVED;
	const result = parseYamlInteger(source);
	return Number.isFinite(result) ? result : NOT_RESOLVED;
}
/** @category Tags */
var intYaml11Tag = defineScalarTag("tag:yaml.org,2002:int", {
	implicit: true,
	implicitFirstChars: [
		"-",
		"+",
		..."0123456789"
	],
	resolve: resolveYamlInteger,
	identify: (object) => Number.isInteger(object) && !Object.is(object, -0) && object.toString(10).indexOf("e") < 0,
	represent: (object) => object.toString(10)
});
//#endregion
//#region src/tag/scalar/float_core.ts
var YAML_FLOAT_PATTERN$1 = /* @__PURE__ */ new RegExp("^(?:[-+]?[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
var YAML_FLOAT_SPECIAL_PATTERN$1 = /* @__PURE__ */ new RegExp("^(?:[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
function resolveYamlFloat$2(source) {
	if (!YAML_FLOAT_PATTERN$1.test(source)) return NOT_RESOLVED;
	let value = source.toLowerCase();
	const sign = value[0] === "-" ? -1 : 1;
	if ("+-".includes(value[0])) value = value.slice(1);
	if (value === ".inf") return sign === 1 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
	if (value === ".nan") return NaN;
	const result = sign * parseFloat(value);
	if (Number.isFinite(result) || YAML_FLOAT_SPECIAL_PATTERN$1.test(source)) return result;
	return NOT_RESOLVED;
}
function representYamlFloat$2(object) {
	if (isNaN(object)) return ".nan";
	if (object === Number.POSITIVE_INFINITY) return ".inf";
	if (object === Number.NEGATIVE_INFINITY) return "-.inf";
	if (Object.is(object, -0)) return "-0.0";
	const result = object.toString(10);
	return /^[-+]?[0-9]+e/.test(result) ? result.replace("e", ".e") : result;
}
/** @category Tags */
var floatCoreTag = defineScalarTag("tag:yaml.org,2002:float", {
	implicit: true,
	implicitFirstChars: [
		"-",
		"+",
		".",
		..."0123456789"
	],
	resolve: resolveYamlFloat$2,
	identify: (object) => typeof object === "number" && (!Number.isInteger(object) || Object.is(object, -0) || object.toString(10).indexOf("e") >= 0),
	represent: representYamlFloat$2
});
//#endregion
//#region src/tag/scalar/float_json.ts
var YAML_FLOAT_IMPLICIT_PATTERN = /* @__PURE__ */ new RegExp("^-?(?:0|[1-9][0-9]*)(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?$");
var YAML_FLOAT_EXPLICIT_PATTERN = /* @__PURE__ */ new RegExp("^(?:[-+]?[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
function resolveYamlFloat$1(source, isExplicit) {
	if (isExplicit) {
		if (!YAML_FLOAT_EXPLICIT_PATTERN.test(source)) return NOT_RESOLVED;
		let value = source.toLowerCase();
		const sign = value[0] === "-" ? -1 : 1;
		if ("+-".includes(value[0])) value = value.slice(1);
		if (value === ".inf") return sign === 1 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
		if (value === ".nan") return NaN;
		const result = sign * parseFloat(value);
		return Number.isFinite(result) ? result : NOT_RESOLVED;
	}
	if (!YAML_FLOAT_IMPLICIT_PATTERN.test(source)) return NOT_RESOLVED;
	const result = Number(source);
	if (Number.isFinite(result)) return result;
	return NOT_RESOLVED;
}
function representYamlFloat$1(object) {
	if (isNaN(object)) return ".nan";
	if (object === Number.POSITIVE_INFINITY) return ".inf";
	if (object === Number.NEGATIVE_INFINITY) return "-.inf";
	if (Object.is(object, -0)) return "-0.0";
	const result = object.toString(10);
	return /^[-+]?[0-9]+e/.test(result) ? result.replace("e", ".e") : result;
}
/** @category Tags */
var floatJsonTag = defineScalarTag("tag:yaml.org,2002:float", {
	implicit: true,
	implicitFirstChars: ["-", ..."0123456789"],
	resolve: resolveYamlFloat$1,
	identify: (object) => typeof object === "number" && (!Number.isInteger(object) || Object.is(object, -0) || object.toString(10).indexOf("e") >= 0),
	represent: representYamlFloat$1
});
//#endregion
//#region src/tag/scalar/float_yaml11.ts
var YAML_FLOAT_PATTERN = /* @__PURE__ */ new RegExp("^(?:[-+]?(?:(?:[0-9][0-9_]*)?\\.[0-9_]*)(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
var YAML_FLOAT_SPECIAL_PATTERN = /* @__PURE__ */ new RegExp("^(?:[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
function resolveYamlFloat(source) {
	if (!YAML_FLOAT_PATTERN.test(source)) return NOT_RESOLVED;
	let value = source.toLowerCase().replace(/_/g, "");
	const sign = value[0] === "-" ? -1 : 1;
	if ("+-".includes(value[0])) value = value.slice(1);
	if (value === ".inf") return sign === 1 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
	if (value === ".nan") return NaN;
	let result = 0;
	if (value.includes(":")) {
		for (const part of value.split(":")) result = result * 60 + Number(part);
		result *= sign;
	} else result = sign * parseFloat(value);
	if (Number.isFinite(result) || YAML_FLOAT_SPECIAL_PATTERN.test(source)) return result;
	return NOT_RESOLVED;
}
function representYamlFloat(object) {
	if (isNaN(object)) return ".nan";
	if (object === Number.POSITIVE_INFINITY) return ".inf";
	if (object === Number.NEGATIVE_INFINITY) return "-.inf";
	if (Object.is(object, -0)) return "-0.0";
	const result = object.toString(10);
	return /^[-+]?[0-9]+e/.test(result) ? result.replace("e", ".e") : result;
}
/** @category Tags */
var floatYaml11Tag = defineScalarTag("tag:yaml.org,2002:float", {
	implicit: true,
	implicitFirstChars: [
		"-",
		"+",
		".",
		..."0123456789"
	],
	resolve: resolveYamlFloat,
	identify: (object) => typeof object === "number" && (!Number.isInteger(object) || Object.is(object, -0) || object.toString(10).indexOf("e") >= 0),
	represent: representYamlFloat
});
//#endregion
//#region src/tag/scalar/merge.ts
/**
* Enables merge keys in {@link CORE_SCHEMA} when added with
* {@link Schema.withTags}.
*
* @category Tags
*/
var mergeTag = defineScalarTag("tag:yaml.org,2002:merge", {
	implicit: true,
	implicitFirstChars: ["<"],
	resolve: (source, isExplicit) => {
		if (source === "<<" || isExplicit && source === "") return "<<";
		return NOT_RESOLVED;
	},
	identify: () => false
});
//#endregion
//#region src/tag/scalar/binary.ts
var BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;
function resolveYamlBinary(source) {
	const input = source.replace(/\s/g, "");
	if (input.length % 4 !== 0 || !BASE64_PATTERN.test(input)) return NOT_RESOLVED;
	const binary = atob(input);
	const result = new Uint8Array(binary.length);
	for (let index = 0; index < binary.length; index++) result[index] = binary.charCodeAt(index);
	return result;
}
function representYamlBinary(object) {
	let binary = "";
	for (let index = 0; index < object.length; index++) binary += String.fromCharCode(object[index]);
	return btoa(binary);
}
/**
* The `!!binary` tag, represented as a `Uint8Array`.
*
* @category Tags
*/
var binaryTag = defineScalarTag("tag:yaml.org,2002:binary", {
	resolve: resolveYamlBinary,
	identify: (object) => Object.prototype.toString.call(object) === "[object Uint8Array]",
	represent: representYamlBinary
});
//#endregion
//#region src/tag/scalar/timestamp.ts
var YAML_DATE_REGEXP = /* @__PURE__ */ new RegExp("^([0-9][0-9][0-9][0-9])-([0-9][0-9])-([0-9][0-9])$");
var YAML_TIMESTAMP_REGEXP = /* @__PURE__ */ new RegExp("^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)(?:[Tt]|[ \\t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\\.([0-9]*))?(?:[ \\t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?$");
function makeUtcDate(year, month, day, hour = 0, minute = 0, second = 0, fraction = 0) {
	const date = new Date(Date.UTC(year, month, day, hour, minute, second, fraction));
	date.setUTCFullYear(year, month, day);
	return date;
}
function resolveYamlTimestamp(source) {
	let match = YAML_DATE_REGEXP.exec(source);
	if (match === null) match = YAML_TIMESTAMP_REGEXP.exec(source);
	if (match === null) return NOT_RESOLVED;
	const year = +match[1];
	const month = +match[2] - 1;
	const day = +match[3];
	if (!match[4]) {
		const date = makeUtcDate(year, month, day);
		if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return NOT_RESOLVED;
		return date;
	}
	const hour = +match[4];
	const minute = +match[5];
	const second = +match[6];
	let fraction = 0;
	if (hour > 23 || minute > 59 || second > 59) return NOT_RESOLVED;
	if (match[7]) {
		let value = match[7].slice(0, 3);
		while (value.length < 3) value += "0";
		fraction = +value;
	}
	const date = makeUtcDate(year, month, day, hour, minute, second, fraction);
	if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month || date.getUTCDate() !== day) return NOT_RESOLVED;
	if (match[9]) {
		const offsetHour = +match[10];
		const offsetMinute = +(match[11] || 0);
		if (offsetHour > 23 || offsetMinute > 59) return NOT_RESOLVED;
		const offset = (offsetHour * 60 + offsetMinute) * 6e4;
		date.setTime(date.getTime() - (match[9] === "-" ? -offset : offset));
	}
	return date;
}
/**
* The YAML 1.1 `!!timestamp` tag, represented as a JavaScript `Date`.
*
* @category Tags
*/
var timestampTag = defineScalarTag("tag:yaml.org,2002:timestamp", {
	implicit: true,
	implicitFirstChars: [..."0123456789"],
	resolve: resolveYamlTimestamp,
	identify: (object) => object instanceof Date,
	represent: (object) => object.toISOString()
});
//#endregion
//#region src/tag/sequence/seq.ts
/** @category Tags */
var seqTag = defineSequenceTag("tag:yaml.org,2002:seq", {
	create: () => [],
	addItem: (container, item) => {
		container.push(item);
	},
	identify: Array.isArray
});
//#endregion
//#region src/common/object.ts
function isPlainObject(data) {
	if (data === null || typeof data !== "object" || Array.isArray(data)) return false;
	const prototype = Object.getPrototypeOf(data);
	return prototype === null || prototype === Object.prototype;
}
function pick(object, keys) {
	const result = {};
	for (const key of keys) if (object[key] !== void 0) result[key] = object[key];
	return result;
}
//#endregion
//#region src/tag/sequence/omap.ts
/**
* Provided only for YAML 1.1 compatibility and supported by the loader only.
* JavaScript has no dedicated class to represent this type, so it cannot be
* identified and dumped.
*
* ```yaml
* !!omap
*   - one: 1
*   - two: 2
* ```
*
* is loaded as
*
* ```javascript
* [
*   { one: 1 },
*   { two: 2 }
* ]
* ```
*
* @category Tags
*/
var omapTag = defineSequenceTag("tag:yaml.org,2002:omap", {
	create: () => ({
		list: [],
		seen: /* @__PURE__ */ new Set()
	}),
	addItem: (carrier, item) => {
		let key;
		if (item instanceof Map) {
			if (item.size !== 1) return "cannot resolve an ordered map item";
			key = item.keys().next().value;
		} else if (isPlainObject(item)) {
			const itemKeys = Object.keys(item);
			if (itemKeys.length !== 1) return "cannot resolve an ordered map item";
			key = itemKeys[0];
		} else return "cannot resolve an ordered map item";
		if (carrier.seen.has(key)) return "duplicate key in ordered map";
		carrier.seen.add(key);
		carrier.list.push(item);
		return "";
	},
	finalize: (carrier) => carrier.list,
	identify: () => false
});
//#endregion
//#region src/tag/sequence/pairs.ts
/**
* Provided only for YAML 1.1 compatibility and supported by the loader only.
* JavaScript has no dedicated class to represent this type, so it cannot be
* identified and dumped.
*
* ```yaml
* !!pairs
*   - one: 1
*   - two: 2
* ```
*
* is loaded as
*
* ```javascript
* [
*   ['one', 1],
*   ['two', 2]
* ]
* ```
*
* @category Tags
*/
var pairsTag = defineSequenceTag("tag:yaml.org,2002:pairs", {
	create: () => [],
	addItem: (container, item) => {
		if (item instanceof Map) {
			if (item.size !== 1) return "cannot resolve a pairs item";
			container.push(item.entries().next().value);
			return "";
		}
		if (Object.prototype.toString.call(item) !== "[object Object]") return "cannot resolve a pairs item";
		const object = item;
		const keys = Object.keys(object);
		if (keys.length !== 1) return "cannot resolve a pairs item";
		container.push([keys[0], object[keys[0]]]);
		return "";
	},
	identify: () => false
});
//#endregion
//#region src/tag/mapping/map.ts
/**
* This is the default mapping implementation. It uses `{}` objects and has only
* partial functionality due to language limitations. This choice was made
* because users expect to get JavaScript objects, and it was left unchanged to
* avoid too many breaking changes in the v5 release.
*
* Side effects:
*
* - `Object.hasOwn()` checks or `for...of` loops are required for safe use (to
*   avoid falling through to prototypes).
* - Only scalar string keys are supported properly.
* - Other scalar keys, such as `null` and numbers, are converted to strings.
*   This is historical behaviour, and it can cause side effects such as
*   problems with `!!merge`.
*
* Note that non-string scalar keys may be deprecated in future versions.
*
* Ideally, use {@link realMapTag} instead.
*
* @category Tags
*/
var mapTag = defineMappingTag("tag:yaml.org,2002:map", {
	create: () => ({}),
	identify: isPlainObject,
	represent: (o) => {
		const map = /* @__PURE__ */ new Map();
		for (const key of Object.keys(o)) map.set(key, o[key]);
		return map;
	},
	addPair: (container, key, value) => {
		if (key !== null && typeof key === "object") return "object-based map does not support complex keys";
		const normalizedKey = String(key);
		if (normalizedKey === "__proto__") Object.defineProperty(container, normalizedKey, {
			value,
			enumerable: true,
			configurable: true,
			writable: true
		});
		else container[normalizedKey] = value;
		return "";
	},
	has: (container, key) => {
		if (key !== null && typeof key === "object") return false;
		return Object.prototype.hasOwnProperty.call(container, String(key));
	},
	keys: (container) => Object.keys(container),
	get: (container, key) => {
		const normalizedKey = String(key);
		if (!Object.prototype.hasOwnProperty.call(container, normalizedKey)) return null;
		return container[normalizedKey];
	}
});
//#endregion
//#region src/tag/mapping/set.ts
/**
* The YAML 1.1 `!!set` tag, represented as a JavaScript `Set`.
*
* @category Tags
*/
var setTag = defineMappingTag("tag:yaml.org,2002:set", {
	create: () => /* @__PURE__ */ new Set(),
	identify: (data) => data instanceof Set,
	represent: (data) => {
		const map = /* @__PURE__ */ new Map();
		for (const key of data) map.set(key, null);
		return map;
	},
	addPair: (container, key, value) => {
		if (value !== null) return "cannot resolve a set item";
		container.add(key);
		return "";
	},
	has: (container, key) => container.has(key),
	keys: (container) => container.keys(),
	get: () => null
});
//#endregion
//#region src/schema.ts
function createTagDefinitionMap() {
	return {
		scalar: Object.create(null),
		sequence: Object.create(null),
		mapping: Object.create(null)
	};
}
function createTagDefinitionListMap() {
	return {
		scalar: [],
		sequence: [],
		mapping: []
	};
}
function compileTags(tags) {
	const result = [];
	for (const tag of tags) {
		let index = result.length;
		for (let previousIndex = 0; previousIndex < result.length; previousIndex++) {
			const previous = result[previousIndex];
			if (previous.nodeKind === tag.nodeKind && previous.tagName === tag.tagName && previous.matchByTagPrefix === tag.matchByTagPrefix) {
				index = previousIndex;
				break;
			}
		}
		result[index] = tag;
	}
	return result;
}
/**
* Controls tag resolution when loading and type selection when dumping.
*
* @category Schemas
*/
var Schema = class Schema {
	tags;
	/** @internal */
	implicitScalarTags;
	/**
	* Dispatch implicit scalar resolvers by `source.charAt(0)`. Each bucket holds
	* the resolvers that may match that key, in schema order; a key absent from
	* the map uses
	* {@link Schema.implicitScalarAnyFirstChar}
	* (resolvers that declared no first-char constraint, so they apply to any
	* first character).
	*/
	implicitScalarByFirstChar;
	implicitScalarAnyFirstChar;
	/**
	* The default scalar tag (`!!str`), resolved once so the composer's fallback
	* for unresolved plain scalars avoids a keyed lookup per scalar.
	*
	* @internal
	*/
	defaultScalarTag;
	/**
	* The default container tags (`!!seq` / `!!map`), used by the dumper: when a
	* value is identified by its default tag, the tag is implicit and not
	* printed. Undefined if the schema does not define them (then such values
	* can't be dumped).
	*
	* @internal
	*/
	defaultSequenceTag;
	/** @internal */
	defaultMappingTag;
	exact;
	prefix;
	constructor(tags) {
		const compiledTags = compileTags(tags);
		const implicitScalarTags = [];
		const exact = createTagDefinitionMap();
		const prefix = createTagDefinitionListMap();
		for (const tag of compiledTags) {
			if (tag.nodeKind === "scalar" && tag.implicit) {
				if (tag.matchByTagPrefix) throw new Error("Implicit scalar tags cannot match by tag prefix");
				implicitScalarTags.push(tag);
			}
			switch (tag.nodeKind) {
				case "scalar":
					if (tag.matchByTagPrefix) prefix.scalar.push(tag);
					else exact.scalar[tag.tagName] = tag;
					break;
				case "sequence":
					if (tag.matchByTagPrefix) prefix.sequence.push(tag);
					else exact.sequence[tag.tagName] = tag;
					break;
				case "mapping": if (tag.matchByTagPrefix) prefix.mapping.push(tag);
				else exact.mapping[tag.tagName] = tag;
			}
		}
		const implicitScalarAnyFirstChar = implicitScalarTags.filter((tag) => tag.implicitFirstChars === null);
		const keys = /* @__PURE__ */ new Set();
		for (const tag of implicitScalarTags) if (tag.implicitFirstChars !== null) for (const key of tag.implicitFirstChars) keys.add(key);
		const implicitScalarByFirstChar = /* @__PURE__ */ new Map();
		for (const key of keys) implicitScalarByFirstChar.set(key, implicitScalarTags.filter((tag) => tag.implicitFirstChars === null || tag.implicitFirstChars.indexOf(key) !== -1));
		const defaultScalarTag = exact.scalar["tag:yaml.org,2002:str"];
		if (!defaultScalarTag) throw new Error("schema does not define the default scalar tag (tag:yaml.org,2002:str)");
		this.tags = compiledTags;
		this.implicitScalarTags = implicitScalarTags;
		this.implicitScalarByFirstChar = implicitScalarByFirstChar;
		this.implicitScalarAnyFirstChar = implicitScalarAnyFirstChar;
		this.defaultScalarTag = defaultScalarTag;
		this.defaultSequenceTag = exact.sequence["tag:yaml.org,2002:seq"];
		this.defaultMappingTag = exact.mapping["tag:yaml.org,2002:map"];
		this.exact = exact;
		this.prefix = prefix;
	}
	/** @internal */
	lookupScalarTag(tagName) {
		const exactTag = this.exact.scalar[tagName];
		if (exactTag) return exactTag;
		for (const tag of this.prefix.scalar) if (tagName.startsWith(tag.tagName)) return tag;
	}
	/** @internal */
	lookupSequenceTag(tagName) {
		const exactTag = this.exact.sequence[tagName];
		if (exactTag) return exactTag;
		for (const tag of this.prefix.sequence) if (tagName.startsWith(tag.tagName)) return tag;
	}
	/** @internal */
	lookupMappingTag(tagName) {
		const exactTag = this.exact.mapping[tagName];
		if (exactTag) return exactTag;
		for (const tag of this.prefix.mapping) if (tagName.startsWith(tag.tagName)) return tag;
	}
	/** @internal */
	resolveImplicitScalarTag(source) {
		const candidates = this.implicitScalarByFirstChar.get(source.charAt(0)) ?? this.implicitScalarAnyFirstChar;
		for (const tag of candidates) {
			const value = tag.resolve(source, false, tag.tagName);
			if (value !== NOT_RESOLVED) return {
				value,
				tag
			};
		}
		const tag = this.defaultScalarTag;
		return {
			value: tag.resolve(source, false, tag.tagName),
			tag
		};
	}
	/**
	* Creates a new schema with the specified tags added. If a tag already
	* exists, it is replaced by the specified tag.
	*
	* @example
	*
	* ```javascript
	* import { CORE_SCHEMA, mergeTag, realMapTag } from 'js-yaml'
	*
	* const schema = CORE_SCHEMA.withTags(mergeTag, realMapTag)
	* ```
	*/
	withTags(...tags) {
		let flatTags = [];
		for (const tag of tags) flatTags = flatTags.concat(tag);
		return new Schema([...this.tags, ...flatTags]);
	}
};
/**
* The YAML 1.2 Failsafe Schema: strings, sequences, and mappings.
*
* @category Schemas
*/
var FAILSAFE_SCHEMA = new Schema([
	strTag,
	seqTag,
	mapTag
]);
/**
* The YAML 1.2 JSON Schema. It uses JSON scalar forms while retaining YAML
* collection syntax.
*
* @category Schemas
*/
new Schema([
	...FAILSAFE_SCHEMA.tags,
	nullJsonTag,
	boolJsonTag,
	intJsonTag,
	floatJsonTag
]);
/**
* The default schema for the loaders. Note, {@link CORE_SCHEMA} comes
* without the `!!merge` tag. You can easily enable it if needed.
*
* @example
* Enable {@link mergeTag}:
*
* ```javascript
* import { load, CORE_SCHEMA, mergeTag } from 'js-yaml'
*
* try {
*   load(data, { schema: CORE_SCHEMA.withTags(mergeTag) })
* } catch (e) {
*   console.error(e)
* }
* ```
*
* @category Schemas
*/
var CORE_SCHEMA = new Schema([
	...FAILSAFE_SCHEMA.tags,
	nullCoreTag,
	boolCoreTag,
	intCoreTag,
	floatCoreTag
]);
/**
* YAML 1.1-compatible schema.
*
* @category Schemas
*/
var YAML11_SCHEMA = new Schema([
	...FAILSAFE_SCHEMA.tags,
	nullYaml11Tag,
	boolYaml11Tag,
	intYaml11Tag,
	floatYaml11Tag,
	timestampTag,
	mergeTag,
	binaryTag,
	omapTag,
	pairsTag,
	setTag
]);
/**
* The dumper schema for maximum compatibility. It combines all supported type
* variants from YAML 1.1 and YAML 1.2 so strings matching any of them are
* quoted. This makes the generated YAML more compatible with other parsers.
*
* The schema is based on YAML 1.1, but extends `!!int` and `!!float` to accept
* both YAML 1.1 and Core Schema forms, since Core Schema supports some forms
* that YAML 1.1 does not.
*
* @category Schemas
*/
YAML11_SCHEMA.withTags({
	...intYaml11Tag,
	resolve: (source, isExplicit, tagName) => {
		const result = intYaml11Tag.resolve(source, isExplicit, tagName);
		return result === NOT_RESOLVED ? intCoreTag.resolve(source, isExplicit, tagName) : result;
	}
}, {
	...floatYaml11Tag,
	resolve: (source, isExplicit, tagName) => {
		const result = floatYaml11Tag.resolve(source, isExplicit, tagName);
		return result === NOT_RESOLVED ? floatCoreTag.resolve(source, isExplicit, tagName) : result;
	}
});
//#endregion
//#region src/tag/mapping/real_map.ts
/**
* Recommended when non-string keys are actually needed. It uses native
* JavaScript `Map` objects, so keys keep their constructed types instead of
* being converted to strings.
*
* It is not the default to avoid widespread breaking changes in existing
* projects. `Map` has a different access API and does not pass deep equality
* checks against `{}`-based fixtures. Alongside the other changes in v5,
* making it the default was considered too disruptive.
*
* If these differences are acceptable for your project, we recommend using
* {@link realMapTag} to guarantee the absence of problems and side effects.
*
* @example
* Enable {@link realMapTag}:
*
* ```javascript
* import { load, CORE_SCHEMA, realMapTag } from 'js-yaml'
*
* try {
*   load(data, { schema: CORE_SCHEMA.withTags(realMapTag) })
* } catch (e) {
*   console.error(e)
* }
* ```
*
* @category Tags
*/
defineMappingTag("tag:yaml.org,2002:map", {
	create: () => /* @__PURE__ */ new Map(),
	addPair: (container, key, value) => {
		container.set(key, value);
		return "";
	},
	has: (container, key) => container.has(key),
	keys: (container) => container.keys(),
	get: (container, key) => container.get(key),
	identify: (data) => data instanceof Map || isPlainObject(data),
	represent: (data) => {
		if (data instanceof Map) return data;
		const map = /* @__PURE__ */ new Map();
		const obj = data;
		for (const key of Object.keys(obj)) map.set(key, obj[key]);
		return map;
	}
});
//#endregion
//#region src/tag/mapping/legacy_map.ts
function normalizeKey(key) {
	if (Array.isArray(key)) {
		const array = Array.prototype.slice.call(key);
		for (let index = 0; index < array.length; index++) {
			if (Array.isArray(array[index])) return null;
			if (typeof array[index] === "object" && Object.prototype.toString.call(array[index]) === "[object Object]") array[index] = "[object Object]";
		}
		return String(array);
	}
	if (typeof key === "object" && Object.prototype.toString.call(key) === "[object Object]") return "[object Object]";
	return String(key);
}
/**
* This implementation exists solely to reproduce v4 behavior exactly. Its use
* is strongly discouraged. If complex or non-string keys are needed, use
* {@link realMapTag} instead.
*
* @category Tags
*/
defineMappingTag("tag:yaml.org,2002:map", {
	create: () => ({}),
	identify: isPlainObject,
	represent: (o) => {
		const map = /* @__PURE__ */ new Map();
		for (const key of Object.keys(o)) map.set(key, o[key]);
		return map;
	},
	addPair: (container, key, value) => {
		const normalizedKey = normalizeKey(key);
		if (normalizedKey === null) return "nested arrays are not supported inside keys";
		if (normalizedKey === "__proto__") Object.defineProperty(container, normalizedKey, {
			value,
			enumerable: true,
			configurable: true,
			writable: true
		});
		else container[normalizedKey] = value;
		return "";
	},
	has: (container, key) => {
		const normalizedKey = normalizeKey(key);
		return normalizedKey !== null && Object.prototype.hasOwnProperty.call(container, normalizedKey);
	},
	keys: (container) => Object.keys(container),
	get: (container, key) => {
		const normalizedKey = String(key);
		if (!Object.prototype.hasOwnProperty.call(container, normalizedKey)) return null;
		return container[normalizedKey];
	}
});
//#endregion
//#region src/common/snippet.ts
var DEFAULT_SNIPPET_OPTIONS = {
	maxLength: 79,
	indent: 1,
	linesBefore: 3,
	linesAfter: 2
};
function getLine(buffer, lineStart, lineEnd, position, maxLineLength) {
	let head = "";
	let tail = "";
	const maxHalfLength = Math.floor(maxLineLength / 2) - 1;
	if (position - lineStart > maxHalfLength) {
		head = " ... ";
		lineStart = position - maxHalfLength + head.length;
	}
	if (lineEnd - position > maxHalfLength) {
		tail = " ...";
		lineEnd = position + maxHalfLength - tail.length;
	}
	return {
		str: head + buffer.slice(lineStart, lineEnd).replace(/\t/g, "→") + tail,
		pos: position - lineStart + head.length
	};
}
function padStart(string, max) {
	return " ".repeat(Math.max(max - string.length, 0)) + string;
}
function makeSnippet(mark, options) {
	if (!mark.buffer) return null;
	const opts = {
		...DEFAULT_SNIPPET_OPTIONS,
		...options
	};
	const re = /\r?\n|\r|\0/g;
	const lineStarts = [0];
	const lineEnds = [];
	let match;
	let foundLineNo = -1;
	while (match = re.exec(mark.buffer)) {
		lineEnds.push(match.index);
		lineStarts.push(match.index + match[0].length);
		if (mark.position <= match.index && foundLineNo < 0) foundLineNo = lineStarts.length - 2;
	}
	if (foundLineNo < 0) foundLineNo = lineStarts.length - 1;
	let result = "";
	const lineNoLength = Math.min(mark.line + opts.linesAfter, lineEnds.length).toString().length;
	const maxLineLength = opts.maxLength - (opts.indent + lineNoLength + 3);
	for (let i = 1; i <= opts.linesBefore; i++) {
		if (foundLineNo - i < 0) break;
		const line = getLine(mark.buffer, lineStarts[foundLineNo - i], lineEnds[foundLineNo - i], mark.position - (lineStarts[foundLineNo] - lineStarts[foundLineNo - i]), maxLineLength);
		result = `${" ".repeat(opts.indent)}${padStart((mark.line - i + 1).toString(), lineNoLength)} | ${line.str}\n${result}`;
	}
	const line = getLine(mark.buffer, lineStarts[foundLineNo], lineEnds[foundLineNo], mark.position, maxLineLength);
	result += `${" ".repeat(opts.indent)}${padStart((mark.line + 1).toString(), lineNoLength)} | ${line.str}\n`;
	result += `${"-".repeat(opts.indent + lineNoLength + 3 + line.pos)}^\n`;
	for (let i = 1; i <= opts.linesAfter; i++) {
		if (foundLineNo + i >= lineEnds.length) break;
		const line = getLine(mark.buffer, lineStarts[foundLineNo + i], lineEnds[foundLineNo + i], mark.position - (lineStarts[foundLineNo] - lineStarts[foundLineNo + i]), maxLineLength);
		result += `${" ".repeat(opts.indent)}${padStart((mark.line + i + 1).toString(), lineNoLength)} | ${line.str}\n`;
	}
	return result.replace(/\n$/, "");
}
//#endregion
//#region src/common/exception.ts
function formatError(exception, compact) {
	let where = "";
	if (!exception.mark) return exception.reason;
	if (exception.mark.name) where += `in "${exception.mark.name}" `;
	where += `(${exception.mark.line + 1}:${exception.mark.column + 1})`;
	if (!compact && exception.mark.snippet) where += `\n\n${exception.mark.snippet}`;
	return `${exception.reason} ${where}`;
}
/**
* A YAML error. Unlike an ordinary `Error`, it adds a source snippet showing
* the location of the problem to the error message, when available.
*
* @category Main
*/
var YAMLException = class YAMLException extends Error {
	reason;
	mark;
	/**
	* Optional `mark` contains source snippet data. Usually, use
	* {@link YAMLException.throwAt} instead of passing it directly.
	*/
	constructor(reason, mark) {
		super();
		this.name = "YAMLException";
		this.reason = reason;
		this.mark = mark;
		this.message = formatError(this, false);
		if (Error.captureStackTrace) Error.captureStackTrace(this, this.constructor);
	}
	/**
	* Returns the formatted error, omitting the source snippet in compact mode.
	*/
	toString(compact) {
		return `${this.name}: ${formatError(this, compact)}`;
	}
	/**
	* Builds a YAMLException with a source snippet and throws it. `source` is
	* the raw input text; `position` is an offset into it.
	*/
	static throwAt(source, position, message, filename = "") {
		let line = 0;
		let lineStart = 0;
		for (let index = 0; index < position; index++) {
			const ch = source.charCodeAt(index);
			if (ch === 10) {
				line++;
				lineStart = index + 1;
			} else if (ch === 13) {
				line++;
				if (source.charCodeAt(index + 1) === 10) index++;
				lineStart = index + 1;
			}
		}
		const mark = {
			name: filename,
			buffer: source,
			position,
			line,
			column: position - lineStart
		};
		mark.snippet = makeSnippet(mark);
		throw new YAMLException(message, mark);
	}
};
//#endregion
//#region src/parser/events.ts
/** @category Events */
var EVENT_ID = {
	DOCUMENT: 1,
	SEQUENCE: 2,
	MAPPING: 3,
	SCALAR: 4,
	ALIAS: 5,
	POP: 6
};
/** @category Nodes */
var SCALAR_STYLE = {
	PLAIN: 1,
	SINGLE_QUOTED: 2,
	DOUBLE_QUOTED: 3,
	LITERAL_BLOCK: 4,
	FOLDED_BLOCK: 5
};
/** @category Nodes */
var COLLECTION_STYLE = {
	BLOCK: 1,
	FLOW: 2
};
/** @category Nodes */
var CHOMPING_MODE = {
	CLIP: 1,
	STRIP: 2,
	KEEP: 3
};
//#endregion
//#region src/parser/parser_scalar.ts
var NO_RANGE$3 = -1;
function simpleEscapeSequence(c) {
	switch (c) {
		case 48: return "\0";
		case 97: return "\x07";
		case 98: return "\b";
		case 116: return "	";
		case 9: return "	";
		case 110: return "\n";
		case 118: return "\v";
		case 102: return "\f";
		case 114: return "\r";
		case 101: return "\x1B";
		case 32: return " ";
		case 34: return "\"";
		case 47: return "/";
		case 92: return "\\";
		case 78: return "";
		case 95: return "\xA0";
		case 76: return "\u2028";
		case 80: return "\u2029";
		default: return "";
	}
}
var simpleEscapeCheck = new Array(256);
var simpleEscapeMap = new Array(256);
for (let i = 0; i < 256; i++) {
	simpleEscapeCheck[i] = simpleEscapeSequence(i) ? 1 : 0;
	simpleEscapeMap[i] = simpleEscapeSequence(i);
}
function charFromCodepoint(c) {
	if (c <= 65535) return String.fromCharCode(c);
	return String.fromCharCode((c - 65536 >> 10) + 55296, (c - 65536 & 1023) + 56320);
}
function fromHexCode$1(c) {
	if (c >= 48 && c <= 57) return c - 48;
	return (c | 32) - 97 + 10;
}
function escapedHexLen$1(c) {
	if (c === 120) return 2;
	if (c === 117) return 4;
	return 8;
}
function skipFoldedBreaks(input, position, end) {
	let breaks = 0;
	while (position < end) {
		const ch = input.charCodeAt(position);
		if (ch === 10) {
			breaks++;
			position++;
		} else if (ch === 13) {
			breaks++;
			position++;
			if (input.charCodeAt(position) === 10) position++;
		} else if (ch === 32 || ch === 9) position++;
		else break;
	}
	return {
		position,
		breaks
	};
}
function foldedBreaks(count) {
	if (count === 1) return " ";
	return "\n".repeat(count - 1);
}
function getPlainValue(input, start, end) {
	let result = "";
	let position = start;
	let captureStart = start;
	let captureEnd = start;
	while (position < end) {
		const ch = input.charCodeAt(position);
		if (ch === 10 || ch === 13) {
			result += input.slice(captureStart, captureEnd);
			const fold = skipFoldedBreaks(input, position, end);
			result += foldedBreaks(fold.breaks);
			position = captureStart = captureEnd = fold.position;
		} else {
			position++;
			if (ch !== 32 && ch !== 9) captureEnd = position;
		}
	}
	return result + input.slice(captureStart, captureEnd);
}
function getSingleQuotedValue(input, start, end) {
	let result = "";
	let position = start;
	let captureStart = start;
	let captureEnd = start;
	while (position < end) {
		const ch = input.charCodeAt(position);
		if (ch === 39) {
			result += input.slice(captureStart, position) + "'";
			position += 2;
			captureStart = captureEnd = position;
		} else if (ch === 10 || ch === 13) {
			result += input.slice(captureStart, captureEnd);
			const fold = skipFoldedBreaks(input, position, end);
			result += foldedBreaks(fold.breaks);
			position = captureStart = captureEnd = fold.position;
		} else {
			position++;
			if (ch !== 32 && ch !== 9) captureEnd = position;
		}
	}
	return result + input.slice(captureStart, end);
}
function getDoubleQuotedValue(input, start, end) {
	let result = "";
	let position = start;
	let captureStart = start;
	let captureEnd = start;
	while (position < end) {
		const ch = input.charCodeAt(position);
		if (ch === 92) {
			result += input.slice(captureStart, position);
			position++;
			const escaped = input.charCodeAt(position);
			if (escaped === 10 || escaped === 13) position = skipFoldedBreaks(input, position, end).position;
			else if (escaped < 256 && simpleEscapeCheck[escaped]) {
				result += simpleEscapeMap[escaped];
				position++;
			} else {
				let hexLength = escapedHexLen$1(escaped);
				let hexResult = 0;
				for (; hexLength > 0; hexLength--) {
					position++;
					const digit = fromHexCode$1(input.charCodeAt(position));
					hexResult = (hexResult << 4) + digit;
				}
				result += charFromCodepoint(hexResult);
				position++;
			}
			captureStart = captureEnd = position;
		} else if (ch === 10 || ch === 13) {
			result += input.slice(captureStart, captureEnd);
			const fold = skipFoldedBreaks(input, position, end);
			result += foldedBreaks(fold.breaks);
			position = captureStart = captureEnd = fold.position;
		} else {
			position++;
			if (ch !== 32 && ch !== 9) captureEnd = position;
		}
	}
	return result + input.slice(captureStart, end);
}
function getBlockValue(input, start, end, indent, chomping, folded) {
	const textIndent = indent < 0 ? 0 : indent;
	const region = input.slice(start, end).replace(/\r\n?/g, "\n");
	const lines = region === "" ? [] : (region.endsWith("\n") ? region.slice(0, -1) : region).split("\n");
	let result = "";
	let didReadContent = false;
	let emptyLines = 0;
	let atMoreIndented = false;
	for (const line of lines) {
		let column = 0;
		while (column < textIndent && line.charCodeAt(column) === 32) column++;
		if (indent < 0 || column >= line.length) {
			emptyLines++;
			continue;
		}
		const content = line.slice(textIndent);
		const first = content.charCodeAt(0);
		if (folded) {
			if (first === 32 || first === 9) {
				atMoreIndented = true;
				result += "\n".repeat(didReadContent ? 1 + emptyLines : emptyLines);
			} else if (atMoreIndented) {
				atMoreIndented = false;
				result += "\n".repeat(emptyLines + 1);
			} else if (emptyLines === 0) {
				if (didReadContent) result += " ";
			} else result += "\n".repeat(emptyLines);
		} else result += "\n".repeat(didReadContent ? 1 + emptyLines : emptyLines);
		result += content;
		didReadContent = true;
		emptyLines = 0;
	}
	if (chomping === CHOMPING_MODE.KEEP) result += "\n".repeat(didReadContent ? 1 + emptyLines : emptyLines);
	else if (chomping !== CHOMPING_MODE.STRIP) {
		if (didReadContent) result += "\n";
	}
	return result;
}
/**
* Decodes the scalar referenced by event offsets in `input`.
*
* @category Events
*/
function getScalarValue(input, scalar) {
	if (scalar.valueStart === NO_RANGE$3) return "";
	const { valueStart, valueEnd } = scalar;
	if (scalar.fast) return input.slice(valueStart, valueEnd);
	switch (scalar.style) {
		case SCALAR_STYLE.SINGLE_QUOTED: return getSingleQuotedValue(input, valueStart, valueEnd);
		case SCALAR_STYLE.DOUBLE_QUOTED: return getDoubleQuotedValue(input, valueStart, valueEnd);
		case SCALAR_STYLE.LITERAL_BLOCK: return getBlockValue(input, valueStart, valueEnd, scalar.indent, scalar.chomping, false);
		case SCALAR_STYLE.FOLDED_BLOCK: return getBlockValue(input, valueStart, valueEnd, scalar.indent, scalar.chomping, true);
		default: return getPlainValue(input, valueStart, valueEnd);
	}
}
//#endregion
//#region src/common/tagname.ts
var DEFAULT_TAG_HANDLERS = Object.assign(Object.create(null), {
	"!": "!",
	"!!": "tag:yaml.org,2002:"
});
var TAG_SUFFIX_CHARS = "-#;/?:@&=+$_.~*'()";
var TAG_URI_CHARS = TAG_SUFFIX_CHARS + "!,[]";
var HEX = "0123456789ABCDEF";
function percentByte(byte) {
	return "%" + HEX[byte >> 4] + HEX[byte & 15];
}
function tagPercentEncode(source, isSuffix) {
	const allowed = isSuffix ? TAG_SUFFIX_CHARS : TAG_URI_CHARS;
	let result = "";
	for (let index = 0; index < source.length; index++) {
		let ch = source.charCodeAt(index);
		if (ch >= 48 && ch <= 57 || ch >= 65 && ch <= 90 || ch >= 97 && ch <= 122 || allowed.includes(source[index])) {
			result += source[index];
			continue;
		}
		if (ch >= 55296 && ch <= 56319) ch = 65536 + ((ch & 1023) << 10) + (source.charCodeAt(++index) & 1023);
		if (ch < 128) result += percentByte(ch);
		else if (ch < 2048) result += percentByte(192 | ch >> 6) + percentByte(128 | ch & 63);
		else if (ch < 65536) result += percentByte(224 | ch >> 12) + percentByte(128 | ch >> 6 & 63) + percentByte(128 | ch & 63);
		else result += percentByte(240 | ch >> 18) + percentByte(128 | ch >> 12 & 63) + percentByte(128 | ch >> 6 & 63) + percentByte(128 | ch & 63);
	}
	return result;
}
function tagPercentDecode(source) {
	let result = "";
	let index = 0;
	while (index < source.length) {
		if (source.charCodeAt(index) !== 37) {
			result += source[index++];
			continue;
		}
		let ch = parseInt(source.slice(index + 1, index + 3), 16);
		index += 3;
		if (ch >= 192) {
			let remaining = ch < 224 ? 1 : ch < 240 ? 2 : 3;
			ch &= (1 << 6 - remaining) - 1;
			while (remaining-- > 0) {
				ch = ch << 6 | parseInt(source.slice(index + 1, index + 3), 16) & 63;
				index += 3;
			}
		}
		if (ch < 65536) result += String.fromCharCode(ch);
		else {
			ch -= 65536;
			result += String.fromCharCode(55296 | ch >> 10, 56320 | ch & 1023);
		}
	}
	return result;
}
function tagNameFull(rawTag, tagHandlers) {
	if (rawTag.startsWith("!<") && rawTag.endsWith(">")) return tagPercentDecode(rawTag.slice(2, -1));
	const handleEnd = rawTag.indexOf("!", 1);
	const handle = handleEnd === -1 ? "!" : rawTag.slice(0, handleEnd + 1);
	return tagPercentDecode(tagHandlers?.[handle] ?? DEFAULT_TAG_HANDLERS[handle] ?? handle) + tagPercentDecode(rawTag.slice(handle.length));
}
function tagNameShort(fullTag) {
	let tag = fullTag;
	if (tag.charCodeAt(0) === 33) {
		tag = tag.slice(1);
		return `!${tagPercentEncode(tag, true)}`;
	}
	if (tag.slice(0, 18) === "tag:yaml.org,2002:") return `!!${tagPercentEncode(tag.slice(18), true)}`;
	return `!<${tagPercentEncode(tag, false)}>`;
}
//#endregion
//#region src/parser/constructor.ts
var NO_RANGE$2 = -1;
var MERGE_TAG_NAME = "tag:yaml.org,2002:merge";
var DEFAULT_CONSTRUCTOR_OPTIONS = {
	filename: "",
	schema: CORE_SCHEMA,
	json: false,
	maxTotalMergeKeys: 1e4,
	maxAliases: -1
};
function eventPosition$1(event) {
	if ("tagStart" in event && event.tagStart !== NO_RANGE$2) return event.tagStart;
	if ("anchorStart" in event && event.anchorStart !== NO_RANGE$2) return event.anchorStart;
	if ("valueStart" in event && event.valueStart !== NO_RANGE$2) return event.valueStart;
	if ("start" in event) return event.start;
	return 0;
}
function throwError$1(state, message) {
	YAMLException.throwAt(state.source, state.position, message, state.filename);
}
function finalizeCollection(state, position, tag, carrier) {
	try {
		return tag.finalize(carrier);
	} catch (error) {
		if (error instanceof YAMLException) throw error;
		YAMLException.throwAt(state.source, position, error instanceof Error ? error.message : String(error), state.filename);
	}
}
function constructScalar(state, event) {
	const source = getScalarValue(state.source, event);
	const rawTag = event.tagStart === NO_RANGE$2 ? "" : state.source.slice(event.tagStart, event.tagEnd);
	const strTag = state.schema.defaultScalarTag;
	if (rawTag !== "") {
		if (rawTag === "!") return {
			value: source,
			tag: strTag
		};
		const tagName = tagNameFull(rawTag, state.tagHandlers);
		const scalarTag = state.schema.lookupScalarTag(tagName);
		if (scalarTag) {
			const result = scalarTag.resolve(source, true, tagName);
			if (result === NOT_RESOLVED) throwError$1(state, `cannot resolve a node with !<${tagName}> explicit tag`);
			return {
				value: result,
				tag: scalarTag
			};
		}
		const collectionTagDef = state.schema.lookupMappingTag(tagName) ?? state.schema.lookupSequenceTag(tagName);
		if (collectionTagDef) {
			if (source !== "") throwError$1(state, `cannot resolve a node with !<${tagName}> explicit tag`);
			const carrier = collectionTagDef.create(tagName);
			return {
				value: collectionTagDef.carrierIsResult ? carrier : finalizeCollection(state, state.position, collectionTagDef, carrier),
				tag: collectionTagDef
			};
		}
		throwError$1(state, `unknown scalar tag !<${tagName}>`);
	}
	if (event.style === SCALAR_STYLE.PLAIN) return state.schema.resolveImplicitScalarTag(source);
	return {
		value: strTag.resolve(source, false, strTag.tagName),
		tag: strTag
	};
}
function collectionTagName(state, event, defaultTagName) {
	const rawTag = event.tagStart === NO_RANGE$2 ? "" : state.source.slice(event.tagStart, event.tagEnd);
	return rawTag === "" || rawTag === "!" ? defaultTagName : tagNameFull(rawTag, state.tagHandlers);
}
function isMappingTag(tag) {
	return tag.nodeKind === "mapping";
}
function chargeMergeWork(state) {
	state.totalMergeKeys++;
	if (state.maxTotalMergeKeys !== -1 && state.totalMergeKeys > state.maxTotalMergeKeys) throwError$1(state, `merge keys exceeded maxTotalMergeKeys (${state.maxTotalMergeKeys})`);
}
function mergeKeys(state, frame, source, sourceTag) {
	chargeMergeWork(state);
	for (const sourceKey of sourceTag.keys(source)) {
		chargeMergeWork(state);
		if (frame.tag.has(frame.value, sourceKey)) continue;
		const err = frame.tag.addPair(frame.value, sourceKey, sourceTag.get(source, sourceKey));
		if (err) throwError$1(state, err);
		frame.overridable ??= /* @__PURE__ */ new Set();
		frame.overridable.add(sourceKey);
	}
}
function mergeSource(state, frame, source, sourceTag) {
	state.position = frame.keyPosition;
	if (isMappingTag(sourceTag)) mergeKeys(state, frame, source, sourceTag);
	else if (sourceTag.nodeKind === "sequence" && Array.isArray(source)) {
		if (source.length > 100) throwError$1(state, "abnormal merge sequence size");
		for (const element of source) {
			const elementTag = state.nodeTags.get(element);
			if (!elementTag) throwError$1(state, "cannot merge mappings; the provided source object is unacceptable");
			mergeKeys(state, frame, element, elementTag);
		}
	} else throwError$1(state, "cannot merge mappings; the provided source object is unacceptable");
}
function addMappingValue(state, frame, key, value, tag) {
	state.position = frame.keyPosition;
	if (frame.keyIsMerge) {
		mergeSource(state, frame, value, tag);
		return;
	}
	if (!state.json && frame.tag.has(frame.value, key) && !frame.overridable?.has(key)) throwError$1(state, "duplicated mapping key");
	const err = frame.tag.addPair(frame.value, key, value);
	if (err) throwError$1(state, err);
	frame.overridable?.delete(key);
}
function addValue(state, value, tag) {
	const frame = state.frames[state.frames.length - 1];
	if (frame.kind === "document") {
		frame.value = value;
		frame.hasValue = true;
	} else if (frame.kind === "sequence") {
		if (isMappingTag(tag)) state.nodeTags.set(value, tag);
		const err = frame.tag.addItem(frame.value, value, frame.index++);
		if (err) throwError$1(state, err);
	} else if (frame.hasKey) {
		const key = frame.key;
		frame.key = void 0;
		frame.hasKey = false;
		addMappingValue(state, frame, key, value, tag);
	} else {
		frame.key = value;
		frame.keyPosition = state.position;
		frame.hasKey = true;
		frame.keyIsMerge = tag.tagName === MERGE_TAG_NAME;
	}
}
function storeAnchor(state, event, value, tag, isValueFinal) {
	if (event.anchorStart !== NO_RANGE$2) {
		const anchor = {
			value,
			tag,
			isValueFinal
		};
		state.anchors.set(state.source.slice(event.anchorStart, event.anchorEnd), anchor);
		return anchor;
	}
	return null;
}
/**
* Constructs JavaScript documents directly from parser events, without an
* intermediate AST.
*
* @category Events
*/
function constructFromEvents(events, options) {
	const state = {
		...DEFAULT_CONSTRUCTOR_OPTIONS,
		...options,
		events,
		documents: [],
		eventIndex: 0,
		position: 0,
		frames: [],
		anchors: /* @__PURE__ */ new Map(),
		nodeTags: /* @__PURE__ */ new Map(),
		tagHandlers: Object.create(null),
		totalMergeKeys: 0,
		aliasCount: 0
	};
	while (state.eventIndex < state.events.length) {
		const event = state.events[state.eventIndex++];
		state.position = eventPosition$1(event);
		switch (event.type) {
			case EVENT_ID.DOCUMENT:
				state.anchors = /* @__PURE__ */ new Map();
				state.nodeTags = /* @__PURE__ */ new Map();
				state.aliasCount = 0;
				state.tagHandlers = Object.create(null);
				for (const directive of event.directives) if (directive.kind === "tag") state.tagHandlers[directive.handle] = directive.prefix;
				state.frames.push({
					kind: "document",
					position: state.position,
					value: void 0,
					hasValue: false
				});
				break;
			case EVENT_ID.SCALAR: {
				const { value, tag } = constructScalar(state, event);
				storeAnchor(state, event, value, tag, true);
				addValue(state, value, tag);
				break;
			}
			case EVENT_ID.SEQUENCE: {
				const tagName = collectionTagName(state, event, "tag:yaml.org,2002:seq");
				const tag = state.schema.lookupSequenceTag(tagName);
				if (!tag) throwError$1(state, `unknown sequence tag !<${tagName}>`);
				const value = tag.create(tagName);
				const anchor = storeAnchor(state, event, value, tag, tag.carrierIsResult);
				state.frames.push({
					kind: "sequence",
					position: state.position,
					value,
					tag,
					anchor,
					index: 0
				});
				break;
			}
			case EVENT_ID.MAPPING: {
				const tagName = collectionTagName(state, event, "tag:yaml.org,2002:map");
				const tag = state.schema.lookupMappingTag(tagName);
				if (!tag) throwError$1(state, `unknown mapping tag !<${tagName}>`);
				const value = tag.create(tagName);
				const anchor = storeAnchor(state, event, value, tag, tag.carrierIsResult);
				state.frames.push({
					kind: "mapping",
					position: state.position,
					value,
					tag,
					anchor,
					key: void 0,
					keyPosition: state.position,
					hasKey: false,
					keyIsMerge: false,
					overridable: null
				});
				break;
			}
			case EVENT_ID.ALIAS: {
				if (state.maxAliases !== -1 && ++state.aliasCount > state.maxAliases) throwError$1(state, `aliases exceeded maxAliases (${state.maxAliases})`);
				const name = state.source.slice(event.anchorStart, event.anchorEnd);
				const anchor = state.anchors.get(name);
				if (!anchor) throwError$1(state, `unidentified alias "${name}"`);
				if (!anchor.isValueFinal) throwError$1(state, `recursive alias "${name}" is not supported for tag ${anchor.tag.tagName} because it uses finalize()`);
				addValue(state, anchor.value, anchor.tag);
				break;
			}
			case EVENT_ID.POP: {
				const frame = state.frames.pop();
				if (frame.kind === "mapping" && frame.hasKey) {
					state.position = frame.keyPosition;
					throwError$1(state, "incomplete mapping pair in event stream");
				}
				if (frame.kind === "document") state.documents.push(frame.value);
				else {
					const value = frame.tag.carrierIsResult ? frame.value : finalizeCollection(state, frame.position, frame.tag, frame.value);
					if (frame.anchor) {
						frame.anchor.value = value;
						frame.anchor.isValueFinal = true;
					}
					addValue(state, value, frame.tag);
				}
				break;
			}
		}
	}
	return state.documents;
}
//#endregion
//#region src/parser/parser.ts
var NO_RANGE$1 = -1;
var HAS_OWN = Object.prototype.hasOwnProperty;
var CONTEXT_FLOW_IN = 1;
var CONTEXT_FLOW_OUT = 2;
var CONTEXT_BLOCK_IN = 3;
var CONTEXT_BLOCK_OUT = 4;
var PATTERN_NON_PRINTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;
var PATTERN_FLOW_INDICATORS = /[,\[\]{}]/;
var PATTERN_TAG_HANDLE = /^(?:!|!!|![0-9A-Za-z-]+!)$/;
var NS_URI_CHAR = String.raw`(?:%[0-9A-Fa-f]{2}|[0-9A-Za-z\-#;/?:@&=+$,_.!~*'()\[\]])`;
var NS_TAG_CHAR = String.raw`(?:%[0-9A-Fa-f]{2}|[0-9A-Za-z\-#;/?:@&=+$.~*'()_])`;
var PATTERN_TAG_URI = new RegExp(`^(?:${NS_URI_CHAR})*$`);
var PATTERN_TAG_SUFFIX = new RegExp(`^(?:${NS_TAG_CHAR})+$`);
var PATTERN_TAG_PREFIX = new RegExp(`^(?:!(?:${NS_URI_CHAR})*|${NS_TAG_CHAR}(?:${NS_URI_CHAR})*)$`);
var DEFAULT_PARSER_OPTIONS = {
	filename: "",
	maxDepth: 100
};
function addDocumentEvent(state, explicitStart, explicitEnd) {
	state.events.push({
		type: EVENT_ID.DOCUMENT,
		explicitStart,
		explicitEnd,
		directives: state.directives
	});
}
function addSequenceEvent(state, start, anchorStart, anchorEnd, tagStart, tagEnd, style) {
	state.events.push({
		type: EVENT_ID.SEQUENCE,
		start,
		anchorStart,
		anchorEnd,
		tagStart,
		tagEnd,
		style
	});
}
function addMappingEvent(state, start, anchorStart, anchorEnd, tagStart, tagEnd, style) {
	state.events.push({
		type: EVENT_ID.MAPPING,
		start,
		anchorStart,
		anchorEnd,
		tagStart,
		tagEnd,
		style
	});
}
function insertFlowPairMappingEvent(state, snapshot) {
	state.events.splice(snapshot.eventsLength, 0, {
		type: EVENT_ID.MAPPING,
		start: snapshot.position,
		anchorStart: NO_RANGE$1,
		anchorEnd: NO_RANGE$1,
		tagStart: NO_RANGE$1,
		tagEnd: NO_RANGE$1,
		style: COLLECTION_STYLE.FLOW
	});
}
function addScalarEvent(state, valueStart, valueEnd, anchorStart, anchorEnd, tagStart, tagEnd, style, chomping = CHOMPING_MODE.CLIP, indent = -1, fast = false) {
	state.events.push({
		type: EVENT_ID.SCALAR,
		valueStart,
		valueEnd,
		anchorStart,
		anchorEnd,
		tagStart,
		tagEnd,
		style,
		chomping,
		indent,
		fast
	});
}
function addAliasEvent(state, anchorStart, anchorEnd) {
	state.events.push({
		type: EVENT_ID.ALIAS,
		anchorStart,
		anchorEnd
	});
}
function addPopEvent(state) {
	state.events.push({ type: EVENT_ID.POP });
}
function addEmptyScalarEvent(state) {
	addScalarEvent(state, NO_RANGE$1, NO_RANGE$1, NO_RANGE$1, NO_RANGE$1, NO_RANGE$1, NO_RANGE$1, SCALAR_STYLE.PLAIN);
}
function emptyProperties() {
	return {
		anchorStart: NO_RANGE$1,
		anchorEnd: NO_RANGE$1,
		tagStart: NO_RANGE$1,
		tagEnd: NO_RANGE$1
	};
}
function snapshotState(state) {
	return {
		position: state.position,
		line: state.line,
		lineStart: state.lineStart,
		lineIndent: state.lineIndent,
		firstTabInLine: state.firstTabInLine,
		eventsLength: state.events.length
	};
}
function restoreState(state, snapshot) {
	state.position = snapshot.position;
	state.line = snapshot.line;
	state.lineStart = snapshot.lineStart;
	state.lineIndent = snapshot.lineIndent;
	state.firstTabInLine = snapshot.firstTabInLine;
	state.events.length = snapshot.eventsLength;
}
function throwError(state, message) {
	YAMLException.throwAt(state.input.slice(0, state.length), state.position, message, state.filename);
}
function isEol(c) {
	return c === 10 || c === 13;
}
function isWhiteSpace(c) {
	return c === 9 || c === 32;
}
function isWsOrEol(c) {
	return isWhiteSpace(c) || isEol(c);
}
function isWsOrEolOrEnd(c) {
	return c === 0 || isWsOrEol(c);
}
function isFlowIndicator(c) {
	return c === 44 || c === 91 || c === 93 || c === 123 || c === 125;
}
function fromDecimalCode(c) {
	return c >= 48 && c <= 57 ? c - 48 : -1;
}
function fromHexCode(c) {
	if (c >= 48 && c <= 57) return c - 48;
	const lc = c | 32;
	if (lc >= 97 && lc <= 102) return lc - 97 + 10;
	return -1;
}
function escapedHexLen(c) {
	if (c === 120) return 2;
	if (c === 117) return 4;
	if (c === 85) return 8;
	return 0;
}
function isSimpleEscape(c) {
	return c === 48 || c === 97 || c === 98 || c === 116 || c === 9 || c === 110 || c === 118 || c === 102 || c === 114 || c === 101 || c === 32 || c === 34 || c === 47 || c === 92 || c === 78 || c === 95 || c === 76 || c === 80;
}
function consumeLineBreak(state) {
	if (state.input.charCodeAt(state.position) === 10) state.position++;
	else {
		state.position++;
		if (state.input.charCodeAt(state.position) === 10) state.position++;
	}
	state.line++;
	state.lineStart = state.position;
	state.lineIndent = 0;
	state.firstTabInLine = -1;
}
function skipSeparationSpace(state, allowComments) {
	let lineBreaks = 0;
	let ch = state.input.charCodeAt(state.position);
	let hasSeparation = state.position === state.lineStart || isWsOrEol(state.input.charCodeAt(state.position - 1));
	while (ch !== 0) {
		while (isWhiteSpace(ch)) {
			hasSeparation = true;
			if (ch === 9 && state.firstTabInLine === -1) state.firstTabInLine = state.position;
			ch = state.input.charCodeAt(++state.position);
		}
		if (allowComments && hasSeparation && ch === 35) do
			ch = state.input.charCodeAt(++state.position);
		while (!isEol(ch) && ch !== 0);
		if (!isEol(ch)) break;
		consumeLineBreak(state);
		lineBreaks++;
		hasSeparation = true;
		ch = state.input.charCodeAt(state.position);
		while (ch === 32) {
			state.lineIndent++;
			ch = state.input.charCodeAt(++state.position);
		}
	}
	return lineBreaks;
}
function testDocumentSeparator(state, position = state.position) {
	const ch = state.input.charCodeAt(position);
	if ((ch === 45 || ch === 46) && ch === state.input.charCodeAt(position + 1) && ch === state.input.charCodeAt(position + 2)) {
		const following = state.input.charCodeAt(position + 3);
		return following === 0 || isWsOrEol(following);
	}
	return false;
}
function skipByteOrderMark(state) {
	if (state.position === state.lineStart && state.input.charCodeAt(state.position) === 65279) {
		state.position++;
		state.lineStart = state.position;
	}
}
function testDocumentBoundary(state) {
	if (state.position !== state.lineStart) return false;
	if (testDocumentSeparator(state)) return true;
	if (state.input.charCodeAt(state.position) !== 65279) return false;
	const snapshot = snapshotState(state);
	skipByteOrderMark(state);
	skipSeparationSpace(state, true);
	const ch = state.input.charCodeAt(state.position);
	const result = state.position === state.lineStart && (ch === 37 || ch === 45 && testDocumentSeparator(state));
	restoreState(state, snapshot);
	return result;
}
function skipUntilLineEnd(state) {
	let ch = state.input.charCodeAt(state.position);
	while (ch !== 0 && !isEol(ch)) ch = state.input.charCodeAt(++state.position);
}
function checkPrintable(state, start, end) {
	const match = PATTERN_NON_PRINTABLE.exec(state.input.slice(start, end));
	if (match !== null) {
		state.position = start + match.index + match[0].length - 1;
		throwError(state, "the stream contains non-printable characters");
	}
}
function readTagProperty(state, props, inFlow) {
	if (state.input.charCodeAt(state.position) !== 33) return false;
	if (props.tagStart !== NO_RANGE$1) throwError(state, "duplication of a tag property");
	const start = state.position;
	let isVerbatim = false;
	let isNamed = false;
	let tagHandle = "!";
	let ch = state.input.charCodeAt(++state.position);
	if (ch === 60) {
		isVerbatim = true;
		ch = state.input.charCodeAt(++state.position);
	} else if (ch === 33) {
		isNamed = true;
		tagHandle = "!!";
		ch = state.input.charCodeAt(++state.position);
	}
	let suffixStart = state.position;
	let tagName;
	if (isVerbatim) {
		while (ch !== 0 && ch !== 62) ch = state.input.charCodeAt(++state.position);
		if (ch !== 62) throwError(state, "unexpected end of the stream within a verbatim tag");
		tagName = state.input.slice(suffixStart, state.position);
		state.position++;
	} else {
		while (ch !== 0 && !isWsOrEol(ch) && !(inFlow && isFlowIndicator(ch))) {
			if (ch === 33) {
				if (!isNamed) {
					tagHandle = state.input.slice(suffixStart - 1, state.position + 1);
					if (!PATTERN_TAG_HANDLE.test(tagHandle)) throwError(state, "named tag handle cannot contain such characters");
					isNamed = true;
					suffixStart = state.position + 1;
				} else throwError(state, "tag suffix cannot contain exclamation marks");
			}
			ch = state.input.charCodeAt(++state.position);
		}
		tagName = state.input.slice(suffixStart, state.position);
		if (PATTERN_FLOW_INDICATORS.test(tagName)) throwError(state, "tag suffix cannot contain flow indicator characters");
	}
	if (tagName && !(isVerbatim ? PATTERN_TAG_URI.test(tagName) : PATTERN_TAG_SUFFIX.test(tagName))) throwError(state, `tag name cannot contain such characters: ${tagName}`);
	if (!isVerbatim && tagHandle !== "!" && tagHandle !== "!!" && !HAS_OWN.call(state.tagHandlers, tagHandle)) throwError(state, `undeclared tag handle "${tagHandle}"`);
	props.tagStart = start;
	props.tagEnd = state.position;
	return true;
}
function readAnchorProperty(state, props) {
	if (state.input.charCodeAt(state.position) !== 38) return false;
	if (props.anchorStart !== NO_RANGE$1) throwError(state, "duplication of an anchor property");
	state.position++;
	const start = state.position;
	while (state.input.charCodeAt(state.position) !== 0 && !isWsOrEol(state.input.charCodeAt(state.position)) && !isFlowIndicator(state.input.charCodeAt(state.position))) state.position++;
	if (state.position === start) throwError(state, "name of an anchor node must contain at least one character");
	props.anchorStart = start;
	props.anchorEnd = state.position;
	return true;
}
function readAlias(state, props) {
	if (state.input.charCodeAt(state.position) !== 42) return false;
	if (props.anchorStart !== NO_RANGE$1 || props.tagStart !== NO_RANGE$1) throwError(state, "alias node should not have any properties");
	state.position++;
	const start = state.position;
	while (state.input.charCodeAt(state.position) !== 0 && !isWsOrEol(state.input.charCodeAt(state.position)) && !isFlowIndicator(state.input.charCodeAt(state.position))) state.position++;
	if (state.position === start) throwError(state, "name of an alias node must contain at least one character");
	addAliasEvent(state, start, state.position);
	return true;
}
function readFlowScalarBreak(state, nodeIndent) {
	skipSeparationSpace(state, false);
	if (state.lineIndent < nodeIndent) throwError(state, "deficient indentation");
}
function readSingleQuotedScalar(state, nodeIndent, props) {
	if (state.input.charCodeAt(state.position) !== 39) return false;
	state.position++;
	const start = state.position;
	let simple = true;
	while (state.input.charCodeAt(state.position) !== 0) {
		const ch = state.input.charCodeAt(state.position);
		if (ch === 39) {
			if (state.input.charCodeAt(state.position + 1) === 39) {
				simple = false;
				state.position += 2;
				continue;
			}
			const end = state.position;
			state.position++;
			addScalarEvent(state, start, end, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, SCALAR_STYLE.SINGLE_QUOTED, CHOMPING_MODE.CLIP, -1, simple);
			return true;
		}
		if (isEol(ch)) {
			simple = false;
			readFlowScalarBreak(state, nodeIndent);
		} else if (state.position === state.lineStart && testDocumentSeparator(state)) throwError(state, "unexpected end of the document within a single quoted scalar");
		else if (ch !== 9 && ch < 32) throwError(state, "expected valid JSON character");
		else state.position++;
	}
	throwError(state, "unexpected end of the stream within a single quoted scalar");
}
function readDoubleQuotedScalar(state, nodeIndent, props) {
	if (state.input.charCodeAt(state.position) !== 34) return false;
	state.position++;
	const start = state.position;
	let simple = true;
	while (state.input.charCodeAt(state.position) !== 0) {
		const ch = state.input.charCodeAt(state.position);
		if (ch === 34) {
			const end = state.position;
			state.position++;
			addScalarEvent(state, start, end, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, SCALAR_STYLE.DOUBLE_QUOTED, CHOMPING_MODE.CLIP, -1, simple);
			return true;
		}
		if (ch === 92) {
			simple = false;
			const escaped = state.input.charCodeAt(++state.position);
			if (isEol(escaped)) readFlowScalarBreak(state, nodeIndent);
			else if (isSimpleEscape(escaped)) state.position++;
			else {
				let hexLength = escapedHexLen(escaped);
				if (hexLength === 0) throwError(state, "unknown escape sequence");
				while (hexLength-- > 0) {
					state.position++;
					if (fromHexCode(state.input.charCodeAt(state.position)) < 0) throwError(state, "expected hexadecimal character");
				}
				state.position++;
			}
		} else if (isEol(ch)) {
			simple = false;
			readFlowScalarBreak(state, nodeIndent);
		} else if (state.position === state.lineStart && testDocumentSeparator(state)) throwError(state, "unexpected end of the document within a double quoted scalar");
		else if (ch !== 9 && ch < 32) throwError(state, "expected valid JSON character");
		else state.position++;
	}
	throwError(state, "unexpected end of the stream within a double quoted scalar");
}
function readBlockScalar(state, parentIndent, props) {
	const ch = state.input.charCodeAt(state.position);
	let chomping = CHOMPING_MODE.CLIP;
	let indent = -1;
	let detectedIndent = false;
	if (ch !== 124 && ch !== 62) return false;
	const style = ch === 124 ? SCALAR_STYLE.LITERAL_BLOCK : SCALAR_STYLE.FOLDED_BLOCK;
	state.position++;
	while (state.input.charCodeAt(state.position) !== 0) {
		const current = state.input.charCodeAt(state.position);
		const digit = fromDecimalCode(current);
		if (current === 43 || current === 45) {
			if (chomping !== CHOMPING_MODE.CLIP) throwError(state, "repeat of a chomping mode identifier");
			chomping = current === 43 ? CHOMPING_MODE.KEEP : CHOMPING_MODE.STRIP;
			state.position++;
		} else if (digit >= 0) {
			if (digit === 0) throwError(state, "bad explicit indentation width of a block scalar; it cannot be less than one");
			if (detectedIndent) throwError(state, "repeat of an indentation width identifier");
			indent = parentIndent + digit - 1;
			detectedIndent = true;
			state.position++;
		} else break;
	}
	let hadWhitespace = false;
	while (isWhiteSpace(state.input.charCodeAt(state.position))) {
		hadWhitespace = true;
		state.position++;
	}
	if (hadWhitespace && state.input.charCodeAt(state.position) === 35) skipUntilLineEnd(state);
	if (isEol(state.input.charCodeAt(state.position))) consumeLineBreak(state);
	else if (state.input.charCodeAt(state.position) !== 0) throwError(state, "a line break is expected");
	let contentIndent = detectedIndent ? indent : -1;
	let maxLeadingIndent = 0;
	const valueStart = state.position;
	let valueEnd = state.position;
	while (state.input.charCodeAt(state.position) !== 0) {
		const linePosition = state.position;
		let column = 0;
		while (state.input.charCodeAt(linePosition + column) === 32) column++;
		const first = state.input.charCodeAt(linePosition + column);
		if (first === 0) {
			if (contentIndent >= 0) {
				if (column > contentIndent) valueEnd = linePosition + column;
			} else if (column > 0) valueEnd = linePosition + column;
			break;
		}
		if (testDocumentBoundary(state)) break;
		if (!detectedIndent && contentIndent === -1 && isEol(first)) maxLeadingIndent = Math.max(maxLeadingIndent, column);
		if (!detectedIndent && contentIndent === -1 && !isEol(first)) {
			if (first === 9 && column < parentIndent) {
				state.position = linePosition + column;
				throwError(state, "tab characters must not be used in indentation");
			}
			if (column >= parentIndent && column < maxLeadingIndent) {
				state.position = linePosition + column;
				throwError(state, "bad indentation of a mapping entry");
			}
		}
		if (contentIndent === -1 && first !== 0 && !isEol(first) && column < parentIndent) {
			state.lineIndent = column;
			state.position = linePosition + column;
			break;
		}
		if (!detectedIndent && first !== 0 && !isEol(first) && contentIndent === -1) contentIndent = column;
		const requiredIndent = contentIndent === -1 ? parentIndent + 1 : contentIndent;
		if (first !== 0 && !isEol(first) && column < requiredIndent) {
			state.lineIndent = column;
			state.position = linePosition + column;
			break;
		}
		skipUntilLineEnd(state);
		valueEnd = state.position;
		if (isEol(state.input.charCodeAt(state.position))) {
			consumeLineBreak(state);
			valueEnd = state.position;
		}
	}
	checkPrintable(state, valueStart, valueEnd);
	addScalarEvent(state, valueStart, valueEnd, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, style, chomping, contentIndent);
	return true;
}
function canStartPlainScalar(state, nodeContext) {
	const ch = state.input.charCodeAt(state.position);
	const inFlow = nodeContext === CONTEXT_FLOW_IN;
	if (ch === 0 || isWsOrEol(ch) || ch === 35 || ch === 38 || ch === 42 || ch === 33 || ch === 124 || ch === 62 || ch === 39 || ch === 34 || ch === 37 || ch === 64 || ch === 96 || isFlowIndicator(ch)) return false;
	if (ch === 63 || ch === 45) {
		const following = state.input.charCodeAt(state.position + 1);
		if (isWsOrEolOrEnd(following) || inFlow && isFlowIndicator(following)) return false;
	}
	return true;
}
function readPlainScalar(state, nodeIndent, nodeContext, props) {
	if (!canStartPlainScalar(state, nodeContext)) return false;
	const start = state.position;
	let end = state.position;
	let ch = state.input.charCodeAt(state.position);
	const inFlow = nodeContext === CONTEXT_FLOW_IN;
	let multiline = false;
	while (ch !== 0) {
		if (testDocumentBoundary(state)) break;
		if (ch === 58) {
			const following = state.input.charCodeAt(state.position + 1);
			if (isWsOrEolOrEnd(following) || inFlow && isFlowIndicator(following)) break;
		} else if (ch === 35) {
			if (isWsOrEol(state.input.charCodeAt(state.position - 1))) break;
		} else if (inFlow && isFlowIndicator(ch)) break;
		else if (isEol(ch)) {
			const savedPosition = state.position;
			const savedLine = state.line;
			const savedLineStart = state.lineStart;
			const savedLineIndent = state.lineIndent;
			skipSeparationSpace(state, false);
			if (state.lineIndent >= nodeIndent) {
				multiline = true;
				ch = state.input.charCodeAt(state.position);
				continue;
			}
			state.position = savedPosition;
			state.line = savedLine;
			state.lineStart = savedLineStart;
			state.lineIndent = savedLineIndent;
			break;
		}
		if (!isWhiteSpace(ch)) end = state.position + 1;
		ch = state.input.charCodeAt(++state.position);
	}
	if (end === start) return false;
	checkPrintable(state, start, end);
	addScalarEvent(state, start, end, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, SCALAR_STYLE.PLAIN, CHOMPING_MODE.CLIP, -1, !multiline);
	return true;
}
function skipFlowSeparationSpace(state, nodeIndent) {
	const startLine = state.line;
	skipSeparationSpace(state, true);
	if (state.line > startLine && state.lineIndent < nodeIndent || state.firstTabInLine !== -1 && state.lineIndent < nodeIndent) throwError(state, "deficient indentation");
}
function readFlowCollection(state, nodeIndent, props) {
	const ch = state.input.charCodeAt(state.position);
	const isMapping = ch === 123;
	const start = state.position;
	let readNext = true;
	if (ch !== 91 && ch !== 123) return false;
	const terminator = isMapping ? 125 : 93;
	if (isMapping) addMappingEvent(state, start, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, COLLECTION_STYLE.FLOW);
	else addSequenceEvent(state, start, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, COLLECTION_STYLE.FLOW);
	state.position++;
	while (state.input.charCodeAt(state.position) !== 0) {
		skipFlowSeparationSpace(state, nodeIndent);
		let ch = state.input.charCodeAt(state.position);
		if (ch === terminator) {
			state.position++;
			addPopEvent(state);
			return true;
		} else if (!readNext) throwError(state, "missed comma between flow collection entries");
		else if (ch === 44) throwError(state, "expected the node content, but found ','");
		let isPair = false;
		let isExplicitPair = false;
		if (ch === 63 && isWsOrEol(state.input.charCodeAt(state.position + 1))) {
			isPair = isExplicitPair = true;
			state.position += 1;
			skipFlowSeparationSpace(state, nodeIndent);
		}
		const entryLine = state.line;
		const entryStart = snapshotState(state);
		const keyWasRead = parseNode(state, nodeIndent, CONTEXT_FLOW_IN, false, true);
		skipFlowSeparationSpace(state, nodeIndent);
		ch = state.input.charCodeAt(state.position);
		if ((isMapping || isExplicitPair || state.line === entryLine) && ch === 58) {
			isPair = true;
			state.position++;
			skipFlowSeparationSpace(state, nodeIndent);
			if (!isMapping) {
				insertFlowPairMappingEvent(state, entryStart);
				if (!keyWasRead) addEmptyScalarEvent(state);
			} else if (!keyWasRead) addEmptyScalarEvent(state);
			if (!parseNode(state, nodeIndent, CONTEXT_FLOW_IN, false, true)) addEmptyScalarEvent(state);
			skipFlowSeparationSpace(state, nodeIndent);
			if (!isMapping) addPopEvent(state);
		} else if (isMapping && isPair) {
			if (!keyWasRead) addEmptyScalarEvent(state);
			addEmptyScalarEvent(state);
		} else if (isMapping) addEmptyScalarEvent(state);
		else if (isPair) {
			insertFlowPairMappingEvent(state, entryStart);
			if (!keyWasRead) addEmptyScalarEvent(state);
			addEmptyScalarEvent(state);
			addPopEvent(state);
		}
		ch = state.input.charCodeAt(state.position);
		if (ch === 44) {
			readNext = true;
			state.position++;
		} else readNext = false;
	}
	throwError(state, "unexpected end of the stream within a flow collection");
}
function readBlockSequence(state, nodeIndent, props) {
	if (state.firstTabInLine !== -1 || state.input.charCodeAt(state.position) !== 45 || !isWsOrEolOrEnd(state.input.charCodeAt(state.position + 1))) return false;
	addSequenceEvent(state, state.position, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, COLLECTION_STYLE.BLOCK);
	while (state.input.charCodeAt(state.position) === 45 && isWsOrEolOrEnd(state.input.charCodeAt(state.position + 1))) {
		if (state.firstTabInLine !== -1) {
			state.position = state.firstTabInLine;
			throwError(state, "tab characters must not be used in indentation");
		}
		const entryLine = state.line;
		state.position++;
		const hadBreak = skipSeparationSpace(state, true) > 0;
		if (state.firstTabInLine !== -1 && state.input.charCodeAt(state.position) === 45 && isWsOrEolOrEnd(state.input.charCodeAt(state.position + 1))) throwError(state, "bad indentation of a sequence entry");
		if (hadBreak && state.lineIndent <= nodeIndent) addEmptyScalarEvent(state);
		else parseNode(state, nodeIndent, CONTEXT_BLOCK_IN, false, true);
		skipSeparationSpace(state, true);
		if (state.lineIndent < nodeIndent || state.position >= state.length) break;
		if (state.lineIndent > nodeIndent) throwError(state, "bad indentation of a sequence entry");
		if (state.line === entryLine && state.input.charCodeAt(state.position) === 45 && isWsOrEolOrEnd(state.input.charCodeAt(state.position + 1))) throwError(state, "bad indentation of a sequence entry");
	}
	addPopEvent(state);
	return true;
}
function readBlockMapping(state, nodeIndent, flowIndent, props) {
	let atExplicitKey = false;
	let detected = false;
	let mappingOpened = false;
	let pendingExplicitKey = false;
	if (state.firstTabInLine !== -1) return false;
	let ch = state.input.charCodeAt(state.position);
	while (ch !== 0) {
		if (!atExplicitKey && state.firstTabInLine !== -1) {
			state.position = state.firstTabInLine;
			throwError(state, "tab characters must not be used in indentation");
		}
		const following = state.input.charCodeAt(state.position + 1);
		const entryLine = state.line;
		if ((ch === 63 || ch === 58) && isWsOrEolOrEnd(following)) {
			if (!mappingOpened) {
				addMappingEvent(state, state.position, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, COLLECTION_STYLE.BLOCK);
				mappingOpened = true;
			}
			if (ch === 63) {
				if (atExplicitKey) addEmptyScalarEvent(state);
				detected = true;
				atExplicitKey = true;
			} else if (atExplicitKey) atExplicitKey = false;
			else {
				addEmptyScalarEvent(state);
				detected = true;
				atExplicitKey = false;
			}
			state.position += 1;
			pendingExplicitKey = true;
		} else {
			if (atExplicitKey) {
				addEmptyScalarEvent(state);
				atExplicitKey = false;
			}
			const beforeKey = snapshotState(state);
			if (!parseNode(state, flowIndent, CONTEXT_FLOW_OUT, false, true)) break;
			if (state.line === entryLine) {
				ch = state.input.charCodeAt(state.position);
				while (isWhiteSpace(ch)) ch = state.input.charCodeAt(++state.position);
				if (ch === 58) {
					ch = state.input.charCodeAt(++state.position);
					if (!isWsOrEolOrEnd(ch)) throwError(state, "a whitespace character is expected after the key-value separator within a block mapping");
					if (!mappingOpened) {
						state.events.splice(beforeKey.eventsLength, 0, {
							type: EVENT_ID.MAPPING,
							start: beforeKey.position,
							anchorStart: props.anchorStart,
							anchorEnd: props.anchorEnd,
							tagStart: props.tagStart,
							tagEnd: props.tagEnd,
							style: COLLECTION_STYLE.BLOCK
						});
						mappingOpened = true;
					}
					detected = true;
					atExplicitKey = false;
					pendingExplicitKey = false;
				} else if (detected) throwError(state, "expected ':' after a mapping key");
				else {
					if (props.anchorStart !== NO_RANGE$1 || props.tagStart !== NO_RANGE$1) {
						restoreState(state, beforeKey);
						return false;
					}
					return true;
				}
			} else if (detected) throwError(state, "can not read a block mapping entry; a multiline key may not be an implicit key");
			else {
				if (props.anchorStart !== NO_RANGE$1 || props.tagStart !== NO_RANGE$1) {
					restoreState(state, beforeKey);
					return false;
				}
				return true;
			}
		}
		if (parseNode(state, nodeIndent, CONTEXT_BLOCK_OUT, true, pendingExplicitKey)) pendingExplicitKey = false;
		if (!atExplicitKey) {
			if (pendingExplicitKey) {
				addEmptyScalarEvent(state);
				pendingExplicitKey = false;
			}
		}
		skipSeparationSpace(state, true);
		ch = state.input.charCodeAt(state.position);
		if ((state.line === entryLine || state.lineIndent > nodeIndent) && ch !== 0) throwError(state, "bad indentation of a mapping entry");
		else if (state.lineIndent < nodeIndent) break;
	}
	if (!detected) return false;
	if (atExplicitKey) addEmptyScalarEvent(state);
	if (mappingOpened) addPopEvent(state);
	return true;
}
function parseNode(state, parentIndent, nodeContext, allowToSeek, allowCompact, allowPropertyMapping = true) {
	if (state.depth >= state.maxDepth) throwError(state, `nesting exceeded maxDepth (${state.maxDepth})`);
	state.depth++;
	let indentStatus = 1;
	let atNewLine = false;
	let hasContent = false;
	let propertyStart = null;
	const props = emptyProperties();
	let allowBlockScalars = nodeContext === CONTEXT_BLOCK_OUT || nodeContext === CONTEXT_BLOCK_IN;
	let allowBlockCollections = allowBlockScalars;
	const allowBlockStyles = allowBlockScalars;
	if (allowToSeek && skipSeparationSpace(state, true)) {
		atNewLine = true;
		if (state.lineIndent > parentIndent) indentStatus = 1;
		else if (state.lineIndent === parentIndent) indentStatus = 0;
		else indentStatus = -1;
	}
	if (indentStatus === 1) while (true) {
		const ch = state.input.charCodeAt(state.position);
		const propertyState = snapshotState(state);
		if (atNewLine && indentStatus !== 1 && (ch === 33 || ch === 38)) break;
		if (atNewLine && allowBlockStyles && (props.tagStart !== NO_RANGE$1 || props.anchorStart !== NO_RANGE$1) && (ch === 33 || ch === 38)) {
			const fallbackState = snapshotState(state);
			const flowIndent = parentIndent + 1;
			if (readBlockMapping(state, state.position - state.lineStart, flowIndent, props) && state.events[fallbackState.eventsLength]?.type === EVENT_ID.MAPPING) {
				state.depth--;
				return true;
			}
			restoreState(state, fallbackState);
		}
		if (atNewLine && (ch === 33 && props.tagStart !== NO_RANGE$1 || ch === 38 && props.anchorStart !== NO_RANGE$1)) break;
		if (!readTagProperty(state, props, nodeContext === CONTEXT_FLOW_IN) && !readAnchorProperty(state, props)) break;
		if (propertyStart === null) propertyStart = propertyState;
		if (skipSeparationSpace(state, true)) {
			atNewLine = true;
			allowBlockCollections = allowBlockStyles;
			if (state.lineIndent > parentIndent) indentStatus = 1;
			else if (state.lineIndent === parentIndent) indentStatus = 0;
			else indentStatus = -1;
		} else allowBlockCollections = false;
	}
	if (allowBlockCollections) allowBlockCollections = atNewLine || allowCompact;
	if (indentStatus === 1 || nodeContext === CONTEXT_BLOCK_OUT) {
		const flowIndent = nodeContext === CONTEXT_FLOW_IN || nodeContext === CONTEXT_FLOW_OUT ? parentIndent : parentIndent + 1;
		const blockIndent = state.position - state.lineStart;
		if (indentStatus === 1) {
			if (allowBlockCollections && (readBlockSequence(state, blockIndent, props) || readBlockMapping(state, blockIndent, flowIndent, props)) || readFlowCollection(state, flowIndent, props)) hasContent = true;
			else {
				const ch = state.input.charCodeAt(state.position);
				if (propertyStart !== null && allowPropertyMapping && allowBlockStyles && !allowBlockCollections && ch !== 124 && ch !== 62) {
					const fallbackState = snapshotState(state);
					const propertyIndent = propertyStart.position - propertyStart.lineStart;
					restoreState(state, propertyStart);
					if (readBlockMapping(state, propertyIndent, flowIndent, emptyProperties()) && state.events[fallbackState.eventsLength]?.type === EVENT_ID.MAPPING) hasContent = true;
					else restoreState(state, fallbackState);
				}
				if (!hasContent && (allowBlockScalars && readBlockScalar(state, flowIndent, props) || readSingleQuotedScalar(state, flowIndent, props) || readDoubleQuotedScalar(state, flowIndent, props) || readAlias(state, props) || readPlainScalar(state, flowIndent, nodeContext, props))) hasContent = true;
			}
		} else if (indentStatus === 0) hasContent = allowBlockCollections && readBlockSequence(state, blockIndent, props);
	}
	allowBlockScalars = allowBlockScalars && !hasContent;
	if (!hasContent && (props.anchorStart !== NO_RANGE$1 || props.tagStart !== NO_RANGE$1 || allowBlockScalars)) {
		addScalarEvent(state, NO_RANGE$1, NO_RANGE$1, props.anchorStart, props.anchorEnd, props.tagStart, props.tagEnd, SCALAR_STYLE.PLAIN);
		hasContent = true;
	}
	state.depth--;
	return hasContent || props.anchorStart !== NO_RANGE$1 || props.tagStart !== NO_RANGE$1;
}
function readDirective(state) {
	if (state.lineIndent > 0 || state.input.charCodeAt(state.position) !== 37) return false;
	state.position++;
	const nameStart = state.position;
	while (state.input.charCodeAt(state.position) !== 0 && !isWsOrEol(state.input.charCodeAt(state.position))) state.position++;
	const name = state.input.slice(nameStart, state.position);
	const args = [];
	if (name.length === 0) throwError(state, "directive name must not be less than one character in length");
	while (state.input.charCodeAt(state.position) !== 0 && !isEol(state.input.charCodeAt(state.position))) {
		while (isWhiteSpace(state.input.charCodeAt(state.position))) state.position++;
		if (state.input.charCodeAt(state.position) === 35 || isEol(state.input.charCodeAt(state.position)) || state.input.charCodeAt(state.position) === 0) break;
		const start = state.position;
		while (state.input.charCodeAt(state.position) !== 0 && !isWsOrEol(state.input.charCodeAt(state.position))) state.position++;
		args.push(state.input.slice(start, state.position));
	}
	if (isEol(state.input.charCodeAt(state.position))) consumeLineBreak(state);
	if (name === "YAML") {
		if (state.directives.some((directive) => directive.kind === "yaml")) throwError(state, "duplication of %YAML directive");
		if (args.length !== 1) throwError(state, "YAML directive accepts exactly one argument");
		const match = /^([0-9]+)\.([0-9]+)$/.exec(args[0]);
		if (match === null) throwError(state, "ill-formed argument of the YAML directive");
		if (parseInt(match[1], 10) !== 1) throwError(state, "unacceptable YAML version of the document");
		state.directives.push({
			kind: "yaml",
			version: args[0]
		});
	} else if (name === "TAG") {
		if (args.length !== 2) throwError(state, "TAG directive accepts exactly two arguments");
		const [handle, prefix] = args;
		if (!PATTERN_TAG_HANDLE.test(handle)) throwError(state, "ill-formed tag handle (first argument) of the TAG directive");
		if (HAS_OWN.call(state.tagHandlers, handle)) throwError(state, `there is a previously declared suffix for "${handle}" tag handle`);
		if (!PATTERN_TAG_PREFIX.test(prefix)) throwError(state, "ill-formed tag prefix (second argument) of the TAG directive");
		state.tagHandlers[handle] = prefix;
		state.directives.push({
			kind: "tag",
			handle,
			prefix
		});
	}
	return true;
}
function readDocument(state) {
	state.directives = [];
	state.tagHandlers = Object.create(null);
	let hasDirectives = false;
	skipSeparationSpace(state, true);
	while (readDirective(state)) {
		hasDirectives = true;
		skipSeparationSpace(state, true);
	}
	let explicitStart = false;
	let explicitEnd = false;
	let allowCompact = true;
	if (state.lineIndent === 0 && state.input.charCodeAt(state.position) === 45 && state.input.charCodeAt(state.position + 1) === 45 && state.input.charCodeAt(state.position + 2) === 45 && isWsOrEolOrEnd(state.input.charCodeAt(state.position + 3))) {
		explicitStart = true;
		const markerLine = state.line;
		state.position += 3;
		skipSeparationSpace(state, true);
		allowCompact = state.line > markerLine;
	} else if (hasDirectives) throwError(state, "directives end mark is expected");
	const documentEventIndex = state.events.length;
	if (!explicitStart && state.position === state.lineStart && state.input.charCodeAt(state.position) === 46 && testDocumentSeparator(state)) {
		state.position += 3;
		skipSeparationSpace(state, true);
		return;
	}
	addDocumentEvent(state, explicitStart, false);
	if (!parseNode(state, state.lineIndent - 1, CONTEXT_BLOCK_OUT, false, allowCompact, allowCompact)) addEmptyScalarEvent(state);
	skipSeparationSpace(state, true);
	if (state.position === state.lineStart && testDocumentSeparator(state)) {
		explicitEnd = state.input.charCodeAt(state.position) === 46;
		if (explicitEnd) {
			const markerLine = state.line;
			state.position += 3;
			skipSeparationSpace(state, true);
			if (state.line === markerLine && state.position < state.length) throwError(state, "end of the stream or a document separator is expected");
		}
	}
	const documentEvent = state.events[documentEventIndex];
	if (documentEvent?.type === EVENT_ID.DOCUMENT) documentEvent.explicitEnd = explicitEnd;
	addPopEvent(state);
	if (!explicitEnd && state.position < state.length && !testDocumentBoundary(state)) throwError(state, "end of the stream or a document separator is expected");
}
/**
* Parses YAML into a flat event stream referencing source text by offsets.
*
* @category Events
*/
function parseEvents(input, options) {
	const length = input.length;
	const state = {
		...DEFAULT_PARSER_OPTIONS,
		...options,
		input: `${input}\0`,
		length,
		position: 0,
		line: 0,
		lineStart: 0,
		lineIndent: 0,
		firstTabInLine: -1,
		depth: 0,
		directives: [],
		tagHandlers: Object.create(null),
		events: []
	};
	const nullpos = input.indexOf("\0");
	if (nullpos !== -1) YAMLException.throwAt(input, nullpos, "null byte is not allowed in input", state.filename);
	while (state.position < state.length) {
		skipByteOrderMark(state);
		skipSeparationSpace(state, true);
		if (state.position >= state.length) break;
		const documentStart = state.position;
		readDocument(state);
		if (state.position === documentStart)
 /* c8 ignore next */
		throwError(state, "can not read a document");
	}
	return state.events;
}
//#endregion
//#region src/load.ts
var DEFAULT_LOAD_OPTIONS = {
	...DEFAULT_PARSER_OPTIONS,
	...DEFAULT_CONSTRUCTOR_OPTIONS
};
function loadDocuments(input, options = {}) {
	const opts = {
		...DEFAULT_LOAD_OPTIONS,
		...options
	};
	const source = String(input);
	const PARSER_OPT_KEYS = Object.keys(DEFAULT_PARSER_OPTIONS);
	const CONSTRUCTOR_OPT_KEYS = Object.keys(DEFAULT_CONSTRUCTOR_OPTIONS);
	return constructFromEvents(parseEvents(source, pick(opts, PARSER_OPT_KEYS)), {
		...pick(opts, CONSTRUCTOR_OPT_KEYS),
		source
	});
}
/**
* Parses `string` as a single YAML document. Throws {@link YAMLException} on
* error. This function does not understand multi-document or empty sources; it
* throws an exception on those.
*
* > [!NOTE]
* > 1. When processing untrusted input, see the
* >    [security considerations](../docs/safety.md).
* > 2. All exceptions MUST be caught, not just {@link YAMLException}.
* > 3. The default {@link CORE_SCHEMA} comes without the `!!merge` tag. You can
* >    easily enable it if needed.
* > 4. The default {@link mapTag} is `{}`-object based, with known limitations
* >    (see description). For full compatibility use {@link realMapTag}
* >    instead (it uses native JS `Map`).
*
* @example
* Enable {@link mergeTag} and {@link realMapTag}:
*
* ```javascript
* import { load, CORE_SCHEMA, mergeTag, realMapTag } from 'js-yaml'
*
* try {
*   load(data, { schema: CORE_SCHEMA.withTags(mergeTag, realMapTag) })
* } catch (e) {
*   console.error(e)
* }
* ```
*
* @category Main
*/
function load(input, options) {
	const documents = loadDocuments(input, options);
	if (documents.length === 0) throw new YAMLException("expected a document, but the input is empty");
	if (documents.length === 1) return documents[0];
	throw new YAMLException("expected a single document in the stream, but found more");
}
//#endregion
//#region src/ast/visit.ts
/**
* Return from a visitor to stop the whole traversal.
*
* @category AST
*/
var VISIT_BREAK = Symbol("visit:break");
/**
* Return from a visitor to skip the current node's children.
*
* @category AST
*/
var VISIT_SKIP = Symbol("visit:skip");
function visitNode(node, visitor, ctx) {
	const control = visitor(node, ctx);
	if (control === VISIT_BREAK) return true;
	if (control === VISIT_SKIP) return false;
	const depth = ctx.depth + 1;
	switch (node.kind) {
		case "sequence":
			for (const item of node.items) if (visitNode(item, visitor, {
				depth,
				parent: node,
				isKey: false
			})) return true;
			break;
		case "mapping": for (const { key, value } of node.items) {
			if (visitNode(key, visitor, {
				depth,
				parent: node,
				isKey: true
			})) return true;
			if (visitNode(value, visitor, {
				depth,
				parent: node,
				isKey: false
			})) return true;
		}
	}
	return false;
}
/**
* Walk every node in the documents, calling {@link Visitor} once per
* node (pre-order).
*
* @category AST
*/
function visit(documents, visitor) {
	for (const doc of documents) if (doc.contents && visitNode(doc.contents, visitor, {
		depth: 0,
		parent: null,
		isKey: false
	})) return;
}
//#endregion
//#region src/ast/styler_defaults.ts
function hasBit(mask, bit) {
	return (mask & 1 << bit) !== 0;
}
/**
* Default scalar styling rules in application order.
* See [Scalar styling](../../docs/scalar_styling.md) for usage details.
*
* @category AST
*/
var DEFAULT_SCALAR_STYLE_RULES = {
	applyQuoteFlowKeysOption,
	doubleQuoteForInvisibles,
	doubleQuoteWhitespaceOnly,
	applyForceQuotesOption,
	tryLongOrMultilineAsBlock,
	quoteInvalidPlain,
	fallbackToDoubleQuoted
};
function _preferredQuotedStyle(layout) {
	if (layout.presenterOptions.quoteStyle === "single" && hasBit(layout.allowedStylesMask, SCALAR_STYLE.SINGLE_QUOTED)) return SCALAR_STYLE.SINGLE_QUOTED;
	return SCALAR_STYLE.DOUBLE_QUOTED;
}
function applyQuoteFlowKeysOption(layout) {
	if (!layout.presenterOptions.quoteFlowKeys) return;
	if (!layout.isKey || !layout.flowOnly || layout.style !== SCALAR_STYLE.PLAIN) return;
	layout.style = SCALAR_STYLE.DOUBLE_QUOTED;
}
function doubleQuoteForInvisibles(layout) {
	if (layout.style === SCALAR_STYLE.PLAIN && /[\t\x7F-\xA0\u2028\u2029\uFEFF\uFFFE\uFFFF]/.test(layout.node.value)) layout.style = SCALAR_STYLE.DOUBLE_QUOTED;
}
function doubleQuoteWhitespaceOnly(layout) {
	if (layout.style === SCALAR_STYLE.PLAIN && /^\s+$/.test(layout.node.value)) layout.style = SCALAR_STYLE.DOUBLE_QUOTED;
}
function applyForceQuotesOption(layout) {
	if (!layout.presenterOptions.forceQuotes) return;
	if (layout.isKey || layout.style !== SCALAR_STYLE.PLAIN) return;
	if (layout.node.tag !== layout.presenterOptions.schema.defaultScalarTag.tagName) return;
	layout.style = layout.node.value.includes("\n") ? SCALAR_STYLE.DOUBLE_QUOTED : _preferredQuotedStyle(layout);
}
function tryLongOrMultilineAsBlock(layout) {
	if (layout.style !== SCALAR_STYLE.PLAIN || layout.isKey) return;
	const value = layout.node.value;
	const multiline = value.indexOf("\n") !== -1;
	if (!hasBit(layout.allowedStylesMask, SCALAR_STYLE.LITERAL_BLOCK)) {
		if (multiline) layout.style = SCALAR_STYLE.DOUBLE_QUOTED;
		return;
	}
	const w = layout.presenterOptions.lineWidth;
	if (w === -1) {
		if (multiline) layout.style = SCALAR_STYLE.LITERAL_BLOCK;
		return;
	}
	const availableWidth = Math.max(Math.min(w, 40), w - layout.shiftOfContent);
	let position = 0;
	let shouldFold = false;
	while (position <= value.length) {
		let lineEnd = value.length;
		const nextLineBreak = value.indexOf("\n", position);
		if (nextLineBreak !== -1) lineEnd = nextLineBreak;
		const line = value.slice(position, lineEnd);
		if (line.length > availableWidth && line[0] !== " " && / [^ \t]/.test(line)) shouldFold = true;
		if (nextLineBreak === -1) break;
		position = nextLineBreak + 1;
	}
	if (shouldFold) layout.style = SCALAR_STYLE.FOLDED_BLOCK;
	else if (multiline) layout.style = SCALAR_STYLE.LITERAL_BLOCK;
}
function quoteInvalidPlain(layout) {
	if (layout.style === SCALAR_STYLE.PLAIN && !hasBit(layout.allowedStylesMask, SCALAR_STYLE.PLAIN)) layout.style = _preferredQuotedStyle(layout);
}
function fallbackToDoubleQuoted(layout) {
	if (!hasBit(layout.allowedStylesMask, layout.style)) layout.style = SCALAR_STYLE.DOUBLE_QUOTED;
}
//#endregion
//#region src/ast/scalar_styler.ts
function setBit(mask, bit) {
	return mask | 1 << bit;
}
var SRC_C_PRINTABLE = "[\\x09\\x0A\\x0D\\x20-\\x7E\\x85\\xA0-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]";
var SRC_B_CHAR = "[\\n\\r]";
var SRC_C_BYTE_ORDER_MARK = "\\uFEFF";
var SRC_S_WHITE = "[ \\t]";
var SRC_NB_CHAR = `(?:(?!(?:${SRC_B_CHAR}|${SRC_C_BYTE_ORDER_MARK}))${SRC_C_PRINTABLE})`;
var SRC_NS_CHAR = `(?:(?!${SRC_S_WHITE})${SRC_NB_CHAR})`;
var SRC_NB_JSON = "[\\x09\\x20-\\uD7FF\\uE000-\\uFFFF\\u{10000}-\\u{10FFFF}]";
var SRC_C_INDICATOR = "[-?:,\\[\\]{}#&*!|>'\"%@`]";
var SRC_C_FLOW_INDICATOR = "[,\\[\\]{}]";
var SRC_NS_PLAIN_SAFE_FLOW_OUT = SRC_NS_CHAR;
var SRC_NS_PLAIN_SAFE_FLOW_IN = `(?:(?!${SRC_C_FLOW_INDICATOR})${SRC_NS_CHAR})`;
var SRC_NS_PLAIN_FIRST_FLOW_OUT = `(?:(?:(?!${SRC_C_INDICATOR})${SRC_NS_CHAR})|[?:-](?=${SRC_NS_PLAIN_SAFE_FLOW_OUT}))`;
var SRC_NS_PLAIN_FIRST_FLOW_IN = `(?:(?:(?!${SRC_C_INDICATOR})${SRC_NS_CHAR})|[?:-](?=${SRC_NS_PLAIN_SAFE_FLOW_IN}))`;
var SRC_NS_PLAIN_CHAR_FLOW_OUT = `(?:(?:(?![:#])${SRC_NS_PLAIN_SAFE_FLOW_OUT})|:(?=${SRC_NS_PLAIN_SAFE_FLOW_OUT}))#*`;
var SRC_NS_PLAIN_CHAR_FLOW_IN = `(?:(?:(?![:#])${SRC_NS_PLAIN_SAFE_FLOW_IN})|:(?=${SRC_NS_PLAIN_SAFE_FLOW_IN}))#*`;
var SRC_NB_NS_PLAIN_IN_LINE_FLOW_OUT = `(?:${SRC_S_WHITE}*${SRC_NS_PLAIN_CHAR_FLOW_OUT})*`;
var SRC_NB_NS_PLAIN_IN_LINE_FLOW_IN = `(?:${SRC_S_WHITE}*${SRC_NS_PLAIN_CHAR_FLOW_IN})*`;
var SRC_NS_PLAIN_ONE_LINE_FLOW_OUT = `${SRC_NS_PLAIN_FIRST_FLOW_OUT}#*${SRC_NB_NS_PLAIN_IN_LINE_FLOW_OUT}`;
var SRC_NS_PLAIN_ONE_LINE_FLOW_IN = `${SRC_NS_PLAIN_FIRST_FLOW_IN}#*${SRC_NB_NS_PLAIN_IN_LINE_FLOW_IN}`;
var SRC_NS_PLAIN_ONE_LINE_BLOCK_KEY = SRC_NS_PLAIN_ONE_LINE_FLOW_OUT;
var SRC_NS_PLAIN_ONE_LINE_FLOW_KEY = SRC_NS_PLAIN_ONE_LINE_FLOW_IN;
var SRC_S_NS_PLAIN_NEXT_LINE_FLOW_OUT = `\\n+${SRC_NS_PLAIN_CHAR_FLOW_OUT}${SRC_NB_NS_PLAIN_IN_LINE_FLOW_OUT}`;
var SRC_S_NS_PLAIN_NEXT_LINE_FLOW_IN = `\\n+${SRC_NS_PLAIN_CHAR_FLOW_IN}${SRC_NB_NS_PLAIN_IN_LINE_FLOW_IN}`;
var SRC_NS_PLAIN_MULTI_LINE_FLOW_OUT = `${SRC_NS_PLAIN_ONE_LINE_FLOW_OUT}(?:${SRC_S_NS_PLAIN_NEXT_LINE_FLOW_OUT})*`;
var SRC_NS_PLAIN_MULTI_LINE_FLOW_IN = `${SRC_NS_PLAIN_ONE_LINE_FLOW_IN}(?:${SRC_S_NS_PLAIN_NEXT_LINE_FLOW_IN})*`;
var NS_PLAIN_FLOW_OUT = new RegExp(`^(?:${SRC_NS_PLAIN_MULTI_LINE_FLOW_OUT})$`, "u");
var NS_PLAIN_FLOW_IN = new RegExp(`^(?:${SRC_NS_PLAIN_MULTI_LINE_FLOW_IN})$`, "u");
var NS_PLAIN_BLOCK_KEY = new RegExp(`^(?:${SRC_NS_PLAIN_ONE_LINE_BLOCK_KEY})$`, "u");
var NS_PLAIN_FLOW_KEY = new RegExp(`^(?:${SRC_NS_PLAIN_ONE_LINE_FLOW_KEY})$`, "u");
var NB_SINGLE_ONE_LINE = new RegExp(`^(?:${SRC_NB_JSON})*$`, "u");
var NB_SINGLE_MULTI_LINE = new RegExp(`^(?:${SRC_NB_JSON}|\\n)*$`, "u");
var BLOCK_SCALAR_CONTENT = new RegExp(`^(?:${SRC_NB_CHAR}|\\n)*$`, "u");
var C_FORBIDDEN_FIRST_LINE = /^(?:---|\.\.\.)(?=$|[ \t\n\r])/;
var C_FORBIDDEN_CONTENT = /^(?:---|\.\.\.)(?=$|[ \t\n\r])/m;
function canUsePlain(layout) {
	const str = layout.node.value;
	if (str !== "") {
		if (!(layout.isKey ? layout.flowOnly ? NS_PLAIN_FLOW_KEY : NS_PLAIN_BLOCK_KEY : layout.flowOnly ? NS_PLAIN_FLOW_IN : NS_PLAIN_FLOW_OUT).test(str)) return false;
		if (layout.shiftOfFirstLine === 0 && C_FORBIDDEN_FIRST_LINE.test(str)) return false;
		if (layout.shiftOfContent === 0) {
			const firstLineBreak = str.indexOf("\n");
			if (firstLineBreak !== -1) {
				const content = str.slice(firstLineBreak + 1);
				if (C_FORBIDDEN_CONTENT.test(content)) return false;
			}
		}
	}
	const resolvedTag = layout.presenterOptions.schema.resolveImplicitScalarTag(str).tag.tagName;
	if (!layout.node.tagged && resolvedTag !== layout.node.tag) return false;
	if (!layout.node.tagged && str === "=" && resolvedTag === layout.presenterOptions.schema.defaultScalarTag.tagName) return false;
	return true;
}
function canUseSingleQuoted(layout) {
	const str = layout.node.value;
	if (!(layout.isKey ? NB_SINGLE_ONE_LINE : NB_SINGLE_MULTI_LINE).test(str)) return false;
	if (/[ \t]\n|\n[ \t]/.test(str)) return false;
	if (!layout.isKey && layout.shiftOfContent === 0) {
		const firstLineBreak = str.indexOf("\n");
		if (firstLineBreak !== -1 && C_FORBIDDEN_CONTENT.test(str.slice(firstLineBreak + 1))) return false;
	}
	return true;
}
function canUseBlock(layout) {
	if (layout.flowOnly || !BLOCK_SCALAR_CONTENT.test(layout.node.value)) return false;
	const contentIndent = layout.shiftOfContent - layout.shiftOfParent;
	if (contentIndent < 1) return false;
	if (contentIndent > 9 && /^\n* /.test(layout.node.value)) return false;
	if (layout.shiftOfContent === 0 && C_FORBIDDEN_CONTENT.test(layout.node.value)) return false;
	return true;
}
function detectAllowedStyles(layout) {
	let mask = setBit(0, SCALAR_STYLE.DOUBLE_QUOTED);
	if (canUsePlain(layout)) mask = setBit(mask, SCALAR_STYLE.PLAIN);
	if (canUseSingleQuoted(layout)) mask = setBit(mask, SCALAR_STYLE.SINGLE_QUOTED);
	if (canUseBlock(layout)) mask = setBit(setBit(mask, SCALAR_STYLE.LITERAL_BLOCK), SCALAR_STYLE.FOLDED_BLOCK);
	layout.allowedStylesMask = mask;
}
function renderScalar(layout) {
	switch (layout.style) {
		case SCALAR_STYLE.PLAIN: return renderPlain(layout);
		case SCALAR_STYLE.SINGLE_QUOTED: return renderSingleQuoted(layout);
		case SCALAR_STYLE.LITERAL_BLOCK: return renderLiteralBlock(layout);
		case SCALAR_STYLE.FOLDED_BLOCK: return renderFoldedBlock(layout);
		case SCALAR_STYLE.DOUBLE_QUOTED: return renderDoubleQuoted(layout);
	}
}
function renderPlain(layout) {
	return encodeFlowBreaks(layout.node.value, layout.shiftOfContent);
}
function renderSingleQuoted(layout) {
	return `'${encodeFlowBreaks(layout.node.value, layout.shiftOfContent).replace(/'/g, "''")}'`;
}
function renderLiteralBlock(layout) {
	const value = layout.node.value;
	return "|" + blockHeader(value, layout.shiftOfParent, layout.shiftOfContent) + dropEndingNewline(indentString(value, layout.shiftOfContent));
}
function renderFoldedBlock(layout) {
	const value = layout.node.value;
	const w = layout.presenterOptions.lineWidth;
	let availableWidth = Infinity;
	if (w !== -1) availableWidth = Math.max(Math.min(w, 40), w - layout.shiftOfContent);
	return ">" + blockHeader(value, layout.shiftOfParent, layout.shiftOfContent) + dropEndingNewline(indentString(foldBlockScalar(value, availableWidth), layout.shiftOfContent));
}
function renderDoubleQuoted(layout) {
	return `"${escapeString(layout.node.value)}"`;
}
function encodeFlowBreaks(string, shiftOfContent) {
	let nextLF = string.indexOf("\n");
	if (nextLF === -1) return string;
	const pad = " ".repeat(shiftOfContent);
	let result = string.slice(0, nextLF);
	const lineRe = /(\n+)([^\n]*)/g;
	lineRe.lastIndex = nextLF;
	let match;
	while (match = lineRe.exec(string)) {
		const breaks = match[1].length;
		const line = match[2];
		result += "\n".repeat(breaks + 1) + pad + line;
	}
	return result;
}
function indentString(string, spaces) {
	const indent = " ".repeat(spaces);
	let position = 0;
	let result = "";
	const length = string.length;
	while (position < length) {
		let line;
		const next = string.indexOf("\n", position);
		if (next === -1) {
			line = string.slice(position);
			position = length;
		} else {
			line = string.slice(position, next + 1);
			position = next + 1;
		}
		if (line.length && line !== "\n") result += indent;
		result += line;
	}
	return result;
}
function needIndentIndicator(string) {
	return /^\n* /.test(string);
}
function blockHeader(string, shiftOfParent, shiftOfContent) {
	const indentIndicator = needIndentIndicator(string) ? String(shiftOfContent - shiftOfParent) : "";
	const clip = string[string.length - 1] === "\n";
	return `${indentIndicator}${clip && (string[string.length - 2] === "\n" || string === "\n") ? "+" : clip ? "" : "-"}\n`;
}
function dropEndingNewline(string) {
	return string[string.length - 1] === "\n" ? string.slice(0, -1) : string;
}
function isMoreIndented(char) {
	return char === " " || char === "	";
}
function foldLine(line, width) {
	if (line === "" || isMoreIndented(line[0])) return line;
	const breakRe = / [^ \t]/g;
	let match;
	let start = 0;
	let end;
	let curr = 0;
	let next = 0;
	let result = "";
	while (match = breakRe.exec(line)) {
		next = match.index;
		if (next - start > width) {
			end = curr > start ? curr : next;
			result += `\n${line.slice(start, end)}`;
			start = end + 1;
		}
		curr = next;
	}
	result += "\n";
	if (line.length - start > width && curr > start) result += `${line.slice(start, curr)}\n${line.slice(curr + 1)}`;
	else result += line.slice(start);
	return result.slice(1);
}
function foldBlockScalar(string, width) {
	const lineRe = /(\n+)([^\n]*)/g;
	let nextLF = string.indexOf("\n");
	if (nextLF === -1) nextLF = string.length;
	lineRe.lastIndex = nextLF;
	let result = foldLine(string.slice(0, nextLF), width);
	let prevMoreIndented = string[0] === "\n" || isMoreIndented(string[0]);
	let moreIndented;
	let match;
	while (match = lineRe.exec(string)) {
		const prefix = match[1];
		const line = match[2];
		moreIndented = line !== "" && isMoreIndented(line[0]);
		result += prefix + (!prevMoreIndented && !moreIndented && line !== "" ? "\n" : "") + foldLine(line, width);
		prevMoreIndented = moreIndented;
	}
	return result;
}
var CHARACTERS_TO_ESCAPE = /["\\\x00-\x1F\x7F-\xA0\u2028\u2029\uD800-\uDFFF\uFEFF\uFFFE\uFFFF]/gu;
function escapeCharacter(character) {
	switch (character) {
		case "\0": return "\\0";
		case "\x07": return "\\a";
		case "\b": return "\\b";
		case "	": return "\\t";
		case "\n": return "\\n";
		case "\v": return "\\v";
		case "\f": return "\\f";
		case "\r": return "\\r";
		case "\x1B": return "\\e";
		case "\"": return "\\\"";
		case "\\": return "\\\\";
		case "": return "\\N";
		case "\xA0": return "\\_";
		case "\u2028": return "\\L";
		case "\u2029": return "\\P";
	}
	const code = character.charCodeAt(0);
	const hex = code.toString(16).toUpperCase();
	if (code <= 255) return `\\x${"0".repeat(2 - hex.length)}${hex}`;
	return `\\u${"0".repeat(4 - hex.length)}${hex}`;
}
function escapeString(string) {
	return string.replace(CHARACTERS_TO_ESCAPE, escapeCharacter);
}
//#endregion
//#region src/ast/presenter.ts
var CHAR_LINE_FEED = 10;
var DEFAULT_PRESENTER_OPTIONS = {
	indent: 2,
	seqNoIndent: false,
	seqInlineFirst: true,
	lineWidth: 80,
	flowBracketPadding: false,
	flowSkipCommaSpace: false,
	flowSkipColonSpace: false,
	quoteFlowKeys: false,
	quoteStyle: "single",
	forceQuotes: false,
	scalarStyleRules: Object.keys(DEFAULT_SCALAR_STYLE_RULES).map((name) => Reflect.get(DEFAULT_SCALAR_STYLE_RULES, name)),
	tagBeforeAnchor: false
};
function nodeTagShort(node) {
	return node.tagged ? node.tag : tagNameShort(node.tag);
}
function createPresenterState(options) {
	const opts = {
		...DEFAULT_PRESENTER_OPTIONS,
		...options
	};
	if (opts.flowSkipColonSpace) opts.quoteFlowKeys = true;
	return {
		...opts,
		defaultScalarTagName: opts.schema.defaultScalarTag.tagName,
		openEnded: false
	};
}
function generateNextLine(state, level) {
	return `\n${" ".repeat(state.indent * level)}`;
}
function scalarLayout(state, node, parent, level, isKey, flowOnly) {
	return {
		node,
		parent,
		level,
		isKey,
		flowOnly,
		shiftOfParent: level === 0 ? -1 : state.indent * (level - 1),
		shiftOfContent: state.indent * Math.max(1, level),
		shiftOfFirstLine: level === 0 ? 0 : state.indent * level,
		presenterOptions: state,
		allowedStylesMask: 0,
		style: node.style
	};
}
function writeFlowSequence(state, level, node) {
	let result = "";
	for (let index = 0, length = node.items.length; index < length; index += 1) {
		const item = writeNode(state, level, node.items[index], node, {}).text;
		if (index > 0) result += `,${!state.flowSkipCommaSpace ? " " : ""}`;
		result += item;
	}
	const pad = state.flowBracketPadding && node.items.length > 0 ? " " : "";
	return `[${pad}${result}${pad}]`;
}
function writeBlockSequence(state, level, node, compact) {
	let result = "";
	for (let index = 0, length = node.items.length; index < length; index += 1) {
		const item = writeNode(state, level + 1, node.items[index], node, {
			block: true,
			compact: state.seqInlineFirst,
			isblockseq: true
		}).text;
		if (!compact || result !== "") result += generateNextLine(state, level);
		if (item === "" || CHAR_LINE_FEED === item.charCodeAt(0)) result += "-";
		else result += "- ";
		result += item;
	}
	return result;
}
function writeFlowMapping(state, level, node) {
	let result = "";
	for (const { key, value } of node.items) {
		let pairBuffer = "";
		if (result !== "") pairBuffer += `,${!state.flowSkipCommaSpace ? " " : ""}`;
		const keyRender = writeNode(state, level, key, node, { iskey: true });
		const keyText = keyRender.text;
		const valueText = writeNode(state, level, value, node, {}).text;
		const sep = state.flowSkipColonSpace || valueText === "" ? "" : " ";
		const keyIsBareProps = key.kind === "scalar" && keyRender.noBody && (key.tagged || key.anchor !== void 0);
		const keyColonSep = key.kind === "alias" || keyIsBareProps ? " " : "";
		pairBuffer += `${keyText}${keyColonSep}:${sep}${valueText}`;
		result += pairBuffer;
	}
	const pad = state.flowBracketPadding && result !== "" ? " " : "";
	return `{${pad}${result}${pad}}`;
}
function writeBlockMapping(state, level, node, compact) {
	let result = "";
	for (let index = 0, length = node.items.length; index < length; index += 1) {
		let pairBuffer = "";
		if (!compact || result !== "") pairBuffer += generateNextLine(state, level);
		const { key, value } = node.items[index];
		const keyIsBlock = (key.kind === "mapping" || key.kind === "sequence") && key.style === COLLECTION_STYLE.BLOCK && key.items.length !== 0 || key.kind === "scalar" && (key.style === SCALAR_STYLE.LITERAL_BLOCK || key.style === SCALAR_STYLE.FOLDED_BLOCK);
		const keyRender = keyIsBlock ? writeNode(state, level + 1, key, node, {
			block: true,
			compact: true,
			isblockseq: !cannotBeCompact(state, key, level + 1)
		}) : writeNode(state, level + 1, key, node, {
			block: true,
			compact: true,
			iskey: true
		});
		const keyText = keyRender.text;
		const keyHasLineBreak = key.kind === "scalar" && key.value.indexOf("\n") !== -1;
		const keyIsTooLong = keyText.length > 1024 && /^[\s\S]{1025}/u.test(keyText);
		const explicitPair = keyIsBlock || keyHasLineBreak || keyIsTooLong;
		if (explicitPair) {
			if (keyText && CHAR_LINE_FEED === keyText.charCodeAt(0)) pairBuffer += "?";
			else pairBuffer += "? ";
		}
		pairBuffer += keyText;
		if (explicitPair) pairBuffer += generateNextLine(state, level);
		const valueText = writeNode(state, level + 1, value, node, {
			block: true,
			compact: explicitPair,
			isblockseq: explicitPair && !cannotBeCompact(state, value, level + 1)
		}).text;
		const keyIsBareProps = key.kind === "scalar" && keyRender.noBody && (key.tagged || key.anchor !== void 0);
		const keyColonSep = !explicitPair && (key.kind === "alias" || keyIsBareProps) ? " " : "";
		if (valueText === "" || CHAR_LINE_FEED === valueText.charCodeAt(0)) pairBuffer += `${keyColonSep}:`;
		else pairBuffer += `${keyColonSep}: `;
		pairBuffer += valueText;
		result += pairBuffer;
	}
	return result;
}
function cannotBeCompact(state, node, level) {
	if (node.kind === "alias") return true;
	return node.tagged || node.anchor !== void 0 || state.indent < 2 && level > 0;
}
function writeNode(state, level, node, parent, ctx) {
	if (node.kind === "alias") {
		state.openEnded = false;
		return {
			text: `*${node.anchor}`,
			noBody: false
		};
	}
	const { block = false, iskey = false, isblockseq = false } = ctx;
	let compact = ctx.compact ?? false;
	const hasAnchor = node.anchor !== void 0;
	if (cannotBeCompact(state, node, level)) compact = false;
	let body;
	let shouldPrintTag = node.tagged;
	const useBlockCollection = block && (node.kind === "mapping" || node.kind === "sequence") && node.style === COLLECTION_STYLE.BLOCK && node.items.length !== 0;
	if (node.kind === "mapping") {
		if (useBlockCollection) body = writeBlockMapping(state, level, node, compact);
		else body = writeFlowMapping(state, level, node);
	} else if (node.kind === "sequence") {
		if (useBlockCollection) {
			if (state.seqNoIndent && !isblockseq && level > 0) body = writeBlockSequence(state, level - 1, node, compact);
			else body = writeBlockSequence(state, level, node, compact);
		} else body = writeFlowSequence(state, level, node);
	} else {
		const layout = scalarLayout(state, node, parent, level, iskey, !block);
		detectAllowedStyles(layout);
		for (const rule of state.scalarStyleRules) rule(layout);
		body = renderScalar(layout);
		state.openEnded = (layout.style === SCALAR_STYLE.LITERAL_BLOCK || layout.style === SCALAR_STYLE.FOLDED_BLOCK) && (node.value === "\n" || node.value.endsWith("\n\n"));
		shouldPrintTag = node.tagged || body === "" && layout.flowOnly && parent?.kind === "sequence" && !hasAnchor || layout.style !== SCALAR_STYLE.PLAIN && node.tag !== state.defaultScalarTagName;
	}
	if ((node.kind === "mapping" || node.kind === "sequence") && !useBlockCollection) state.openEnded = false;
	if (useBlockCollection && compact && level > 0 && state.indent > 2) body = `${" ".repeat(state.indent - 2)}${body}`;
	const noBody = body === "";
	let text = body;
	if (shouldPrintTag || hasAnchor) {
		const props = [];
		const tag = shouldPrintTag ? nodeTagShort(node) : null;
		const anchor = hasAnchor ? `&${node.anchor}` : null;
		if (state.tagBeforeAnchor) {
			if (tag !== null) props.push(tag);
			if (anchor !== null) props.push(anchor);
		} else {
			if (anchor !== null) props.push(anchor);
			if (tag !== null) props.push(tag);
		}
		const sep = body === "" || body.charCodeAt(0) === CHAR_LINE_FEED ? "" : " ";
		text = `${props.join(" ")}${sep}${body}`;
	}
	return {
		text,
		noBody
	};
}
function rootStartsOwnLine(node) {
	return (node.kind === "sequence" || node.kind === "mapping") && node.style === COLLECTION_STYLE.BLOCK && node.items.length !== 0 && !node.tagged && node.anchor === void 0;
}
function writeDocumentDirectives(doc) {
	let result = "";
	for (const directive of doc.directives) {
		if (directive.kind === "yaml") {
			result += `%YAML ${directive.version}\n`;
			continue;
		}
		const { handle, prefix } = directive;
		result += `%TAG ${handle} ${prefix}\n`;
	}
	return result;
}
/**
* Build YAML from AST.
*
* @category AST
*/
function present$1(documents, options) {
	const state = createPresenterState(options);
	let result = "";
	let previousEnded = false;
	for (let index = 0; index < documents.length; index += 1) {
		const doc = documents[index];
		state.openEnded = false;
		const directives = writeDocumentDirectives(doc);
		const hasDirectives = directives !== "";
		const marker = doc.explicitStart || hasDirectives || index > 0 && !previousEnded;
		result += directives;
		if (doc.contents === null) {
			if (marker) result += "---\n";
		} else if (marker) {
			const body = writeNode(state, 0, doc.contents, null, {
				block: true,
				compact: true
			}).text;
			const sep = body === "" ? "" : hasDirectives || rootStartsOwnLine(doc.contents) ? "\n" : " ";
			result += `---${sep}${body}\n`;
		} else result += writeNode(state, 0, doc.contents, null, {
			block: true,
			compact: true
		}).text + "\n";
		previousEnded = doc.explicitEnd || state.openEnded;
		if (previousEnded) result += "...\n";
	}
	return result;
}
//#endregion
//#region src/ast/from_events.ts
var NO_RANGE = -1;
function eventPosition(event) {
	if ("tagStart" in event && event.tagStart !== NO_RANGE) return event.tagStart;
	if ("anchorStart" in event && event.anchorStart !== NO_RANGE) return event.anchorStart;
	if ("valueStart" in event && event.valueStart !== NO_RANGE) return event.valueStart;
	if ("start" in event) return event.start;
	return 0;
}
function rawTag(state, event) {
	return event.tagStart === NO_RANGE ? "" : state.source.slice(event.tagStart, event.tagEnd);
}
function anchorName(state, event) {
	return event.anchorStart === NO_RANGE ? void 0 : state.source.slice(event.anchorStart, event.anchorEnd);
}
function buildScalar(state, event) {
	const value = getScalarValue(state.source, event);
	const raw = rawTag(state, event);
	let tag;
	let tagged = false;
	if (raw !== "") {
		tagged = true;
		tag = raw;
	} else if (event.style === SCALAR_STYLE.PLAIN) tag = state.schema.resolveImplicitScalarTag(value).tag.tagName;
	else tag = state.schema.defaultScalarTag.tagName;
	return {
		kind: "scalar",
		tag,
		tagged,
		style: event.style,
		anchor: anchorName(state, event),
		value
	};
}
function buildCollection(state, event, defaultTagName) {
	const raw = rawTag(state, event);
	let tag;
	let tagged = false;
	if (raw === "") tag = defaultTagName;
	else {
		tag = raw;
		tagged = true;
	}
	return {
		tag,
		tagged,
		style: event.style,
		anchor: anchorName(state, event)
	};
}
function addNode(state, node) {
	const frame = state.frames[state.frames.length - 1];
	if (frame.kind === "document") frame.doc.contents = node;
	else if (frame.kind === "sequence") frame.node.items.push(node);
	else if (frame.key) {
		frame.node.items.push({
			key: frame.key,
			value: node
		});
		frame.key = null;
	} else frame.key = node;
}
/**
* Builds an AST from parser events
*
* @category AST
*/
function eventsToAst(events, options) {
	const state = {
		source: options.source,
		schema: options.schema,
		eventIndex: 0,
		position: 0,
		frames: [],
		documents: []
	};
	while (state.eventIndex < events.length) {
		const event = events[state.eventIndex++];
		state.position = eventPosition(event);
		switch (event.type) {
			case EVENT_ID.DOCUMENT: {
				const doc = {
					contents: null,
					explicitStart: event.explicitStart,
					explicitEnd: event.explicitEnd,
					directives: event.directives
				};
				state.frames.push({
					kind: "document",
					doc
				});
				break;
			}
			case EVENT_ID.SCALAR:
				addNode(state, buildScalar(state, event));
				break;
			case EVENT_ID.SEQUENCE: {
				const { tag, tagged, style, anchor } = buildCollection(state, event, "tag:yaml.org,2002:seq");
				const node = {
					kind: "sequence",
					tag,
					tagged,
					style,
					anchor,
					items: []
				};
				state.frames.push({
					kind: "sequence",
					node
				});
				break;
			}
			case EVENT_ID.MAPPING: {
				const { tag, tagged, style, anchor } = buildCollection(state, event, "tag:yaml.org,2002:map");
				const node = {
					kind: "mapping",
					tag,
					tagged,
					style,
					anchor,
					items: []
				};
				state.frames.push({
					kind: "mapping",
					node,
					key: null
				});
				break;
			}
			case EVENT_ID.ALIAS:
				addNode(state, {
					kind: "alias",
					anchor: state.source.slice(event.anchorStart, event.anchorEnd)
				});
				break;
			case EVENT_ID.POP: {
				const frame = state.frames.pop();
				if (frame.kind === "mapping" && frame.key) throw new Error("incomplete mapping pair in event stream");
				if (frame.kind === "document") state.documents.push(frame.doc);
				else addNode(state, frame.node);
				break;
			}
		}
	}
	return state.documents;
}

class Places {
    /** where each node of the syntax tree starts; filled in by template.ts locateNodes */
    offsets = new Map();
    fileName;
    lineStarts = [0];
    constructor(fileName, text) {
        this.fileName = fileName;
        for (let i = 0; i < text.length; i++) {
            if (text[i] === '\n')
                this.lineStarts.push(i + 1);
        }
    }
    /** `file:line:col` of an offset in the text */
    where(offset) {
        const starts = this.lineStarts;
        let line = 0;
        while (line + 1 < starts.length && starts[line + 1] <= offset) {
            line++;
        }
        return `${this.fileName}:${line + 1}:${offset - starts[line] + 1}`;
    }
    at(node) {
        return this.offsets.get(node) ?? 0;
    }
    /** `file:line:col` of a node */
    of(node) {
        return this.where(this.at(node));
    }
    fail(offset, reason) {
        throw new InputError('manifest', `${this.where(offset)}: ${reason}`);
    }
    /** fails at `node` */
    refuse(node, reason) {
        return this.fail(this.at(node), reason);
    }
}

// The YAML nodes the manifest code builds and the names it reads them by
// (js-yaml's tags and styles), shared by the template's parser and the renderer.
const STR_TAG = 'tag:yaml.org,2002:str';
const NULL_TAG = 'tag:yaml.org,2002:null';
const MAP_TAG = 'tag:yaml.org,2002:map';
const SEQ_TAG = 'tag:yaml.org,2002:seq';
const MERGE_TAG = 'tag:yaml.org,2002:merge';
const { PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED } = SCALAR_STYLE;
const { BLOCK: BLOCK$1 } = COLLECTION_STYLE;
/**
 * One text/template action as written: from `{{` to the next `}}` on the same
 * line (or to the end of the line when it is not closed there).
 */
const ACTION = /\{\{.*?(?:\}\}|$)/gm;
function plainKey(name) {
    return { kind: 'scalar', tag: STR_TAG, tagged: false, style: PLAIN, value: name };
}
/** A value from the action: double-quoted, so any text stays one string. */
function quoted(value) {
    return { kind: 'scalar', tag: STR_TAG, tagged: false, style: DOUBLE_QUOTED, value };
}

const COMMAND_LISTS = ['pre', 'post', 'success', 'failure'];
const KNOWN_KEYS = new Set([
    'src',
    'checksum',
    'dest',
    'dest_mode',
    'commands',
    'excludes',
    'exclude_from',
    'sync_strategy'
]);
const SYNC_STRATEGIES = new Set(['', 'rsync', 'mv']);
const MAX_DEST_MODE = 0o7777;
/** The top-level fields checked: the template's dest, and the warnings worth logging. */
function checkFields(root, places) {
    const warnings = [];
    let dest;
    for (const { key, value } of root.items) {
        const name = keyName(places, key, 'the top level');
        switch (name) {
            case 'src':
            case 'checksum':
                refuseAnchor(places, value, name);
                warnings.push(`manifest ${places.of(key)}: ${name} is set by the action; the template's value is replaced`);
                break;
            case 'dest':
                refuseAnchor(places, value, name);
                dest = stringField(places, value, name) || undefined;
                break;
            case 'exclude_from':
                stringField(places, value, name);
                break;
            case 'sync_strategy':
                checkSyncStrategy(places, value);
                break;
            case 'dest_mode':
                checkDestMode(value, (reason) => places.refuse(value, `dest_mode ${reason}`));
                break;
            case 'excludes':
                stringList(places, value, name, 'pattern');
                break;
            case 'commands':
                checkCommands(places, value, warnings);
                break;
            default:
                if (!KNOWN_KEYS.has(name)) {
                    warnings.push(`manifest ${places.of(key)}: ${quote(name)} is kept, but stretcher ignores it`);
                }
        }
    }
    return { dest, warnings };
}
function keyName(places, key, path) {
    if (key.kind !== 'scalar') {
        return places.refuse(key, `${path}: keys must be strings, not a ${key.kind}`);
    }
    if (key.tag === MERGE_TAG) {
        return places.refuse(key, `${path}: merge keys (<<) are not supported here; write the fields out`);
    }
    return key.value;
}
function refuseAnchor(places, node, field) {
    if (node.kind !== 'alias' && node.anchor !== undefined) {
        places.refuse(node, `${field}: anchors (&${node.anchor}) are not supported on a field the action edits`);
    }
}
// yaml.v2 decodes any scalar into a string field as its raw text, and null as "".
function stringField(places, node, field) {
    if (node.kind === 'alias') {
        return places.refuse(node, `${field} must not be an alias (*${node.anchor}) in stretcher's fields`);
    }
    if (node.kind !== 'scalar') {
        return places.refuse(node, `${field} must be a string, not a ${node.kind}`);
    }
    if (node.tagged && node.tag !== '!!str' && node.tag !== STR_TAG) {
        return places.refuse(node, `${field}: tag ${node.tag} is not supported; stretcher expects a string`);
    }
    return !node.tagged && node.tag === NULL_TAG ? '' : node.value;
}
function stringList(places, node, field, what) {
    if (node.kind === 'alias') {
        places.refuse(node, `${field} must not be an alias (*${node.anchor}) in stretcher's fields`);
    }
    if (node.kind === 'scalar' && !node.tagged && node.tag === NULL_TAG)
        return;
    if (node.kind !== 'sequence' || (node.tagged && node.tag !== '!!seq' && node.tag !== SEQ_TAG)) {
        places.refuse(node, `${field} must be a list of ${what}s, not a ${node.kind === 'sequence' ? node.tag : node.kind}`);
    }
    node.items.forEach((item, index) => {
        const itemField = `${field}[${index}]`;
        if (item.kind === 'mapping') {
            places.refuse(item, `${itemField} is a mapping, not a ${what}; quote it (an unquoted ": " starts a mapping)`);
        }
        if (stringField(places, item, itemField) === '') {
            places.refuse(item, `${itemField} is an empty ${what}`);
        }
    });
}
function checkSyncStrategy(places, value) {
    const strategy = stringField(places, value, 'sync_strategy');
    if (!SYNC_STRATEGIES.has(strategy)) {
        places.refuse(value, `sync_strategy must be rsync or mv, not ${quote(strategy)}`);
    }
}
/** commands: a mapping of the four lists stretcher runs; other keys are kept, with a warning. */
function checkCommands(places, value, warnings) {
    refuseAnchor(places, value, 'commands');
    if (value.kind === 'alias') {
        places.refuse(value, `commands must not be an alias (*${value.anchor})`);
    }
    if (value.kind === 'scalar' && !value.tagged && value.tag === NULL_TAG)
        return;
    if (value.kind !== 'mapping') {
        places.refuse(value, `commands must be a mapping of pre, post, success and failure lists, not a ${value.kind}`);
    }
    for (const item of value.items) {
        const list = keyName(places, item.key, 'commands');
        if (COMMAND_LISTS.includes(list)) {
            refuseAnchor(places, item.value, `commands.${list}`);
            stringList(places, item.value, `commands.${list}`, 'command');
        }
        else {
            warnings.push(`manifest ${places.of(item.key)}: commands.${list} is kept, but stretcher only runs pre, post, success and failure`);
        }
    }
}
/**
 * dest_mode is decoded by yaml.v2 into an os.FileMode. Accept only the forms
 * that YAML 1.1 and yaml.v2 read alike: an unquoted decimal, or octal with a
 * leading 0; null keeps stretcher's default (0755).
 */
function checkDestMode(node, refuse) {
    if (node.kind === 'alias') {
        refuse(`must not be an alias (*${node.anchor})`);
        return;
    }
    if (node.kind !== 'scalar') {
        refuse(`must be an unquoted octal number such as 0755, not a ${node.kind}`);
        return;
    }
    if (!node.tagged && node.tag === NULL_TAG)
        return;
    const hint = 'must be an unquoted octal number from 0 to 07777 such as 0755';
    if (node.style !== PLAIN || node.tagged) {
        refuse(`${hint}; a quoted or tagged value fails to parse on the node`);
        return;
    }
    const text = node.value;
    const mode = /^0[0-7]*$/.test(text)
        ? parseInt(text, 8)
        : /^[1-9][0-9]*$/.test(text)
            ? parseInt(text, 10)
            : NaN;
    if (!(mode <= MAX_DEST_MODE)) {
        refuse(`${hint}, not ${quote(text)}`);
    }
    else if (/^[1-7][0-7]{2,3}$/.test(text)) {
        // Decimal 755 is octal 01363 on the node: surely meant as 0755.
        refuse(`${text} is decimal (octal 0${mode.toString(8)}) on the node; write 0${text} for octal, as stretcher's YAML reads it`);
    }
}

// The manifest template parsed and checked: what stretcher would refuse or
// misread is refused here, each error at its file:line:col.
/**
 * Parse a manifest template. Throws InputError('manifest', 'file:line:col: why')
 * for YAML errors and for anything stretcher would refuse or misread.
 */
function parseManifestTemplate(text, fileName) {
    const places = new Places(fileName, text);
    const { events, document } = parseSyntax(text, fileName);
    if (!document || !document.contents) {
        return places.fail(0, 'is empty; expected a mapping of stretcher fields');
    }
    const scalarSources = locateNodes(events, document.contents, places.offsets);
    refuseBareActions(text, scalarSources, places);
    const actionScalars = actionScalarsOf(text, scalarSources);
    // load() checks what the syntax tree does not: duplicate keys, one document.
    try {
        load(text, { schema: YAML11_SCHEMA, filename: fileName });
    }
    catch (error) {
        yamlError(error, text, fileName);
    }
    const root = document.contents;
    if (root.kind !== 'mapping') {
        return places.refuse(root, `must be a mapping of stretcher fields (src, dest, commands, ...), not a ${root.kind === 'alias' ? 'alias' : root.kind}`);
    }
    if (root.anchor !== undefined)
        places.refuse(root, 'anchors (&) on the document are not supported');
    const { dest, warnings } = checkFields(root, places);
    return { fileName, dest, warnings, document, actionScalars };
}
/** The event stream and the syntax tree of the first document. */
function parseSyntax(text, fileName) {
    try {
        const events = parseEvents(text, { filename: fileName });
        const documents = eventsToAst(events, {
            source: text,
            schema: YAML11_SCHEMA
        });
        return { events, document: documents[0] };
    }
    catch (error) {
        return yamlError(error, text, fileName);
    }
}
function yamlError(error, text, fileName) {
    if (error instanceof YAMLException) {
        const mark = error.mark;
        const at = mark ? `${fileName}:${mark.line + 1}:${mark.column + 1}` : fileName;
        // Actions outside YAML strings are the usual cause when a template has them.
        const hint = text.includes('{{')
            ? ' (a {{ ... }} action must sit inside a YAML string value)'
            : '';
        throw new InputError('manifest', `${at}: ${error.reason}${hint}`);
    }
    throw error;
}
/**
 * Walk the events alongside the tree to learn where each node starts (into
 * `offsets`) and which source text each scalar came from (returned).
 */
function locateNodes(events, contents, offsets) {
    const scalarSources = new Map();
    let next = 1; // events[0] opens the document
    const attach = (node) => {
        const event = events[next++];
        switch (event.type) {
            case EVENT_ID.SCALAR:
                // Point at the opening quote of a quoted scalar.
                offsets.set(node, event.style === SCALAR_STYLE.SINGLE_QUOTED ||
                    event.style === SCALAR_STYLE.DOUBLE_QUOTED
                    ? event.valueStart - 1
                    : event.valueStart);
                scalarSources.set(node, [event.valueStart, event.valueEnd]);
                return;
            case EVENT_ID.ALIAS:
                offsets.set(node, Math.max(0, event.anchorStart - 1));
                return;
            case EVENT_ID.SEQUENCE:
                offsets.set(node, event.start);
                for (const item of node.items)
                    attach(item);
                break;
            case EVENT_ID.MAPPING:
                offsets.set(node, event.start);
                for (const { key, value } of node.items) {
                    attach(key);
                    attach(value);
                }
                break;
        }
        next++; // the POP closing the collection
    };
    attach(contents);
    return scalarSources;
}
/**
 * An action outside a scalar (say `dest: {{ env "D" }}`, read as a flow
 * mapping) cannot be kept byte for byte. One in a comment is dropped with it.
 */
function refuseBareActions(text, scalarSources, places) {
    const sourceRanges = [...scalarSources.values()];
    for (const match of text.matchAll(/\{\{/g)) {
        const start = match.index;
        if (sourceRanges.some(([from, to]) => from <= start && start + 2 <= to)) {
            continue;
        }
        const lineStart = text.lastIndexOf('\n', start) + 1;
        if (/(^|\s)#/.test(text.slice(lineStart, start)))
            continue;
        places.fail(start, `"{{" outside a string: stretcher runs text/template before YAML, and an action is only kept as written inside a quoted string, e.g. '{{ env "X" "default" }}'`);
    }
}
function actionScalarsOf(text, scalarSources) {
    const actionScalars = new Map();
    for (const [node, [from, to]] of scalarSources) {
        const actions = text.slice(from, to).match(ACTION);
        if (actions)
            actionScalars.set(node, { style: node.style, actions });
    }
    return actionScalars;
}

// `layout: releases` on the node (contract 9): the shell commands the action
// adds to the prepare, switch and combined manifests. Pure: strings only.
//
//   <dest>/releases/<deploy-id>/   one directory per prepared release (stretcher's dest at prepare)
//   <dest>/current  -> releases/<deploy-id>   what the app runs; replaced by rename, never missing
//   <dest>/previous -> releases/<deploy-id>   the release current replaced (kept by the pruning)
//
// Every command runs with `sh -c` in stretcher's working directory (research
// §5), so every path is absolute, built from dest. The deploy ID is from a
// closed alphabet (DEPLOY_ID_PATTERN); dest is quoted for sh. A dest from the
// template may hold Go template actions (`{{ env "ROOT" }}/app`): stretcher v2
// expands them on the node before sh sees the command, so the expansion must
// not hold a single quote.
/** The base directory as one sh word. Throws when it cannot be quoted safely. */
function destWord(dest) {
    const base = dest.length > 1 ? dest.replace(/\/+$/, '') : dest;
    if (base === '' || base === '/')
        throw new InputError('dest', `${JSON.stringify(dest)} cannot hold releases/ and current`);
    if (/[\0\r\n]/.test(base))
        throw new InputError('dest', `${JSON.stringify(dest)} spans lines (layout: releases)`);
    if (base.includes('{{')) {
        // Expanded on the node before sh runs: the action text is kept as written,
        // and a single quote around it would end at any quote it holds.
        if (base.includes("'"))
            throw new InputError('dest', `${JSON.stringify(dest)} holds a template action and a single quote: with layout: releases it cannot be quoted for sh`);
        return `'${base}'`;
    }
    return `'${base.replace(/'/g, `'\\''`)}'`;
}
/** `<dest>/releases/<deploy-id>`: stretcher's dest for the prepare phase. */
function releaseDir(dest, deployId) {
    checkId(deployId);
    return `${dest.length > 1 ? dest.replace(/\/+$/, '') : dest}/releases/${deployId}`;
}
function checkId(deployId) {
    if (!DEPLOY_ID_PATTERN.test(deployId))
        throw new Error(`deploy ID ${JSON.stringify(deployId)} is not safe in a shell command`);
}
/**
 * Prepare, before the template's `pre`: rsync creates only the last directory
 * of its destination, so releases/ must exist.
 */
function prepareCommand(dest) {
    return `mkdir -p ${destWord(dest)}/releases`;
}
/**
 * The switch: `current` is replaced by renaming a new symlink over it (rename(2)
 * is atomic: a reader sees the old link or the new one, never none; GNU
 * `mv -T` renames onto the link itself instead of into the directory it points
 * at). The release must be prepared; a `current` that is a real directory (an
 * in-place fleet moved to releases in the same dest) is refused. `previous`
 * names the release that was current, unless it is the same one.
 */
function switchCommand(dest, deployId) {
    checkId(deployId);
    return [
        `d=${destWord(dest)}`,
        `r=releases/${deployId}`,
        `if [ ! -d "$d/$r" ]; then echo "stretcher-action: $d/$r is not prepared on this node" >&2; exit 1; fi`,
        `if [ -d "$d/current" ] && [ ! -L "$d/current" ]; then echo "stretcher-action: $d/current is a directory, not a symlink: move it away first (README: moving an in-place fleet)" >&2; exit 1; fi`,
        `o=$(readlink "$d/current" 2>/dev/null || true)`,
        `rm -f "$d/current.tmp"`,
        `ln -s "$r" "$d/current.tmp"`,
        `mv -T "$d/current.tmp" "$d/current"`,
        `if [ -n "$o" ] && [ "$o" != "$r" ]; then rm -f "$d/previous.tmp" && ln -s "$o" "$d/previous.tmp" && mv -T "$d/previous.tmp" "$d/previous"; fi`,
        `echo "stretcher-action: $d/current -> $r (was \${o:-none})"`
    ].join(' && ');
}
/**
 * After the template's `post`: delete the oldest releases (by name: generated
 * deploy IDs sort by time) until `keep` are left, never the one `current` or
 * `previous` points at.
 */
function pruneCommand(dest, keep) {
    if (!Number.isSafeInteger(keep) || keep < 2)
        throw new Error(`keep-releases ${keep} is below 2`);
    return [
        'LC_ALL=C; export LC_ALL',
        `d=${destWord(dest)}`,
        `cd "$d/releases" || exit 0`,
        `c=$(readlink "$d/current" 2>/dev/null || true)`,
        `p=$(readlink "$d/previous" 2>/dev/null || true)`,
        'n=0',
        'for r in *; do if [ -d "$r" ]; then n=$((n+1)); fi; done',
        `for r in *; do if [ "$n" -le ${keep} ]; then break; fi; if [ -d "$r" ] && [ "releases/$r" != "$c" ] && [ "releases/$r" != "$p" ]; then rm -rf -- "$r" && n=$((n-1)) && echo "stretcher-action: deleted $d/releases/$r"; fi; done`
    ].join('; ');
}
/**
 * A sh command printing the releases the node keeps as a JSON array of
 * strings (names outside the deploy-ID alphabet left out), for the result.
 */
function keptReleasesCommand(dest) {
    return `(cd ${destWord(dest)}/releases 2>/dev/null && for r in *; do case "$r" in *[!0-9A-Za-z._-]*) ;; *) if [ -d "$r" ]; then printf '"%s",' "$r"; fi ;; esac; done)`;
}

// The release's manifest rendered from the template: the template's syntax
// tree copied where it changes, then checked to carry its actions as written.
/** Fields a manifest without src leaves unused: the switch manifest drops them. */
const SYNC_FIELDS = [
    'src',
    'checksum',
    'dest',
    'dest_mode',
    'excludes',
    'exclude_from',
    'sync_strategy'
];
/**
 * Render the release's manifest: the template's fields kept, src and checksum
 * set, dest from the input or the template, the action's commands appended to
 * commands.success and commands.failure.
 */
function renderManifest(template, values) {
    checkValues(template, values);
    const layout = values.layout;
    const layoutDest = layout ? ((values.dest || undefined) ?? template?.dest) : undefined;
    const templateRoot = template?.document.contents;
    const edit = new FieldsEdit(templateRoot);
    setSyncFields(edit, values, layoutDest);
    const lists = layout && layoutDest !== undefined ? layoutLists(layout, layoutDest) : new Map();
    editCommands(edit, values, lists);
    const root = templateRoot
        ? { ...templateRoot, items: edit.items }
        : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK$1, items: edit.items };
    const document = template
        ? { ...template.document, contents: root }
        : { contents: root, directives: [] };
    const { output, styles } = present(document);
    checkActionsKept(template, edit.generated, document, styles, output);
    return output;
}
const plainError = (reason) => new Error(reason);
/** The action's values, refused before anything is rendered. */
function checkValues(template, values) {
    const layout = values.layout;
    if (!values.src)
        throw new Error('manifest src is empty');
    refuseValue(values.src, 'the archive URL ', (reason) => new InputError('s3-url', reason));
    if (!/^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/.test(values.checksum)) {
        throw new Error(`manifest checksum must be hex md5, sha1, sha256 or sha512, not ${quote(values.checksum)}`);
    }
    // With layout: releases the action's commands name dest, whose template actions
    // (if any) are the template's own: only those may appear in them.
    const layoutDest = layout ? ((values.dest || undefined) ?? template?.dest) : undefined;
    const layoutWord = layout && layoutDest !== undefined ? destWord(layoutDest) : undefined;
    const ownText = (command) => layoutWord ? command.split(layoutWord).join('') : command;
    values.successCommands.forEach((command, i) => refuseValue(ownText(command), `success command ${i} `, plainError));
    values.failureCommands.forEach((command, i) => refuseValue(ownText(command), `failure command ${i} `, plainError));
    const destInput = values.dest || undefined;
    if (destInput !== undefined) {
        refuseValue(destInput, '', (reason) => new InputError('dest', reason));
    }
    else if (template?.dest === undefined) {
        throw new InputError('dest', template
            ? `is required: the manifest template ${template.fileName} has no dest`
            : 'is required when no manifest template is given');
    }
}
function refuseValue(value, what, error) {
    if (value.includes('{{')) {
        throw error(`${what}must not contain "{{": stretcher would run it as a template action on the node (${quote(value)})`);
    }
    // A lone surrogate cannot be written as UTF-8.
    if (/\p{Cs}/u.test(value))
        throw error(`${what}is not well-formed Unicode`);
}
/**
 * The manifest's top-level fields as they are edited (the template's copied,
 * never mutated), and the scalars the action writes that carry the template's
 * dest actions, with their style (checked once presented).
 */
class FieldsEdit {
    items;
    generated = new Map();
    constructor(templateRoot) {
        this.items = [...(templateRoot?.items ?? [])];
    }
    indexOf(name) {
        return this.items.findIndex(({ key }) => key.kind === 'scalar' && key.value === name);
    }
    valueOf(name) {
        const index = this.indexOf(name);
        return index >= 0 ? this.items[index].value : undefined;
    }
    /** replaces the field's value in place, or adds the field at `front` */
    set(name, value, front) {
        const index = this.indexOf(name);
        if (index >= 0)
            this.items[index] = { key: this.items[index].key, value };
        else
            this.items.splice(front, 0, { key: plainKey(name), value });
    }
    remove(name) {
        const index = this.indexOf(name);
        if (index >= 0)
            this.items.splice(index, 1);
    }
    /** a scalar for `value`, recorded when it holds the template's actions */
    actionAware(value, style = SINGLE_QUOTED) {
        const actions = value.match(ACTION);
        if (!actions)
            return quoted(value);
        const node = { kind: 'scalar', tag: STR_TAG, tagged: false, style, value };
        this.generated.set(node, { style, actions });
        return node;
    }
}
/** src, checksum and dest set; the switch manifest has none of the sync fields. */
function setSyncFields(edit, values, layoutDest) {
    const layout = values.layout;
    const syncs = layout?.phase !== 'switch';
    const destInput = values.dest || undefined;
    if (syncs) {
        edit.set('src', quoted(values.src), 0);
        edit.set('checksum', quoted(values.checksum), 1);
    }
    if (layout && layoutDest !== undefined) {
        if (syncs) {
            const dir = releaseDir(layoutDest, layout.deployId);
            const destNode = edit.valueOf('dest');
            const style = destInput === undefined && destNode?.kind === 'scalar' ? destNode.style : DOUBLE_QUOTED;
            edit.set('dest', edit.actionAware(dir, style), 2);
        }
    }
    else if (destInput !== undefined)
        edit.set('dest', quoted(destInput), 2);
    if (!syncs)
        for (const name of SYNC_FIELDS)
            edit.remove(name);
}
/** The lists each phase keeps from the template, and the action's commands around them. */
function layoutLists(layout, layoutDest) {
    const prepares = layout.phase !== 'switch';
    const switches = layout.phase !== 'prepare';
    return new Map([
        ['pre', { keep: prepares, before: prepares ? [prepareCommand(layoutDest)] : [], after: [] }],
        [
            'post',
            {
                keep: switches,
                before: switches ? [switchCommand(layoutDest, layout.deployId)] : [],
                after: switches ? [pruneCommand(layoutDest, layout.keepReleases)] : []
            }
        ],
        ['success', { keep: switches, before: [], after: [] }]
    ]);
}
/** commands: the layout's lists changed, then the action's success and failure commands appended. */
function editCommands(edit, values, lists) {
    const appended = [
        ['success', values.successCommands],
        ['failure', values.failureCommands]
    ];
    if (lists.size === 0 && !appended.some(([, commands]) => commands.length > 0))
        return;
    const existing = edit.valueOf('commands');
    const commands = existing?.kind === 'mapping'
        ? { ...existing, items: [...existing.items] }
        : { kind: 'mapping', tag: MAP_TAG, tagged: false, style: BLOCK$1, items: [] };
    for (const [list, change] of lists)
        changeList(edit, commands, list, change);
    for (const [list, additions] of appended) {
        if (additions.length > 0)
            appendToList(edit, commands, list, additions);
    }
    edit.set('commands', commands, edit.items.length);
}
function changeList(edit, commands, list, change) {
    const index = listIndex(commands, list);
    const current = index >= 0 ? commands.items[index].value : undefined;
    const kept = change.keep && current?.kind === 'sequence' ? current.items : [];
    const all = [
        ...change.before.map((c) => edit.actionAware(c)),
        ...kept,
        ...change.after.map((c) => edit.actionAware(c))
    ];
    if (all.length === 0) {
        if (index >= 0)
            commands.items.splice(index, 1);
        return;
    }
    const sequence = current?.kind === 'sequence'
        ? { ...current, items: all }
        : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK$1, items: all };
    setList(commands, index, list, sequence);
}
function appendToList(edit, commands, list, additions) {
    const index = listIndex(commands, list);
    const current = index >= 0 ? commands.items[index].value : undefined;
    const sequence = current?.kind === 'sequence'
        ? { ...current, items: [...current.items] }
        : { kind: 'sequence', tag: SEQ_TAG, tagged: false, style: BLOCK$1, items: [] };
    sequence.items.push(...additions.map((c) => edit.actionAware(c)));
    setList(commands, index, list, sequence);
}
function listIndex(commands, list) {
    return commands.items.findIndex(({ key }) => key.kind === 'scalar' && key.value === list);
}
function setList(commands, index, list, sequence) {
    if (index >= 0)
        commands.items[index] = { key: commands.items[index].key, value: sequence };
    else
        commands.items.push({ key: plainKey(list), value: sequence });
}
/**
 * The manifest's text, and the style the presenter settled on for each scalar
 * (recorded to prove the template's actions come out as written).
 */
function present(document) {
    const styles = new Map();
    const recordStyle = (layout) => {
        styles.set(layout.node, layout.style);
    };
    const output = present$1([document], {
        schema: YAML11_SCHEMA,
        lineWidth: -1,
        scalarStyleRules: [...Object.values(DEFAULT_SCALAR_STYLE_RULES), recordStyle]
    });
    return { output, styles };
}
/** Every action of the template (and of dest in generated commands) is in the output, byte for byte. */
function checkActionsKept(template, generated, document, styles, output) {
    const expected = [];
    visit([document], (node) => {
        const source = node.kind === 'scalar'
            ? (template?.actionScalars.get(node) ?? generated.get(node))
            : undefined;
        if (!source)
            return;
        if (styles.get(node) !== source.style) {
            throw new InputError('manifest', `${template?.fileName ?? '(none)'}: a value holding ${quote(source.actions[0])} cannot be written back in the same style; quote it on one line`);
        }
        expected.push(...source.actions);
    });
    const actual = output.match(ACTION) ?? [];
    if (actual.length !== expected.length || actual.some((action, i) => action !== expected[i])) {
        throw new InputError('manifest', `${template?.fileName ?? '(none)'}: its {{ ... }} actions cannot be kept as written; write each on one line inside a quoted string`);
    }
}

// The manifest template (input `manifest`), read and parsed in the plan stage:
// a file that cannot be read is an input error before anything is written.
async function loadTemplate(config, log) {
    if (!config.manifestFile)
        return undefined;
    let text;
    try {
        text = await readFile(config.manifestFile, 'utf8');
    }
    catch (error) {
        const code = error.code ?? 'unreadable';
        throw new InputError('manifest', `cannot be read: ${quote(config.manifestFile)} (${code})`);
    }
    const template = parseManifestTemplate(text, config.manifestName ?? config.manifestFile);
    for (const warning of template.warnings)
        log.warning(warning);
    return template;
}

function targetingNote(config) {
    const { backend, filters } = config;
    if (backend.kind !== 'serf') {
        if (Object.values(filters).some((f) => f !== undefined))
            return undefined;
        return 'no node-filter or service-filter: every live node is targeted, Consul servers included (most fleets set service-filter)';
    }
    const filtered = filters.node !== undefined || Object.keys(backend.tags).length > 0;
    if (!filtered)
        return `no node-filter or serf-tags: every alive member is targeted; a Serf event reaches every member, so only this app's nodes may handle "${config.eventName}"`;
    if (!sendsByFilters(config))
        return undefined;
    return `node-filter and serf-tags choose the members this run waits for, but the Serf event "${config.eventName}" reaches every member, and each one that handles it deploys; to send only to the targets, set waves: 100% (one query naming them)`;
}

// Which programs pack.ts runs: GNU tar (required) and pigz when installed.
// Without pigz, Node's zlib compresses: measured here it beat a spawned `gzip`
// (50 MB tree, level 6: zlib 2.1-2.5 s, gzip 2.6-3.6 s; level 1: 1.2 s vs 1.6 s),
// as zlib runs on libuv's threads and spares a pipe hop through Node.
/**
 * Runners this action packs on. Windows runners have no GNU tar on PATH (their
 * tar is bsdtar) and no POSIX file modes to put in the archive: refused in the plan
 * stage, before anything is written. Linux runners have GNU tar (and pigz on
 * GitHub's images); macOS needs `brew install gnu-tar` (gtar), and compresses with
 * Node's zlib when pigz is absent.
 */
function checkPlatform(platform = process.platform) {
    if (platform === 'win32')
        throw new Error('Windows runners are not supported: packing needs GNU tar on PATH and POSIX file modes (executables stay executable), which Windows has not; run this step on ubuntu-latest, or macos-latest with brew install gnu-tar');
}
/**
 * The first executable `name` on PATH, by @actions/io's `which` rules: PATH's
 * entries in order, empty ones skipped (never the current directory), the
 * candidate followed through symlinks and taken only if it is a regular file and
 * executable. Executable is the kernel's answer (access X_OK), where @actions/io
 * computes it from the mode bits, the owner and the primary group only (so it
 * misses supplementary groups and root). Windows (PATHEXT) is refused before this
 * runs (checkPlatform). Looked up on each call: PATH may change between calls,
 * tests rely on that.
 */
async function which(name, path = process.env.PATH) {
    for (const dir of (path ?? '').split(delimiter)) {
        if (dir === '')
            continue;
        // absolute, so that a relative PATH entry still names it after a change of cwd
        const candidate = resolve(dir, name);
        try {
            if (!(await stat(candidate)).isFile())
                continue;
            await access(candidate, constants$1.X_OK);
            return candidate;
        }
        catch {
            // not here, or not executable
        }
    }
    return undefined;
}
const gnuTarByPath = new Map();
function isGnuTar(path) {
    const known = gnuTarByPath.get(path);
    if (known !== undefined)
        return Promise.resolve(known);
    return new Promise((resolve) => {
        execFile(path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
            const gnu = !err && /GNU tar/.test(stdout);
            gnuTarByPath.set(path, gnu);
            resolve(gnu);
        });
    });
}
/**
 * `gtar` first (what GNU tar is called on macOS with Homebrew), then `tar`.
 * There is no JS fallback: the options pack.ts relies on (`--null -T`,
 * positional `-C`, `--owner=0`) are GNU tar's, and JS tar writers measured 3-6x slower.
 */
async function findPackTools() {
    let tar;
    for (const name of ['gtar', 'tar']) {
        const path = await which(name);
        if (path !== undefined && (await isGnuTar(path))) {
            tar = path;
            break;
        }
    }
    if (tar === undefined) {
        throw new Error('GNU tar is needed to pack the archive and was not found on PATH as gtar or tar (on macOS: brew install gnu-tar)');
    }
    const pigz = await which('pigz');
    return pigz === undefined
        ? { tar, compressor: 'zlib' }
        : { tar, compressorPath: pigz, compressor: 'pigz' };
}

// The log the pipeline writes to: @actions/core in the action, a terminal or
// JSON lines in the CLI, an array in tests.
/** A log that keeps every line, for tests. */
function formatBytes(bytes) {
    if (bytes < 1000)
        return `${bytes} B`;
    if (bytes < 1e6)
        return `${(bytes / 1e3).toFixed(1)} kB`;
    if (bytes < 1e9)
        return `${(bytes / 1e6).toFixed(1)} MB`;
    return `${(bytes / 1e9).toFixed(2)} GB`;
}
function formatRate(bytes, ms) {
    return `${(bytes / 1e6 / Math.max(ms / 1000, 0.001)).toFixed(1)} MB/s`;
}
/**
 * Calls `emit` at most once per `intervalMs`, the first time one interval after
 * creation (a quick job logs only its final line); `flush` emits the last value.
 */
function throttle(intervalMs, emit, now = Date.now) {
    let last = now();
    let pending;
    return {
        update(value) {
            pending = value;
            const t = now();
            if (t - last >= intervalMs) {
                last = t;
                pending = undefined;
                emit(value);
            }
        },
        flush() {
            if (pending !== undefined)
                emit(pending);
            pending = undefined;
        }
    };
}
/**
 * Text from the fleet (node names, logs) printed to the job log must never be
 * read by the runner as a workflow command: it trims each line and obeys
 * `::cmd::` and `##[cmd]`, so a node could add an error, set an output or mask
 * text. Such lines get a visible `> ` in front.
 */
function inert(text) {
    return text.replace(/^([^\S\n]*)(::|##\[)/gm, '$1> $2');
}

// One release's manifest in a layout (contract 4, 9): the whole in-place one, or
// with layout: releases its prepare, switch or combined manifest, each carrying
// the reporting commands of that release's deploy ID. Pure: the publish renders
// a new release with it, and auto-rollback renders the previous release again
// when it was published in the other layout (contract 8a).
/** The manifest of one phase, or (no phase) the whole in-place one. */
function renderReleaseManifest(template, release, phase) {
    const { reports } = release;
    const phaseReports = phase && reports.phases ? reports.phases[phase === 'prepare' ? 'prepare' : 'switch'] : reports;
    return renderManifest(template, {
        src: release.src,
        checksum: release.checksum,
        dest: release.dest,
        successCommands: phaseReports.success,
        failureCommands: phaseReports.failure,
        ...(phase
            ? { layout: { phase, deployId: release.deployId, keepReleases: release.keepReleases } }
            : {})
    });
}

// The exact length of the uncompressed tar that GNU tar writes for a tree in
// `--format=gnu`, so progress can say "x of y bytes" before tar has started.
// Summed member by member during the walk (tree.ts), so no entry list is kept.
const BLOCK = 512;
/** GNU tar's default blocking factor 20: the archive is a whole number of these */
const RECORD = 20 * BLOCK;
/** longer names and link targets go into an extra ././@LongLink member */
const NAME_FIELD = 100;
const blocks = (bytes) => Math.ceil(bytes / BLOCK) * BLOCK;
function longNameBytes(nameBytes) {
    return nameBytes > NAME_FIELD ? BLOCK + blocks(nameBytes + 1) : 0;
}
/**
 * Bytes one member takes: its header, a ././@LongLink member for a long name or
 * link target, and its data padded to whole blocks.
 * @param nameBytes UTF-8 length of the name as stored (directories end in `/`)
 * @param linkBytes UTF-8 length of the symlink target or hard-link name, if any
 */
function memberBytes(nameBytes, dataBytes, linkBytes) {
    return (BLOCK +
        longNameBytes(nameBytes) +
        blocks(dataBytes) +
        (linkBytes === undefined ? 0 : longNameBytes(linkBytes)));
}
/** The members' sum plus the end-of-archive marker, padded to whole records.
 * `record`: tar's record size (its -b times 512); a parameter so tests can check with -b1 */
function archiveBytes(membersBytes, record = RECORD) {
    return Math.ceil((membersBytes + 2 * BLOCK) / record) * record;
}

var utils = {};

var constants;
var hasRequiredConstants;

function requireConstants () {
	if (hasRequiredConstants) return constants;
	hasRequiredConstants = 1;

	const WIN_SLASH = '\\\\/';
	const WIN_NO_SLASH = `[^${WIN_SLASH}]`;

	const DEFAULT_MAX_EXTGLOB_RECURSION = 0;

	/**
	 * Posix glob regex
	 */

	const DOT_LITERAL = '\\.';
	const PLUS_LITERAL = '\\+';
	const QMARK_LITERAL = '\\?';
	const SLASH_LITERAL = '\\/';
	const ONE_CHAR = '(?=.)';
	const QMARK = '[^/]';
	const END_ANCHOR = `(?:${SLASH_LITERAL}|$)`;
	const START_ANCHOR = `(?:^|${SLASH_LITERAL})`;
	const DOTS_SLASH = `${DOT_LITERAL}{1,2}${END_ANCHOR}`;
	const NO_DOT = `(?!${DOT_LITERAL})`;
	const NO_DOTS = `(?!${START_ANCHOR}${DOTS_SLASH})`;
	const NO_DOT_SLASH = `(?!${DOT_LITERAL}{0,1}${END_ANCHOR})`;
	const NO_DOTS_SLASH = `(?!${DOTS_SLASH})`;
	const QMARK_NO_DOT = `[^.${SLASH_LITERAL}]`;
	const STAR = `${QMARK}*?`;
	const SEP = '/';

	const POSIX_CHARS = {
	  DOT_LITERAL,
	  PLUS_LITERAL,
	  QMARK_LITERAL,
	  SLASH_LITERAL,
	  ONE_CHAR,
	  QMARK,
	  END_ANCHOR,
	  DOTS_SLASH,
	  NO_DOT,
	  NO_DOTS,
	  NO_DOT_SLASH,
	  NO_DOTS_SLASH,
	  QMARK_NO_DOT,
	  STAR,
	  START_ANCHOR,
	  SEP
	};

	/**
	 * Windows glob regex
	 */

	const WINDOWS_CHARS = {
	  ...POSIX_CHARS,

	  SLASH_LITERAL: `[${WIN_SLASH}]`,
	  QMARK: WIN_NO_SLASH,
	  STAR: `${WIN_NO_SLASH}*?`,
	  DOTS_SLASH: `${DOT_LITERAL}{1,2}(?:[${WIN_SLASH}]|$)`,
	  NO_DOT: `(?!${DOT_LITERAL})`,
	  NO_DOTS: `(?!(?:^|[${WIN_SLASH}])${DOT_LITERAL}{1,2}(?:[${WIN_SLASH}]|$))`,
	  NO_DOT_SLASH: `(?!${DOT_LITERAL}{0,1}(?:[${WIN_SLASH}]|$))`,
	  NO_DOTS_SLASH: `(?!${DOT_LITERAL}{1,2}(?:[${WIN_SLASH}]|$))`,
	  QMARK_NO_DOT: `[^.${WIN_SLASH}]`,
	  START_ANCHOR: `(?:^|[${WIN_SLASH}])`,
	  END_ANCHOR: `(?:[${WIN_SLASH}]|$)`,
	  SEP: '\\'
	};

	/**
	 * POSIX Bracket Regex
	 */

	const POSIX_REGEX_SOURCE = {
	  __proto__: null,
	  alnum: 'a-zA-Z0-9',
	  alpha: 'a-zA-Z',
	  ascii: '\\x00-\\x7F',
	  blank: ' \\t',
	  cntrl: '\\x00-\\x1F\\x7F',
	  digit: '0-9',
	  graph: '\\x21-\\x7E',
	  lower: 'a-z',
	  print: '\\x20-\\x7E ',
	  punct: '\\-!"#$%&\'()\\*+,./:;<=>?@[\\]^_`{|}~',
	  space: ' \\t\\r\\n\\v\\f',
	  upper: 'A-Z',
	  word: 'A-Za-z0-9_',
	  xdigit: 'A-Fa-f0-9'
	};

	constants = {
	  DEFAULT_MAX_EXTGLOB_RECURSION,
	  MAX_LENGTH: 1024 * 64,
	  POSIX_REGEX_SOURCE,

	  // regular expressions
	  REGEX_BACKSLASH: /\\(?![*+?^${}(|)[\]])/g,
	  REGEX_NON_SPECIAL_CHARS: /^[^@![\].,$*+?^{}()|\\/]+/,
	  REGEX_SPECIAL_CHARS: /[-*+?.^${}(|)[\]]/,
	  REGEX_SPECIAL_CHARS_BACKREF: /(\\?)((\W)(\3*))/g,
	  REGEX_SPECIAL_CHARS_GLOBAL: /([-*+?.^${}(|)[\]])/g,
	  REGEX_REMOVE_BACKSLASH: /(?:\[.*?[^\\]\]|\\(?=.))/g,

	  // Replace globs with equivalent patterns to reduce parsing time.
	  REPLACEMENTS: {
	    __proto__: null,
	    '***': '*',
	    '**/**': '**',
	    '**/**/**': '**'
	  },

	  // Digits
	  CHAR_0: 48, /* 0 */
	  CHAR_9: 57, /* 9 */

	  // Alphabet chars.
	  CHAR_UPPERCASE_A: 65, /* A */
	  CHAR_LOWERCASE_A: 97, /* a */
	  CHAR_UPPERCASE_Z: 90, /* Z */
	  CHAR_LOWERCASE_Z: 122, /* z */

	  CHAR_LEFT_PARENTHESES: 40, /* ( */
	  CHAR_RIGHT_PARENTHESES: 41, /* ) */

	  CHAR_ASTERISK: 42, /* * */

	  // Non-alphabetic chars.
	  CHAR_AMPERSAND: 38, /* & */
	  CHAR_AT: 64, /* @ */
	  CHAR_BACKWARD_SLASH: 92, /* \ */
	  CHAR_CARRIAGE_RETURN: 13, /* \r */
	  CHAR_CIRCUMFLEX_ACCENT: 94, /* ^ */
	  CHAR_COLON: 58, /* : */
	  CHAR_COMMA: 44, /* , */
	  CHAR_DOT: 46, /* . */
	  CHAR_DOUBLE_QUOTE: 34, /* " */
	  CHAR_EQUAL: 61, /* = */
	  CHAR_EXCLAMATION_MARK: 33, /* ! */
	  CHAR_FORM_FEED: 12, /* \f */
	  CHAR_FORWARD_SLASH: 47, /* / */
	  CHAR_GRAVE_ACCENT: 96, /* ` */
	  CHAR_HASH: 35, /* # */
	  CHAR_HYPHEN_MINUS: 45, /* - */
	  CHAR_LEFT_ANGLE_BRACKET: 60, /* < */
	  CHAR_LEFT_CURLY_BRACE: 123, /* { */
	  CHAR_LEFT_SQUARE_BRACKET: 91, /* [ */
	  CHAR_LINE_FEED: 10, /* \n */
	  CHAR_NO_BREAK_SPACE: 160, /* \u00A0 */
	  CHAR_PERCENT: 37, /* % */
	  CHAR_PLUS: 43, /* + */
	  CHAR_QUESTION_MARK: 63, /* ? */
	  CHAR_RIGHT_ANGLE_BRACKET: 62, /* > */
	  CHAR_RIGHT_CURLY_BRACE: 125, /* } */
	  CHAR_RIGHT_SQUARE_BRACKET: 93, /* ] */
	  CHAR_SEMICOLON: 59, /* ; */
	  CHAR_SINGLE_QUOTE: 39, /* ' */
	  CHAR_SPACE: 32, /*   */
	  CHAR_TAB: 9, /* \t */
	  CHAR_UNDERSCORE: 95, /* _ */
	  CHAR_VERTICAL_LINE: 124, /* | */
	  CHAR_ZERO_WIDTH_NOBREAK_SPACE: 65279, /* \uFEFF */

	  /**
	   * Create EXTGLOB_CHARS
	   */

	  extglobChars(chars) {
	    return {
	      '!': { type: 'negate', open: '(?:(?!(?:', close: `))${chars.STAR})` },
	      '?': { type: 'qmark', open: '(?:', close: ')?' },
	      '+': { type: 'plus', open: '(?:', close: ')+' },
	      '*': { type: 'star', open: '(?:', close: ')*' },
	      '@': { type: 'at', open: '(?:', close: ')' }
	    };
	  },

	  /**
	   * Create GLOB_CHARS
	   */

	  globChars(win32) {
	    return win32 === true ? WINDOWS_CHARS : POSIX_CHARS;
	  }
	};
	return constants;
}

/*global navigator*/

var hasRequiredUtils;

function requireUtils () {
	if (hasRequiredUtils) return utils;
	hasRequiredUtils = 1;
	(function (exports) {

		const {
		  REGEX_BACKSLASH,
		  REGEX_REMOVE_BACKSLASH,
		  REGEX_SPECIAL_CHARS,
		  REGEX_SPECIAL_CHARS_GLOBAL
		} = /*@__PURE__*/ requireConstants();

		exports.isObject = val => val !== null && typeof val === 'object' && !Array.isArray(val);
		exports.hasRegexChars = str => REGEX_SPECIAL_CHARS.test(str);
		exports.isRegexChar = str => str.length === 1 && exports.hasRegexChars(str);
		exports.escapeRegex = str => str.replace(REGEX_SPECIAL_CHARS_GLOBAL, '\\$1');
		exports.toPosixSlashes = str => str.replace(REGEX_BACKSLASH, '/');

		exports.isWindows = () => {
		  if (typeof navigator !== 'undefined' && navigator.platform) {
		    const platform = navigator.platform.toLowerCase();
		    return platform === 'win32' || platform === 'windows';
		  }

		  if (typeof process !== 'undefined' && process.platform) {
		    return process.platform === 'win32';
		  }

		  return false;
		};

		exports.removeBackslashes = str => {
		  return str.replace(REGEX_REMOVE_BACKSLASH, match => {
		    return match === '\\' ? '' : match;
		  });
		};

		exports.escapeLast = (input, char, lastIdx) => {
		  const idx = input.lastIndexOf(char, lastIdx);
		  if (idx === -1) return input;
		  if (input[idx - 1] === '\\') return exports.escapeLast(input, char, idx - 1);
		  return `${input.slice(0, idx)}\\${input.slice(idx)}`;
		};

		exports.removePrefix = (input, state = {}) => {
		  let output = input;
		  if (output.startsWith('./')) {
		    output = output.slice(2);
		    state.prefix = './';
		  }
		  return output;
		};

		exports.wrapOutput = (input, state = {}, options = {}) => {
		  const prepend = options.contains ? '' : '^';
		  const append = options.contains ? '' : '$';

		  let output = `${prepend}(?:${input})${append}`;
		  if (state.negated === true) {
		    output = `(?:^(?!${output}).*$)`;
		  }
		  return output;
		};

		exports.basename = (path, { windows } = {}) => {
		  const segs = path.split(windows ? /[\\/]/ : '/');
		  const last = segs[segs.length - 1];

		  if (last === '') {
		    return segs[segs.length - 2];
		  }

		  return last;
		}; 
	} (utils));
	return utils;
}

var scan_1;
var hasRequiredScan;

function requireScan () {
	if (hasRequiredScan) return scan_1;
	hasRequiredScan = 1;

	const utils = /*@__PURE__*/ requireUtils();
	const {
	  CHAR_ASTERISK,             /* * */
	  CHAR_AT,                   /* @ */
	  CHAR_BACKWARD_SLASH,       /* \ */
	  CHAR_COMMA,                /* , */
	  CHAR_DOT,                  /* . */
	  CHAR_EXCLAMATION_MARK,     /* ! */
	  CHAR_FORWARD_SLASH,        /* / */
	  CHAR_LEFT_CURLY_BRACE,     /* { */
	  CHAR_LEFT_PARENTHESES,     /* ( */
	  CHAR_LEFT_SQUARE_BRACKET,  /* [ */
	  CHAR_PLUS,                 /* + */
	  CHAR_QUESTION_MARK,        /* ? */
	  CHAR_RIGHT_CURLY_BRACE,    /* } */
	  CHAR_RIGHT_PARENTHESES,    /* ) */
	  CHAR_RIGHT_SQUARE_BRACKET  /* ] */
	} = /*@__PURE__*/ requireConstants();

	const isPathSeparator = code => {
	  return code === CHAR_FORWARD_SLASH || code === CHAR_BACKWARD_SLASH;
	};

	const depth = token => {
	  if (token.isPrefix !== true) {
	    token.depth = token.isGlobstar ? Infinity : 1;
	  }
	};

	/**
	 * Quickly scans a glob pattern and returns an object with a handful of
	 * useful properties, like `isGlob`, `path` (the leading non-glob, if it exists),
	 * `glob` (the actual pattern), `negated` (true if the path starts with `!` but not
	 * with `!(`) and `negatedExtglob` (true if the path starts with `!(`).
	 *
	 * ```js
	 * const pm = require('picomatch');
	 * console.log(pm.scan('foo/bar/*.js'));
	 * { isGlob: true, input: 'foo/bar/*.js', base: 'foo/bar', glob: '*.js' }
	 * ```
	 * @param {String} `str`
	 * @param {Object} `options`
	 * @return {Object} Returns an object with tokens and regex source string.
	 * @api public
	 */

	const scan = (input, options) => {
	  const opts = options || {};

	  const length = input.length - 1;
	  const scanToEnd = opts.parts === true || opts.tokens === true || opts.scanToEnd === true;
	  const slashes = [];
	  const tokens = [];
	  const parts = [];

	  let str = input;
	  let index = -1;
	  let start = 0;
	  let lastIndex = 0;
	  let isBrace = false;
	  let isBracket = false;
	  let isGlob = false;
	  let isExtglob = false;
	  let isGlobstar = false;
	  let braceEscaped = false;
	  let backslashes = false;
	  let negated = false;
	  let negatedExtglob = false;
	  let finished = false;
	  let braces = 0;
	  let prev;
	  let code;
	  let token = { value: '', depth: 0, isGlob: false };

	  const eos = () => index >= length;
	  const peek = () => str.charCodeAt(index + 1);
	  const advance = () => {
	    prev = code;
	    return str.charCodeAt(++index);
	  };

	  while (index < length) {
	    code = advance();
	    let next;

	    if (code === CHAR_BACKWARD_SLASH) {
	      backslashes = token.backslashes = true;
	      code = advance();

	      if (code === CHAR_LEFT_CURLY_BRACE) {
	        braceEscaped = true;
	      }
	      continue;
	    }

	    if (braceEscaped === true || code === CHAR_LEFT_CURLY_BRACE) {
	      braces++;

	      while (eos() !== true && (code = advance())) {
	        if (code === CHAR_BACKWARD_SLASH) {
	          backslashes = token.backslashes = true;
	          advance();
	          continue;
	        }

	        if (code === CHAR_LEFT_CURLY_BRACE) {
	          braces++;
	          continue;
	        }

	        if (braceEscaped !== true && code === CHAR_DOT && (code = advance()) === CHAR_DOT) {
	          isBrace = token.isBrace = true;
	          isGlob = token.isGlob = true;
	          finished = true;

	          if (scanToEnd === true) {
	            continue;
	          }

	          break;
	        }

	        if (braceEscaped !== true && code === CHAR_COMMA) {
	          isBrace = token.isBrace = true;
	          isGlob = token.isGlob = true;
	          finished = true;

	          if (scanToEnd === true) {
	            continue;
	          }

	          break;
	        }

	        if (code === CHAR_RIGHT_CURLY_BRACE) {
	          braces--;

	          if (braces === 0) {
	            braceEscaped = false;
	            isBrace = token.isBrace = true;
	            finished = true;
	            break;
	          }
	        }
	      }

	      if (scanToEnd === true) {
	        continue;
	      }

	      break;
	    }

	    if (code === CHAR_FORWARD_SLASH) {
	      slashes.push(index);
	      tokens.push(token);
	      token = { value: '', depth: 0, isGlob: false };

	      if (finished === true) continue;
	      if (prev === CHAR_DOT && index === (start + 1)) {
	        start += 2;
	        continue;
	      }

	      lastIndex = index + 1;
	      continue;
	    }

	    if (opts.noext !== true) {
	      const isExtglobChar = code === CHAR_PLUS
	        || code === CHAR_AT
	        || code === CHAR_ASTERISK
	        || code === CHAR_QUESTION_MARK
	        || code === CHAR_EXCLAMATION_MARK;

	      if (isExtglobChar === true && peek() === CHAR_LEFT_PARENTHESES) {
	        isGlob = token.isGlob = true;
	        isExtglob = token.isExtglob = true;
	        finished = true;
	        if (code === CHAR_EXCLAMATION_MARK && index === start) {
	          negatedExtglob = true;
	        }

	        if (scanToEnd === true) {
	          let parens = 0;

	          while (eos() !== true && (code = advance())) {
	            if (code === CHAR_BACKWARD_SLASH) {
	              backslashes = token.backslashes = true;
	              advance();
	              continue;
	            }

	            if (code === CHAR_LEFT_PARENTHESES) {
	              parens++;
	              continue;
	            }

	            if (code === CHAR_RIGHT_PARENTHESES && --parens === 0) {
	              finished = true;
	              break;
	            }
	          }
	          continue;
	        }
	        break;
	      }
	    }

	    if (code === CHAR_ASTERISK) {
	      if (prev === CHAR_ASTERISK) isGlobstar = token.isGlobstar = true;
	      isGlob = token.isGlob = true;
	      finished = true;

	      if (scanToEnd === true) {
	        continue;
	      }
	      break;
	    }

	    if (code === CHAR_QUESTION_MARK) {
	      isGlob = token.isGlob = true;
	      finished = true;

	      if (scanToEnd === true) {
	        continue;
	      }
	      break;
	    }

	    if (code === CHAR_LEFT_SQUARE_BRACKET) {
	      while (eos() !== true && (next = advance())) {
	        if (next === CHAR_BACKWARD_SLASH) {
	          backslashes = token.backslashes = true;
	          advance();
	          continue;
	        }

	        if (next === CHAR_RIGHT_SQUARE_BRACKET) {
	          isBracket = token.isBracket = true;
	          isGlob = token.isGlob = true;
	          finished = true;
	          break;
	        }
	      }

	      if (scanToEnd === true) {
	        continue;
	      }

	      break;
	    }

	    if (opts.nonegate !== true && code === CHAR_EXCLAMATION_MARK && index === start) {
	      negated = token.negated = true;
	      start++;
	      continue;
	    }

	    if (opts.noparen !== true && code === CHAR_LEFT_PARENTHESES) {
	      isGlob = token.isGlob = true;

	      if (scanToEnd === true) {
	        let parens = 1;

	        while (eos() !== true && (code = advance())) {
	          if (code === CHAR_BACKWARD_SLASH) {
	            backslashes = token.backslashes = true;
	            advance();
	            continue;
	          }

	          if (code === CHAR_LEFT_PARENTHESES) {
	            parens++;
	            continue;
	          }

	          if (code === CHAR_RIGHT_PARENTHESES && --parens === 0) {
	            finished = true;
	            break;
	          }
	        }
	        continue;
	      }
	      break;
	    }

	    if (isGlob === true) {
	      finished = true;

	      if (scanToEnd === true) {
	        continue;
	      }

	      break;
	    }
	  }

	  if (opts.noext === true) {
	    isExtglob = false;
	    isGlob = false;
	  }

	  let base = str;
	  let prefix = '';
	  let glob = '';

	  if (start > 0) {
	    prefix = str.slice(0, start);
	    str = str.slice(start);
	    lastIndex -= start;
	  }

	  if (base && isGlob === true && lastIndex > 0) {
	    base = str.slice(0, lastIndex);
	    glob = str.slice(lastIndex);
	  } else if (isGlob === true) {
	    base = '';
	    glob = str;
	  } else {
	    base = str;
	  }

	  if (base && base !== '' && base !== '/' && base !== str) {
	    if (isPathSeparator(base.charCodeAt(base.length - 1))) {
	      base = base.slice(0, -1);
	    }
	  }

	  if (opts.unescape === true) {
	    if (glob) glob = utils.removeBackslashes(glob);

	    if (base && backslashes === true) {
	      base = utils.removeBackslashes(base);
	    }
	  }

	  const state = {
	    prefix,
	    input,
	    start,
	    base,
	    glob,
	    isBrace,
	    isBracket,
	    isGlob,
	    isExtglob,
	    isGlobstar,
	    negated,
	    negatedExtglob
	  };

	  if (opts.tokens === true) {
	    state.maxDepth = 0;
	    if (!isPathSeparator(code)) {
	      tokens.push(token);
	    }
	    state.tokens = tokens;
	  }

	  if (opts.parts === true || opts.tokens === true) {
	    let prevIndex;

	    for (let idx = 0; idx < slashes.length; idx++) {
	      const n = prevIndex !== undefined ? prevIndex + 1 : start;
	      const i = slashes[idx];
	      const value = input.slice(n, i);
	      if (opts.tokens) {
	        if (idx === 0 && start !== 0) {
	          tokens[idx].isPrefix = true;
	          tokens[idx].value = prefix;
	        } else {
	          tokens[idx].value = value;
	        }
	        depth(tokens[idx]);
	        state.maxDepth += tokens[idx].depth;
	      }
	      if (i >= start) {
	        parts.push(value);
	        prevIndex = i;
	      }
	    }

	    const n = prevIndex !== undefined ? prevIndex + 1 : start;
	    const value = input.slice(n);
	    parts.push(value);

	    if (opts.tokens && prevIndex && prevIndex + 1 < input.length) {
	      tokens[tokens.length - 1].value = value;
	      depth(tokens[tokens.length - 1]);
	      state.maxDepth += tokens[tokens.length - 1].depth;
	    }

	    state.slashes = slashes;
	    state.parts = parts;
	  }

	  return state;
	};

	scan_1 = scan;
	return scan_1;
}

var parse_1;
var hasRequiredParse;

function requireParse () {
	if (hasRequiredParse) return parse_1;
	hasRequiredParse = 1;

	const constants = /*@__PURE__*/ requireConstants();
	const utils = /*@__PURE__*/ requireUtils();

	/**
	 * Constants
	 */

	const {
	  MAX_LENGTH,
	  POSIX_REGEX_SOURCE,
	  REGEX_NON_SPECIAL_CHARS,
	  REGEX_SPECIAL_CHARS_BACKREF,
	  REPLACEMENTS
	} = constants;

	/**
	 * Helpers
	 */

	const expandRange = (args, options) => {
	  if (typeof options.expandRange === 'function') {
	    return options.expandRange(...args, options);
	  }

	  args.sort();
	  const value = `[${args.join('-')}]`;

	  try {
	    /* eslint-disable-next-line no-new */
	    new RegExp(value);
	  } catch (ex) {
	    return args.map(v => utils.escapeRegex(v)).join('..');
	  }

	  return value;
	};

	/**
	 * Create the message for a syntax error
	 */

	const syntaxError = (type, char) => {
	  return `Missing ${type}: "${char}" - use "\\\\${char}" to match literal characters`;
	};

	const splitTopLevel = input => {
	  const parts = [];
	  let bracket = 0;
	  let paren = 0;
	  let quote = 0;
	  let value = '';
	  let escaped = false;

	  for (const ch of input) {
	    if (escaped === true) {
	      value += ch;
	      escaped = false;
	      continue;
	    }

	    if (ch === '\\') {
	      value += ch;
	      escaped = true;
	      continue;
	    }

	    if (ch === '"') {
	      quote = quote === 1 ? 0 : 1;
	      value += ch;
	      continue;
	    }

	    if (quote === 0) {
	      if (ch === '[') {
	        bracket++;
	      } else if (ch === ']' && bracket > 0) {
	        bracket--;
	      } else if (bracket === 0) {
	        if (ch === '(') {
	          paren++;
	        } else if (ch === ')' && paren > 0) {
	          paren--;
	        } else if (ch === '|' && paren === 0) {
	          parts.push(value);
	          value = '';
	          continue;
	        }
	      }
	    }

	    value += ch;
	  }

	  parts.push(value);
	  return parts;
	};

	const isPlainBranch = branch => {
	  let escaped = false;

	  for (const ch of branch) {
	    if (escaped === true) {
	      escaped = false;
	      continue;
	    }

	    if (ch === '\\') {
	      escaped = true;
	      continue;
	    }

	    if (/[?*+@!()[\]{}]/.test(ch)) {
	      return false;
	    }
	  }

	  return true;
	};

	const normalizeSimpleBranch = branch => {
	  let value = branch.trim();
	  let changed = true;

	  while (changed === true) {
	    changed = false;

	    if (/^@\([^\\()[\]{}|]+\)$/.test(value)) {
	      value = value.slice(2, -1);
	      changed = true;
	    }
	  }

	  if (!isPlainBranch(value)) {
	    return;
	  }

	  return value.replace(/\\(.)/g, '$1');
	};

	const hasRepeatedCharPrefixOverlap = branches => {
	  const values = branches.map(normalizeSimpleBranch).filter(Boolean);

	  for (let i = 0; i < values.length; i++) {
	    for (let j = i + 1; j < values.length; j++) {
	      const a = values[i];
	      const b = values[j];
	      const char = a[0];

	      if (!char || a !== char.repeat(a.length) || b !== char.repeat(b.length)) {
	        continue;
	      }

	      if (a === b || a.startsWith(b) || b.startsWith(a)) {
	        return true;
	      }
	    }
	  }

	  return false;
	};

	const parseRepeatedExtglob = (pattern, requireEnd = true) => {
	  if ((pattern[0] !== '+' && pattern[0] !== '*') || pattern[1] !== '(') {
	    return;
	  }

	  let bracket = 0;
	  let paren = 0;
	  let quote = 0;
	  let escaped = false;

	  for (let i = 1; i < pattern.length; i++) {
	    const ch = pattern[i];

	    if (escaped === true) {
	      escaped = false;
	      continue;
	    }

	    if (ch === '\\') {
	      escaped = true;
	      continue;
	    }

	    if (ch === '"') {
	      quote = quote === 1 ? 0 : 1;
	      continue;
	    }

	    if (quote === 1) {
	      continue;
	    }

	    if (ch === '[') {
	      bracket++;
	      continue;
	    }

	    if (ch === ']' && bracket > 0) {
	      bracket--;
	      continue;
	    }

	    if (bracket > 0) {
	      continue;
	    }

	    if (ch === '(') {
	      paren++;
	      continue;
	    }

	    if (ch === ')') {
	      paren--;

	      if (paren === 0) {
	        if (requireEnd === true && i !== pattern.length - 1) {
	          return;
	        }

	        return {
	          type: pattern[0],
	          body: pattern.slice(2, i),
	          end: i
	        };
	      }
	    }
	  }
	};

	const buildCharClassStar = chars => {
	  const source = chars.length === 1
	    ? utils.escapeRegex(chars[0])
	    : `[${chars.map(ch => utils.escapeRegex(ch)).join('')}]`;

	  return `${source}*`;
	};

	const getStarExtglobSequenceChars = pattern => {
	  let index = 0;
	  const chars = [];

	  while (index < pattern.length) {
	    const match = parseRepeatedExtglob(pattern.slice(index), false);

	    if (!match || match.type !== '*') {
	      return;
	    }

	    const branches = splitTopLevel(match.body).map(branch => branch.trim());
	    if (branches.length !== 1) {
	      return;
	    }

	    const branch = normalizeSimpleBranch(branches[0]);
	    if (!branch || branch.length !== 1) {
	      return;
	    }

	    chars.push(branch);
	    index += match.end + 1;
	  }

	  if (chars.length < 1) {
	    return;
	  }

	  return chars;
	};

	const repeatedExtglobRecursion = pattern => {
	  let depth = 0;
	  let value = pattern.trim();
	  let match = parseRepeatedExtglob(value);

	  while (match) {
	    depth++;
	    value = match.body.trim();
	    match = parseRepeatedExtglob(value);
	  }

	  return depth;
	};

	const analyzeRepeatedExtglob = (body, options) => {
	  if (options.maxExtglobRecursion === false) {
	    return { risky: false };
	  }

	  const max =
	    typeof options.maxExtglobRecursion === 'number'
	      ? options.maxExtglobRecursion
	      : constants.DEFAULT_MAX_EXTGLOB_RECURSION;

	  const branches = splitTopLevel(body).map(branch => branch.trim());

	  if (branches.length > 1) {
	    if (
	      branches.some(branch => branch === '') ||
	      branches.some(branch => /^[*?]+$/.test(branch)) ||
	      hasRepeatedCharPrefixOverlap(branches)
	    ) {
	      return { risky: true };
	    }
	  }

	  // A repeated extglob is "risky" (prone to catastrophic backtracking) when a
	  // branch is itself a `*(...)` sequence, since that nests an unbounded quantifier
	  // inside the outer `+(...)`/`*(...)`. When *every* branch reduces to single
	  // characters we can emit one flat, ReDoS-safe character class that preserves the
	  // meaning of ALL branches (e.g. `+(*(a)|*(b))` -> `[ab]*`), rather than dropping
	  // every branch but the first.
	  const safeChars = [];
	  let sawStarSequence = false;
	  let combinable = true;

	  for (const branch of branches) {
	    const chars = getStarExtglobSequenceChars(branch);
	    if (chars) {
	      sawStarSequence = true;
	      safeChars.push(...chars);
	      continue;
	    }

	    const literal = normalizeSimpleBranch(branch);
	    if (literal && literal.length === 1) {
	      safeChars.push(literal);
	      continue;
	    }

	    combinable = false;

	    if (repeatedExtglobRecursion(branch) > max) {
	      return { risky: true };
	    }
	  }

	  if (sawStarSequence) {
	    return combinable
	      ? { risky: true, safeOutput: buildCharClassStar([...new Set(safeChars)]) }
	      : { risky: true };
	  }

	  return { risky: false };
	};

	/**
	 * Parse the given input string.
	 * @param {String} input
	 * @param {Object} options
	 * @return {Object}
	 */

	const parse = (input, options) => {
	  if (typeof input !== 'string') {
	    throw new TypeError('Expected a string');
	  }

	  input = REPLACEMENTS[input] || input;

	  const opts = { ...options };
	  const max = typeof opts.maxLength === 'number' ? Math.min(MAX_LENGTH, opts.maxLength) : MAX_LENGTH;

	  let len = input.length;
	  if (len > max) {
	    throw new SyntaxError(`Input length: ${len}, exceeds maximum allowed length: ${max}`);
	  }

	  const bos = { type: 'bos', value: '', output: opts.prepend || '' };
	  const tokens = [bos];

	  const capture = opts.capture ? '' : '?:';

	  // create constants based on platform, for windows or posix
	  const PLATFORM_CHARS = constants.globChars(opts.windows);
	  const EXTGLOB_CHARS = constants.extglobChars(PLATFORM_CHARS);

	  const {
	    DOT_LITERAL,
	    PLUS_LITERAL,
	    SLASH_LITERAL,
	    ONE_CHAR,
	    DOTS_SLASH,
	    NO_DOT,
	    NO_DOT_SLASH,
	    NO_DOTS_SLASH,
	    QMARK,
	    QMARK_NO_DOT,
	    STAR,
	    START_ANCHOR
	  } = PLATFORM_CHARS;

	  const globstar = opts => {
	    return `(${capture}(?:(?!${START_ANCHOR}${opts.dot ? DOTS_SLASH : DOT_LITERAL}).)*?)`;
	  };

	  const nodot = opts.dot ? '' : NO_DOT;
	  const qmarkNoDot = opts.dot ? QMARK : QMARK_NO_DOT;
	  let star = opts.bash === true ? globstar(opts) : STAR;

	  if (opts.capture) {
	    star = `(${star})`;
	  }

	  // minimatch options support
	  if (typeof opts.noext === 'boolean') {
	    opts.noextglob = opts.noext;
	  }

	  const state = {
	    input,
	    index: -1,
	    start: 0,
	    dot: opts.dot === true,
	    consumed: '',
	    output: '',
	    prefix: '',
	    backtrack: false,
	    negated: false,
	    brackets: 0,
	    braces: 0,
	    parens: 0,
	    quotes: 0,
	    globstar: false,
	    tokens
	  };

	  input = utils.removePrefix(input, state);
	  len = input.length;

	  const extglobs = [];
	  const braces = [];
	  const stack = [];
	  let prev = bos;
	  let value;

	  /**
	   * Tokenizing helpers
	   */

	  const eos = () => state.index === len - 1;
	  const peek = state.peek = (n = 1) => input[state.index + n];
	  const advance = state.advance = () => input[++state.index] || '';
	  const remaining = () => input.slice(state.index + 1);
	  const consume = (value = '', num = 0) => {
	    state.consumed += value;
	    state.index += num;
	  };

	  const append = token => {
	    state.output += token.output != null ? token.output : token.value;
	    consume(token.value);
	  };

	  const negate = () => {
	    let count = 1;

	    while (peek() === '!' && (peek(2) !== '(' || peek(3) === '?')) {
	      advance();
	      state.start++;
	      count++;
	    }

	    if (count % 2 === 0) {
	      return false;
	    }

	    state.negated = true;
	    state.start++;
	    return true;
	  };

	  const increment = type => {
	    state[type]++;
	    stack.push(type);
	  };

	  const decrement = type => {
	    state[type]--;
	    stack.pop();
	  };

	  /**
	   * Push tokens onto the tokens array. This helper speeds up
	   * tokenizing by 1) helping us avoid backtracking as much as possible,
	   * and 2) helping us avoid creating extra tokens when consecutive
	   * characters are plain text. This improves performance and simplifies
	   * lookbehinds.
	   */

	  const push = tok => {
	    if (prev.type === 'globstar') {
	      const isBrace = state.braces > 0 && (tok.type === 'comma' || tok.type === 'brace');
	      const isExtglob = tok.extglob === true || (extglobs.length && (tok.type === 'pipe' || tok.type === 'paren'));

	      if (tok.type !== 'slash' && tok.type !== 'paren' && !isBrace && !isExtglob) {
	        state.output = state.output.slice(0, -prev.output.length);
	        prev.type = 'star';
	        prev.value = '*';
	        prev.output = star;
	        state.output += prev.output;
	      }
	    }

	    if (extglobs.length && tok.type !== 'paren') {
	      extglobs[extglobs.length - 1].inner += tok.value;
	    }

	    if (tok.value || tok.output) append(tok);
	    if (prev && prev.type === 'text' && tok.type === 'text') {
	      prev.output = (prev.output || prev.value) + tok.value;
	      prev.value += tok.value;
	      return;
	    }

	    tok.prev = prev;
	    tokens.push(tok);
	    prev = tok;
	  };

	  const extglobOpen = (type, value) => {
	    const token = { ...EXTGLOB_CHARS[value], conditions: 1, inner: '' };

	    token.prev = prev;
	    token.parens = state.parens;
	    token.output = state.output;
	    token.startIndex = state.index;
	    token.tokensIndex = tokens.length;
	    const output = (opts.capture ? '(' : '') + token.open;

	    increment('parens');
	    push({ type, value, output: state.output ? '' : ONE_CHAR });
	    push({ type: 'paren', extglob: true, value: advance(), output });
	    extglobs.push(token);
	  };

	  const extglobClose = token => {
	    const literal = input.slice(token.startIndex, state.index + 1);
	    const body = input.slice(token.startIndex + 2, state.index);
	    const analysis = analyzeRepeatedExtglob(body, opts);

	    if ((token.type === 'plus' || token.type === 'star') && analysis.risky) {
	      const safeOutput = analysis.safeOutput
	        ? (token.output ? '' : ONE_CHAR) + (opts.capture ? `(${analysis.safeOutput})` : analysis.safeOutput)
	        : undefined;
	      const open = tokens[token.tokensIndex];

	      open.type = 'text';
	      open.value = literal;
	      open.output = safeOutput || utils.escapeRegex(literal);

	      for (let i = token.tokensIndex + 1; i < tokens.length; i++) {
	        tokens[i].value = '';
	        tokens[i].output = '';
	        delete tokens[i].suffix;
	      }

	      state.output = token.output + open.output;
	      state.backtrack = true;

	      push({ type: 'paren', extglob: true, value, output: '' });
	      decrement('parens');
	      return;
	    }

	    let output = token.close + (opts.capture ? ')' : '');
	    let rest;

	    if (token.type === 'negate') {
	      let extglobStar = star;

	      if (token.inner && token.inner.length > 1 && token.inner.includes('/')) {
	        extglobStar = globstar(opts);
	      }

	      if (extglobStar !== star || eos() || /^\)+$/.test(remaining())) {
	        output = token.close = `)$))${extglobStar}`;
	      }

	      if (token.inner.includes('*') && (rest = remaining()) && /^\.[^\\/.]+$/.test(rest)) {
	        // Any non-magical string (`.ts`) or even nested expression (`.{ts,tsx}`) can follow after the closing parenthesis.
	        // In this case, we need to parse the string and use it in the output of the original pattern.
	        // Suitable patterns: `/!(*.d).ts`, `/!(*.d).{ts,tsx}`, `**/!(*-dbg).@(js)`.
	        //
	        // Disabling the `fastpaths` option due to a problem with parsing strings as `.ts` in the pattern like `**/!(*.d).ts`.
	        const expression = parse(rest, { ...options, fastpaths: false }).output;

	        output = token.close = `)${expression})${extglobStar})`;
	      }

	      if (token.prev.type === 'bos') {
	        state.negatedExtglob = true;
	      }
	    }

	    push({ type: 'paren', extglob: true, value, output });
	    decrement('parens');
	  };

	  /**
	   * Fast paths
	   */

	  if (opts.fastpaths !== false && !/(^[*!]|[/()[\]{}"])/.test(input)) {
	    let backslashes = false;

	    let output = input.replace(REGEX_SPECIAL_CHARS_BACKREF, (m, esc, chars, first, rest, index) => {
	      if (first === '\\') {
	        backslashes = true;
	        return m;
	      }

	      if (first === '?') {
	        if (esc) {
	          return esc + first + (rest ? QMARK.repeat(rest.length) : '');
	        }
	        if (index === 0) {
	          return qmarkNoDot + (rest ? QMARK.repeat(rest.length) : '');
	        }
	        return QMARK.repeat(chars.length);
	      }

	      if (first === '.') {
	        return DOT_LITERAL.repeat(chars.length);
	      }

	      if (first === '*') {
	        if (esc) {
	          return esc + first + (rest ? star : '');
	        }
	        return star;
	      }
	      return esc ? m : `\\${m}`;
	    });

	    if (backslashes === true) {
	      if (opts.unescape === true) {
	        output = output.replace(/\\/g, '');
	      } else {
	        output = output.replace(/\\+/g, m => {
	          return m.length % 2 === 0 ? '\\\\' : (m ? '\\' : '');
	        });
	      }
	    }

	    if (output === input && opts.contains === true) {
	      state.output = input;
	      return state;
	    }

	    state.output = utils.wrapOutput(output, state, options);
	    return state;
	  }

	  /**
	   * Tokenize input until we reach end-of-string
	   */

	  while (!eos()) {
	    value = advance();

	    if (value === '\u0000') {
	      continue;
	    }

	    /**
	     * Escaped characters
	     */

	    if (value === '\\') {
	      const next = peek();

	      if (next === '/' && opts.bash !== true) {
	        continue;
	      }

	      if (next === '.' || next === ';') {
	        continue;
	      }

	      if (!next) {
	        value += '\\';
	        push({ type: 'text', value });
	        continue;
	      }

	      // collapse slashes to reduce potential for exploits
	      const match = /^\\+/.exec(remaining());
	      let slashes = 0;

	      if (match && match[0].length > 2) {
	        slashes = match[0].length;
	        state.index += slashes;
	        if (slashes % 2 !== 0) {
	          value += '\\';
	        }
	      }

	      if (opts.unescape === true) {
	        value = advance();
	      } else {
	        value += advance();
	      }

	      if (state.brackets === 0) {
	        push({ type: 'text', value });
	        continue;
	      }
	    }

	    /**
	     * If we're inside a regex character class, continue
	     * until we reach the closing bracket.
	     */

	    if (state.brackets > 0 && (value !== ']' || prev.value === '[' || prev.value === '[^')) {
	      if (opts.posix !== false && value === ':') {
	        const inner = prev.value.slice(1);
	        if (inner.includes('[')) {
	          prev.posix = true;

	          if (inner.includes(':')) {
	            const idx = prev.value.lastIndexOf('[');
	            const pre = prev.value.slice(0, idx);
	            const rest = prev.value.slice(idx + 2);
	            const posix = POSIX_REGEX_SOURCE[rest];
	            if (posix) {
	              prev.value = pre + posix;
	              state.backtrack = true;
	              advance();

	              if (!bos.output && tokens.indexOf(prev) === 1) {
	                bos.output = ONE_CHAR;
	              }
	              continue;
	            }
	          }
	        }
	      }

	      if ((value === '[' && peek() !== ':') || (value === '-' && peek() === ']')) {
	        value = `\\${value}`;
	      }

	      if (value === ']' && (prev.value === '[' || prev.value === '[^')) {
	        value = `\\${value}`;
	      }

	      if (opts.posix === true && value === '!' && prev.value === '[') {
	        value = '^';
	      }

	      prev.value += value;
	      append({ value });
	      continue;
	    }

	    /**
	     * If we're inside a quoted string, continue
	     * until we reach the closing double quote.
	     */

	    if (state.quotes === 1 && value !== '"') {
	      value = utils.escapeRegex(value);
	      prev.value += value;
	      append({ value });
	      continue;
	    }

	    /**
	     * Double quotes
	     */

	    if (value === '"') {
	      state.quotes = state.quotes === 1 ? 0 : 1;
	      if (opts.keepQuotes === true) {
	        push({ type: 'text', value });
	      }
	      continue;
	    }

	    /**
	     * Parentheses
	     */

	    if (value === '(') {
	      increment('parens');
	      push({ type: 'paren', value });
	      continue;
	    }

	    if (value === ')') {
	      if (state.parens === 0 && opts.strictBrackets === true) {
	        throw new SyntaxError(syntaxError('opening', '('));
	      }

	      const extglob = extglobs[extglobs.length - 1];
	      if (extglob && state.parens === extglob.parens + 1) {
	        extglobClose(extglobs.pop());
	        continue;
	      }

	      push({ type: 'paren', value, output: state.parens ? ')' : '\\)' });
	      decrement('parens');
	      continue;
	    }

	    /**
	     * Square brackets
	     */

	    if (value === '[') {
	      if (opts.nobracket === true || !remaining().includes(']')) {
	        if (opts.nobracket !== true && opts.strictBrackets === true) {
	          throw new SyntaxError(syntaxError('closing', ']'));
	        }

	        value = `\\${value}`;
	      } else {
	        increment('brackets');
	      }

	      push({ type: 'bracket', value });
	      continue;
	    }

	    if (value === ']') {
	      if (opts.nobracket === true || (prev && prev.type === 'bracket' && prev.value.length === 1)) {
	        push({ type: 'text', value, output: `\\${value}` });
	        continue;
	      }

	      if (state.brackets === 0) {
	        if (opts.strictBrackets === true) {
	          throw new SyntaxError(syntaxError('opening', '['));
	        }

	        push({ type: 'text', value, output: `\\${value}` });
	        continue;
	      }

	      decrement('brackets');

	      const prevValue = prev.value.slice(1);
	      if (prev.posix !== true && prevValue[0] === '^' && !prevValue.includes('/')) {
	        value = `/${value}`;
	      }

	      prev.value += value;
	      append({ value });

	      // when literal brackets are explicitly disabled
	      // assume we should match with a regex character class
	      if (opts.literalBrackets === false || utils.hasRegexChars(prevValue)) {
	        continue;
	      }

	      const escaped = utils.escapeRegex(prev.value);
	      state.output = state.output.slice(0, -prev.value.length);

	      // when literal brackets are explicitly enabled
	      // assume we should escape the brackets to match literal characters
	      if (opts.literalBrackets === true) {
	        state.output += escaped;
	        prev.value = escaped;
	        continue;
	      }

	      // when the user specifies nothing, try to match both
	      prev.value = `(${capture}${escaped}|${prev.value})`;
	      state.output += prev.value;
	      continue;
	    }

	    /**
	     * Braces
	     */

	    if (value === '{' && opts.nobrace !== true) {
	      increment('braces');

	      const open = {
	        type: 'brace',
	        value,
	        output: '(',
	        outputIndex: state.output.length,
	        tokensIndex: state.tokens.length
	      };

	      braces.push(open);
	      push(open);
	      continue;
	    }

	    if (value === '}') {
	      const brace = braces[braces.length - 1];

	      if (opts.nobrace === true || !brace) {
	        push({ type: 'text', value, output: value });
	        continue;
	      }

	      let output = ')';

	      if (brace.dots === true) {
	        const arr = tokens.slice();
	        const range = [];

	        for (let i = arr.length - 1; i >= 0; i--) {
	          tokens.pop();
	          if (arr[i].type === 'brace') {
	            break;
	          }
	          if (arr[i].type !== 'dots') {
	            range.unshift(arr[i].value);
	          }
	        }

	        output = expandRange(range, opts);
	        state.backtrack = true;
	      }

	      if (brace.comma !== true && brace.dots !== true) {
	        const out = state.output.slice(0, brace.outputIndex);
	        const toks = state.tokens.slice(brace.tokensIndex);
	        brace.value = brace.output = '\\{';
	        value = output = '\\}';
	        state.output = out;
	        for (const t of toks) {
	          state.output += (t.output || t.value);
	        }
	      }

	      push({ type: 'brace', value, output });
	      decrement('braces');
	      braces.pop();
	      continue;
	    }

	    /**
	     * Pipes
	     */

	    if (value === '|') {
	      if (extglobs.length > 0) {
	        extglobs[extglobs.length - 1].conditions++;
	      }
	      push({ type: 'text', value });
	      continue;
	    }

	    /**
	     * Commas
	     */

	    if (value === ',') {
	      let output = value;

	      const brace = braces[braces.length - 1];
	      if (brace && stack[stack.length - 1] === 'braces') {
	        brace.comma = true;
	        output = '|';
	      }

	      push({ type: 'comma', value, output });
	      continue;
	    }

	    /**
	     * Slashes
	     */

	    if (value === '/') {
	      // if the beginning of the glob is "./", advance the start
	      // to the current index, and don't add the "./" characters
	      // to the state. This greatly simplifies lookbehinds when
	      // checking for BOS characters like "!" and "." (not "./")
	      if (prev.type === 'dot' && state.index === state.start + 1) {
	        state.start = state.index + 1;
	        state.consumed = '';
	        state.output = '';
	        tokens.pop();
	        prev = bos; // reset "prev" to the first token
	        continue;
	      }

	      push({ type: 'slash', value, output: SLASH_LITERAL });
	      continue;
	    }

	    /**
	     * Dots
	     */

	    if (value === '.') {
	      if (state.braces > 0 && prev.type === 'dot') {
	        if (prev.value === '.') prev.output = DOT_LITERAL;
	        const brace = braces[braces.length - 1];
	        prev.type = 'dots';
	        prev.output += value;
	        prev.value += value;
	        brace.dots = true;
	        continue;
	      }

	      if ((state.braces + state.parens) === 0 && prev.type !== 'bos' && prev.type !== 'slash') {
	        push({ type: 'text', value, output: DOT_LITERAL });
	        continue;
	      }

	      push({ type: 'dot', value, output: DOT_LITERAL });
	      continue;
	    }

	    /**
	     * Question marks
	     */

	    if (value === '?') {
	      const isGroup = prev && prev.value === '(';
	      if (!isGroup && opts.noextglob !== true && peek() === '(' && peek(2) !== '?') {
	        extglobOpen('qmark', value);
	        continue;
	      }

	      if (prev && prev.type === 'paren') {
	        const next = peek();
	        let output = value;

	        if ((prev.value === '(' && !/[!=<:]/.test(next)) || (next === '<' && !/<([!=]|\w+>)/.test(remaining()))) {
	          output = `\\${value}`;
	        }

	        push({ type: 'text', value, output });
	        continue;
	      }

	      if (opts.dot !== true && (prev.type === 'slash' || prev.type === 'bos')) {
	        push({ type: 'qmark', value, output: QMARK_NO_DOT });
	        continue;
	      }

	      push({ type: 'qmark', value, output: QMARK });
	      continue;
	    }

	    /**
	     * Exclamation
	     */

	    if (value === '!') {
	      if (opts.noextglob !== true && peek() === '(') {
	        if (peek(2) !== '?' || !/[!=<:]/.test(peek(3))) {
	          extglobOpen('negate', value);
	          continue;
	        }
	      }

	      if (opts.nonegate !== true && state.index === 0) {
	        negate();
	        continue;
	      }
	    }

	    /**
	     * Plus
	     */

	    if (value === '+') {
	      if (opts.noextglob !== true && peek() === '(' && peek(2) !== '?') {
	        extglobOpen('plus', value);
	        continue;
	      }

	      if ((prev && prev.value === '(') || opts.regex === false) {
	        push({ type: 'plus', value, output: PLUS_LITERAL });
	        continue;
	      }

	      if ((prev && (prev.type === 'bracket' || prev.type === 'paren' || prev.type === 'brace')) || state.parens > 0) {
	        push({ type: 'plus', value });
	        continue;
	      }

	      push({ type: 'plus', value: PLUS_LITERAL });
	      continue;
	    }

	    /**
	     * Plain text
	     */

	    if (value === '@') {
	      if (opts.noextglob !== true && peek() === '(' && peek(2) !== '?') {
	        push({ type: 'at', extglob: true, value, output: '' });
	        continue;
	      }

	      push({ type: 'text', value });
	      continue;
	    }

	    /**
	     * Plain text
	     */

	    if (value !== '*') {
	      if (value === '$' || value === '^') {
	        value = `\\${value}`;
	      }

	      const match = REGEX_NON_SPECIAL_CHARS.exec(remaining());
	      if (match) {
	        value += match[0];
	        state.index += match[0].length;
	      }

	      push({ type: 'text', value });
	      continue;
	    }

	    /**
	     * Stars
	     */

	    if (prev && (prev.type === 'globstar' || prev.star === true)) {
	      prev.type = 'star';
	      prev.star = true;
	      prev.value += value;
	      prev.output = star;
	      state.backtrack = true;
	      state.globstar = true;
	      consume(value);
	      continue;
	    }

	    let rest = remaining();
	    if (opts.noextglob !== true && /^\([^?]/.test(rest)) {
	      extglobOpen('star', value);
	      continue;
	    }

	    if (prev.type === 'star') {
	      if (opts.noglobstar === true) {
	        consume(value);
	        continue;
	      }

	      const prior = prev.prev;
	      const before = prior.prev;
	      const isStart = prior.type === 'slash' || prior.type === 'bos';
	      const afterStar = before && (before.type === 'star' || before.type === 'globstar');

	      if (opts.bash === true && (!isStart || (rest[0] && rest[0] !== '/'))) {
	        push({ type: 'star', value, output: '' });
	        continue;
	      }

	      const isBrace = state.braces > 0 && (prior.type === 'comma' || prior.type === 'brace');
	      const isExtglob = extglobs.length && (prior.type === 'pipe' || prior.type === 'paren');
	      if (!isStart && prior.type !== 'paren' && !isBrace && !isExtglob) {
	        push({ type: 'star', value, output: '' });
	        continue;
	      }

	      // strip consecutive `/**/`
	      while (rest.slice(0, 3) === '/**') {
	        const after = input[state.index + 4];
	        if (after && after !== '/') {
	          break;
	        }
	        rest = rest.slice(3);
	        consume('/**', 3);
	      }

	      // A globstar followed only by balanced closing parens is at the logical end of patterns like
	      // `test(/utils/**)` and `test?(/utils/**)`. Treat it as EOS so the trailing `/**` can match its
	      // parent path, except in negated extglobs where that would change the exclusion semantics.
	      const isEnd = eos() || (
	        state.parens > 0
	        && rest === ')'.repeat(state.parens)
	        && !extglobs.some(extglob => extglob.type === 'negate')
	      );

	      if (prior.type === 'bos' && eos()) {
	        prev.type = 'globstar';
	        prev.value += value;
	        prev.output = globstar(opts);
	        state.output = prev.output;
	        state.globstar = true;
	        consume(value);
	        continue;
	      }

	      if (prior.type === 'slash' && prior.prev.type !== 'bos' && !afterStar && isEnd) {
	        state.output = state.output.slice(0, -(prior.output + prev.output).length);
	        prior.output = `(?:${prior.output}`;

	        prev.type = 'globstar';
	        prev.output = globstar(opts) + (opts.strictSlashes ? ')' : '|$)');
	        prev.value += value;
	        state.globstar = true;
	        state.output += prior.output + prev.output;
	        consume(value);
	        continue;
	      }

	      if (prior.type === 'slash' && prior.prev.type !== 'bos' && rest[0] === '/') {
	        const end = rest[1] !== void 0 ? '|$' : '';

	        state.output = state.output.slice(0, -(prior.output + prev.output).length);
	        prior.output = `(?:${prior.output}`;

	        prev.type = 'globstar';
	        prev.output = `${globstar(opts)}${SLASH_LITERAL}|${SLASH_LITERAL}${end})`;
	        prev.value += value;

	        state.output += prior.output + prev.output;
	        state.globstar = true;

	        consume(value + advance());

	        push({ type: 'slash', value: '/', output: '' });
	        continue;
	      }

	      if (prior.type === 'bos' && rest[0] === '/') {
	        prev.type = 'globstar';
	        prev.value += value;
	        prev.output = `(?:^|${SLASH_LITERAL}|${globstar(opts)}${SLASH_LITERAL})`;
	        state.output = prev.output;
	        state.globstar = true;
	        consume(value + advance());
	        push({ type: 'slash', value: '/', output: '' });
	        continue;
	      }

	      // remove single star from output
	      state.output = state.output.slice(0, -prev.output.length);

	      // reset previous token to globstar
	      prev.type = 'globstar';
	      prev.output = globstar(opts);
	      prev.value += value;

	      // reset output with globstar
	      state.output += prev.output;
	      state.globstar = true;
	      consume(value);
	      continue;
	    }

	    const token = { type: 'star', value, output: star };

	    if (opts.bash === true) {
	      token.output = '.*?';
	      if (prev.type === 'bos' || prev.type === 'slash') {
	        token.output = nodot + token.output;
	      }
	      push(token);
	      continue;
	    }

	    if (prev && (prev.type === 'bracket' || prev.type === 'paren') && opts.regex === true) {
	      token.output = value;
	      push(token);
	      continue;
	    }

	    if (state.index === state.start || prev.type === 'slash' || prev.type === 'dot') {
	      if (prev.type === 'dot') {
	        state.output += NO_DOT_SLASH;
	        prev.output += NO_DOT_SLASH;

	      } else if (opts.dot === true) {
	        state.output += NO_DOTS_SLASH;
	        prev.output += NO_DOTS_SLASH;

	      } else {
	        state.output += nodot;
	        prev.output += nodot;
	      }

	      if (peek() !== '*') {
	        state.output += ONE_CHAR;
	        prev.output += ONE_CHAR;
	      }
	    }

	    push(token);
	  }

	  while (state.brackets > 0) {
	    if (opts.strictBrackets === true) throw new SyntaxError(syntaxError('closing', ']'));
	    state.output = utils.escapeLast(state.output, '[');
	    decrement('brackets');
	  }

	  while (state.parens > 0) {
	    if (opts.strictBrackets === true) throw new SyntaxError(syntaxError('closing', ')'));
	    state.output = utils.escapeLast(state.output, '(');
	    decrement('parens');
	  }

	  while (state.braces > 0) {
	    if (opts.strictBrackets === true) throw new SyntaxError(syntaxError('closing', '}'));
	    state.output = utils.escapeLast(state.output, '{');
	    decrement('braces');
	  }

	  if (opts.strictSlashes !== true && (prev.type === 'star' || prev.type === 'bracket')) {
	    push({ type: 'maybe_slash', value: '', output: `${SLASH_LITERAL}?` });
	  }

	  // rebuild the output if we had to backtrack at any point
	  if (state.backtrack === true) {
	    state.output = '';

	    for (const token of state.tokens) {
	      state.output += token.output != null ? token.output : token.value;

	      if (token.suffix) {
	        state.output += token.suffix;
	      }
	    }
	  }

	  return state;
	};

	/**
	 * Fast paths for creating regular expressions for common glob patterns.
	 * This can significantly speed up processing and has very little downside
	 * impact when none of the fast paths match.
	 */

	parse.fastpaths = (input, options) => {
	  const opts = { ...options };
	  const max = typeof opts.maxLength === 'number' ? Math.min(MAX_LENGTH, opts.maxLength) : MAX_LENGTH;
	  const len = input.length;
	  if (len > max) {
	    throw new SyntaxError(`Input length: ${len}, exceeds maximum allowed length: ${max}`);
	  }

	  input = REPLACEMENTS[input] || input;

	  // create constants based on platform, for windows or posix
	  const {
	    DOT_LITERAL,
	    SLASH_LITERAL,
	    ONE_CHAR,
	    DOTS_SLASH,
	    NO_DOT,
	    NO_DOTS,
	    NO_DOTS_SLASH,
	    STAR,
	    START_ANCHOR
	  } = constants.globChars(opts.windows);

	  const nodot = opts.dot ? NO_DOTS : NO_DOT;
	  const slashDot = opts.dot ? NO_DOTS_SLASH : NO_DOT;
	  const capture = opts.capture ? '' : '?:';
	  const state = { negated: false, prefix: '' };
	  let star = opts.bash === true ? '.*?' : STAR;

	  if (opts.capture) {
	    star = `(${star})`;
	  }

	  const globstar = opts => {
	    if (opts.noglobstar === true) return star;
	    return `(${capture}(?:(?!${START_ANCHOR}${opts.dot ? DOTS_SLASH : DOT_LITERAL}).)*?)`;
	  };

	  const create = str => {
	    switch (str) {
	      case '*':
	        return `${nodot}${ONE_CHAR}${star}`;

	      case '.*':
	        return `${DOT_LITERAL}${ONE_CHAR}${star}`;

	      case '*.*':
	        return `${nodot}${star}${DOT_LITERAL}${ONE_CHAR}${star}`;

	      case '*/*':
	        return `${nodot}${star}${SLASH_LITERAL}${ONE_CHAR}${slashDot}${star}`;

	      case '**':
	        return nodot + globstar(opts);

	      case '**/*':
	        return `(?:${nodot}${globstar(opts)}${SLASH_LITERAL})?${slashDot}${ONE_CHAR}${star}`;

	      case '**/*.*':
	        return `(?:${nodot}${globstar(opts)}${SLASH_LITERAL})?${slashDot}${star}${DOT_LITERAL}${ONE_CHAR}${star}`;

	      case '**/.*':
	        return `(?:${nodot}${globstar(opts)}${SLASH_LITERAL})?${DOT_LITERAL}${ONE_CHAR}${star}`;

	      default: {
	        const match = /^(.*?)\.(\w+)$/.exec(str);
	        if (!match) return;

	        const source = create(match[1]);
	        if (!source) return;

	        return source + DOT_LITERAL + match[2];
	      }
	    }
	  };

	  const output = utils.removePrefix(input, state);
	  let source = create(output);

	  if (source && opts.strictSlashes !== true) {
	    source += `${SLASH_LITERAL}?`;
	  }

	  return source;
	};

	parse_1 = parse;
	return parse_1;
}

var picomatch_1$1;
var hasRequiredPicomatch$1;

function requirePicomatch$1 () {
	if (hasRequiredPicomatch$1) return picomatch_1$1;
	hasRequiredPicomatch$1 = 1;

	const scan = /*@__PURE__*/ requireScan();
	const parse = /*@__PURE__*/ requireParse();
	const utils = /*@__PURE__*/ requireUtils();
	const constants = /*@__PURE__*/ requireConstants();
	const isObject = val => val && typeof val === 'object' && !Array.isArray(val);

	/**
	 * Creates a matcher function from one or more glob patterns. The
	 * returned function takes a string to match as its first argument,
	 * and returns true if the string is a match. The returned matcher
	 * function also takes a boolean as the second argument that, when true,
	 * returns an object with additional information.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch(glob[, options]);
	 *
	 * const isMatch = picomatch('*.!(*a)');
	 * console.log(isMatch('a.a')); //=> false
	 * console.log(isMatch('a.b')); //=> true
	 *
	 * // For environments without `node.js`, `picomatch/posix` provides you a dependency-free matcher, without automatic OS detection.
	 * const picomatch = require('picomatch/posix');
	 * // the same API, defaulting to posix paths
	 * const isMatch = picomatch('a/*');
	 * console.log(isMatch('a\\b')); //=> false
	 * console.log(isMatch('a/b')); //=> true
	 *
	 * // you can still configure the matcher function to accept windows paths
	 * const isMatch = picomatch('a/*', { options: windows });
	 * console.log(isMatch('a\\b')); //=> true
	 * console.log(isMatch('a/b')); //=> true
	 * ```
	 * @name picomatch
	 * @param {String|Array} `globs` One or more glob patterns.
	 * @param {Object=} `options`
	 * @return {Function=} Returns a matcher function.
	 * @api public
	 */

	const picomatch = (glob, options, returnState = false) => {
	  if (Array.isArray(glob)) {
	    const fns = glob.map(input => picomatch(input, options, returnState));
	    const arrayMatcher = str => {
	      for (const isMatch of fns) {
	        const state = isMatch(str);
	        if (state) return state;
	      }
	      return false;
	    };
	    return arrayMatcher;
	  }

	  const isState = isObject(glob) && glob.tokens && glob.input;

	  if (glob === '' || (typeof glob !== 'string' && !isState)) {
	    throw new TypeError('Expected pattern to be a non-empty string');
	  }

	  const opts = options || {};
	  const posix = opts.windows;
	  const regex = isState
	    ? picomatch.compileRe(glob, options)
	    : picomatch.makeRe(glob, options, false, true);

	  const state = regex.state;
	  delete regex.state;

	  let isIgnored = () => false;
	  if (opts.ignore) {
	    const ignoreOpts = { ...options, ignore: null, onMatch: null, onResult: null };
	    isIgnored = picomatch(opts.ignore, ignoreOpts, returnState);
	  }

	  const matcher = (input, returnObject = false) => {
	    const { isMatch, match, output } = picomatch.test(input, regex, options, { glob, posix });
	    const result = { glob, state, regex, posix, input, output, match, isMatch };

	    if (typeof opts.onResult === 'function') {
	      opts.onResult(result);
	    }

	    if (isMatch === false) {
	      result.isMatch = false;
	      return returnObject ? result : false;
	    }

	    if (isIgnored(input)) {
	      if (typeof opts.onIgnore === 'function') {
	        opts.onIgnore(result);
	      }
	      result.isMatch = false;
	      return returnObject ? result : false;
	    }

	    if (typeof opts.onMatch === 'function') {
	      opts.onMatch(result);
	    }
	    return returnObject ? result : true;
	  };

	  if (returnState) {
	    matcher.state = state;
	  }

	  return matcher;
	};

	/**
	 * Test `input` with the given `regex`. This is used by the main
	 * `picomatch()` function to test the input string.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.test(input, regex[, options]);
	 *
	 * console.log(picomatch.test('foo/bar', /^(?:([^/]*?)\/([^/]*?))$/));
	 * // { isMatch: true, match: [ 'foo/', 'foo', 'bar' ], output: 'foo/bar' }
	 * ```
	 * @param {String} `input` String to test.
	 * @param {RegExp} `regex`
	 * @return {Object} Returns an object with matching info.
	 * @api public
	 */

	picomatch.test = (input, regex, options, { glob, posix } = {}) => {
	  if (typeof input !== 'string') {
	    throw new TypeError('Expected input to be a string');
	  }

	  if (input === '') {
	    return { isMatch: false, output: '' };
	  }

	  const opts = options || {};
	  const format = opts.format || (posix ? utils.toPosixSlashes : null);
	  let match = input === glob;
	  let output = (match && format) ? format(input) : input;

	  if (match === false) {
	    output = format ? format(input) : input;
	    match = output === glob;
	  }

	  if (match === false || opts.capture === true) {
	    if (opts.matchBase === true || opts.basename === true) {
	      match = picomatch.matchBase(input, regex, options, posix);
	    } else {
	      match = regex.exec(output);
	    }
	  }

	  return { isMatch: Boolean(match), match, output };
	};

	/**
	 * Match the basename of a filepath.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.matchBase(input, glob[, options]);
	 * console.log(picomatch.matchBase('foo/bar.js', '*.js'); // true
	 * ```
	 * @param {String} `input` String to test.
	 * @param {RegExp|String} `glob` Glob pattern or regex created by [.makeRe](#makeRe).
	 * @return {Boolean}
	 * @api public
	 */

	picomatch.matchBase = (input, glob, options, posix = options && options.windows) => {
	  const regex = glob instanceof RegExp ? glob : picomatch.makeRe(glob, options);
	  return regex.test(utils.basename(input, { windows: posix }));
	};

	/**
	 * Returns true if **any** of the given glob `patterns` match the specified `string`.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.isMatch(string, patterns[, options]);
	 *
	 * console.log(picomatch.isMatch('a.a', ['b.*', '*.a'])); //=> true
	 * console.log(picomatch.isMatch('a.a', 'b.*')); //=> false
	 * ```
	 * @param {String|Array} str The string to test.
	 * @param {String|Array} patterns One or more glob patterns to use for matching.
	 * @param {Object} [options] See available [options](#options).
	 * @return {Boolean} Returns true if any patterns match `str`
	 * @api public
	 */

	picomatch.isMatch = (str, patterns, options) => picomatch(patterns, options)(str);

	/**
	 * Parse a glob pattern to create the source string for a regular
	 * expression.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * const result = picomatch.parse(pattern[, options]);
	 * ```
	 * @param {String} `pattern`
	 * @param {Object} `options`
	 * @return {Object} Returns an object with useful properties and output to be used as a regex source string.
	 * @api public
	 */

	picomatch.parse = (pattern, options) => {
	  if (Array.isArray(pattern)) return pattern.map(p => picomatch.parse(p, options));
	  return parse(pattern, { ...options, fastpaths: false });
	};

	/**
	 * Scan a glob pattern to separate the pattern into segments.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.scan(input[, options]);
	 *
	 * const result = picomatch.scan('!./foo/*.js');
	 * console.log(result);
	 * { prefix: '!./',
	 *   input: '!./foo/*.js',
	 *   start: 3,
	 *   base: 'foo',
	 *   glob: '*.js',
	 *   isBrace: false,
	 *   isBracket: false,
	 *   isGlob: true,
	 *   isExtglob: false,
	 *   isGlobstar: false,
	 *   negated: true }
	 * ```
	 * @param {String} `input` Glob pattern to scan.
	 * @param {Object} `options`
	 * @return {Object} Returns an object with
	 * @api public
	 */

	picomatch.scan = (input, options) => scan(input, options);

	/**
	 * Compile a regular expression from the `state` object returned by the
	 * [parse()](#parse) method.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * const state = picomatch.parse('*.js');
	 * // picomatch.compileRe(state[, options]);
	 *
	 * console.log(picomatch.compileRe(state));
	 * //=> /^(?:(?!\.)(?=.)[^/]*?\.js)$/
	 * ```
	 * @param {Object} `state`
	 * @param {Object} `options`
	 * @param {Boolean} `returnOutput` Intended for implementors, this argument allows you to return the raw output from the parser.
	 * @param {Boolean} `returnState` Adds the state to a `state` property on the returned regex. Useful for implementors and debugging.
	 * @return {RegExp}
	 * @api public
	 */

	picomatch.compileRe = (state, options, returnOutput = false, returnState = false) => {
	  if (returnOutput === true) {
	    return state.output;
	  }

	  const opts = options || {};
	  const prepend = opts.contains ? '' : '^';
	  const append = opts.contains ? '' : '$';

	  let source = `${prepend}(?:${state.output})${append}`;
	  if (state && state.negated === true) {
	    source = `^(?!${source}).*$`;
	  }

	  const regex = picomatch.toRegex(source, options);
	  if (returnState === true) {
	    regex.state = state;
	  }

	  return regex;
	};

	/**
	 * Create a regular expression from a parsed glob pattern.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.makeRe(state[, options]);
	 *
	 * const result = picomatch.makeRe('*.js');
	 * console.log(result);
	 * //=> /^(?:(?!\.)(?=.)[^/]*?\.js)$/
	 * ```
	 * @param {String} `state` The object returned from the `.parse` method.
	 * @param {Object} `options`
	 * @param {Boolean} `returnOutput` Implementors may use this argument to return the compiled output, instead of a regular expression. This is not exposed on the options to prevent end-users from mutating the result.
	 * @param {Boolean} `returnState` Implementors may use this argument to return the state from the parsed glob with the returned regular expression.
	 * @return {RegExp} Returns a regex created from the given pattern.
	 * @api public
	 */

	picomatch.makeRe = (input, options = {}, returnOutput = false, returnState = false) => {
	  if (!input || typeof input !== 'string') {
	    throw new TypeError('Expected a non-empty string');
	  }

	  let parsed = { negated: false, fastpaths: true };

	  if (options.fastpaths !== false && (input[0] === '.' || input[0] === '*')) {
	    parsed.output = parse.fastpaths(input, options);
	  }

	  if (!parsed.output) {
	    parsed = parse(input, options);
	  }

	  return picomatch.compileRe(parsed, options, returnOutput, returnState);
	};

	/**
	 * Create a regular expression from the given regex source string.
	 *
	 * ```js
	 * const picomatch = require('picomatch');
	 * // picomatch.toRegex(source[, options]);
	 *
	 * const { output } = picomatch.parse('*.js');
	 * console.log(picomatch.toRegex(output));
	 * //=> /^(?:(?!\.)(?=.)[^/]*?\.js)$/
	 * ```
	 * @param {String} `source` Regular expression source string.
	 * @param {Object} `options`
	 * @return {RegExp}
	 * @api public
	 */

	picomatch.toRegex = (source, options) => {
	  try {
	    const opts = options || {};
	    return new RegExp(source, opts.flags || (opts.nocase ? 'i' : ''));
	  } catch (err) {
	    if (options && options.debug === true) throw err;
	    return /$^/;
	  }
	};

	/**
	 * Picomatch constants.
	 * @return {Object}
	 */

	picomatch.constants = constants;

	/**
	 * Expose "picomatch"
	 */

	picomatch_1$1 = picomatch;
	return picomatch_1$1;
}

var picomatch_1;
var hasRequiredPicomatch;

function requirePicomatch () {
	if (hasRequiredPicomatch) return picomatch_1;
	hasRequiredPicomatch = 1;

	const pico = /*@__PURE__*/ requirePicomatch$1();
	const utils = /*@__PURE__*/ requireUtils();

	function picomatch(glob, options, returnState = false) {
	  // default to os.platform()
	  if (options && (options.windows === null || options.windows === undefined)) {
	    // don't mutate the original options object
	    options = { ...options, windows: utils.isWindows() };
	  }

	  return pico(glob, options, returnState);
	}

	Object.assign(picomatch, pico);
	picomatch_1 = picomatch;
	return picomatch_1;
}

var picomatchExports = /*@__PURE__*/ requirePicomatch();
var picomatch = /*@__PURE__*/getDefaultExportFromCjs(picomatchExports);

// The build tree as it will go into the archive: walked, filtered, validated and
// sorted here, so that tar only packs a list we already checked (pack.ts).
/**
 * Exclude semantics (not gitignore, though close for common cases):
 * - each pattern is a picomatch glob (`dot: true`, so `*` also matches dotfiles),
 *   matched against the entry's path relative to `path`, `/`-separated;
 * - a pattern without `/` matches the entry's name at any depth (`*.map`,
 *   `node_modules`, `.git`);
 * - a pattern with `/` is matched against the whole relative path (`assets/*.psd`,
 *   `**\/test/**`); a leading `/` only anchors it (`/README.md` is the top one only);
 * - a trailing `/` matches directories only (`cache/`);
 * - an excluded directory takes its whole subtree with it; `dist/**` excludes the
 *   contents of `dist` but keeps `dist` itself (empty);
 * - no negation: a pattern starting with `!` is refused.
 * The deploy-ID file is always added, whatever the patterns say.
 */
function compileExcludes(patterns) {
    const matchers = patterns
        .filter((p) => p.trim() !== '')
        .map((raw) => {
        const pattern = raw.trim();
        if (pattern.startsWith('!')) {
            throw new InputError('exclude', `does not support negation (got ${quote(pattern)})`);
        }
        const directoriesOnly = pattern.endsWith('/');
        const body = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
        if (body === '')
            throw new InputError('exclude', `matches nothing (got ${quote(pattern)})`);
        const byName = !pattern.slice(0, -1).includes('/') && !pattern.startsWith('/');
        const isMatch = picomatch(body, { dot: true });
        return (path, isDirectory) => (isDirectory || !directoriesOnly) && isMatch(byName ? posix.basename(path) : path);
    });
    return (path, isDirectory) => matchers.some((m) => m(path, isDirectory));
}
function kindOf(stats) {
    if (stats.isFile())
        return 'file';
    if (stats.isDirectory())
        return 'directory';
    if (stats.isSymbolicLink())
        return 'symlink';
    if (stats.isFIFO())
        return 'FIFO';
    if (stats.isSocket())
        return 'socket';
    if (stats.isBlockDevice())
        return 'block device';
    if (stats.isCharacterDevice())
        return 'character device';
    return 'special file';
}
const YIELD_EVERY = 2000;
const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
/** NUL-terminated paths appended into one growing buffer */
class PathList {
    buf = Buffer.allocUnsafe(1 << 16);
    at = 0;
    count = 0;
    /** appends `path` and its NUL; returns the path's UTF-8 length */
    push(path) {
        // a UTF-16 unit is at most 3 UTF-8 bytes
        const room = path.length * 3 + 1;
        if (this.at + room > this.buf.length) {
            const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + room));
            this.buf.copy(grown, 0, 0, this.at);
            this.buf = grown;
        }
        const bytes = this.buf.write(path, this.at);
        this.at += bytes;
        this.buf[this.at++] = 0;
        this.count++;
        return bytes;
    }
    /** the list, copied to its exact size (the spare capacity is let go) */
    toBuffer() {
        return Buffer.from(this.buf.subarray(0, this.at));
    }
}
/**
 * Whether this process may read a file (r) or list a directory (r+x), from the
 * mode bits: an access() per entry cost a sixth of the walk (bench/README.md, Notes).
 * Undefined: the bits say no, or there is no uid to compare (Windows); ask access(),
 * which also knows ACLs. (An ACL that denies what the bits allow is left to tar.)
 */
function mayRead(st, kind, ids) {
    if (!ids)
        return undefined;
    if (ids.uid === 0)
        return true; // root reads and searches regardless of mode
    const need = kind === 'file' ? 4 : 5;
    const bits = st.uid === ids.uid ? st.mode >> 6 : ids.gids.has(st.gid) ? st.mode >> 3 : st.mode;
    return (bits & need) === need ? true : undefined;
}
function processIds() {
    if (!process.getuid || !process.getgid || !process.getgroups)
        return undefined;
    return { uid: process.getuid(), gids: new Set([process.getgid(), ...process.getgroups()]) };
}
/** Walks `root` without following symlinks; refuses what tar xf could not recreate faithfully. */
async function walkTree(opts) {
    await checkRoot(opts.root);
    const walk = new Walk(opts);
    await walk.visit('');
    return walk.tree();
}
async function checkRoot(root) {
    let rootStats;
    try {
        rootStats = await stat(root);
    }
    catch (err) {
        const code = err.code;
        if (code === 'ENOENT')
            throw new InputError('path', `does not exist (got ${quote(root)})`);
        throw new InputError('path', `cannot be read (${quote(root)}: ${code ?? String(err)})`);
    }
    if (!rootStats.isDirectory()) {
        throw new InputError('path', `must be a directory (got ${quote(root)})`);
    }
}
/**
 * One walk's state: the list and totals being built, and what the checks need.
 * Its methods do each entry's work without allocating per entry beyond the path
 * and its Stats (bench/README.md, Notes: the plan-stage walk).
 */
class Walk {
    root;
    deployIdFile;
    isExcluded;
    deployIdParents;
    presentParents = new Set();
    list = new PathList();
    // UTF-8 length of the first path of each multiply-linked inode (tar links later ones to it)
    firstPathBytes = new Map();
    ids = processIds();
    absoluteRoot;
    // string concatenation, not path.join: join's normalising was a tenth of the walk
    prefix;
    membersBytes = 0;
    fileBytes = 0;
    newestMtimeMs = 0;
    excludedAny = false;
    hadDeployIdFile = false;
    sinceYield = 0;
    constructor(opts) {
        this.root = opts.root;
        this.deployIdFile = opts.deployIdFile;
        this.isExcluded = compileExcludes(opts.exclude);
        this.deployIdParents = parentsOf(opts.deployIdFile);
        this.absoluteRoot = resolve(opts.root);
        this.prefix = this.absoluteRoot.endsWith(sep) ? this.absoluteRoot : this.absoluteRoot + sep;
    }
    // Synchronous calls: on a warm tree (a build just made) they measured 3-4x
    // faster than fs/promises, even with a directory's lstats in parallel (20k
    // files: ~110 ms vs ~400 ms, session 1). The loop is given back every
    // YIELD_EVERY entries so timers (the lock's session renewal) still run.
    async visit(relDir) {
        for (const name of this.namesIn(relDir)) {
            if (++this.sinceYield >= YIELD_EVERY) {
                this.sinceYield = 0;
                await new Promise((resolve) => setImmediate(resolve));
            }
            const path = relDir === '' ? name : `${relDir}/${name}`;
            const st = this.lstat(path);
            if (this.isExcluded(path, st.isDirectory())) {
                this.excludedAny = true;
                continue;
            }
            const kind = kindOf(st);
            refuseSpecial(path, kind);
            if (this.isDeployIdFile(path, kind))
                continue; // replaced by the generated file
            this.checkDeployIdParent(path, kind);
            this.newestMtimeMs = Math.max(this.newestMtimeMs, st.mtimeMs);
            if (kind !== 'symlink')
                this.readable(path, kind, st);
            const nameBytes = this.list.push(path);
            if (kind === 'directory') {
                this.membersBytes += memberBytes(nameBytes + 1, 0);
                await this.visit(path);
            }
            else if (kind === 'symlink') {
                const target = readlinkSync(this.prefix + path);
                this.membersBytes += memberBytes(nameBytes, 0, Buffer.byteLength(target));
            }
            else {
                this.addFile(st, nameBytes);
            }
        }
    }
    /** The walked tree; refuses one with nothing to deploy. */
    tree() {
        const { list, root } = this;
        if (list.count === 0) {
            throw new InputError('path', this.excludedAny
                ? `has nothing to deploy: everything in ${quote(root)} is excluded`
                : this.hadDeployIdFile
                    ? `has nothing to deploy: ${quote(root)} holds only the deploy-ID file`
                    : `has nothing to deploy: ${quote(root)} is empty`);
        }
        const missingParents = this.deployIdParents.filter((p) => !this.presentParents.has(p));
        return {
            list: list.toBuffer(),
            count: list.count,
            membersBytes: this.membersBytes,
            fileBytes: this.fileBytes,
            newestMtime: new Date(this.newestMtimeMs),
            deployIdEntries: [...missingParents, this.deployIdFile]
        };
    }
    namesIn(relDir) {
        const dir = relDir === '' ? this.absoluteRoot : this.prefix + relDir;
        const names = readdirSync(dir);
        // A name that is not UTF-8 decodes with U+FFFD and names no file: refuse it
        // rather than fail on lstat. (Names only as Buffers cost a third of readdir.)
        if (names.some((name) => name.includes('\uFFFD')))
            refuseNonUtf8(dir, relDir);
        return names.sort(byName);
    }
    lstat(path) {
        try {
            return lstatSync(this.prefix + path);
        }
        catch (error) {
            if (error.code === 'ENAMETOOLONG')
                throw new InputError('path', `has a path too long at ${quote(path, 80)}: shorten it (the system refuses it)`);
            throw error;
        }
    }
    isDeployIdFile(path, kind) {
        if (path !== this.deployIdFile)
            return false;
        if (kind === 'directory') {
            throw new InputError('deploy-id-file', `names a directory in path (${quote(this.deployIdFile)}); choose another deploy-id-file`);
        }
        this.hadDeployIdFile = true;
        return true;
    }
    checkDeployIdParent(path, kind) {
        if (!this.deployIdParents.includes(path))
            return;
        if (kind !== 'directory') {
            throw new InputError('deploy-id-file', `needs ${quote(path)} to be a directory, but path has a ${kind} there`);
        }
        this.presentParents.add(path);
    }
    // tar would stop half-way on a file it cannot open, after the lock is taken
    // and the upload begun: find it in the plan stage instead.
    readable(path, kind, st) {
        if (mayRead(st, kind, this.ids))
            return;
        try {
            accessSync(this.prefix + path, kind === 'file' ? constants$2.R_OK : constants$2.R_OK | constants$2.X_OK);
        }
        catch (error) {
            const code = error.code;
            if (code === 'EACCES' || code === 'EPERM')
                throw new InputError('path', `has a ${kind} it may not read at ${quote(path)} (permission denied): fix its mode or exclude it`);
            throw error;
        }
    }
    addFile(st, nameBytes) {
        // tar stores later names of a multiply-linked inode as links to the first
        const inode = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
        const first = inode === undefined ? undefined : this.firstPathBytes.get(inode);
        if (first !== undefined) {
            this.membersBytes += memberBytes(nameBytes, 0, first);
        }
        else {
            if (inode !== undefined)
                this.firstPathBytes.set(inode, nameBytes);
            this.membersBytes += memberBytes(nameBytes, st.size);
            this.fileBytes += st.size;
        }
    }
}
function refuseSpecial(path, kind) {
    if (kind !== 'file' && kind !== 'directory' && kind !== 'symlink') {
        throw new InputError('path', `has a ${kind} at ${quote(path)}: only files, directories and symlinks can be archived (exclude it or remove it)`);
    }
}
function refuseNonUtf8(dir, relDir) {
    for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
        const name = raw.toString('utf8');
        if (!Buffer.from(name, 'utf8').equals(raw)) {
            const shown = relDir === '' ? name : `${relDir}/${name}`;
            throw new InputError('path', `has a name that is not UTF-8 at ${quote(shown)}: rename it (archive names are UTF-8)`);
        }
    }
}
/** `a/b/c` → [`a`, `a/b`] */
function parentsOf(path) {
    const parts = path.split('/').slice(0, -1);
    return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

// Streams the build directory as a .tar.gz and hashes it on the way out: the
// archive is never written to disk, read twice, or held whole in memory.
//
// Why system tar: research/performance.md measured JS tar writers 3-6x slower than
// GNU tar on many small files, and pigz uses every core. So the tree is walked and
// validated here (tree.ts: excludes, refusals, sort order), and GNU tar is handed
// that exact list (`--null --no-recursion -T -`), never a directory to recurse.
/**
 * The tree walked and checked (tree.ts), and GNU tar (and pigz) found: everything
 * pack needs that can fail on bad input. `tar --version` runs while the tree is
 * walked; a tree error is the one reported when both fail.
 */
async function checkTree(opts) {
    const toolsFound = findPackTools();
    toolsFound.catch(() => { });
    const tree = await walkTree(opts);
    return { tree, tools: await toolsFound };
}
/**
 * The uncompressed tar's length and entry count for a checked tree: the tree's
 * members plus the deploy-ID file and its added parent directories. Known before
 * tar runs (progress, and what a dry run reports).
 */
function archiveShape(tree, deployIdFile, deployId) {
    let membersBytes = tree.membersBytes;
    for (const path of tree.deployIdEntries) {
        membersBytes +=
            path === deployIdFile
                ? memberBytes(Buffer.byteLength(path), Buffer.byteLength(`${deployId}\n`))
                : memberBytes(Buffer.byteLength(path) + 1, 0);
    }
    return {
        tarBytes: archiveBytes(membersBytes),
        files: tree.count + tree.deployIdEntries.length
    };
}
/** Validation errors reject here, before any byte flows. */
async function pack(opts) {
    const level = opts.compressionLevel ?? 1;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
        throw new RangeError(`compressionLevel must be an integer from 1 to 9 (got ${level})`);
    }
    const root = resolve(opts.root);
    const deployIdFile = parseDeployIdFile(opts.deployIdFile);
    const { tree, tools } = opts.checked ?? (await checkTree({ root: opts.root, exclude: opts.exclude, deployIdFile }));
    const { tarBytes: totalIn, files } = archiveShape(tree, deployIdFile, opts.deployId);
    const extra = await writeExtra(tree, deployIdFile, `${opts.deployId}\n`);
    const programs = spawnPrograms(tools, tarArgs(root, extra, opts.mtime), level);
    const run = new PackRun({
        programs,
        compressorName: tools.compressor,
        level,
        tmp: extra.tmp,
        totalIn,
        files,
        onProgress: opts.onProgress
    });
    run.start(tree.list);
    return {
        stream: run.output,
        result: run.result,
        totalBytes: totalIn,
        fileBytes: tree.fileBytes,
        files,
        compressor: tools.compressor
    };
}
// The deploy-ID file and its missing parents come from a temp dir of their own,
// packed after the tree with a second `-C dir -T list` (GNU tar applies -C in order).
async function writeExtra(tree, deployIdFile, content) {
    const tmp = await mkdtemp(join(tmpdir(), 'stretcher-pack-'));
    const extraRoot = join(tmp, 'extra');
    const extraList = join(tmp, 'extra.list');
    try {
        await mkdir(join(extraRoot, dirname(deployIdFile)), { recursive: true, mode: 0o755 });
        for (const path of tree.deployIdEntries.slice(0, -1))
            await chmod(join(extraRoot, path), 0o755);
        await writeFile(join(extraRoot, deployIdFile), content, { mode: 0o644 });
        await chmod(join(extraRoot, deployIdFile), 0o644);
        for (const path of tree.deployIdEntries) {
            await utimes(join(extraRoot, path), tree.newestMtime, tree.newestMtime);
        }
        await writeFile(extraList, tree.deployIdEntries.map((path) => `${path}\0`).join(''));
    }
    catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
    }
    return { tmp, root: extraRoot, list: extraList };
}
function tarArgs(root, extra, mtime) {
    return [
        '--create',
        '--file=-',
        '--format=gnu',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--no-recursion',
        // with --null, names from the list are names (`-x` is no option; GNU tar
        // 1.29+ implies that); --no-unquote keeps `\n` in a name from being an escape
        '--null',
        '--no-unquote',
        ...(mtime ? [`--mtime=@${Math.floor(mtime.getTime() / 1000)}`] : []),
        // Progress without reading tar's output in Node: a stderr line every
        // CHECKPOINT_RECORDS records of RECORD bytes (exitOf keeps these out of errors)
        `--checkpoint=${CHECKPOINT_RECORDS}`,
        `--checkpoint-action=echo=${PROGRESS_MARK}%u`,
        '-C',
        root,
        '-T',
        '-',
        '-C',
        extra.root,
        '-T',
        extra.list
    ];
}
function spawnPrograms(tools, args, level) {
    // With pigz, tar writes straight into pigz's stdin (the fd is handed over, as a
    // shell pipe does): Node never copies the uncompressed bytes, which on a 2-core
    // machine is CPU taken from the compressor. pigz is spawned first so that
    // the pipe Node keeps open is a write end it can close at once, never a read
    // end it might read from.
    const compressor = tools.compressorPath === undefined
        ? undefined
        : // -n: no name or time in the gzip header, so the same tree gives the same bytes
            spawn(tools.compressorPath, ['-n', `-${level}`, '-c'], {
                argv0: tools.compressor,
                stdio: ['pipe', 'pipe', 'pipe']
            });
    // argv0: so stderr says "tar: ...", not "/usr/bin/tar: ..."
    const tar = spawn(tools.tar, args, {
        argv0: 'tar',
        stdio: ['pipe', compressor ? compressor.stdin : 'pipe', 'pipe']
    });
    // tar has its own copy of the write end now; ours would keep pigz from seeing EOF
    compressor?.stdin?.destroy();
    return { tar, compressor, children: compressor ? [tar, compressor] : [tar] };
}
/**
 * One archive being made: the programs' exits watched, their output hashed and
 * counted on its way to `output`, and everything stopped and cleaned up at the
 * first failure. `result` settles once the programs have exited and the temp
 * dir is gone.
 */
class PackRun {
    output;
    result;
    programs;
    exits;
    /** Node's gzip, when there is no pigz */
    gzip;
    hash = createHash('sha256');
    tmp;
    totalIn;
    files;
    onProgress;
    bytesIn = 0;
    bytesOut = 0;
    finished = false;
    failure;
    settle;
    // Children we kill are not to blame for how they ended.
    killedByUs = new Set();
    constructor(opts) {
        this.programs = opts.programs;
        this.tmp = opts.tmp;
        this.totalIn = opts.totalIn;
        this.files = opts.files;
        this.onProgress = opts.onProgress;
        const { children, compressor } = this.programs;
        this.gzip = compressor ? undefined : createGzip({ level: opts.level });
        this.gzip?.on('error', (err) => this.fail(err));
        this.exits = children.map((child, i) => i === 0
            ? exitOf(child, 'tar', (records) => {
                this.bytesIn = Math.min(this.totalIn, records * RECORD);
                this.report();
            })
            : exitOf(child, opts.compressorName));
        this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
        this.result.catch(() => { }); // a caller watching only the stream must not crash on it
        this.watchExits();
        this.output = this.outputStream();
    }
    /** hands tar the list and connects the pipes */
    start(list) {
        const { tar, compressor, children } = this.programs;
        for (const child of children) {
            child.on('error', (err) => this.fail(err));
            // EPIPE when the other end died: the exit codes tell the story
            child.stdin?.on('error', () => { });
        }
        tar.stdin?.end(list);
        if (compressor) {
            compressor.stdout.pipe(this.output);
        }
        else if (this.gzip) {
            const tarOut = tar.stdout;
            tarOut.on('data', (chunk) => {
                this.bytesIn += chunk.length;
                this.report();
            });
            tarOut.pipe(this.gzip).pipe(this.output);
        }
    }
    report() {
        this.onProgress?.({ bytesIn: this.bytesIn, bytesOut: this.bytesOut, totalIn: this.totalIn });
    }
    outputStream() {
        const output = new Transform({
            transform: (chunk, _encoding, callback) => {
                this.hash.update(chunk);
                this.bytesOut += chunk.length;
                this.report();
                callback(null, chunk);
            },
            // The stream ends only when every program exited 0: a consumer (the upload)
            // must never see a clean end of an archive tar gave up on halfway.
            flush: (callback) => {
                void Promise.all(this.exits).then(async (codes) => {
                    const bad = this.blame(codes);
                    if (bad)
                        return callback(bad);
                    this.finished = true;
                    this.bytesIn = this.totalIn;
                    this.report();
                    await rm(this.tmp, { recursive: true, force: true }).catch(() => { });
                    this.settle.resolve({
                        sha256: this.hash.digest('hex'),
                        size: this.bytesOut,
                        files: this.files
                    });
                    callback();
                });
            }
        });
        output.on('close', () => {
            if (!this.finished)
                this.fail(this.failure ?? new Error('archive stream was destroyed before it ended'));
        });
        output.on('error', (err) => this.fail(err));
        return output;
    }
    // One program failing leaves the other blocked on a pipe nobody drains: stop
    // them all at the first failure, then blame the one that failed on its own.
    watchExits() {
        for (const exit of this.exits) {
            void exit.then((e) => {
                if (e.code === 0 || this.failure || this.finished)
                    return;
                this.stopChildren();
                void Promise.all(this.exits).then((all) => this.fail(this.blame(all) ?? exitError(e)));
            });
        }
    }
    stopChildren() {
        for (const child of this.programs.children) {
            if (child.exitCode === null && child.signalCode === null) {
                this.killedByUs.add(child);
                child.kill('SIGKILL');
            }
        }
    }
    blame(all) {
        const children = this.programs.children;
        return firstFailure(all.filter((_, i) => !this.killedByUs.has(children[i])));
    }
    fail(err) {
        if (this.finished || this.failure)
            return;
        this.failure = err;
        if (!this.output.destroyed)
            this.output.destroy(err);
        this.stopChildren();
        for (const child of this.programs.children)
            child.stdout?.destroy();
        this.gzip?.destroy();
        void Promise.all(this.exits)
            .then(() => rm(this.tmp, { recursive: true, force: true }))
            .finally(() => this.settle.reject(err));
    }
}
/** a progress line every 100 records (1,024,000 bytes) of tar output */
const CHECKPOINT_RECORDS = 100;
/** what tar's checkpoint echo prints, after "tar: " */
const PROGRESS_MARK = '#stretcher-progress ';
function exitOf(child, name, onCheckpoint) {
    const tail = [];
    let tailBytes = 0;
    let partial = '';
    const keep = (line) => {
        if (onCheckpoint) {
            const at = line.indexOf(PROGRESS_MARK);
            if (at !== -1)
                return onCheckpoint(Number(line.slice(at + PROGRESS_MARK.length)));
        }
        tail.push(line);
        tailBytes += line.length;
        while (tailBytes > 8192 && tail.length > 1)
            tailBytes -= tail.shift().length;
    };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines)
            keep(line);
    });
    const stderrDone = new Promise((resolve) => {
        if (!child.stderr)
            return resolve();
        child.stderr.on('close', resolve);
        child.stderr.on('error', () => resolve());
    });
    // 'exit' plus the end of stderr, not 'close': 'close' also waits for stdout,
    // which stays open while its reader is paused (a destroyed consumer)
    return new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            void stderrDone.then(() => resolve({ name, code, signal, stderr: [...tail, partial].join('\n') }));
        });
        child.on('error', () => resolve({ name, code: null, signal: null, stderr: '' }));
    });
}
/** The program to blame: one that failed on its own, not one killed by SIGPIPE because of it. */
function firstFailure(exits) {
    const failed = exits.filter((e) => e.code !== 0);
    const culprit = failed.find((e) => e.signal !== 'SIGPIPE') ?? failed[0];
    return culprit && exitError(culprit);
}
function exitError(culprit) {
    // tar ends with a summary line ("Exiting with failure status due to previous
    // errors"): the line before it says what went wrong
    const lines = culprit.stderr.split('\n').filter((l) => l.trim() !== '');
    const lastLine = lines.filter((l) => !/(Exiting with failure status|Error is not recoverable)/.test(l)).at(-1) ??
        lines.at(-1) ??
        '';
    const how = culprit.signal !== null ? `was killed by ${culprit.signal}` : `exited with code ${culprit.code}`;
    return new Error(`${culprit.name} ${how}${lastLine ? `: ${lastLine}` : ''}`);
}

const PHASES = ['prepare', 'switch', 'combined'];
/** The manifest of one phase (or the whole in-place one when `phase` is undefined). */
function render(config, template, commands, src, checksum, phase) {
    const { deployId, dest, keepReleases } = config;
    return renderReleaseManifest(template, { deployId, src, checksum, dest, keepReleases, reports: commands }, phase);
}
/**
 * The file time for a new release: now, but always later than the time the
 * current release stamped (from its history record). Stretcher syncs with
 * `rsync -a`, whose quick check skips a file whose size and mtime are
 * unchanged; two releases stamped in the same second, or a rebuilt file with a
 * reproducible-build mtime, would otherwise leave old content on the nodes.
 * Read under the deploy lock, so two runs cannot pick the same time.
 */
function nextFileTime(current, now = Date.now()) {
    const history = current.history ?? {};
    const previous = history.mtime ?? Math.floor(Date.parse(history.published_at ?? '') / 1000);
    const seconds = Math.max(Math.floor(now / 1000), (Number.isFinite(previous) ? previous : 0) + 1);
    return new Date(seconds * 1000);
}
/**
 * Walk and check the build tree (path, exclude, deploy-id-file) and find GNU tar
 * (and pigz) before anything is written: a missing tar fails here, not after the
 * lock is taken.
 */
function checkBuild(config) {
    const deployIdFile = parseDeployIdFile(config.deployIdFile);
    return checkTree({ root: config.path, exclude: config.exclude, deployIdFile });
}
/** Rendering with placeholder src/checksum surfaces every manifest error before any upload. */
function checkManifestRenders(config, template, commands) {
    const src = s3Url$1(config.s3.bucket, releaseKey(config, config.deployId, 'tgz'));
    if (config.layout !== 'releases')
        render(config, template, commands, src, '0'.repeat(64));
    else
        for (const phase of PHASES)
            render(config, template, commands, src, '0'.repeat(64), phase);
}
async function publish(input) {
    const { config, store, onFact } = input;
    const deployId = config.deployId;
    const srcKey = releaseKey(config, deployId, 'tgz');
    const srcUrl = s3Url$1(store.bucket, srcKey);
    onFact?.('deploy-id', deployId);
    const archive = await input.log.group(`Pack and upload ${srcUrl}`, () => packAndUpload(input, srcKey, srcUrl));
    onFact?.('src-url', srcUrl);
    onFact?.('checksum', archive.checksum);
    const urls = config.layout === 'releases'
        ? await putPhaseManifests(input, srcUrl, archive.checksum)
        : await putManifest(input, srcUrl, archive.checksum);
    onFact?.('manifest-url', urls.manifestUrl);
    return { deployId, srcUrl, ...urls, ...archive };
}
/** The build packed and streamed into the store, progress logged on the way. */
async function packAndUpload({ config, store, log, mtime, build }, srcKey, srcUrl) {
    const started = Date.now();
    let uploaded = 0;
    const progress = throttle(2000, (p) => {
        const pct = p.totalIn > 0 ? ` (${Math.floor((100 * p.bytesIn) / p.totalIn)}%)` : '';
        log.info(`packed ${formatBytes(p.bytesIn)} of ${formatBytes(p.totalIn)}${pct} at ${formatRate(p.bytesIn, Date.now() - started)}; ` +
            `compressed ${formatBytes(p.bytesOut)}, uploaded ${formatBytes(uploaded)}`);
    });
    const archive = await pack({
        root: config.path,
        exclude: config.exclude,
        deployIdFile: config.deployIdFile,
        deployId: config.deployId,
        compressionLevel: config.compressionLevel,
        // Every file gets the deploy's time, so rsync on the node never skips one.
        mtime,
        checked: build,
        onProgress: (p) => progress.update(p)
    });
    log.info(`packing ${archive.files} entries, ${formatBytes(archive.totalBytes)}, from ${config.path}`);
    // The archive stream ends only once tar and the compressor exited 0 (pack.ts):
    // a pack failure, even after the last byte, fails the stream and so the upload,
    // which is aborted. An archive object exists only complete; nothing is ever
    // deleted, and the deploy role needs no s3:DeleteObject (README, iam-policy.test.ts).
    const packed = archive.result;
    packed.catch(() => undefined);
    const upload = store.uploadStream(srcKey, archive.stream, 'application/gzip', (p) => {
        uploaded = p.loaded;
    });
    try {
        await upload;
    }
    catch (error) {
        // When pack failed, its error explains the failed upload better.
        await packed;
        throw error;
    }
    const result = await packed;
    progress.flush();
    const ms = Date.now() - started;
    log.info(`archive ${srcUrl}: ${formatBytes(result.size)} from ${formatBytes(archive.totalBytes)} in ${(ms / 1000).toFixed(1)}s ` +
        `(${formatRate(archive.totalBytes, ms)}), sha256 ${result.sha256}`);
    return { checksum: result.sha256, archiveBytes: result.size, files: result.files };
}
/** The in-place manifest. */
async function putManifest({ config, template, commands, store, log }, srcUrl, checksum) {
    const manifestKey = releaseKey(config, config.deployId, 'yml');
    const manifestUrl = s3Url$1(store.bucket, manifestKey);
    const manifest = render(config, template, commands, srcUrl, checksum);
    await store.putText(manifestKey, manifest, 'application/yaml');
    log.info(`manifest ${manifestUrl} (${manifestUrl.length} bytes as an event payload)`);
    return { manifestUrl };
}
/** layout: releases: the prepare and switch manifests, then the combined one. */
async function putPhaseManifests({ config, template, commands, store, log }, srcUrl, checksum) {
    const manifestKey = releaseKey(config, config.deployId, 'yml');
    const manifestUrl = s3Url$1(store.bucket, manifestKey);
    // The two halves first: the combined manifest (what latest will name) is
    // written last, so each of the three names a whole release (contract 9).
    const urls = {};
    for (const phase of ['prepare', 'switch']) {
        const key = releaseKey(config, config.deployId, `${phase}.yml`);
        await store.putText(key, render(config, template, commands, srcUrl, checksum, phase), 'application/yaml');
        urls[phase] = s3Url$1(store.bucket, key);
        log.info(`${phase} manifest ${urls[phase]} (${urls[phase].length} bytes as an event payload)`);
    }
    await store.putText(manifestKey, render(config, template, commands, srcUrl, checksum, 'combined'), 'application/yaml');
    log.info(`combined manifest ${manifestUrl}: what latest names, for nodes that boot later`);
    return { manifestUrl, prepareUrl: urls.prepare, switchUrl: urls.switch };
}

// The commands the action appends to the manifest's `success` and `failure`
// lists (contract 6). They run on the node with `sh -c`, need only `sh` and
// `curl`, and write this deploy's result (and on failure the log tail) into
// Consul KV under the node's own NodeName; with `dashboard`, an entry for
// consul-kv-dashboard too.
/** Most of stretcher's log a failed node keeps in KV (contract 5: at most 64 KiB). */
const LOG_TAIL_BYTES = 64 * 1024;
/** consul-kv-dashboard's status codes (dashboard.go: Success, Warning, Danger, Info). */
const DASHBOARD_STATUS = { success: 0, failure: 2 };
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
].join('; ');
function checkSafe(opts) {
    // These values are spliced into shell and into a Go template on the node:
    // only a closed alphabet may reach them.
    if (!DEPLOY_ID_PATTERN.test(opts.deployId))
        throw new Error(`deploy ID ${JSON.stringify(opts.deployId)} is not safe in a shell command`);
    if (!/^[A-Za-z0-9._/-]+$/.test(opts.kvPrefix))
        throw new Error(`KV prefix ${JSON.stringify(opts.kvPrefix)} is not safe in a shell command`);
    if (opts.dashboard) {
        // One segment each: the dashboard reads the key's segments by position.
        for (const [what, value] of Object.entries(opts.dashboard))
            if (!/^[A-Za-z0-9._-]+$/.test(value) || value === '.' || value === '..')
                throw new Error(`dashboard ${what} ${JSON.stringify(value)} is not one safe KV path segment`);
    }
}
function resultCommand(opts, status) {
    if (opts.layout) {
        const json = `{"deploy_id":"${opts.deployId}","status":"${status}","phase":"${opts.layout.phase}","node":"%s","at":%s,"releases":[%s]}`;
        return [
            PROLOGUE,
            `k=$( ${keptReleasesCommand(opts.layout.dest)} )`,
            `printf '${json}' "$n" "$(date +%s)" "\${k%,}" | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/results/$n" >/dev/null`
        ].join('; ');
    }
    const json = `{"deploy_id":"${opts.deployId}","status":"${status}","node":"%s","at":%s}`;
    return [
        PROLOGUE,
        `printf '${json}' "$n" "$(date +%s)" | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/results/$n" >/dev/null`
    ].join('; ');
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
function dashboardCommand(opts, status) {
    if (!opts.dashboard)
        return [];
    const { namespace, app } = opts.dashboard;
    // printf reuses its format for extra arguments: "$n" only where %s takes it.
    const value = status === 'success'
        ? `'deploy ${opts.deployId}: success'`
        : `'deploy ${opts.deployId}: failure (log in ${opts.kvPrefix}/logs/%s)' "$n"`;
    const needs = `key:write on ${namespace}/deploy/`;
    return [
        [
            PROLOGUE,
            `k="${namespace}/deploy/$n/${app}"`,
            `f=$(( $(date +%s) * 1000 + ${DASHBOARD_STATUS[status]} ))`,
            `printf ${value} | curl "$@" -X PUT --data-binary @- "$a/v1/kv/$k?flags=$f" >/dev/null || { echo "stretcher-action: could not write $k for consul-kv-dashboard (the node token needs ${needs})" >&2; exit 1; }`
        ].join('; ')
    ];
}
/** Appended to `commands.success`. */
function successCommands(opts) {
    checkSafe(opts);
    return [resultCommand(opts, 'success'), ...dashboardCommand(opts, 'success')];
}
/**
 * Appended to `commands.failure`: first the log tail (stretcher passes its whole
 * log on stdin), then the result, so a reader who sees the failure finds the log.
 * stretcher skips the rest of the list after a failing command, so the log
 * command never fails: a lost log must not also lose the result.
 */
function failureCommands(opts) {
    checkSafe(opts);
    const logCommand = [
        PROLOGUE,
        `tail -c ${LOG_TAIL_BYTES} | curl "$@" -X PUT --data-binary @- "$a/v1/kv/${opts.kvPrefix}/logs/$n" >/dev/null || echo "stretcher-action: could not store the log in Consul" >&2`
    ].join('; ');
    return [logCommand, resultCommand(opts, 'failure'), ...dashboardCommand(opts, 'failure')];
}
// --- Serf clusters (contract 13) ------------------------------------------------
/** An app name as config.ts admits it: safe inside single quotes and in a Serf tag name. */
const SERF_APP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** How long each background `serf` call may take (Serf waits up to 5 s for the broadcast). */
const SERF_TAG_TIMEOUT_S = 60;
/**
 * When the background job sets the tag again, in seconds after the first set,
 * if it still holds this result: gossip occasionally misses an update, which
 * then reaches the other agents only with the next push-pull sync (30 s on a
 * LAN); setting it again sends it out again, with a new incarnation.
 */
const SERF_TAG_RESEND_S = [4, 12];
function checkSerfSafe(opts) {
    if (!DEPLOY_ID_PATTERN.test(opts.deployId))
        throw new Error(`deploy ID ${JSON.stringify(opts.deployId)} is not safe in a shell command`);
    if (!SERF_APP.test(opts.app))
        throw new Error(`app ${JSON.stringify(opts.app)} is not safe in a shell command`);
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
].join('; ');
/** The node's own value of the tag `k`, as its agent's `serf info` lists it. */
const OWN_TAG = `$( $t serf info "$@" 2>/dev/null | awk -F' = ' -v k="\t$k" '$1 == k { print $2; exit }' )`;
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
function serfTagCommand(opts, status) {
    const value = serfResultValue(opts.deployId, status, `'"$c"'`, opts.phase);
    const resend = SERF_TAG_RESEND_S.map((s, i) => `sleep ${s - (SERF_TAG_RESEND_S[i - 1] ?? 0)}; [ "${OWN_TAG}" = "$v" ] || exit 0; $t serf tags "$@" -set "$k=$v"`).join('; ');
    return [
        'set --',
        'if [ -n "${SERF_RPC_ADDR:-}" ]; then set -- "$@" -rpc-addr "$SERF_RPC_ADDR"; fi',
        'if [ -n "${SERF_RPC_AUTH:-}" ]; then set -- "$@" -rpc-auth "$SERF_RPC_AUTH"; fi',
        `k='${serfResultTagName(opts.app)}'`,
        'if ! command -v serf >/dev/null 2>&1; then echo "stretcher-action: serf is not on PATH: cannot set the tag $k" >&2; exit 1; fi',
        `t=; if command -v timeout >/dev/null 2>&1; then t="timeout ${SERF_TAG_TIMEOUT_S}"; fi`,
        `( ${SERF_CLOCK}; v='${value}'; $t serf tags "$@" -set "$k=$v"; ${resend} ) </dev/null >/dev/null 2>&1 &`
    ].join('; ');
}
/** Appended to `commands.success` with backend serf. */
function serfSuccessCommands(opts) {
    checkSerfSafe(opts);
    return [serfTagCommand(opts, 'success')];
}
/**
 * Appended to `commands.failure` with backend serf: the tag only. The log stays
 * on the node, where the `stretcher-<app>-log` query handler answers with its end.
 */
function serfFailureCommands(opts) {
    checkSerfSafe(opts);
    return [serfTagCommand(opts, 'failure')];
}

function reportingCommands(config, template) {
    // Serf (contract 13): the result is the node's `stretcher-<app>` tag.
    if (config.backend.kind === 'serf') {
        const serf = (phase) => {
            const opts = { app: config.app, deployId: config.deployId, ...(phase ? { phase } : {}) };
            return { success: serfSuccessCommands(opts), failure: serfFailureCommands(opts) };
        };
        if (config.layout !== 'releases')
            return serf();
        return { ...serf(), phases: { prepare: serf('prepare'), switch: serf('switch') } };
    }
    const dashboard = config.dashboard ? { namespace: config.dashboard, app: config.app } : undefined;
    const opts = { kvPrefix: config.kvPrefix, deployId: config.deployId, dashboard };
    const commands = { success: successCommands(opts), failure: failureCommands(opts) };
    const dest = config.dest ?? template?.dest;
    if (config.layout !== 'releases' || dest === undefined)
        return commands;
    const phase = (name) => {
        const layout = { ...opts, layout: { phase: name, dest } };
        return { success: successCommands(layout), failure: failureCommands(layout) };
    };
    return { ...commands, phases: { prepare: phase('prepare'), switch: phase('switch') } };
}

const where = (step) => (step.datacenter ? `${step.datacenter} ` : '');
const wave = (step) => `wave ${step.wave}/${step.waves}`;
const KINDS = {
    deploy: {
        url: (release) => release.manifestUrl,
        isWave: true,
        gatesLaterSteps: false,
        byFiltersAsOneWave: true,
        joinerUrl: (release) => release.manifestUrl,
        label: (step) => `${where(step)}${wave(step)}`,
        notStarted: (step) => `not sent: ${where(step)}wave ${step.wave} did not start`
    },
    prepare: {
        url: (release) => release.prepareUrl,
        phase: 'prepare',
        isWave: false,
        gatesLaterSteps: true,
        byFiltersAsOneWave: false,
        joinerUrl: () => undefined,
        label: (step) => `${where(step)}prepare`,
        notStarted: () => 'not sent: the prepare did not start'
    },
    switch: {
        url: (release) => release.switchUrl,
        phase: 'switch',
        isWave: true,
        gatesLaterSteps: false,
        byFiltersAsOneWave: false,
        joinerUrl: (release) => release.manifestUrl,
        label: (step) => `${where(step)}${step.waves > 1 ? `switch ${wave(step)}` : 'switch'}`,
        notStarted: (step) => `not switched: ${KINDS.switch.label(step)} did not start`
    }
};
/** The manifest a step sends; a release without that manifest cannot run the step. */
function stepUrl(step, release) {
    const url = KINDS[step.kind].url(release);
    if (!url)
        throw new Error(`release ${release.deployId} has no ${step.kind} manifest`);
    return url;
}
/** Each step by its label, with its nodes' labels (a repeated name with its datacenter). */
function labelledSteps(steps) {
    const labels = labelsOfSteps(steps);
    let at = 0;
    return steps.map((step) => {
        const nodes = labels.slice(at, (at += step.nodes.length));
        return { label: KINDS[step.kind].label(step), nodes };
    });
}

// The staged rollout as data (contract 8, 9, 10; DESIGN "The rollout is a plan
// of steps"): the targets ordered, canaries first, and planRollout() turning
// targets per datacenter into the list of events the executor fires, in order.
// Pure: no I/O, no clock, no Consul.
/**
 * Contract 8 "Order of nodes": targets whose targeted service carries the tag
 * `canary` first, then the rest, each group in natural order. Duplicates are
 * dropped; canaries that are not targets are ignored.
 */
function orderTargets(targets, canaryNodes) {
    const canary = new Set(canaryNodes);
    const unique = [...new Set(targets)];
    return [
        ...unique.filter((node) => canary.has(node)).sort(compareNatural),
        ...unique.filter((node) => !canary.has(node)).sort(compareNatural)
    ];
}
const ALL = [{ kind: 'percent', percent: 100 }];
/** True when the waves stop below all targets in some datacenter (contract 8 "partial rollout"). */
function isPartial(steps) {
    return steps.some((step) => step.kind !== 'prepare' && step.wave === step.waves && !step.movesLatest);
}
/**
 * The rollout as steps, datacenter after datacenter (contract 10), each:
 * with `layout: releases` one `prepare` step to every target that lacks the
 * release, then one `deploy` (in place) or `switch` step per wave. `latest`
 * moves once per datacenter, before its last wave, unless the rollout is
 * partial there (last wave below all targets). Throws InputError (`waves`) when
 * the waves do not grow in some datacenter.
 */
function planRollout(input) {
    const releases = input.layout === 'releases';
    const steps = [];
    for (const dc of input.datacenters) {
        const ordered = orderTargets(dc.targets, dc.canaries);
        const counts = waveCounts$1(input.waves ?? ALL, ordered.length);
        if (counts.length === 0)
            continue;
        const datacenter = dc.datacenter;
        const full = counts[counts.length - 1] === ordered.length;
        if (releases) {
            const prepared = new Set(input.release === 'new' ? [] : (dc.prepared ?? []));
            // Contract 9: prepare goes to every target up front, partial rollout or not.
            const toPrepare = ordered.filter((node) => !prepared.has(node));
            if (toPrepare.length > 0)
                steps.push({
                    datacenter,
                    kind: 'prepare',
                    nodes: toPrepare,
                    wave: 0,
                    waves: counts.length,
                    movesLatest: false,
                    bakeMs: 0,
                    takesJoiners: false
                });
        }
        let from = 0;
        counts.forEach((count, i) => {
            const nodes = ordered.slice(from, count);
            from = count;
            const last = i === counts.length - 1;
            steps.push({
                datacenter,
                kind: releases ? 'switch' : 'deploy',
                nodes,
                wave: i + 1,
                waves: counts.length,
                movesLatest: last && full,
                bakeMs: input.bakeMs,
                takesJoiners: last && full
            });
        });
    }
    return steps;
}
// ---------------------------------------------------------------- canaries and the gate

/**
 * Plan: every input problem, and whether Consul answers at all, is found before
 * anything is uploaded or written to Consul; the rollout's steps come out of it.
 */
async function planStage(config, deps) {
    const { log } = deps;
    checkPlatform(deps.platform);
    const existing = existingRelease(config);
    const template = existing ? undefined : await loadTemplate(config, log);
    const commands = reportingCommands(config, template);
    if (!existing)
        checkManifestRenders(config, template, commands);
    // The fleet is read while the tree is walked; an error in the build is still said first.
    const reading = new AbortController();
    const signal = deps.signal ? AbortSignal.any([deps.signal, reading.signal]) : reading.signal;
    const targetsRead = readTargets(config, deps, signal);
    targetsRead.catch(() => undefined);
    const build = existing
        ? undefined
        : await checkBuild(config).catch((error) => {
            reading.abort();
            throw error;
        });
    const found = await targetsRead;
    const datacenters = found.map((c) => c.datacenter);
    const note = targetingNote(config);
    if (note)
        log.info(note);
    const selection = { targets: [], filteredOut: [], notLive: [] };
    const planned = [];
    const filteredOut = [];
    for (const dc of found) {
        const one = await planDatacenter(config, deps, dc.datacenter, dc.found);
        planned.push(one);
        selection.targets.push(...one.targets);
        selection.filteredOut.push(...dc.found.selection.filteredOut);
        selection.notLive.push(...dc.found.selection.notLive);
        filteredOut.push(...dc.found.selection.filteredOut.map((n) => nodeId(dc.datacenter, n)));
    }
    if (config.promote && selection.targets.length === 0)
        throw new InputError('promote', `every target already runs ${config.promote}: nothing to promote it to`);
    const steps = planRollout({
        datacenters: planned.filter((dc) => dc.targets.length > 0),
        waves: config.waves,
        bakeMs: config.bakeMs,
        layout: config.layout,
        release: config.promote ? 'promote' : config.rollbackTo ? 'rollback' : 'new'
    });
    logPlan(config, log, steps, datacenters, selection, template);
    return { template, commands, build, selection, filteredOut, steps, datacenters };
}
/** What the run will do, in the log, before anything is written. */
function logPlan(config, log, steps, datacenters, selection, template) {
    const verb = config.rollbackTo ? 'roll back to' : config.promote ? 'promote' : 'deploy';
    const waveSteps = steps.filter((s) => KINDS[s.kind].isWave);
    const shown = labelsOfSteps(waveSteps).slice(0, 50).join(', ');
    const count = waveSteps.reduce((n, s) => n + s.nodes.length, 0);
    const prepareStep = steps.find((s) => !KINDS[s.kind].isWave);
    log.info(`${verb} ${config.deployId} of ${config.app} on ${count} nodes${datacenters[0] ? ` in ${datacenters.join(', ')}` : ''}${waveSteps.length > 1 ? ` in ${waveSteps.length} waves (${waveSteps.map((s) => s.nodes.length).join(', ')})` : ''}: ${shown}${count > 50 ? ', …' : ''}`);
    if (config.layout === 'releases')
        log.info(`layout: releases: ${prepareStep ? `prepare on ${prepareStep.nodes.length} nodes` : 'no prepare (every target keeps the release)'}, then switch ${config.dest ?? templateDest(template)}/current`);
    if (isPartial(steps))
        log.info(`a partial rollout: ${selection.targets.length - count} targets stay on the current release; latest does not move`);
}
function templateDest(template) {
    return template?.dest ?? '<dest>';
}

// `dry-run: true`: after the plan stage, what a deploy would do, found by reads
// alone: no S3 object, no KV write, no event, no lock session. Reads here, the
// rendering below is pure.
function text(value, max = 120) {
    return typeof value === 'string' && value !== '' ? plainText(value, max) : undefined;
}
function previousLine(p) {
    if (!p.deployId && !p.manifestUrl)
        return 'previous release: none (no latest, no deploy-id yet)';
    const h = p.history;
    const commit = text(h?.commit, 40);
    const facts = [
        commit && `commit ${commit.slice(0, 7)}`,
        text(h?.published_at, 40) && `published ${text(h?.published_at, 40)}`,
        text(h?.run_url, 200) && `by ${text(h?.run_url, 200)}`
    ].filter(Boolean);
    const where = p.manifestUrl ? ` (latest ${plainText(p.manifestUrl, 200)})` : ' (no latest)';
    const record = facts.length ? `, ${facts.join(', ')}` : h ? '' : ', no history record';
    return `previous release: ${text(p.deployId) ?? '(no deploy-id)'}${where}${record}`;
}
function lockLine(lock, key) {
    if (!lock.held)
        return `deploy lock ${key}: free`;
    const h = lock.holder;
    const who = [
        text(h?.run_url, 200),
        text(h?.deploy_id) && `deploy ${text(h?.deploy_id)}`,
        text(h?.started_at, 40) && `since ${text(h?.started_at, 40)}`
    ].filter(Boolean);
    const session = [
        `session ${plainText(lock.session, 40)}`,
        lock.node && `on ${plainText(lock.node, 80)}`
    ]
        .filter(Boolean)
        .join(' ');
    return `deploy lock ${key}: held by ${who.length ? who.join(', ') : 'another run'} (${session}); a deploy now would wait for it`;
}
/** What a dry run leaves alone, in the backend's words. */
function untouched(plan) {
    return plan.backend === 'serf'
        ? 'no S3 object (release, latest, history or lock), no Serf tag, event or query'
        : 'no S3 object, no Consul key, event or session';
}
/** The dry run's report, one line each, for the log (already plain text). */
function dryRunLines(plan) {
    const lines = [
        `dry run: would ${plan.rollback ? 'roll back to' : 'deploy'} ${plan.deployId} of ${plan.app}`
    ];
    if (plan.archive)
        lines.push(`archive: ${plan.archive.files} entries, ${formatBytes(plan.archive.tarBytes)} as tar (${formatBytes(plan.archive.fileBytes)} of file data) before gzip, to ${plan.release.srcUrl}`);
    else if (plan.release.checksum)
        lines.push(`archive: ${plan.release.srcUrl}${plan.release.archiveBytes !== undefined ? `, ${formatBytes(plan.release.archiveBytes)}` : ''}, sha256 ${plan.release.checksum} (verified)`);
    const bytes = Buffer.byteLength(plan.release.manifestUrl);
    lines.push(`manifest: ${plan.release.manifestUrl} (${bytes} bytes as the event payload${plan.backend !== 'serf' && bytes > SAFE_PAYLOAD_BYTES ? `, over the ${SAFE_PAYLOAD_BYTES} Consul 1.22+ accepts` : ''})`);
    const left = [
        plan.filteredOut && `${plan.filteredOut} other nodes filtered out`,
        plan.notLive && `${plan.notLive} matching but not live`
    ].filter(Boolean);
    lines.push(`targets: ${plan.targets.length} nodes (event "${plan.eventName}"): ${nameList(plan.targets, 50)}${left.length ? `; ${left.join(', ')}` : ''}`);
    for (const step of plan.steps ?? [])
        lines.push(`${plainText(step.label, 60)}: ${step.nodes.length} ${step.nodes.length === 1 ? 'node' : 'nodes'}: ${nameList(step.nodes, 20)}`);
    lines.push(previousLine(plan.previous));
    lines.push(lockLine(plan.lock, plan.lockKey));
    lines.push(`nothing was written: ${untouched(plan)}`);
    return lines;
}
/** The run's last line (the CLI's exit message). */
function dryRunMessage(plan) {
    return `dry run: ${plan.rollback ? 'rolling back to' : 'deploying'} ${plan.deployId} could go ahead on ${plan.targets.length} nodes${plan.lock.held ? ' (after the run holding the lock)' : ''}; nothing written`;
}
/** The job summary of a dry run. */
function dryRunMarkdown(plan) {
    const rows = dryRunLines(plan)
        .slice(1, -1)
        .map((line) => {
        const [head, ...rest] = line.split(': ');
        return `| ${markdownText(head ?? '', 40)} | ${markdownText(rest.join(': '), 2000)} |`;
    });
    return [
        `## 🔍 Dry run: ${plan.rollback ? 'roll back to' : 'deploy'} ${codeSpan(plan.deployId, 100)}`,
        '',
        '| | |',
        '| --- | --- |',
        ...rows,
        '',
        `Nothing was written: ${untouched(plan)}.`,
        ''
    ].join('\n');
}

/**
 * `dry-run`: after the plan stage, what a deploy would do, from reads alone. No
 * S3 object, KV write, event or lock session; a rollback's release is verified.
 */
async function dryRun(config, deps, found) {
    const { backend, store, log, setOutput, signal } = deps;
    const { selection, build } = found;
    let release;
    let plan;
    // rollback-to and promote: the release is found and verified, as the run would.
    if (existingRelease(config)) {
        release = await findRelease(backendsOf(deps, found), store, config, log);
        setOutput('src-url', release.srcUrl);
        setOutput('checksum', release.checksum);
        setOutput('manifest-url', release.manifestUrl);
        const { srcUrl, manifestUrl, checksum, archiveBytes } = release;
        plan = { release: { srcUrl, manifestUrl, checksum, archiveBytes } };
    }
    else {
        // The URLs it would publish to; not outputs, as nothing is there.
        const url = (ext) => s3Url$1(config.s3.bucket, releaseKey(config, config.deployId, ext));
        plan = {
            release: { srcUrl: url('tgz'), manifestUrl: url('yml') },
            archive: build && {
                ...archiveShape(build.tree, config.deployIdFile, config.deployId),
                fileBytes: build.tree.fileBytes
            }
        };
    }
    setOutput('deploy-id', config.deployId);
    setOutput('nodes-total', String(selection.targets.length));
    const report = {
        ...plan,
        app: config.app,
        deployId: config.deployId,
        rollback: config.rollbackTo !== undefined,
        eventName: config.eventName,
        // By label: a name that repeats across datacenters is two nodes (contract 8a).
        targets: labelsOfSteps(found.steps.filter((s) => KINDS[s.kind].isWave)),
        ...(found.steps.length > 1 ? { steps: labelledSteps(found.steps) } : {}),
        filteredOut: selection.filteredOut.length,
        notLive: selection.notLive.length,
        previous: await backend.releasePointer(signal),
        lock: await backend.lockState(signal),
        lockKey: backend.lockName,
        backend: config.backend.kind
    };
    for (const line of dryRunLines(report))
        log.info(inert(line));
    await deps.writeSummary?.(dryRunMarkdown(report));
    return {
        release,
        failed: false,
        cancelled: false,
        message: dryRunMessage(report),
        dryRun: report
    };
}

/**
 * Publish: the build packed and uploaded, with the history record it will get;
 * or, with rollback-to and promote, the verified release already published (its
 * history stays as written).
 */
async function publishOrFind(config, plan, deps, pointers) {
    const { store, log, setOutput } = deps;
    if (existingRelease(config)) {
        const release = await findRelease(backendsOf(deps, plan), store, config, log);
        setOutput('deploy-id', release.deployId);
        setOutput('src-url', release.srcUrl);
        setOutput('checksum', release.checksum);
        setOutput('manifest-url', release.manifestUrl);
        return { release };
    }
    // Every file gets a time no earlier release used (in any datacenter), so rsync -a
    // on the nodes (which skips files whose size and mtime match) never keeps an old file.
    const stamps = (await pointers()).map((pointer) => nextFileTime(pointer));
    const stamp = new Date(Math.max(...stamps.map((d) => d.getTime())));
    const release = await publish({
        config,
        template: plan.template,
        commands: plan.commands,
        store,
        log,
        onFact: setOutput,
        mtime: stamp,
        build: plan.build
    });
    const history = {
        deploy_id: release.deployId,
        manifest_url: release.manifestUrl,
        src_url: release.srcUrl,
        checksum: release.checksum,
        commit: config.run.sha,
        run_url: config.run.runUrl,
        published_at: new Date().toISOString(),
        mtime: Math.floor(stamp.getTime() / 1000),
        ...(release.prepareUrl && release.switchUrl
            ? { prepare_manifest_url: release.prepareUrl, switch_manifest_url: release.switchUrl }
            : {})
    };
    return { release, history };
}

/** The layout a release was published in, from its history record (none: in place). */
function publishedLayout(pointer) {
    return pointer.history?.switch_manifest_url ? 'releases' : 'in-place';
}
/**
 * What auto-rollback sends to put `pointer`'s release back in this run's
 * layout: its own manifests when it was published in it, else a rendition
 * uploaded now. `refused` says why it cannot be sent at all.
 */
async function rollbackManifests(input, pointer) {
    const { config, log } = input;
    const { deployId, manifestUrl, history } = pointer;
    const layout = publishedLayout(pointer);
    if (layout === config.layout)
        return layout === 'releases'
            ? { deployId, manifestUrl, switchUrl: history.switch_manifest_url }
            : { deployId, manifestUrl };
    if (!history?.src_url || !history.checksum)
        return {
            deployId,
            manifestUrl,
            refused: `no history record of ${deployId} names its archive, so it cannot be sent with layout: ${config.layout}`
        };
    try {
        const url = await putRendition(input, {
            deployId,
            src: history.src_url,
            checksum: history.checksum
        });
        log.info(`auto-rollback target ${deployId} was published with layout: ${layout}: rendered again with layout: ${config.layout} as ${url}`);
        return { deployId, manifestUrl: url };
    }
    catch (error) {
        return {
            deployId,
            manifestUrl,
            refused: `${deployId} was published with layout: ${layout}, and its manifest could not be rendered with layout: ${config.layout}: ${error.message}`
        };
    }
}
async function putRendition({ config, template, reportsFor, store }, release) {
    // A run that renders no template of its own (promote, rollback-to) knows dest
    // only from the input.
    if (!config.dest && !template?.dest)
        throw new Error('its dest is not known to this run (set the dest input)');
    const manifest = renderReleaseManifest(template, {
        ...release,
        dest: config.dest,
        keepReleases: config.keepReleases,
        reports: reportsFor(release.deployId)
    }, 
    // The combined manifest prepares and switches in one run: a node that kept no
    // copy of the release gets it, one that did switches back to it.
    config.layout === 'releases' ? 'combined' : undefined);
    const key = releaseKey(config, release.deployId, 'yml').replace(/\.yml$/, `.${config.layout}.yml`);
    await store.putText(key, manifest, 'application/yaml');
    return s3Url$1(store.bucket, key);
}

/**
 * What latest names now, per datacenter: auto-rollback's target, with the
 * manifests it sends in this run's layout (contract 8a). With layout: releases
 * it is switched back to: every node sent this one still keeps it (the switch
 * spares the release it replaced).
 */
async function previousReleases(config, plan, deps, pointers) {
    const input = {
        config,
        template: plan.template,
        reportsFor: (deployId) => reportingCommands({ ...config, deployId }, plan.template),
        store: deps.store,
        log: deps.log
    };
    const previous = new Map();
    // The same release in several datacenters is rendered (and uploaded) once.
    const found = new Map();
    for (const [i, dc] of plan.datacenters.entries()) {
        const { deployId, manifestUrl, history } = pointers[i];
        if (!deployId || !manifestUrl || deployId === config.deployId)
            continue;
        const key = `${deployId}\u0000${manifestUrl}`;
        if (!found.has(key))
            found.set(key, rollbackManifests(input, { deployId, manifestUrl, history }));
        previous.set(dc, await found.get(key));
    }
    return previous;
}

function newRolloutContext(steps, release, deps, opts = {}) {
    // Every node once (a prepare step names the nodes its switch steps name again).
    const allNodes = nodesOfSteps(steps);
    return {
        steps,
        release,
        deps,
        runs: steps.map((step) => ({ step, outcome: 'not_started' })),
        fleet: new FleetState({
            deployId: release.deployId,
            baselineIndex: 0,
            maxFailures: deps.config.maxFailures,
            targets: allNodes,
            untargeted: deps.filteredOut
        }),
        allNodes,
        staged: deps.config.waves !== undefined || steps.length > 1,
        failures: 0,
        unprepared: new Set(),
        perDatacenter: new Map(),
        stopReason: '',
        notWaiting: false,
        rollback: opts.rollback === true
    };
}
/** What this run wrote in a datacenter (Consul KV is per datacenter, contract 10). */
function datacenterRecord(ctx, dc) {
    let record = ctx.perDatacenter.get(dc);
    if (!record) {
        record = { historyWritten: ctx.release.history === undefined, latestMoved: false };
        ctx.perDatacenter.set(dc, record);
    }
    return record;
}
/** The nodes a step is sent to: its plan's, less those that failed to prepare in its datacenter. */
function stepNodes(ctx, step) {
    if (ctx.unprepared.size === 0 || KINDS[step.kind].gatesLaterSteps)
        return [...step.nodes];
    return step.nodes.filter((n) => !ctx.unprepared.has(nodeKey(step.datacenter, n)));
}
function markUnprepared(ctx, dc, node) {
    ctx.unprepared.add(nodeKey(dc, node));
}
/** The step's own fleet, counted from its first event on. */
function stepFleet(ctx, step, nodes, sent) {
    const inStep = new Set(nodes);
    const phase = KINDS[step.kind].phase;
    return new FleetState({
        deployId: ctx.release.deployId,
        baselineIndex: sent.baseline,
        maxFailures: ctx.deps.config.maxFailures - ctx.failures,
        targets: nodes,
        // The backend reads the step's datacenter: the names it reports are of it.
        datacenter: step.datacenter,
        ...(phase ? { phase } : {}),
        // Nodes of the step's datacenter in other steps are not this step's business (a
        // replayed event must not make one a "joiner" here).
        untargeted: [
            ...ctx.deps.filteredOut,
            ...ctx.allNodes.filter((n) => n.datacenter === step.datacenter && !inStep.has(n.node))
        ]
    });
}
/** The step's nodes, marked with their wave and datacenter, into the run's fleet. */
function absorbStep(ctx, run) {
    if (!run.fleet)
        return;
    const { step } = run;
    ctx.fleet.absorb(run.fleet, ctx.staged && KINDS[step.kind].isWave ? step.wave : undefined, step.datacenter);
}
function stepLabel(ctx, step) {
    return ctx.staged ? KINDS[step.kind].label(step) : (step.datacenter ?? '');
}

function rolloutRecord(ctx, dc, completed) {
    const own = ctx.steps.filter((s) => s.datacenter === dc && KINDS[s.kind].isWave);
    return {
        deploy_id: ctx.release.deployId,
        waves: own.map((s) => s.nodes.length),
        completed,
        nodes: own.flatMap((s) => s.nodes)
    };
}
/** After a wave passed: the record counts it, or goes once the last wave moved latest. */
async function recordWavePassed(ctx, index) {
    const { step } = ctx.runs[index];
    if (ctx.deps.config.waves === undefined || !KINDS[step.kind].isWave)
        return;
    const own = ctx.runs.filter((r) => r.step.datacenter === step.datacenter && KINDS[r.step.kind].isWave);
    const completed = own.filter((r) => r.outcome === 'passed').length;
    const dc = ctx.deps.backend.at(step.datacenter);
    await dc.recordRollout(completed === own.length && step.movesLatest
        ? undefined
        : rolloutRecord(ctx, step.datacenter, completed), ctx.deps.signal);
}

async function openStep(ctx, index, nodes) {
    const { step } = ctx.runs[index];
    const { config, log, backend, signal } = ctx.deps;
    if (ctx.staged)
        log.info(`${stepLabel(ctx, step)}: ${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${nodes.slice(0, 20).join(', ')}${nodes.length > 20 ? ', …' : ''}`);
    if (!ctx.staged || !firstOfDatacenter(ctx.steps, index))
        return;
    const record = datacenterRecord(ctx, step.datacenter);
    const dc = backend.at(step.datacenter);
    // history/<id> before any event: a partial rollout never moves latest, and
    // promote finds the release by it.
    if (!record.historyWritten && !step.movesLatest && ctx.release.history) {
        await dc.writeHistory(ctx.release.history, signal);
        record.historyWritten = true;
    }
    if (config.waves !== undefined)
        await dc.recordRollout(rolloutRecord(ctx, step.datacenter, 0), signal);
}
function firstOfDatacenter(steps, index) {
    return steps.findIndex((s) => s.datacenter === steps[index].datacenter) === index;
}

async function sendStep(ctx, index, nodes, joined = []) {
    const run = ctx.runs[index];
    const { step } = run;
    const { config, backend, signal } = ctx.deps;
    const record = datacenterRecord(ctx, step.datacenter);
    let first;
    try {
        for (const [n, send] of eventsOf(ctx, step, nodes, joined).entries()) {
            const movesLatest = step.movesLatest && n === 0;
            const got = await backend.at(step.datacenter).send({
                deployId: ctx.release.deployId,
                eventUrl: send.eventUrl,
                pointer: movesLatest
                    ? {
                        manifestUrl: ctx.release.manifestUrl,
                        history: record.historyWritten ? undefined : ctx.release.history
                    }
                    : undefined,
                nodes: send.nodes,
                // The one-wave default keeps today's event: the configured filters. A promote
                // goes only to the nodes not on the release yet (contract 8).
                byFilters: !ctx.rollback && KINDS[step.kind].byFiltersAsOneWave && sendsByFilters(config),
                signal,
                onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollout'),
                onFired: (sent) => {
                    first ??= sent;
                    if (sent.nodes)
                        (run.sentTo ??= []).push(...sent.nodes);
                    if (movesLatest)
                        record.latestMoved = record.historyWritten = true;
                }
            });
            first ??= got;
        }
    }
    catch (error) {
        if (signal?.aborted || (ctx.firstFiredAt === undefined && first === undefined))
            throw error;
        run.firedAt = first?.firedAt;
        run.outcome = 'failed';
        run.endedAt = Date.now();
        ctx.stopReason = `${stepLabel(ctx, step)} could not be sent: ${error.message}`;
        ctx.deps.log.warning(ctx.stopReason);
        if (first)
            run.fleet = new FleetState({
                deployId: ctx.release.deployId,
                baselineIndex: first.baseline,
                maxFailures: 0,
                targets: [...nodes, ...joined],
                datacenter: step.datacenter
            });
        return undefined;
    }
    if (first) {
        run.firedAt = first.firedAt;
        ctx.firstFiredAt ??= first.firedAt;
    }
    return first;
}
/**
 * A step's sends: its nodes get the step's manifest; `joined` (nodes that joined,
 * and a rollback's nodes that no longer keep the release) get the kind's whole
 * manifest (contract 8a: a switch cannot take a node that never prepared), in
 * the same send when it is the same manifest.
 */
function eventsOf(ctx, step, nodes, joined) {
    const eventUrl = stepUrl(step, ctx.release);
    const joinerUrl = joined.length > 0 ? KINDS[step.kind].joinerUrl(ctx.release) : undefined;
    if (joinerUrl === undefined || joinerUrl === eventUrl)
        return [{ eventUrl, nodes: [...nodes, ...joined] }];
    return [
        { eventUrl, nodes },
        { eventUrl: joinerUrl, nodes: joined }
    ].filter((send) => send.nodes.length > 0);
}

async function watchStep(ctx, run, sent) {
    const { config, log, backend, signal } = ctx.deps;
    const label = stepLabel(ctx, run.step);
    const progress = throttle(5000, (line) => log.info(line));
    const fleet = run.fleet;
    await backend.at(run.step.datacenter).watch({
        sent,
        fleet,
        deadline: sent.firedAt + config.timeoutMs,
        signal,
        // Joiners go with the last wave (contract 8); they boot from latest, moved just before it.
        admitJoiners: run.step.takesJoiners,
        onChange: (changed) => {
            logChanges(ctx, changed);
            absorbStep(ctx, run);
            progress.update(`${label ? `${label}: ` : ''}${progressLine(fleet.counts())}`);
            ctx.deps.onProgress?.(ctx.fleet);
        }
    });
    progress.flush();
    absorbStep(ctx, run);
}
function logChanges(ctx, changed) {
    for (const s of changed) {
        if (s.status === 'failure' || s.status === 'lost')
            ctx.deps.log.info(inert(`${plainText(ctx.fleet.labelOf(s), 80)}: ${s.status}`));
        else if (s.note)
            ctx.deps.log.info(inert(`${plainText(ctx.fleet.labelOf(s), 80)}: not counted (${plainText(s.note, 120)})`));
    }
}

// What fails a wave's health gate (contract 8: node, check, output), whichever
// backend saw it, and the one line that names it in the log and the report.
/** One line naming the failing checks, e.g. `node-3: service:web "web" (HTTP 500)`. */
function gateFailureLine(failures) {
    return failures
        .map((f) => {
        const output = f.output.trim().split('\n')[0]?.slice(0, 120) ?? '';
        return `${f.node}: ${f.checkId}${f.name && f.name !== f.checkId ? ` "${f.name}"` : ''}${output ? ` (${output})` : ''}`;
    })
        .join('; ');
}

// Judging a step once its fleet has a verdict: failures counted over the run,
// unprepared nodes left out of the switch, then the health gate, then the
// step closed (the rollout record counts it).
function judgeStep(ctx, run) {
    const fleet = run.fleet;
    const verdict = fleet.verdict();
    const counts = fleet.counts();
    // Failed, lost and silent count against max-failures over the whole run (contract 8a);
    // a node that failed to prepare is not switched, so its failure counts once.
    ctx.failures += counts.failed + fleet.nodesByStatus('silent').length;
    if (KINDS[run.step.kind].gatesLaterSteps && verdict.done && verdict.ok)
        for (const s of fleet.list())
            if (s.status !== 'success')
                markUnprepared(ctx, run.step.datacenter, s.node);
    if (verdict.done && verdict.ok)
        return 'next';
    run.outcome = verdict.done && verdict.reason === 'timed_out' ? 'timed_out' : 'failed';
    run.endedAt = Date.now();
    const label = stepLabel(ctx, run.step);
    ctx.stopReason = `${label ? `${label} ` : ''}${run.outcome === 'timed_out' ? 'timed out' : 'failed'}`;
    return 'stop';
}
/** The bake (contract 8): the step's nodes must stay healthy for bake-time. */
async function gateStep(ctx, run) {
    const { step } = run;
    if (step.bakeMs <= 0)
        return 'next';
    const { log, backend, signal } = ctx.deps;
    const label = stepLabel(ctx, step);
    log.info(`${label ? `${label}: ` : ''}baking ${Math.round(step.bakeMs / 1000)}s: health checks must stay passing`);
    const nodes = run.fleet.list().map((s) => s.node);
    const found = await backend.at(step.datacenter).health(nodes, step.bakeMs, signal);
    if (signal?.aborted) {
        run.outcome = 'cancelled';
        return 'stop';
    }
    if (found.length === 0)
        return 'next';
    // Named by their labels, as the other verdicts name nodes: `web-1 (dc2)` where
    // another datacenter has a web-1 (contract 8a: a node is a (datacenter, name) pair).
    run.gateFailures = found.map((f) => ({
        ...f,
        node: ctx.fleet.labelOf(nodeId(step.datacenter, f.node))
    }));
    run.outcome = 'gate';
    run.endedAt = Date.now();
    ctx.stopReason = `${label ? `${label} ` : ''}failed its health gate: ${gateFailureLine(run.gateFailures)}`;
    log.info(inert(ctx.stopReason));
    return 'stop';
}
async function closeStep(ctx, index) {
    const run = ctx.runs[index];
    run.outcome = 'passed';
    run.endedAt = Date.now();
    if (!KINDS[run.step.kind].isWave) {
        const c = run.fleet.counts();
        ctx.deps.log.info(`${stepLabel(ctx, run.step)}: ${c.succeeded}/${c.total} nodes prepared ${ctx.release.deployId} in ${((run.endedAt - (run.firedAt ?? run.endedAt)) / 1000).toFixed(1)}s; switching`);
    }
    await recordWavePassed(ctx, index);
}

async function runSteps(ctx) {
    for (const index of ctx.runs.keys()) {
        if (ctx.deps.signal?.aborted)
            return;
        if ((await runStep(ctx, index)) === 'stop')
            return;
    }
}
async function runStep(ctx, index) {
    const run = ctx.runs[index];
    // Nodes that get the whole manifest rather than the step's: joiners, and those
    // known not to keep the release a switch points at.
    const whole = new Set(run.step.whole);
    const planned = stepNodes(ctx, run.step).filter((n) => !whole.has(n));
    const joined = [
        ...stepNodes(ctx, run.step).filter((n) => whole.has(n)),
        ...(await joiners(ctx, index))
    ];
    const nodes = [...planned, ...joined];
    if (nodes.length === 0)
        return emptyStep(ctx, index);
    if (ctx.notWaiting && !startsDatacenter(ctx, index))
        return 'next';
    await openStep(ctx, index, nodes);
    const sent = await sendStep(ctx, index, planned, joined);
    if (run.outcome === 'failed')
        return 'stop';
    if (!sent)
        return 'next';
    run.fleet = stepFleet(ctx, run.step, nodes, sent);
    if (index === 0)
        await ctx.deps.onAnnounced?.(ctx.fleet);
    if (!ctx.deps.config.wait) {
        // wait: false fires in every datacenter listed, in order (contract 8a).
        absorbStep(ctx, run);
        ctx.notWaiting = true;
        return 'next';
    }
    try {
        return await settleStep(ctx, index);
    }
    catch (error) {
        if (ctx.deps.signal?.aborted) {
            run.outcome = 'cancelled';
            return 'stop';
        }
        run.outcome = 'failed';
        run.endedAt = Date.now();
        ctx.error = error;
        ctx.stopReason = `${stepLabel(ctx, run.step) || 'the rollout'} failed: ${error.message}`;
        ctx.deps.log.warning(ctx.stopReason);
        return 'stop';
    }
}
/** From the step's event to its end: watch, judge, gate, close. */
async function settleStep(ctx, index) {
    const run = ctx.runs[index];
    await watchStep(ctx, run, { firedAt: run.firedAt, baseline: run.fleet.baselineIndex });
    if (ctx.deps.signal?.aborted) {
        run.outcome = 'cancelled';
        return 'stop';
    }
    if (judgeStep(ctx, run) === 'stop')
        return 'stop';
    if ((await gateStep(ctx, run)) === 'stop')
        return 'stop';
    await closeStep(ctx, index);
    return 'next';
}
/**
 * Every node of this switch wave failed to prepare (within max-failures: more
 * stopped the run at the prepare's judge). The wave that moves latest still
 * moves it, with no event (contract 8): the failures are tolerated, so the
 * release is the fleet's.
 */
async function emptyStep(ctx, index) {
    const run = ctx.runs[index];
    const { step } = run;
    const record = datacenterRecord(ctx, step.datacenter);
    const { deployId, manifestUrl, history } = ctx.release;
    let moved = false;
    try {
        if (step.movesLatest) {
            await ctx.deps.backend.at(step.datacenter).movePointer({
                deployId,
                manifestUrl,
                history: record.historyWritten ? undefined : history,
                signal: ctx.deps.signal,
                onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollout')
            });
            moved = record.latestMoved = record.historyWritten = true;
            ctx.deps.log.info(`${stepLabel(ctx, step)}: no node of it prepared ${deployId}, nothing to send; latest moved to it with no event`);
        }
        run.outcome = 'passed';
        run.endedAt = Date.now();
        await recordWavePassed(ctx, index);
        return 'next';
    }
    catch (error) {
        run.endedAt = Date.now();
        if (ctx.deps.signal?.aborted) {
            run.outcome = 'cancelled';
            return 'stop';
        }
        run.outcome = 'failed';
        ctx.stopReason = `${stepLabel(ctx, step)}: ${moved ? 'the rollout record could not be written' : `latest could not be moved to ${deployId}`}: ${error.message}`;
        ctx.deps.log.warning(ctx.stopReason);
        return 'stop';
    }
}
/**
 * Nodes that joined the targets during the rollout go with the last wave
 * (contract 8): the live matching nodes of its datacenter that no step names.
 */
async function joiners(ctx, index) {
    const { step } = ctx.runs[index];
    // A datacenter's first step goes out right after the plan read its targets.
    if (!step.takesJoiners ||
        KINDS[step.kind].joinerUrl(ctx.release) === undefined ||
        startsDatacenter(ctx, index))
        return [];
    const planned = new Set(ctx.steps.filter((s) => s.datacenter === step.datacenter).flatMap((s) => s.nodes));
    const dc = ctx.deps.backend.at(step.datacenter);
    const found = await Promise.all([dc.targets(ctx.deps.signal), dc.lastResults(ctx.deps.signal)])
        .then(([targets, results]) => ({ targets, results }))
        .catch((error) => {
        ctx.deps.log.warning(`${stepLabel(ctx, step)}: could not read which nodes joined (${error.message}); they boot from latest`);
        return undefined;
    });
    if (!found)
        return [];
    // Not a joiner: a node already on the release (a promote left it out of the plan).
    const onRelease = (node) => {
        const r = found.results.get(node);
        return r?.deployId === ctx.release.deployId && r.status === 'success' && r.phase !== 'prepare';
    };
    const fresh = found.targets.selection.targets.filter((node) => !planned.has(node) && !onRelease(node));
    if (fresh.length > 0)
        ctx.deps.log.info(`${stepLabel(ctx, step)}: ${fresh.length} node${fresh.length === 1 ? '' : 's'} joined during the rollout, sent the release with it: ${fresh.slice(0, 20).join(', ')}`);
    return fresh;
}
function startsDatacenter(ctx, index) {
    const dc = ctx.runs[index].step.datacenter;
    return ctx.runs.findIndex((r) => r.step.datacenter === dc) === index;
}

/**
 * Pure: what auto-rollback sends where, from what the rollout did and which nodes
 * run the failed release (`onRelease`, per datacenter: an earlier partial
 * rollout's too, when this run promoted it).
 */
function planRollback(ctx, onRelease = new Map(), 
/** per datacenter, nodes whose last result says they no longer keep the previous release */
lacking = new Map()) {
    // A node only prepared still runs the previous release (current was not touched).
    const sent = ctx.runs.filter((r) => r.firedAt !== undefined && KINDS[r.step.kind].isWave);
    const datacenters = [...new Set(ctx.steps.map((s) => s.datacenter))].filter((dc) => sent.some((r) => r.step.datacenter === dc) || (onRelease.get(dc)?.length ?? 0) > 0);
    return datacenters.map((datacenter) => {
        const previous = ctx.deps.previous?.get(datacenter);
        if (!previous)
            return { datacenter };
        const sentNodes = sent.filter((r) => r.step.datacenter === datacenter).flatMap(sentRelease);
        const nodes = [...new Set([...sentNodes, ...(onRelease.get(datacenter) ?? [])])];
        const switchBack = ctx.deps.config.layout === 'releases' && previous.switchUrl !== undefined;
        const step = {
            datacenter,
            kind: switchBack ? 'switch' : 'deploy',
            nodes,
            wave: 1,
            waves: 1,
            movesLatest: datacenterRecord(ctx, datacenter).latestMoved,
            bakeMs: 0,
            takesJoiners: false
        };
        // layout: releases: a node that no longer keeps it prepares it again (the combined manifest).
        const gone = lacking.get(datacenter);
        if (switchBack && gone)
            step.whole = nodes.filter((n) => gone.has(n));
        return { datacenter, previous, step };
    });
}
/**
 * The nodes of a step that got the release: those its events went out to (a
 * wave sent as several events may have stopped midway), and any that reported
 * it anyway (a joiner that booted from latest). Never a node the send never reached.
 */
function sentRelease(run) {
    const states = run.fleet?.list() ?? [];
    if (!run.sentTo)
        return states.map((s) => s.node);
    const sentTo = new Set(run.sentTo);
    return states
        .filter((s) => sentTo.has(s.node) || s.status === 'success' || s.status === 'failure')
        .map((s) => s.node);
}
async function rollBack(ctx) {
    const { log } = ctx.deps;
    const read = await readResults(ctx);
    const plans = planRollback(ctx, read.onRelease, read.lacking);
    if (plans.length === 0) {
        // layout: releases, the prepare failed: current was never touched anywhere.
        const message = 'auto-rollback: no node was switched to this release: nothing to roll back';
        log.info(message);
        return { outcome: 'nothing_to_roll_back_to', sent: false, message };
    }
    const runs = [];
    for (const plan of plans)
        runs.push(await rollBackDatacenter(ctx, plan));
    const fleets = runs.flatMap((r) => (r.fleet ? [r.fleet] : []));
    if (runs.length === 1)
        return { ...runs[0], fleets };
    const failed = runs.find((r) => r.outcome !== 'rolled_back');
    return {
        deployId: runs.find((r) => r.deployId)?.deployId,
        outcome: failed ? failed.outcome : 'rolled_back',
        sent: runs.some((r) => r.sent),
        fleets,
        message: runs.map((r) => r.message).join('; ')
    };
}
/**
 * Per datacenter of the plan, from each node's last result: the nodes on this
 * release (a switch, not a prepare), those an earlier partial rollout left on it
 * too; and with layout: releases those that say they no longer keep the
 * previous release. A datacenter that cannot be read is rolled back from what
 * this run sent.
 */
async function readResults(ctx) {
    const onRelease = new Map();
    const lacking = new Map();
    for (const dc of new Set(ctx.steps.map((s) => s.datacenter))) {
        const results = await ctx.deps.backend
            .at(dc)
            .lastResults(ctx.deps.signal)
            .catch((error) => {
            ctx.deps.log.warning(`auto-rollback: could not read which nodes run ${ctx.release.deployId}${dc ? ` in ${dc}` : ''}: ${error.message}`);
            return new Map();
        });
        const previous = ctx.deps.previous?.get(dc)?.deployId;
        const on = [];
        const gone = new Set();
        for (const [node, r] of results) {
            if (r.deployId === ctx.release.deployId && r.status === 'success' && r.phase !== 'prepare')
                on.push(node);
            if (previous && r.releases && !r.releases.includes(previous))
                gone.add(node);
        }
        onRelease.set(dc, on);
        lacking.set(dc, gone);
    }
    return { onRelease, lacking };
}
async function rollBackDatacenter(ctx, plan) {
    const { log, config } = ctx.deps;
    const where = plan.datacenter ? ` in ${plan.datacenter}` : '';
    if (!plan.previous || !plan.step) {
        const message = `auto-rollback: there is no previous release to roll back to${where}`;
        log.warning(message);
        return { outcome: 'nothing_to_roll_back_to', sent: false, message };
    }
    if (plan.previous.refused) {
        // Never a manifest of another layout (contract 8a): nothing is sent.
        const message = `auto-rollback to ${plan.previous.deployId}${where} not sent: ${plan.previous.refused}`;
        log.warning(message);
        return { deployId: plan.previous.deployId, outcome: 'failed', sent: false, message };
    }
    const { previous, step } = plan;
    log.info(`auto-rollback: sending ${previous.deployId} back to the ${step.nodes.length} node${step.nodes.length === 1 ? '' : 's'} sent this release${where}`);
    const back = newRolloutContext([step], {
        deployId: previous.deployId,
        manifestUrl: previous.manifestUrl,
        switchUrl: previous.switchUrl
    }, {
        ...ctx.deps,
        config: { ...config, deployId: previous.deployId, maxFailures: 0, waves: undefined },
        onJournal: (journal) => ctx.deps.onJournal?.(journal, 'rollback'),
        onAnnounced: undefined,
        onProgress: undefined
    }, { rollback: true });
    try {
        await runSteps(back);
        const run = back.runs[0];
        const sent = run.firedAt !== undefined;
        if (!sent)
            throw new Error(back.stopReason || 'no node to send it to');
        const fleet = run.fleet;
        const c = fleet.counts();
        const done = run.outcome === 'passed';
        // The rollout record goes only when every node on the release is back (contract 8a).
        if (done)
            await ctx.deps.backend
                .at(plan.datacenter)
                .recordRollout(undefined)
                .catch(() => undefined);
        const message = done
            ? `rolled back to ${previous.deployId}${where}: ${c.succeeded}/${c.total} nodes back on it`
            : `auto-rollback to ${previous.deployId}${where} incomplete: ${progressLine(c)}${notBackLine(fleet, previous.deployId)}`;
        log.info(message);
        return {
            deployId: previous.deployId,
            outcome: done ? 'rolled_back' : 'failed',
            sent,
            fleet,
            message
        };
    }
    catch (error) {
        const message = `auto-rollback to ${previous.deployId}${where} failed: ${error.message}`;
        log.warning(message);
        const sent = back.runs[0]?.firedAt !== undefined;
        return { deployId: previous.deployId, outcome: 'failed', sent, message };
    }
}
/**
 * The nodes an incomplete rollback did not see back, each with its state: a
 * lost node failed or left, and whether it took the rollback before it went
 * nobody can tell.
 */
function notBackLine(fleet, deployId) {
    const states = [
        ['failure', 'failed'],
        ['lost', 'lost'],
        ['silent', 'silent'],
        ['pending', 'waiting']
    ];
    const parts = states
        .map(([status, label]) => [label, fleet.nodesByStatus(status)])
        .filter(([, nodes]) => nodes.length > 0)
        .map(([label, nodes]) => `${label}: ${nameList(nodes, 10)}`);
    return parts.length ? `; not seen back on ${deployId}: ${parts.join('; ')}` : '';
}

function rolloutResult(ctx) {
    const { runs, fleet } = ctx;
    const cancelled = ctx.deps.signal?.aborted === true;
    const passed = runs.filter((r) => r.outcome === 'passed' && KINDS[r.step.kind].isWave).length;
    const ok = !cancelled && (ctx.notWaiting || runs.every((r) => r.outcome === 'passed'));
    // A node a fired step reached (a prepare whose switch never came) was sent
    // something: it is never `not sent` (contract 8a), whatever it reported. A
    // node is a (datacenter, name) pair: dc1's node-2 prepared is not dc2's.
    const sent = new Set(runs
        .filter((r) => r.firedAt !== undefined)
        .flatMap((r) => r.step.nodes.map((n) => nodeKey(r.step.datacenter, n))));
    for (const run of runs)
        if (run.outcome === 'not_started' && run.firedAt === undefined)
            for (const node of run.step.nodes.filter((n) => !sent.has(nodeKey(run.step.datacenter, n))))
                fleet.noteNotSent(node, KINDS[run.step.kind].notStarted(run.step), run.step.wave, run.step.datacenter);
        else
            noteUnreached(ctx, run);
    // layout: releases: a node whose last counted result is its prepare was not switched.
    fleet.markPrepared();
    // One wave in the agent's datacenter is the plain run: its fleet is the run's;
    // its verdict too, unless its health gate failed after every node reported.
    const first = runs[0];
    const only = !ctx.staged && first?.step.datacenter === undefined ? first?.fleet : undefined;
    const onlyVerdict = only?.verdict();
    const phases = phaseFigures(runs);
    return {
        waves: runs,
        ok,
        cancelled,
        staged: ctx.staged,
        fleet: only ?? fleet,
        verdict: ctx.notWaiting
            ? { done: false }
            : onlyVerdict?.done && first?.outcome !== 'gate'
                ? onlyVerdict
                : overallVerdict(runs, fleet, ok),
        wavesCompleted: passed,
        // Without `waves` the run is one wave, however many datacenters it spans.
        wavesCompletedOutput: ctx.deps.config.waves !== undefined ? passed : ok && passed > 0 ? 1 : 0,
        ...(ctx.deps.config.waves !== undefined
            ? { wavesPlanned: runs.filter((r) => KINDS[r.step.kind].isWave).length }
            : {}),
        message: ctx.stopReason,
        firstFiredAt: ctx.firstFiredAt,
        ...(phases ? { phases } : {})
    };
}
/**
 * A step whose send stopped midway (a wave sent as several events): its nodes
 * no event went out to were not sent the release (contract 8a), not pending.
 */
function noteUnreached(ctx, run) {
    if (!run.sentTo)
        return;
    const sentTo = new Set(run.sentTo);
    for (const node of run.step.nodes)
        if (!sentTo.has(node))
            ctx.fleet.noteNotSent(node, `not sent: ${stepLabel(ctx, run.step) || 'the send'} stopped before its event for this node went out`, run.step.wave, run.step.datacenter);
}
/** The run's verdict over all steps: converged only when every step passed. */
function overallVerdict(runs, fleet, ok) {
    if (ok) {
        const c = fleet.counts();
        return { done: true, ok: true, reason: c.failed + c.pending === 0 ? 'converged' : 'tolerated' };
    }
    if (runs.some((r) => r.outcome === 'timed_out'))
        return { done: true, ok: false, reason: 'timed_out' };
    return { done: true, ok: false, reason: 'failures' };
}
/** Prepare time and switch spread (contract 9: the summary reports both). */
function phaseFigures(runs) {
    if (!runs.some((r) => KINDS[r.step.kind].phase !== undefined))
        return undefined;
    const prepare = runs.filter((r) => KINDS[r.step.kind].phase === 'prepare');
    const switches = runs.filter((r) => KINDS[r.step.kind].phase === 'switch' && r.firedAt !== undefined);
    const reportedAt = (list) => list.flatMap((r) => (r.fleet?.list() ?? [])
        .filter((s) => s.status === 'success' && s.noticedMs !== undefined)
        .map((s) => (r.firedAt ?? 0) + (s.noticedMs ?? 0)));
    const prepareStart = prepare[0]?.firedAt;
    const preparedAt = reportedAt(prepare);
    const switchedAt = reportedAt(switches);
    return {
        prepared: prepare.reduce((n, r) => n + r.step.nodes.length, 0),
        prepareMs: prepareStart !== undefined && preparedAt.length > 0
            ? Math.max(...preparedAt) - prepareStart
            : undefined,
        switched: switchedAt.length,
        switchSpreadMs: switchedAt.length > 0 ? Math.max(...switchedAt) - Math.min(...switchedAt) : undefined
    };
}

// The rollout executor (DESIGN "The executor: one context, small steps"): one
// context, the flat driver over the plan's steps, the result read from the
// context, and with `auto-rollback` a second plan run by the same driver. It
// talks to the fleet only through the backend seam.
async function runRollout(steps, release, deps) {
    const ctx = newRolloutContext(steps, release, deps);
    await runSteps(ctx);
    // Without auto-rollback an error stays the run's error, as before the waves;
    // with it, the nodes sent the release go back first (contract 8a).
    if (ctx.error && !deps.config.autoRollback)
        throw ctx.error;
    const result = rolloutResult(ctx);
    if (ctx.notWaiting)
        result.message = notWaitingMessage(ctx);
    logPhases(ctx, result);
    if (!result.ok && !result.cancelled && !ctx.notWaiting) {
        if (deps.config.autoRollback) {
            result.rollback = await rollBack(ctx);
            markRolledBack(result);
        }
        else if (ctx.staged)
            deps.log.info(`the rollout record keeps naming ${release.deployId}: the nodes sent it run it until a rollback or a new release`);
    }
    return result;
}
/** Nodes that reported the previous release to auto-rollback are rolled back (contract 8a). */
function markRolledBack(result) {
    for (const back of result.rollback?.fleets ?? [])
        for (const s of back.list())
            if (s.status === 'success')
                result.fleet.markRolledBack(s, { deployId: back.deployId, at: s.at });
}
function notWaitingMessage(ctx) {
    const sent = ctx.runs.filter((r) => r.firedAt !== undefined);
    const nodes = sent.reduce((n, r) => n + r.step.nodes.length, 0);
    const dcs = sent.map((r) => r.step.datacenter).filter((dc) => dc !== undefined);
    return `announced ${ctx.release.deployId} to ${nodes} nodes${dcs.length > 1 ? ` in ${dcs.join(', ')}` : ''}; not waiting (wait: false)`;
}
function logPhases(ctx, result) {
    const figures = result.phases;
    if (!figures || figures.switched === 0)
        return;
    ctx.deps.log.info(`switch: ${figures.switched} node${figures.switched === 1 ? '' : 's'} switched to ${ctx.release.deployId}; spread ${figures.switchSpreadMs ?? 0} ms (first to last node switched)${figures.prepared === 0 ? '; a switch only: every node still kept the release, nothing was downloaded' : ''}`);
}

/**
 * Logs are read only for nodes that failed this deploy (contract 5), each from
 * its datacenter; each excerpt keeps the datacenter (names repeat across them).
 */
async function readFailedLogs(fleet, backend) {
    const byDatacenter = new Map();
    // A node that failed and was then rolled back keeps its log: its failure is the cause.
    const failed = fleet
        .list()
        .filter((s) => s.status === 'failure' || (s.status === 'rolled_back' && s.was === 'failure'));
    for (const { node, datacenter } of failed)
        byDatacenter.set(datacenter, [...(byDatacenter.get(datacenter) ?? []), node]);
    const excerpts = [];
    for (const [dc, nodes] of byDatacenter)
        for (const { node, text } of await backend.at(dc).readLogs(nodes))
            excerpts.push({ ...nodeId(dc, node), text });
    return excerpts;
}

// A rollout's result as the report shows it: its waves, what failed its gate,
// what auto-rollback did, both phases of layout: releases, and the verdict line.
// Pure.
/** What the report shows of a rollout: its waves, what failed its gate, what auto-rollback did. */
function rolloutReport(rollout) {
    const gated = rollout?.waves.find((w) => w.outcome === 'gate')?.gateFailures;
    return {
        waves: rollout?.staged ? waveReports(rollout) : undefined,
        rollback: rollout?.rollback?.message,
        gateFailure: gated ? gateFailureLine(gated) : undefined
    };
}
/** The waves of a staged rollout, for the report. */
function waveReports(rollout) {
    return rollout.waves.map((w) => ({
        wave: w.step.wave,
        ...(w.step.datacenter !== undefined ? { datacenter: w.step.datacenter } : {}),
        nodes: w.step.nodes.map((n) => rollout.fleet.labelOf(nodeId(w.step.datacenter, n))),
        startedAt: w.firedAt,
        endedAt: w.endedAt,
        gate: w.gateFailures && w.gateFailures.length > 0
            ? plainText(gateFailureLine(w.gateFailures), 200)
            : w.step.bakeMs > 0 && w.outcome === 'passed'
                ? `bake ${formatGoDuration(w.step.bakeMs)}`
                : undefined,
        passed: w.outcome === 'passed'
            ? true
            : w.outcome === 'not_started'
                ? undefined
                : w.outcome === 'cancelled'
                    ? undefined
                    : false
    }));
}
/** The run's verdict in one line (and whether it fails), once the rollout is over. */
function outcome(rollout, excerpts = []) {
    if (!rollout.fleet || rollout.verdict.done === false)
        return { failed: false, message: rollout.message };
    return {
        failed: !rollout.verdict.ok,
        message: rolloutMessage(rollout, excerpts)
    };
}
/** layout: releases: both phases in the job summary (issue 13). */
function phasesMarkdown(rollout) {
    const p = rollout.phases;
    if (!p)
        return '';
    const seconds = (ms) => ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`;
    const lines = [
        '',
        '#### Two-phase release',
        '',
        p.prepared === 0
            ? '- **Prepare**: none: every target still kept the release, so this was a switch only (no download).'
            : `- **Prepare**: ${p.prepared} node${p.prepared === 1 ? '' : 's'}, ${seconds(p.prepareMs)} from the prepare event to the last node prepared.`,
        p.switched > 0
            ? `- **Switch**: ${p.switched} node${p.switched === 1 ? '' : 's'}; spread ${p.switchSpreadMs ?? 0} ms from the first node switched to the last.`
            : '- **Switch**: no node switched.',
        ''
    ];
    return lines.join('\n');
}
/** The verdict line, with what stopped a staged rollout and what its rollback did. */
function rolloutMessage(rollout, excerpts) {
    // A health gate that failed is the cause, first (contract 8a); then the counts.
    const gated = rollout.waves.find((w) => w.outcome === 'gate')?.step;
    const c = rollout.fleet.counts();
    const parts = [
        gated
            ? `${rollout.message}; ${rollout.staged ? `stopped at wave ${gated.wave} of ${gated.waves}; ` : ''}${c.succeeded}/${c.total} nodes on ${rollout.fleet.deployId}`
            : verdictMessage({ fleet: rollout.fleet, verdict: rollout.verdict, excerpts, facts: {} })
    ];
    // A prepare is a phase, not a wave: only the `waves` input's waves are counted.
    if (rollout.staged && !gated && !rollout.ok)
        parts.push(`stopped at ${rollout.message || `wave ${rollout.wavesCompleted + 1}`}`);
    else if (rollout.ok && rollout.wavesPlanned !== undefined)
        parts.push(`${rollout.wavesCompleted}/${rollout.wavesPlanned} waves passed`);
    if (rollout.rollback)
        parts.push(rollout.rollback.message);
    return parts.join('; ');
}

/** How many of a failed node's last log lines are printed, and for how many nodes. */
const EXCERPT_LINES = 40;
const MAX_EXCERPTS = 10;
function setFleetOutputs(fleet, setOutput) {
    const c = fleet.counts();
    setOutput('nodes-total', String(c.total));
    setOutput('nodes-succeeded', String(c.succeeded));
    setOutput('nodes-failed', String(c.failed));
    setOutput('nodes-pending', String(c.pending));
    setOutput('results', JSON.stringify(resultRows(fleet)));
}
/** The last lines of a log, as plain text, for the job log. */
function logTail(text) {
    return text
        .split('\n')
        .slice(-EXCERPT_LINES)
        .map((l) => plainText(l, 400))
        .join('\n');
}
/** After the first event: outputs so far, and the PR check starts. */
async function announcedTo(config, deps, run, fleet) {
    run.fleet = fleet;
    run.firedAt ??= Date.now();
    setFleetOutputs(fleet, deps.setOutput);
    await deps.onAnnounced?.({ release: run.release, fleet, facts: factsOf(config, run) });
}
function factsOf(config, run) {
    const { release, history, journal, firedAt } = run;
    return runFacts(config, { release, history, journal, firedAt });
}
/** Every run that gets past the plan leaves a job summary, however it ends. */
function summarize(config, deps, run, extra, facts = {}) {
    const { rollout, firedAt } = run;
    return deps.writeSummary?.(summaryMarkdown({
        fleet: run.fleet,
        verdict: { done: false },
        ...rolloutReport(rollout),
        ...extra,
        facts: {
            ...factsOf(config, run),
            durationMs: firedAt === undefined ? undefined : Date.now() - firedAt,
            ...facts
        }
    }) + (rollout ? phasesMarkdown(rollout) : ''));
}
async function cancelledResult(config, deps, run) {
    setFleetOutputs(run.fleet, deps.setOutput);
    if (run.rollout)
        setRolloutOutputs(run.rollout, deps.setOutput);
    await summarize(config, deps, run, {}, { cancelled: true })?.catch(() => { });
    const { release, fleet, rollout } = run;
    return {
        release,
        fleet,
        rollout,
        failed: true,
        cancelled: true,
        message: `cancelled: ${progressLine(fleet.counts())}`
    };
}
/** The outputs, the failed nodes' log tails and the summary of a run that ran its course. */
async function finalResult(config, deps, run, done) {
    const { release, fleet, excerpts, firedAt } = run;
    setFleetOutputs(fleet, deps.setOutput);
    setRolloutOutputs(done, deps.setOutput);
    if (!config.wait) {
        await summarize(config, deps, run, { notWaiting: true }, { durationMs: undefined });
        return { release, fleet, rollout: done, cancelled: false, ...outcome(done) };
    }
    const durationMs = firedAt === undefined ? undefined : Date.now() - firedAt;
    for (const excerpt of excerpts.filter((e) => e.text).slice(0, MAX_EXCERPTS))
        deps.log.info(inert(`--- ${plainText(fleet.labelOf(excerpt), 80)} (last ${EXCERPT_LINES} lines of its log) ---\n${logTail(excerpt.text)}`));
    await summarize(config, deps, run, { verdict: done.verdict, excerpts }, { durationMs });
    return {
        release,
        fleet,
        verdict: done.verdict,
        rollout: done,
        excerpts,
        cancelled: false,
        ...outcome(done, excerpts)
    };
}
function setRolloutOutputs(rollout, setOutput) {
    setOutput('waves-completed', String(rollout.wavesCompletedOutput));
    setOutput('rolled-back', rollout.rollback?.sent ? 'true' : 'false');
}

/** How long a cancelled run tries to release the lock (its session's TTL frees it anyway). */
const CANCELLED_LOCK_RELEASE_MS = 1_500;
function isCancelled(deps) {
    return deps.signal?.aborted === true;
}
/**
 * The deploy lock, in the first datacenter listed (contract 10). Waiting for it
 * counts against `timeout`.
 */
function takeLock(config, first, deps) {
    return deps.backend.at(first).lock({
        holder: {
            deploy_id: config.deployId,
            run_url: config.run.runUrl,
            repository: config.run.repository,
            sha: config.run.sha,
            started_at: new Date().toISOString()
        },
        deadline: Date.now() + config.timeoutMs,
        log: deps.log,
        signal: deps.signal,
        onSession: (id) => deps.onLockSession?.(id, first)
    });
}
async function runPipeline(config, deps) {
    const plan = await planStage(config, deps);
    if (config.dryRun)
        return dryRun(config, deps, plan);
    const run = {
        excerpts: [],
        fleet: new FleetState({
            deployId: config.deployId,
            baselineIndex: 0,
            maxFailures: config.maxFailures,
            targets: nodesOfSteps(plan.steps),
            untargeted: plan.filteredOut
        })
    };
    const failed = async (error) => {
        if (isCancelled(deps))
            return cancelledResult(config, deps, run);
        if (run.release)
            await summarize(config, deps, run, {}, {
                error: plainText(String(error.message ?? error), 300)
            })?.catch(() => { });
        throw error;
    };
    const early = await underLock(config, deps, plan, run, () => rollOut(config, deps, plan, run), failed);
    if (early)
        return early;
    if (!run.rollout || isCancelled(deps))
        return cancelledResult(config, deps, run);
    return finalResult(config, deps, run, run.rollout);
}
/**
 * The lock keeps two runs of this app from interleaving latest (and from
 * publishing at once); waiting for it counts against timeout. It is released on
 * success, failure and cancel (a killed runner's lapses with its session), except
 * while an interrupted announcement is unsettled: then no other run may move
 * latest before the post step has put it right.
 */
async function underLock(config, deps, plan, run, body, failed) {
    let lock;
    try {
        lock = await takeLock(config, plan.datacenters[0], deps);
    }
    catch (error) {
        return failed(error);
    }
    try {
        await body();
        return undefined;
    }
    catch (error) {
        return await failed(error);
    }
    finally {
        const name = deps.backend.lockName;
        if (run.lastJournal && !run.lastJournal.settled)
            deps.log.warning(`left the deploy lock ${name} to the post step`);
        else {
            await lock
                .release(isCancelled(deps) ? Date.now() + CANCELLED_LOCK_RELEASE_MS : undefined)
                .catch((error) => deps.log.warning(`could not release the deploy lock ${name} (it frees itself when its session expires): ${error.message}`));
            deps.onLockReleased?.();
        }
    }
}
/** Publish (or find) the release, then the rollout; the verdict is said as soon as it is known. */
async function rollOut(config, deps, plan, run) {
    // What latest names in each datacenter, read once under the lock: the new
    // release's file time and auto-rollback's target both come from it.
    let read;
    const pointers = () => (read ??= Promise.all(plan.datacenters.map((dc) => deps.backend.at(dc).releasePointer(deps.signal))));
    const found = await publishOrFind(config, plan, deps, pointers);
    run.release = found.release;
    run.history = found.history;
    const previous = config.autoRollback
        ? await previousReleases(config, plan, deps, await pointers())
        : undefined;
    const nodeCount = nodesOfSteps(plan.steps).length;
    await deps.log.group(`Announce and wait for ${nodeCount} nodes`, async () => {
        const rollout = await runRollout(plan.steps, rolloutRelease(config, found), {
            backend: deps.backend,
            config,
            log: deps.log,
            signal: deps.signal,
            filteredOut: plan.filteredOut,
            previous,
            // The report tells this run's own announcement; the post step settles whichever
            // announcement was last (auto-rollback's included).
            onJournal: (progress, source) => {
                run.lastJournal = progress;
                if (source === 'rollout')
                    run.journal = progress;
                deps.onAnnounceJournal?.(progress.record);
            },
            onAnnounced: (announced) => announcedTo(config, deps, run, announced),
            onProgress: deps.onProgress
        });
        run.rollout = rollout;
        run.fleet = rollout.fleet;
        run.firedAt = rollout.firstFiredAt ?? run.firedAt;
    });
    // What the user waits for: said before the lock release and the reporting (after
    // failed nodes' logs, only when some failed: the cause ends the line).
    if (isCancelled(deps) || !run.rollout)
        return;
    if (config.wait)
        run.excerpts = await readFailedLogs(run.fleet, deps.backend);
    deps.onVerdict?.(outcome(run.rollout, run.excerpts));
}
function rolloutRelease(config, found) {
    return {
        deployId: config.deployId,
        manifestUrl: found.release.manifestUrl,
        prepareUrl: found.release.prepareUrl,
        switchUrl: found.release.switchUrl,
        history: found.history
    };
}

export { checkOutput as a, checkConclusion as b, commitState as c, connect as d, runPipeline as e, rolloutReport as f, readMembers as g, serfObjectKeys as h, deployIdOfManifest as i, serfResultTagName as j, parseSerfResult as k, readCatalog as l, serfAgent as m, parseResult as p, runConclusion as r, statusDescription as s };
