// The cluster's replicated state: one raft index, the KV table with its
// graveyard, sessions, lock delays and the catalog. Every HTTP agent reads and
// writes this one object, as every Consul agent forwards to the leader.
import { randomUUID } from 'node:crypto'

export interface DirEntry {
  key: string
  value: Buffer | null
  flags: bigint
  lockIndex: number
  session: string
  createIndex: number
  modifyIndex: number
}

export interface Session {
  id: string
  name: string
  node: string
  lockDelayNs: number
  behavior: 'release' | 'delete'
  ttl: string
  nodeChecks: string[]
  createIndex: number
  modifyIndex: number
  ttlTimer?: NodeJS.Timeout
}

export interface ServiceRecord {
  id: string
  name: string
  tags: string[]
  port: number
  createIndex: number
  modifyIndex: number
}

// api-docs/health.mdx: a check's Status is passing, warning or critical.
export type CheckStatus = 'passing' | 'warning' | 'critical'

export interface CheckRecord {
  checkId: string
  name: string
  status: CheckStatus
  output: string
  /** '' for a node-level check (serfHealth); else the service instance it belongs to */
  serviceId: string
  serviceName: string
  createIndex: number
  modifyIndex: number
}

export interface NodeRecord {
  id: string
  name: string
  address: string
  server: boolean
  meta: Record<string, string>
  services: Map<string, ServiceRecord>
  checks: Map<string, CheckRecord>
  createIndex: number
  modifyIndex: number
}

interface KvWatcher {
  key: string
  prefix: boolean
  wake: () => void
}

// agent/structs: SerfCheckID and the outputs set by leader.go's handleAliveMember / handleFailedMember.
export const SERF_CHECK_ID = 'serfHealth'
export const SERF_CHECK_NAME = 'Serf Health Status'
export const SERF_ALIVE_OUTPUT = 'Agent alive and reachable'
export const SERF_FAILED_OUTPUT = 'Agent not live or unreachable'
// api-docs/health.mdx sample responses: a service's check is `service:<id>`,
// named "Service '<name>' check" (the agent's default for a check defined in a
// service definition without a name).
export function serviceCheckId(serviceId: string): string {
  return `service:${serviceId}`
}
// agent/structs/structs.go: MaxLockDelay caps a session's lock delay at 60s.
const MAX_LOCK_DELAY_MS = 60_000

export class ClusterState {
  raftIndex = 0
  readonly kv = new Map<string, DirEntry>()
  // agent/consul/state/graveyard.go: tombstones keep the index of deletes so list queries see them.
  readonly tombstones = new Map<string, number>()
  kvTableIndex = 0
  sessionsIndex = 0
  nodesIndex = 0
  servicesIndex = 0
  checksIndex = 0
  readonly serviceIndexes = new Map<string, number>()
  readonly sessions = new Map<string, Session>()
  readonly lockDelays = new Map<string, number>()
  readonly nodes = new Map<string, NodeRecord>()
  private sortedKeys: string[] | null = null
  private readonly kvWatchers = new Set<KvWatcher>()
  private readonly catalogWatchers = new Set<() => void>()
  private readonly sessionWatchers = new Set<() => void>()
  // Undo log and deferred wake-ups while a transaction runs (agent/consul/state/txn.go is all-or-nothing).
  private journal: Array<() => void> | null = null
  private pendingKvWakes: Array<{ key: string; tree: boolean }> = []
  private nodeSeq = 0

  readonly datacenter: string

  /** `addressBlock`: node addresses are 10.<block>.x.y, so datacenters do not share addresses */
  constructor(datacenter: string, addressBlock = 0) {
    this.datacenter = datacenter
    this.nodeSeq = (addressBlock & 255) << 16
  }

  nextIndex(): number {
    this.raftIndex += 1
    return this.raftIndex
  }

  // ---- watches: wake only the blockers a change concerns, O(watchers) per change

  watchKv(key: string, prefix: boolean, wake: () => void): () => void {
    const watcher: KvWatcher = { key, prefix, wake }
    this.kvWatchers.add(watcher)
    return () => this.kvWatchers.delete(watcher)
  }

  watchCatalog(wake: () => void): () => void {
    this.catalogWatchers.add(wake)
    return () => this.catalogWatchers.delete(wake)
  }

  watchSessions(wake: () => void): () => void {
    this.sessionWatchers.add(wake)
    return () => this.sessionWatchers.delete(wake)
  }

  private wakeKv(key: string, tree: boolean): void {
    if (this.journal) {
      this.pendingKvWakes.push({ key, tree })
      return
    }
    for (const watcher of [...this.kvWatchers]) {
      const hit = tree
        ? watcher.key.startsWith(key) || (watcher.prefix && key.startsWith(watcher.key))
        : watcher.prefix
          ? key.startsWith(watcher.key)
          : key === watcher.key
      if (hit) watcher.wake()
    }
  }

  notifyCatalog(): void {
    for (const wake of [...this.catalogWatchers]) wake()
  }

  private notifySessions(): void {
    for (const wake of [...this.sessionWatchers]) wake()
  }

  // ---- transactions

  beginTxn(): void {
    this.journal = []
    this.pendingKvWakes = []
  }

  commitTxn(): void {
    const wakes = this.pendingKvWakes
    this.journal = null
    this.pendingKvWakes = []
    for (const wake of wakes) this.wakeKv(wake.key, wake.tree)
  }

  rollbackTxn(): void {
    const undo = this.journal ?? []
    this.journal = null
    this.pendingKvWakes = []
    for (let i = undo.length - 1; i >= 0; i -= 1) undo[i]!()
  }

  private record(undo: () => void): void {
    this.journal?.push(undo)
  }

  // ---- KV primitives (agent/consul/state/kvs.go)

  private putEntry(entry: DirEntry): void {
    const previous = this.kv.get(entry.key)
    const previousTableIndex = this.kvTableIndex
    if (!previous) this.sortedKeys = null
    this.kv.set(entry.key, entry)
    this.kvTableIndex = Math.max(this.kvTableIndex, entry.modifyIndex)
    this.record(() => {
      if (previous) this.kv.set(entry.key, previous)
      else {
        this.kv.delete(entry.key)
        this.sortedKeys = null
      }
      this.kvTableIndex = previousTableIndex
    })
    this.wakeKv(entry.key, false)
  }

  private removeEntry(key: string): void {
    const previous = this.kv.get(key)
    if (!previous) return
    this.kv.delete(key)
    this.sortedKeys = null
    this.record(() => {
      this.kv.set(key, previous)
      this.sortedKeys = null
    })
  }

  private bumpKvTableIndex(idx: number): void {
    const previous = this.kvTableIndex
    this.kvTableIndex = Math.max(previous, idx)
    this.record(() => {
      this.kvTableIndex = previous
    })
  }

  private setTombstone(key: string, idx: number): void {
    const previousTombstone = this.tombstones.get(key)
    const previousTableIndex = this.kvTableIndex
    this.tombstones.set(key, idx)
    this.kvTableIndex = Math.max(this.kvTableIndex, idx)
    this.record(() => {
      if (previousTombstone === undefined) this.tombstones.delete(key)
      else this.tombstones.set(key, previousTombstone)
      this.kvTableIndex = previousTableIndex
    })
  }

  private keysSorted(): string[] {
    // Consul lists KV entries in lexicographic (byte) order from its radix tree.
    if (!this.sortedKeys) this.sortedKeys = [...this.kv.keys()].sort(compareBytes)
    return this.sortedKeys
  }

  listEntries(prefix: string): DirEntry[] {
    const keys = this.keysSorted()
    let low = 0
    let high = keys.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (compareBytes(keys[mid]!, prefix) < 0) low = mid + 1
      else high = mid
    }
    const out: DirEntry[] = []
    for (let i = low; i < keys.length && keys[i]!.startsWith(prefix); i += 1) {
      out.push(this.kv.get(keys[i]!)!)
    }
    return out
  }

  graveyardMaxIndex(prefix: string): number {
    let max = 0
    for (const [key, index] of this.tombstones) {
      if (key.startsWith(prefix) && index > max) max = index
    }
    return max
  }

  // state/kvs.go kvsListTxn: max ModifyIndex under the prefix, tombstones
  // included; an empty prefix uses the table index; nothing found falls back to it.
  listIndex(prefix: string, entries: DirEntry[]): number {
    if (prefix === '') return this.kvTableIndex
    let index = 0
    for (const entry of entries) if (entry.modifyIndex > index) index = entry.modifyIndex
    const graveyard = this.graveyardMaxIndex(prefix)
    if (graveyard > index) index = graveyard
    return index !== 0 ? index : this.kvTableIndex
  }

  // state/kvs.go kvsSetTxn: keeps CreateIndex, keeps the Session unless
  // updateSession, and skips the write when the entry is Equal (no index bump).
  kvSet(
    idx: number,
    input: Omit<DirEntry, 'createIndex' | 'modifyIndex'>,
    updateSession: boolean
  ): DirEntry {
    const existing = this.kv.get(input.key)
    const entry: DirEntry = {
      ...input,
      createIndex: existing ? existing.createIndex : idx,
      modifyIndex: idx
    }
    if (!updateSession) entry.session = existing ? existing.session : ''
    if (existing && entriesEqual(existing, entry)) return existing
    this.putEntry(entry)
    return entry
  }

  // state/kvs.go kvsSetCASTxn: index 0 means "only if absent"; otherwise ModifyIndex must match.
  kvCas(
    idx: number,
    input: Omit<DirEntry, 'createIndex' | 'modifyIndex'>,
    casIndex: number
  ): DirEntry | null {
    const existing = this.kv.get(input.key)
    if (casIndex === 0 && existing) return null
    if (casIndex !== 0 && (!existing || existing.modifyIndex !== casIndex)) return null
    return this.kvSet(idx, input, false)
  }

  // state/kvs.go kvsLockTxn
  kvLock(idx: number, input: Omit<DirEntry, 'createIndex' | 'modifyIndex'>): DirEntry | null {
    if (input.session === '') throw new Error('missing session')
    if (!this.sessions.has(input.session)) throw new Error(`invalid session "${input.session}"`)
    const existing = this.kv.get(input.key)
    let lockIndex = 1
    if (existing) {
      if (existing.session === input.session) lockIndex = existing.lockIndex
      else if (existing.session !== '') return null
      else lockIndex = existing.lockIndex + 1
    }
    return this.kvSet(idx, { ...input, lockIndex }, true)
  }

  // state/kvs.go kvsUnlockTxn: the body replaces the value; LockIndex is kept.
  kvUnlock(idx: number, input: Omit<DirEntry, 'createIndex' | 'modifyIndex'>): DirEntry | null {
    if (input.session === '') throw new Error('missing session')
    const existing = this.kv.get(input.key)
    if (!existing || existing.session !== input.session) return null
    return this.kvSet(idx, { ...input, session: '', lockIndex: existing.lockIndex }, true)
  }

  // agent/consul/kvs_endpoint.go kvsPreApply: a lock inside the lock-delay window is refused.
  inLockDelay(key: string): boolean {
    const until = this.lockDelays.get(key)
    return until !== undefined && until > Date.now()
  }

  kvDelete(idx: number, key: string): void {
    if (!this.kv.has(key)) return
    this.removeEntry(key)
    this.setTombstone(key, idx)
    this.wakeKv(key, false)
  }

  // state/kvs.go kvsDeleteCASTxn: `return entry == nil, nil` when the index does not match.
  kvDeleteCas(idx: number, key: string, casIndex: number): boolean {
    const existing = this.kv.get(key)
    if (!existing || existing.modifyIndex !== casIndex) return existing === undefined
    this.kvDelete(idx, key)
    return true
  }

  // state/kvs.go kvsDeleteTreeTxn: one graveyard entry for the prefix, only if something was deleted.
  kvDeleteTree(idx: number, prefix: string): void {
    const doomed = this.listEntries(prefix)
    if (doomed.length === 0) return
    for (const entry of doomed) this.removeEntry(entry.key)
    if (prefix !== '') this.setTombstone(prefix, idx)
    else this.bumpKvTableIndex(idx) // no tombstone for the whole tree
    this.wakeKv(prefix, true)
  }

  // ---- sessions (agent/consul/state/session.go)

  createSession(input: Omit<Session, 'id' | 'createIndex' | 'modifyIndex'>): Session {
    const node = this.nodes.get(input.node)
    // state/session.go sessionCreateTxn: ErrMissingNode
    if (!node) throw new Error('Missing node registration')
    for (const checkId of input.nodeChecks) {
      const check = node.checks.get(checkId)
      if (!check) throw new Error(`Missing check '${checkId}' registration`)
      if (check.status === 'critical') throw new Error(`Check '${checkId}' is in critical state`)
    }
    const idx = this.nextIndex()
    const session: Session = { ...input, id: randomUUID(), createIndex: idx, modifyIndex: idx }
    this.sessions.set(session.id, session)
    this.sessionsIndex = idx
    this.notifySessions()
    return session
  }

  // state/session.go deleteSessionTxn: release or delete the held keys and
  // start each key's lock delay (capped at MaxLockDelay).
  destroySession(id: string): void {
    const session = this.sessions.get(id)
    if (!session) return
    const idx = this.nextIndex()
    if (session.ttlTimer) clearTimeout(session.ttlTimer)
    this.sessions.delete(id)
    this.sessionsIndex = idx
    const delayMs = Math.min(session.lockDelayNs / 1e6, MAX_LOCK_DELAY_MS)
    const now = Date.now()
    for (const entry of [...this.kv.values()]) {
      if (entry.session !== id) continue
      if (session.behavior === 'release') {
        this.kvSet(idx, { ...entry, session: '' }, true)
      } else {
        this.kvDelete(idx, entry.key)
      }
      if (delayMs > 0) this.lockDelays.set(entry.key, now + delayMs)
    }
    this.notifySessions()
  }

  // agent/consul/session_ttl.go: the TTL timer fires at TTL × SessionTTLMultiplier (2).
  armSessionTtl(session: Session, ttlMs: number): void {
    if (session.ttlTimer) clearTimeout(session.ttlTimer)
    if (ttlMs <= 0) return
    session.ttlTimer = setTimeout(() => this.destroySession(session.id), ttlMs * 2)
    session.ttlTimer.unref()
  }

  // ---- catalog (agent/consul/state/catalog.go)

  registerNode(spec: {
    name: string
    server: boolean
    meta: Record<string, string>
    services: Array<{ name: string; tags: string[]; port: number; check?: CheckStatus }>
  }): NodeRecord {
    const idx = this.nextIndex()
    this.nodeSeq += 1
    const seq = this.nodeSeq
    const node: NodeRecord = {
      id: randomUUID(),
      name: spec.name,
      address: `10.${(seq >> 16) & 255}.${(seq >> 8) & 255}.${seq & 255}`,
      server: spec.server,
      meta: { 'consul-network-segment': '', ...spec.meta },
      services: new Map(),
      checks: new Map(),
      createIndex: idx,
      modifyIndex: idx
    }
    // agent/consul/leader.go reconcileMember: servers register the "consul" service on themselves.
    const services = spec.server
      ? [{ name: 'consul', tags: [], port: 8300 }, ...spec.services]
      : spec.services
    for (const service of services) {
      node.services.set(service.name, {
        id: service.name,
        name: service.name,
        tags: service.tags,
        port: service.port,
        createIndex: idx,
        modifyIndex: idx
      })
      this.serviceIndexes.set(service.name, idx)
    }
    node.checks.set(SERF_CHECK_ID, {
      checkId: SERF_CHECK_ID,
      name: SERF_CHECK_NAME,
      status: 'passing',
      output: SERF_ALIVE_OUTPUT,
      serviceId: '',
      serviceName: '',
      createIndex: idx,
      modifyIndex: idx
    })
    for (const service of services) {
      if (!('check' in service) || service.check === undefined) continue
      const checkId = serviceCheckId(service.name)
      node.checks.set(checkId, {
        checkId,
        name: `Service '${service.name}' check`,
        status: service.check,
        output: '',
        serviceId: service.name,
        serviceName: service.name,
        createIndex: idx,
        modifyIndex: idx
      })
    }
    this.nodes.set(node.name, node)
    this.nodesIndex = idx
    this.servicesIndex = idx
    this.checksIndex = idx
    this.notifyCatalog()
    return node
  }

  deregisterNode(name: string): void {
    const node = this.nodes.get(name)
    if (!node) return
    // state/catalog.go deleteNodeTxn also invalidates the node's sessions.
    for (const session of [...this.sessions.values()])
      if (session.node === name) this.destroySession(session.id)
    const idx = this.nextIndex()
    this.nodes.delete(name)
    for (const service of node.services.values()) this.serviceIndexes.set(service.name, idx)
    this.nodesIndex = idx
    this.servicesIndex = idx
    this.checksIndex = idx
    this.notifyCatalog()
  }

  setSerfHealth(name: string, status: 'passing' | 'critical'): void {
    this.setCheck(
      name,
      SERF_CHECK_ID,
      status,
      status === 'passing' ? SERF_ALIVE_OUTPUT : SERF_FAILED_OUTPUT
    )
  }

  /**
   * A check's status (and output) changes, as the agent's anti-entropy sync
   * writes it to the catalog: state/catalog.go ensureCheckTxn. False when the
   * node or check does not exist; an unchanged status and output is no write.
   */
  setCheck(name: string, checkId: string, status: CheckStatus, output?: string): boolean {
    const node = this.nodes.get(name)
    const check = node?.checks.get(checkId)
    if (!node || !check) return false
    const nextOutput = output ?? check.output
    if (check.status === status && check.output === nextOutput) return true
    const idx = this.nextIndex()
    check.status = status
    check.output = nextOutput
    check.modifyIndex = idx
    this.checksIndex = idx
    // state/catalog.go ensureCheckTxn: a node-level check bumps every service
    // index of the node, a service check that service's index.
    for (const service of node.services.values())
      if (check.serviceId === '' || check.serviceId === service.id)
        this.serviceIndexes.set(service.name, idx)
    this.servicesIndex = Math.max(this.servicesIndex, idx)
    this.notifyCatalog()
    // state/catalog.go ensureCheckTxn: a critical check invalidates the sessions tied to it.
    if (status === 'critical') {
      for (const session of [...this.sessions.values()]) {
        if (session.node === name && session.nodeChecks.includes(checkId))
          this.destroySession(session.id)
      }
    }
    return true
  }

  isLive(name: string): boolean {
    return this.nodes.get(name)?.checks.get(SERF_CHECK_ID)?.status === 'passing'
  }
}

// structs.DirEntry.Equal: everything but the raft indexes.
function entriesEqual(a: DirEntry, b: DirEntry): boolean {
  const sameValue =
    a.value === null || b.value === null
      ? (a.value?.length ?? 0) === 0 && (b.value?.length ?? 0) === 0
      : a.value.equals(b.value)
  return (
    a.key === b.key &&
    a.flags === b.flags &&
    a.lockIndex === b.lockIndex &&
    a.session === b.session &&
    sameValue
  )
}

// UTF-16 order equals UTF-8 byte order except for astral characters; keys are ASCII in practice.
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
