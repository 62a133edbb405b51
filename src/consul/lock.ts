// The deploy lock: `<kv-prefix>/lock` held through a Consul session while a
// deploy runs, so two runs of one app never interleave `latest`. Consul's own
// lock recipe (research §6): a TTL session with behavior release, acquire,
// renew every TTL/2, release, then destroy. Releasing before destroying matters:
// destroying a session that holds a lock starts the lock delay (15 s) for the
// next run; a plain release does not.
import type { ConsulClient } from './client.ts'
import { ConsulError } from './client.ts'
import type { HeldLock, LockHolder } from '../backend/fleet-backend.ts'
import type { Log } from '../shared/log.ts'
import { plainText } from '../shared/text.ts'

export const LOCK_TTL_S = 30

function describeHolder(value: string | null): string {
  if (!value) return 'another run'
  try {
    const h = JSON.parse(value) as Partial<LockHolder>
    const who = [h.run_url, h.deploy_id ? `deploy ${h.deploy_id}` : undefined]
      .filter(Boolean)
      .join(', ')
    return who ? plainText(who, 300) : 'another run'
  } catch {
    return 'another run'
  }
}

/** Release and destroy a session's lock; used by release() and by the post step. */
export async function releaseLock(
  consul: ConsulClient,
  key: string,
  sessionId: string,
  /** give up at this epoch ms (a cancelled run has little time; the TTL frees it anyway) */
  deadline?: number
): Promise<void> {
  const bounded = () =>
    deadline === undefined
      ? {}
      : { retryUntil: deadline, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) }
  try {
    await consul.kvPut(key, '', {
      release: sessionId,
      permission: `key:write on "${key}"`,
      ...bounded()
    })
  } finally {
    await consul.request('PUT', `session/destroy/${sessionId}`, {
      permission: 'session:write',
      ...bounded()
    })
  }
}

interface AcquireOptions {
  key: string
  holder: LockHolder
  /** the node the session is attached to, when not the agent's own (a lock in another datacenter) */
  node?: string
  deadline: number
  log: Log
  signal?: AbortSignal
  onSession?: (id: string) => void
}

/** A session on the lock key: renewed every TTL/2 from its start until released. */
class SessionLock implements HeldLock {
  readonly sessionId: string
  private holding = false
  private renewTimer: NodeJS.Timeout | undefined
  private readonly consul: ConsulClient
  private readonly key: string
  private readonly log: Log

  constructor(consul: ConsulClient, key: string, sessionId: string, log: Log) {
    this.consul = consul
    this.key = key
    this.sessionId = sessionId
    this.log = log
    // Renew from the start: waiting for the lock can outlast a TTL.
    this.renewTimer = setInterval(() => void this.renew(), (LOCK_TTL_S * 1000) / 2)
    this.renewTimer.unref()
  }

  get held(): boolean {
    return this.holding
  }

  acquired(): void {
    this.holding = true
  }

  async release(deadline?: number): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer)
    this.renewTimer = undefined
    this.holding = false
    await releaseLock(this.consul, this.key, this.sessionId, deadline)
  }

  private async renew(): Promise<void> {
    try {
      await this.consul.request('PUT', `session/renew/${this.sessionId}`, {
        permission: 'session:write'
      })
    } catch (error) {
      // 404: the session is gone (TTL lapsed, node critical); the lock went with it.
      if (error instanceof ConsulError && error.status === 404) {
        this.holding = false
        if (this.renewTimer) clearInterval(this.renewTimer)
        this.log.warning(`lost the deploy lock ${this.key}: its Consul session expired`)
      } else
        this.log.debug(`renewing the lock session failed, will retry: ${(error as Error).message}`)
    }
  }
}

async function createSession(consul: ConsulClient, opts: AcquireOptions): Promise<string> {
  const created = await consul.request('PUT', 'session/create', {
    body: JSON.stringify({
      Name: `stretcher-action ${opts.key}`,
      TTL: `${LOCK_TTL_S}s`,
      Behavior: 'release',
      ...(opts.node ? { Node: opts.node } : {})
    }),
    permission: 'session:write',
    signal: opts.signal
  })
  return (JSON.parse(created.body) as { ID: string }).ID
}

/** Try to acquire the key for the session until it is ours; between tries, wait for it to change. */
async function waitForLock(
  consul: ConsulClient,
  sessionId: string,
  opts: AcquireOptions
): Promise<void> {
  const { key, log } = opts
  let announcedHolder = ''
  for (;;) {
    const acquired = await consul.kvPut(key, JSON.stringify(opts.holder), {
      acquire: sessionId,
      permission: `key:write on "${key}"`,
      signal: opts.signal
    })
    if (acquired) return
    const current = await consul.kvGet(key, { signal: opts.signal })
    const entry = current.entries[0]
    const holder = describeHolder(entry?.value ?? null)
    if (holder !== announcedHolder) {
      log.info(`waiting for the deploy lock ${key}, held by ${holder}`)
      announcedHolder = holder
    }
    const remaining = opts.deadline - Date.now()
    if (remaining <= 0)
      throw new Error(`gave up waiting for the deploy lock ${key}: still held by ${holder}`)
    if (entry?.session) {
      // Block until the lock key changes (released, or its session gone).
      await consul.kvGet(key, {
        index: current.index,
        waitMs: Math.min(remaining, 60_000),
        signal: opts.signal,
        retryUntil: opts.deadline
      })
    } else {
      // Free but refused: Consul's lock delay after an invalidated session (up to 15 s).
      await new Promise((r) => setTimeout(r, Math.min(1000, remaining)))
    }
  }
}

/**
 * Take the lock, waiting (blocking queries on the lock key) while another run
 * holds it, until `deadline`. Resolves with a lock that renews itself.
 */
export async function acquireLock(consul: ConsulClient, opts: AcquireOptions): Promise<HeldLock> {
  const sessionId = await createSession(consul, opts)
  opts.onSession?.(sessionId)
  const lock = new SessionLock(consul, opts.key, sessionId, opts.log)
  try {
    await waitForLock(consul, sessionId, opts)
    lock.acquired()
    opts.log.info(`holding the deploy lock ${opts.key}`)
    return lock
  } catch (error) {
    await lock.release().catch(() => undefined)
    throw error
  }
}
