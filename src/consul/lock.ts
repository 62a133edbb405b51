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

/**
 * Take the lock, waiting (blocking queries on the lock key) while another run
 * holds it, until `deadline`. Resolves with a lock that renews itself.
 */
export async function acquireLock(
  consul: ConsulClient,
  opts: {
    key: string
    holder: LockHolder
    /** the node the session is attached to, when not the agent's own (a lock in another datacenter) */
    node?: string
    deadline: number
    log: Log
    signal?: AbortSignal
    onSession?: (id: string) => void
  }
): Promise<HeldLock> {
  const { key, log } = opts
  const created = await consul.request('PUT', 'session/create', {
    body: JSON.stringify({
      Name: `stretcher-action ${key}`,
      TTL: `${LOCK_TTL_S}s`,
      Behavior: 'release',
      ...(opts.node ? { Node: opts.node } : {})
    }),
    permission: 'session:write',
    signal: opts.signal
  })
  const sessionId = (JSON.parse(created.body) as { ID: string }).ID
  opts.onSession?.(sessionId)
  let held = false
  let renewTimer: NodeJS.Timeout | undefined
  const lock: HeldLock = {
    sessionId,
    get held() {
      return held
    },
    async release(deadline?: number) {
      if (renewTimer) clearInterval(renewTimer)
      renewTimer = undefined
      held = false
      await releaseLock(consul, key, sessionId, deadline)
    }
  }
  const renew = async () => {
    try {
      await consul.request('PUT', `session/renew/${sessionId}`, { permission: 'session:write' })
    } catch (error) {
      // 404: the session is gone (TTL lapsed, node critical); the lock went with it.
      if (error instanceof ConsulError && error.status === 404) {
        held = false
        if (renewTimer) clearInterval(renewTimer)
        log.warning(`lost the deploy lock ${key}: its Consul session expired`)
      } else log.debug(`renewing the lock session failed, will retry: ${(error as Error).message}`)
    }
  }
  // Renew from the start: waiting for the lock can outlast a TTL.
  renewTimer = setInterval(() => void renew(), (LOCK_TTL_S * 1000) / 2)
  renewTimer.unref()

  try {
    let announcedHolder = ''
    for (;;) {
      const acquired = await consul.kvPut(key, JSON.stringify(opts.holder), {
        acquire: sessionId,
        permission: `key:write on "${key}"`,
        signal: opts.signal
      })
      if (acquired) {
        held = true
        log.info(`holding the deploy lock ${key}`)
        return lock
      }
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
  } catch (error) {
    await lock.release().catch(() => undefined)
    throw error
  }
}
