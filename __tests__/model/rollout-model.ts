// A small pure model of contract 8 and 8a (staged rollout, what a staged run
// says), written from /work/shared/CONTRACT.md and not from the executor: given
// a scenario it predicts each node's final state and what it holds, the counts,
// the release `latest` names in each datacenter, the exit code, the conclusion
// and the cause. Where the contract leaves a choice open (or the timing does,
// as for a cancel), a prediction lists every answer it allows.
import type { CauseKind, NodeState, Scenario } from './scenario.ts'
import {
  datacenterName,
  faultyNode,
  joinerOf,
  nodesOf,
  previousInOtherLayout,
  RELEASE,
  releasesOf
} from './scenario.ts'

export interface NodePrediction {
  /** its key in the local fleet: its name, or `<dc>/<name>` when the name is in both datacenters */
  node: string
  /** set with two datacenters */
  datacenter?: string
  /** the states its `results` row may have; 'absent' when it may have none */
  states: Array<NodeState | 'absent'>
  /** the deploy IDs its tree (`current` with layout releases) may hold; '' for none */
  holds: string[]
  /** its `results/<node>` must hold this deploy ID with success */
  reported?: string
}

export interface Prediction {
  /** the input a bad-input run names; nothing is written then */
  refusal?: string
  nodes: NodePrediction[]
  code: 0 | 1
  conclusion: 'success' | 'failure' | 'timed_out' | 'cancelled'
  cause?: { kind: CauseKind; nodes: string[] }
  /** the deploy ID `deploy-id` (and `latest`) names per datacenter, undefined for none */
  latest: Record<string, string | undefined>
  /** the `rolled-back` output: true, false, or either */
  rolledBack: boolean | 'either'
  wavesCompleted: number[]
}

/** Contract 8 `waves`: cumulative counts over `targets` nodes, or undefined when invalid. */
export function waveCounts(input: string | undefined, targets: number): number[] | undefined {
  if (input === undefined) return [targets]
  const counts: number[] = []
  for (const raw of input.split(/[,\n]/).map((w) => w.trim())) {
    const percent = /^(\d+)%$/.exec(raw)
    const n = percent ? Math.max(1, Math.ceil((Number(percent[1]) * targets) / 100)) : Number(raw)
    if (!Number.isInteger(n) || n < 1) return undefined
    const capped = Math.min(n, targets)
    if (counts.length > 0 && capped <= counts[counts.length - 1]!) return undefined
    counts.push(capped)
  }
  return counts
}

interface Step {
  dc: number
  kind: 'prepare' | 'wave'
  nodes: string[]
  /** the last wave of a datacenter covering all its targets: `latest` moves just before it */
  movesLatest: boolean
}

/** The targets of datacenter `dc` and the steps over them (prepare, then the waves). */
function stepsOf(s: Scenario, dc: number): Step[] {
  const all = nodesOf(s, dc)
  // promote: the first node of each datacenter holds the release already.
  const targets = s.mode === 'promote' ? all.slice(1) : all
  const counts = waveCounts(s.waves, targets.length) ?? []
  // Contract 9: a node that keeps the release gets a switch only.
  const toPrepare = s.layout === 'releases' ? targets.filter((n) => !keepsRelease(s, n)) : []
  const steps: Step[] =
    toPrepare.length > 0 ? [{ dc, kind: 'prepare', nodes: toPrepare, movesLatest: false }] : []
  counts.forEach((count, i) => {
    const last = i === counts.length - 1
    const nodes = targets.slice(i === 0 ? 0 : counts[i - 1], count)
    // Nodes that join during the rollout are part of the last wave.
    if (last && s.fault.kind === 'join' && s.fault.dc === dc) nodes.push(joinerOf(s))
    steps.push({ dc, kind: 'wave', nodes, movesLatest: last && count === targets.length })
  })
  return steps
}

/** A bad input the run must refuse before writing anything (contract 2b, config). */
export function refusalOf(s: Scenario): string | undefined {
  if (!s.wait) {
    if (s.waves !== undefined) return 'waves'
    if (s.bake) return 'bake-time'
    if (s.autoRollback) return 'auto-rollback'
    if (s.layout === 'releases') return 'layout'
  }
  for (let dc = 0; dc < s.datacenters; dc++) {
    const targets = s.mode === 'promote' ? s.nodesPerDc - 1 : s.nodesPerDc
    if (waveCounts(s.waves, targets) === undefined) return 'waves'
  }
  return undefined
}

/**
 * layout releases: promote and rollback-to announce a release the nodes
 * prepared before (the partial rollout prepared every target; rollback-to's
 * release is kept), except the silent node, started after the setup.
 */
function keepsRelease(s: Scenario, node: string): boolean {
  return s.mode !== 'deploy' && !(s.fault.kind === 'silent' && node === faultyNode(s))
}

/** A node past the last wave of a partial rollout (in no wave at all). */
function partialRemainder(s: Scenario, node: string): boolean {
  return range(s).some((dc) => {
    const steps = stepsOf(s, dc).filter((st) => st.kind === 'wave')
    const inWave = steps.some((st) => st.nodes.includes(node))
    return !inWave && nodesOf(s, dc).includes(node) && !steps[steps.length - 1]!.movesLatest
  })
}

/**
 * What a node's tree in the run's layout held before the run (setup: see
 * releasesOf); a joiner boots from `latest`. A previous release published in
 * the other layout is in the other tree (/srv/web or <dest>/current): this one is empty.
 */
export function heldBefore(s: Scenario, node: string): string {
  if (previousInOtherLayout(s)) return ''
  if (s.mode === 'rollback-to') return RELEASE.b
  if (s.mode === 'promote') return isFirst(s, node) ? RELEASE.b : RELEASE.a
  return s.previous ? RELEASE.a : ''
}

const range = (s: Scenario) => Array.from({ length: s.datacenters }, (_, i) => i)
const isFirst = (s: Scenario, node: string) => range(s).some((dc) => nodesOf(s, dc)[0] === node)

interface Walk {
  states: Map<string, NodeState>
  /** nodes of the step that failed, which may not have reported by the verdict (it stops at once) */
  unsure: Set<string>
  /** failed or silent in the prepare: left out of the switch (contract 9) */
  unprepared: Set<string>
  /** a wave (a switch with layout releases) was sent */
  waveSent: boolean
  /** nodes sent this run's release, in order */
  sent: string[]
  moved: Set<number>
  failures: number
  passedWaves: number
  stop?: { kind: CauseKind; nodes: string[] }
}

/** One step: each node's outcome, then whether the run stops (contract 8, 8a). */
function runStep(s: Scenario, step: Step, walk: Walk): void {
  const faulty = faultyNode(s)
  const nodes = step.nodes.filter((n) => !walk.unprepared.has(n))
  if (step.movesLatest) walk.moved.add(step.dc)
  if (step.kind === 'wave') walk.waveSent = true
  walk.sent.push(...nodes.filter((n) => !walk.sent.includes(n)))
  const silent: string[] = []
  const failed: string[] = []
  // The fleet's failing node cannot unpack the release: only a step with the archive fails.
  const unpacks = step.kind === 'prepare' || s.layout === 'in-place'
  for (const node of nodes) {
    if (node === faulty && s.fault.kind === 'fail' && unpacks) failed.push(node)
    else if (node === faulty && s.fault.kind === 'silent') silent.push(node)
    else walk.states.set(node, step.kind === 'prepare' ? 'prepared' : 'succeeded')
  }
  for (const node of failed) walk.states.set(node, 'failed')
  for (const node of silent) walk.states.set(node, 'silent')
  walk.failures += failed.length + silent.length
  if (step.kind === 'prepare') for (const n of [...failed, ...silent]) walk.unprepared.add(n)
  if (walk.failures > s.maxFailures) {
    if (failed.length > 0) for (const n of nodes) if (!failed.includes(n)) walk.unsure.add(n)
    walk.stop =
      failed.length > 0 ? { kind: 'failed', nodes: failed } : { kind: 'timeout', nodes: silent }
    return
  }
  // A check seen critical during the bake fails the wave at once (no bake: no gate).
  const crashed = step.kind === 'wave' && s.bake && s.fault.kind === 'critical'
  if (crashed && faulty !== undefined && nodes.includes(faulty)) {
    walk.stop = { kind: 'critical', nodes: [faulty] }
    return
  }
  if (step.kind === 'wave') walk.passedWaves++
}

/** The cancel lands right after the run's first event: only that step's nodes were sent. */
function cancelled(s: Scenario, first: Step): Prediction {
  const { release } = releasesOf(s)
  const nodes = everyNode(s).map((p): NodePrediction => {
    if (isPartialNode(s, p.node)) return untouchedPartial(p)
    if (!first.nodes.includes(p.node))
      return {
        ...p,
        states: partialRemainder(s, p.node) ? ['not sent', 'absent'] : ['not sent'],
        holds: [heldBefore(s, p.node)]
      }
    const done = first.kind === 'prepare' ? 'prepared' : 'succeeded'
    const holds =
      first.kind === 'prepare' ? [heldBefore(s, p.node)] : [heldBefore(s, p.node), release]
    return { ...p, states: [done, 'pending', 'silent', 'failed'], holds }
  })
  const latest = latestBefore(s)
  if (first.movesLatest) latest[datacenterName(first.dc)] = release
  return {
    nodes,
    code: 1,
    conclusion: 'cancelled',
    cause: { kind: 'cancel', nodes: [] },
    latest,
    rolledBack: false,
    wavesCompleted: [0]
  }
}

/** promote: a datacenter's first node got the release in the earlier partial rollout. */
const isPartialNode = (s: Scenario, node: string) => s.mode === 'promote' && isFirst(s, node)

/** A node of the earlier partial rollout, which no rollback touched: not a target. */
const untouchedPartial = (p: NodePrediction): NodePrediction => ({
  ...p,
  states: ['absent'],
  holds: [RELEASE.b],
  reported: RELEASE.b
})

function everyNode(s: Scenario): NodePrediction[] {
  const list: NodePrediction[] = []
  for (const dc of range(s)) {
    const names = nodesOf(s, dc)
    if (s.fault.kind === 'join' && s.fault.dc === dc) names.push(joinerOf(s))
    for (const node of names)
      list.push({
        node,
        ...(s.datacenters > 1 ? { datacenter: datacenterName(dc) } : {}),
        states: [],
        holds: []
      })
  }
  return list
}

function latestBefore(s: Scenario): Record<string, string | undefined> {
  const { previous } = releasesOf(s)
  return Object.fromEntries(range(s).map((dc) => [datacenterName(dc), previous]))
}

/** The model: every node's final state, the counts' inputs, `latest`, the exit and the cause. */
export function predict(s: Scenario): Prediction {
  const refusal = refusalOf(s)
  if (refusal !== undefined) return refused(s, refusal)
  const steps = range(s).flatMap((dc) => stepsOf(s, dc))
  if (s.cancel) return cancelled(s, steps[0]!)
  const walk: Walk = {
    states: new Map(),
    unsure: new Set(),
    unprepared: new Set(),
    waveSent: false,
    sent: [],
    moved: new Set(),
    failures: 0,
    passedWaves: 0
  }
  for (const step of steps) {
    runStep(s, step, walk)
    if (walk.stop) break
  }
  if (!s.wait) return notWaited(s, walk)
  return walk.stop ? failedRun(s, walk) : succeededRun(s, walk)
}

function refused(s: Scenario, input: string): Prediction {
  return {
    refusal: input,
    nodes: everyNode(s)
      .filter((p) => s.fault.kind !== 'join' || p.node !== joinerOf(s))
      .map((p) => ({ ...p, states: ['absent'], holds: [heldBefore(s, p.node)] })),
    code: 1,
    conclusion: 'failure',
    cause: { kind: 'refusal', nodes: [] },
    latest: latestBefore(s),
    rolledBack: false,
    wavesCompleted: [0]
  }
}

/** `wait: false`: fired in every datacenter, in order; the run succeeds without a verdict. */
function notWaited(s: Scenario, walk: Walk): Prediction {
  const { release } = releasesOf(s)
  const faulty = faultyNode(s)
  const nodes = everyNode(s).map((p): NodePrediction => {
    if (isPartialNode(s, p.node)) return untouchedPartial(p)
    const holds = p.node === faulty ? [heldBefore(s, p.node)] : [release]
    return { ...p, states: ['pending', 'succeeded', 'failed', 'silent'], holds }
  })
  const latest = Object.fromEntries(range(s).map((dc) => [datacenterName(dc), release]))
  void walk
  return {
    nodes,
    code: 0,
    conclusion: 'success',
    latest,
    rolledBack: false,
    wavesCompleted: [0, 1]
  }
}

function succeededRun(s: Scenario, walk: Walk): Prediction {
  const { release } = releasesOf(s)
  const nodes = everyNode(s).map((p) =>
    isPartialNode(s, p.node)
      ? untouchedPartial(p)
      : settled(s, p, walk.states.get(p.node) ?? 'not sent', release)
  )
  const latest = latestBefore(s)
  for (const dc of walk.moved) latest[datacenterName(dc)] = release
  return {
    nodes,
    code: 0,
    conclusion: 'success',
    latest,
    rolledBack: false,
    // "1 for a run without waves that succeeded in every datacenter"
    wavesCompleted: [s.waves === undefined ? 1 : walk.passedWaves]
  }
}

/** A node's prediction from its state, when no rollback touched it. */
function settled(
  s: Scenario,
  p: NodePrediction,
  state: NodeState,
  release: string,
  unsure = false
): NodePrediction {
  const before = heldBefore(s, p.node)
  // Sent with the node that failed the step: reported, or not yet, by the verdict.
  if (unsure)
    return {
      ...p,
      states: [state, 'silent', 'pending'],
      holds: [state === 'succeeded' ? release : before]
    }
  if (state === 'succeeded') return { ...p, states: [state], holds: [release], reported: release }
  // Past a partial rollout's last wave a node is in no wave: a row "not sent", or none.
  if (state === 'not sent' && partialRemainder(s, p.node))
    return { ...p, states: ['not sent', 'absent'], holds: [before] }
  return { ...p, states: [state], holds: [before] }
}

function failedRun(s: Scenario, walk: Walk): Prediction {
  const { release, previous } = releasesOf(s)
  const stop = walk.stop!
  const rollback = s.autoRollback && previous !== undefined
  const latest = latestBefore(s)
  if (!rollback) for (const dc of walk.moved) latest[datacenterName(dc)] = release
  const nodes = everyNode(s).map((p) => {
    const state = walk.states.get(p.node) ?? 'not sent'
    if (!rollback)
      return isPartialNode(s, p.node)
        ? untouchedPartial(p)
        : settled(s, p, state, release, walk.unsure.has(p.node))
    return rolledBackNode(s, p, state, walk, previous)
  })
  const switched = walk.waveSent
  const passed = walk.passedWaves
  return {
    nodes,
    code: 1,
    conclusion: stop.kind === 'timeout' ? 'timed_out' : 'failure',
    cause: stop,
    latest,
    rolledBack: rollback ? (s.layout === 'releases' && !switched ? 'either' : true) : false,
    // "1 for a run without `waves` that succeeded in every datacenter, 0 when nothing passed"
    wavesCompleted: s.waves === undefined ? [0] : [passed]
  }
}

/**
 * Auto-rollback sends the previous release to every node that was sent this one
 * (and, for promote, to the nodes of the earlier partial rollout); a node that
 * hears nothing (silent) stays where it was. It uses the run's layout (8a, 9):
 * a previous release published in the other layout reaches the run's tree as
 * a release prepared and switched to (releases) or synced in place. A node
 * whose `current` never left what it held (prepared only, failed at the
 * prepare) is on the previous release when it held it; when its tree held
 * nothing (the other layout), it may stay empty or get the previous release.
 */
function rolledBackNode(
  s: Scenario,
  p: NodePrediction,
  state: NodeState,
  walk: Walk,
  previous: string
): NodePrediction {
  const before = heldBefore(s, p.node)
  const silent = state === 'silent'
  if (silent) return { ...p, states: ['silent'], holds: [before] }
  if (isPartialNode(s, p.node))
    return { ...p, states: ['rolled back', 'absent'], holds: [previous] }
  if (!walk.sent.includes(p.node))
    return {
      ...p,
      states: partialRemainder(s, p.node) ? ['not sent', 'absent'] : ['not sent'],
      holds: [before]
    }
  const maybe = walk.unsure.has(p.node) ? (['silent', 'pending'] as const) : []
  const unmoved = before === previous ? [previous] : [before, previous]
  if (!walk.waveSent) return { ...p, states: [state, 'rolled back', ...maybe], holds: unmoved }
  // Prepared only (layout releases): `current` never left what it held.
  if (state === 'prepared') return { ...p, states: ['prepared', 'rolled back'], holds: unmoved }
  if (state === 'failed' && s.layout === 'releases')
    return { ...p, states: ['failed', 'rolled back'], holds: unmoved }
  if (maybe.length > 0) return { ...p, states: ['rolled back', ...maybe], holds: [previous] }
  return { ...p, states: ['rolled back'], holds: [previous], reported: previous }
}

/**
 * Regions of the space where the contract does not say what happens (the
 * generator leaves them out; each names why).
 */
export function openQuestion(s: Scenario): string | undefined {
  const counts = waveCounts(s.waves, s.mode === 'promote' ? s.nodesPerDc - 1 : s.nodesPerDc)
  const waves = counts?.length ?? 1
  const lastWaveStart = counts && counts.length > 1 ? counts[counts.length - 2]! : 0
  if (
    s.fault.kind === 'silent' &&
    s.maxFailures > 0 &&
    waves > 1 &&
    s.fault.position < lastWaveStart
  )
    return "a tolerated silent node before the last wave: `timeout` is the whole run's budget"
  if (s.fault.kind === 'silent' && s.maxFailures > 0 && s.layout === 'releases')
    return 'a tolerated silent node at the prepare: the switch gets what is left of `timeout`'
  if (s.fault.kind === 'join') {
    if (s.layout !== 'in-place')
      return 'a joiner with layout releases: prepared with the last switch?'
    if (
      waves < 2 ||
      (counts && counts[counts.length - 1]! < s.nodesPerDc - (s.mode === 'promote' ? 1 : 0))
    )
      return 'a joiner outside a staged, complete rollout'
    if (s.fault.dc !== 0 || s.cancel || !s.wait)
      return 'a joiner after the first datacenter, or cancelled'
  }
  if (s.fault.kind === 'silent' && s.mode === 'promote' && s.fault.position === 0)
    return "the partial rollout's node is not a promote target"
  return undefined
}
