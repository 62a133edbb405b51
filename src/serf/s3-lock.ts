// The deploy lock of a Serf fleet (contract 13): the S3 object
// `<s3-prefix>/<app>/lock`, created with a conditional write (`If-None-Match: *`)
// holding who took it, when, and a random session id; deleted at the end (and by
// the post step) only while it still holds that id. A second run polls for it
// within its deadline, saying who holds it. An endpoint that ignores the
// condition would let two runs in at once: right after taking the lock a second
// conditional write of it must come back `exists`, else the run fails.
import { randomUUID } from 'node:crypto'
import type {
  HeldLock,
  LockHolder,
  LockRequest,
  LockState,
  ObjectStore
} from '../backend/fleet-backend.ts'
import { plainText } from '../shared/text.ts'
import { sleep } from '../shared/sleep.ts'

/** What the lock object holds: the holder, and the session that took it. */
export interface LockObject extends Partial<LockHolder> {
  session?: string
}

/** How often a waiting run tries again, and says again who holds the lock. */
export const LOCK_POLL_MS = 1000
const SAY_AGAIN_MS = 10_000

function parseLock(text: string | undefined): LockObject | undefined {
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed && typeof parsed === 'object' ? (parsed as LockObject) : {}
  } catch {
    return {}
  }
}

function describeHolder(lock: LockObject): string {
  const who = [
    lock.run_url,
    lock.deploy_id ? `deploy ${lock.deploy_id}` : undefined,
    lock.started_at ? `since ${lock.started_at}` : undefined
  ]
    .filter(Boolean)
    .join(', ')
  return who ? plainText(who, 300) : 'another run'
}

/** Bounded by `deadline` (epoch ms) when one is given. */
function within<T>(work: Promise<T>, deadline: number | undefined, what: string): Promise<T> {
  if (deadline === undefined) return work
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer from S3 in time`)),
      Math.max(1, deadline - Date.now())
    )
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/**
 * Delete the lock object when it still holds `sessionId` (another run's lock is
 * never removed). Used by release() and by the post step.
 */
export async function releaseS3Lock(
  store: ObjectStore,
  key: string,
  sessionId: string,
  deadline?: number
): Promise<'released' | 'not ours' | 'gone'> {
  return within(
    (async () => {
      const lock = parseLock(await store.readText(key))
      if (lock === undefined) return 'gone'
      if (lock.session !== sessionId) return 'not ours'
      await store.remove(key)
      return 'released'
    })(),
    deadline,
    `releasing the deploy lock s3://${store.bucket}/${key}`
  )
}

/** Who holds the lock, read without taking it. */
export async function readS3Lock(store: ObjectStore, key: string): Promise<LockState> {
  const lock = parseLock(await store.readText(key))
  if (lock === undefined) return { held: false }
  const { session, ...holder } = lock
  return { held: true, session: session ?? '', holder, name: `s3://${store.bucket}/${key}` }
}

/**
 * Take the lock, waiting while another run holds it until `request.deadline`;
 * throws when the deadline passes, the signal aborts, or the endpoint ignores
 * the condition.
 */
export async function acquireS3Lock(
  store: ObjectStore,
  key: string,
  request: LockRequest
): Promise<HeldLock> {
  const name = `s3://${store.bucket}/${key}`
  const sessionId = randomUUID()
  const body = JSON.stringify({ ...request.holder, session: sessionId } satisfies LockObject)
  // Said before the first write: a run killed right after it leaves the post
  // step what it needs to remove the lock (only while it holds this id).
  request.onSession?.(sessionId)
  let said = ''
  let saidAt = 0
  for (;;) {
    request.signal?.throwIfAborted()
    const outcome = await store.writeText(key, body, { ifNoneMatch: '*' })
    let mine = outcome === 'written'
    if (!mine) {
      const lock = parseLock(await store.readText(key))
      // Our own write, answered late and retried: S3 then says it exists.
      if (lock?.session === sessionId) mine = true
      else if (lock !== undefined) {
        const holder = describeHolder(lock)
        if (holder !== said || Date.now() - saidAt >= SAY_AGAIN_MS) {
          request.log.info(`waiting for the deploy lock ${name}, held by ${holder}`)
          said = holder
          saidAt = Date.now()
        }
        const remaining = request.deadline - Date.now()
        if (remaining <= 0)
          throw new Error(
            `gave up waiting for the deploy lock ${name}: still held by ${holder} (if that run is gone, delete the object)`
          )
        await sleep(Math.min(LOCK_POLL_MS, remaining), request.signal)
      }
      // gone between the write and the read: try again at once
    }
    if (!mine) continue
    if (outcome === 'written') {
      // The lock is only a lock when the endpoint keeps the condition.
      const again = await store.writeText(key, body, { ifNoneMatch: '*' })
      if (again === 'written') {
        await store.remove(key).catch(() => undefined)
        throw new Error(
          `the S3 endpoint ignores If-None-Match (a second conditional write of ${name} succeeded), so the deploy lock cannot be trusted: use an endpoint with conditional writes (AWS S3 has them since 2024)`
        )
      }
    }
    request.log.info(`holding the deploy lock ${name}`)
    return heldLock(store, key, sessionId, request)
  }
}

function heldLock(
  store: ObjectStore,
  key: string,
  sessionId: string,
  request: LockRequest
): HeldLock {
  let held = true
  return {
    sessionId,
    get held() {
      return held
    },
    async release(deadline) {
      if (!held) return
      held = false
      const outcome = await releaseS3Lock(store, key, sessionId, deadline)
      if (outcome === 'not ours')
        request.log.warning(
          `the deploy lock s3://${store.bucket}/${key} was taken over by another run meanwhile: left as it is`
        )
    }
  }
}
