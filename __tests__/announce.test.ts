// Announcing against the emulator: latest and deploy-id move together, the
// baseline index is taken before anything is written, and a refused event leaves latest
// as it was and says how to shorten the payload.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ConsulEmulator } from '../fleet/consul/index.ts'
import { startConsulEmulator } from '../fleet/consul/index.ts'
import { announce, SAFE_PAYLOAD_BYTES } from '../src/consul/announce.ts'
import { nextFileTime } from '../src/publish/publish.ts'
import { readConfig } from '../src/config/config.ts'
import { ConsulClient } from '../src/consul/client.ts'
import { memoryLog } from '../src/shared/log.ts'

let emu: ConsulEmulator
let capped: ConsulEmulator

before(async () => {
  const nodes = [{ name: 'web-1', services: [{ name: 'web' }] }]
  emu = await startConsulEmulator({ nodes })
  // Consul 1.22+ caps the fire request body (research §0).
  capped = await startConsulEmulator({ nodes, fireBodyLimit: 100 })
})
after(async () => {
  await emu.stop()
  await capped.stop()
})

function configFor(addr: string, deployId: string) {
  return readConfig(
    (name) =>
      ({
        's3-url': 's3://releases/web',
        'consul-addr': addr,
        'deploy-id': deployId,
        'service-filter': '^web$'
      })[name as string] ?? '',
    { GITHUB_REPOSITORY: 'acme/web', AWS_REGION: 'us-east-1' }
  )
}

describe('announce', () => {
  test('moves latest and deploy-id together, records history, fires the URL verbatim with the filters', async () => {
    const consul = new ConsulClient({ addr: emu.url })
    const log = memoryLog()
    const before = (await consul.kvGet('stretcher/web/results/', { recurse: true })).index
    const url = 's3://releases/web/d1.yml'
    const history = {
      deploy_id: 'd1',
      manifest_url: url,
      src_url: 's3://releases/web/d1.tgz',
      checksum: 'a'.repeat(64),
      published_at: '2026-11-22T00:00:00Z'
    }
    const result = await announce(
      consul,
      configFor(emu.url, 'd1'),
      { manifestUrl: url, history },
      log
    )
    const latest = emu.kv('stretcher/web/latest')
    const deployId = emu.kv('stretcher/web/deploy-id')
    assert.equal(latest?.value?.toString(), url)
    assert.equal(deployId?.value?.toString(), 'd1')
    assert.equal(latest?.modifyIndex, deployId?.modifyIndex, 'one transaction')
    assert.deepEqual(
      JSON.parse(emu.kv('stretcher/web/history/d1')?.value?.toString() ?? '{}'),
      history
    )
    assert.ok(result.baselineIndex >= before)
    assert.ok(
      result.baselineIndex < (latest?.modifyIndex ?? 0),
      'baseline read before the transaction: nothing stands between the write and the event'
    )
    assert.equal(emu.events('web-1').at(-1)?.payload, url)
    assert.ok(
      log.lines.some((l) =>
        /fired event "deploy" .* with service=\^web\$, payload 24 bytes/.test(l)
      )
    )
  })

  test('a manifest URL over 100 bytes is warned about', async () => {
    const consul = new ConsulClient({ addr: emu.url })
    const log = memoryLog()
    const url = `s3://releases/${'p'.repeat(90)}/d2.yml`
    await announce(consul, configFor(emu.url, 'd2'), { manifestUrl: url }, log)
    assert.ok(
      log.lines.includes(
        `warning: the event payload (the manifest URL) is ${url.length} bytes; Consul 1.22+ accepts about ${SAFE_PAYLOAD_BYTES}: shorten the s3-url bucket or prefix, or the app name`
      )
    )
  })

  test('a refused event fails with the payload size and how to shorten it, and latest is put back', async () => {
    const consul = new ConsulClient({ addr: capped.url })
    const ok = await announce(
      consul,
      configFor(capped.url, 'first'),
      { manifestUrl: 's3://releases/web/first.yml' },
      memoryLog()
    )
    assert.ok(ok.eventId)
    const log = memoryLog()
    const url = `s3://releases/${'p'.repeat(120)}/second.yml`
    await assert.rejects(
      announce(consul, configFor(capped.url, 'second'), { manifestUrl: url }, log),
      new RegExp(
        `^ConsulError: Consul refused the deploy event: the event payload \\(the manifest URL\\) is ${url.length} bytes; Consul 1\\.22\\+ accepts about 100: shorten the s3-url bucket or prefix, or the app name`
      )
    )
    assert.equal(
      capped.kv('stretcher/web/latest')?.value?.toString(),
      's3://releases/web/first.yml'
    )
    assert.equal(capped.kv('stretcher/web/deploy-id')?.value?.toString(), 'first')
    assert.ok(log.lines.includes('restored stretcher/web/latest to s3://releases/web/first.yml'))
  })

  test('a refused first event leaves no latest at all', async () => {
    const fresh = await startConsulEmulator({
      nodes: [{ name: 'web-1', services: [{ name: 'web' }] }],
      fireBodyLimit: 10
    })
    try {
      const consul = new ConsulClient({ addr: fresh.url })
      await assert.rejects(
        announce(
          consul,
          configFor(fresh.url, 'x1'),
          { manifestUrl: 's3://releases/web/x1.yml' },
          memoryLog()
        ),
        /refused the deploy event/
      )
      assert.equal(fresh.kv('stretcher/web/latest'), undefined)
      assert.equal(fresh.kv('stretcher/web/deploy-id'), undefined)
    } finally {
      await fresh.stop()
    }
  })
})

describe('nextFileTime', () => {
  test('now when nothing was released; always after the current release stamp', () => {
    const now = Date.parse('2026-11-22T03:00:00.700Z')
    assert.equal(nextFileTime({}, now).toISOString(), '2026-11-22T03:00:00.000Z')
    // The current release stamped this very second: the next one goes one later.
    const r1 = {
      deployId: 'r1',
      history: { deploy_id: 'r1', published_at: '2026-11-22T02:59:00Z', mtime: now / 1000 - 0.7 }
    }
    assert.equal(nextFileTime(r1, now).toISOString(), '2026-11-22T03:00:01.000Z')
    // A record without mtime (written by an older version) falls back to its publish time.
    const r0 = { deployId: 'r0', history: { published_at: '2026-11-22T03:00:00.200Z' } }
    assert.equal(nextFileTime(r0, now).toISOString(), '2026-11-22T03:00:01.000Z')
    // An unreadable record is no stamp: now.
    assert.equal(nextFileTime({ deployId: 'x' }, now).toISOString(), '2026-11-22T03:00:00.000Z')
  })
})
