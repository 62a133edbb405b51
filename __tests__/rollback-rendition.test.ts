// rollbackManifests (contract 8a): auto-rollback's target in the run's layout.
// A release published in the other layout gets its whole manifest rendered
// again for its own archive and deploy ID, uploaded to a real S3-protocol
// server on loopback; one published in the run's layout is sent as it is.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { load } from 'js-yaml'
import { readConfig } from '../src/config/config.ts'
import { createS3Store } from '../src/publish/s3-store.ts'
import type { S3ObjectStore } from '../src/publish/s3-store.ts'
import { parseManifestTemplate } from '../src/publish/manifest/manifest.ts'
import { rollbackManifests } from '../src/publish/rendition.ts'
import { reportingCommands } from '../src/publish/reporting-commands.ts'
import { memoryLog } from '../src/shared/log.ts'
import type { LocalS3 } from '../fleet/s3.ts'
import { S3RVER_CREDENTIALS, startLocalS3 } from '../fleet/s3.ts'

let s3: LocalS3
let store: S3ObjectStore

before(async () => {
  s3 = await startLocalS3()
  store = createS3Store(
    { ...configFor('in-place').s3, endpoint: s3.endpoint, region: 'us-east-1' },
    S3RVER_CREDENTIALS
  )
})
after(async () => {
  store?.destroy()
  await s3.stop()
})

const env = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '12345678901',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKSPACE: '/work/space',
  AWS_REGION: 'us-east-1'
}

function configFor(layout: 'in-place' | 'releases') {
  const inputs: Record<string, string> = {
    's3-url': 's3://releases/apps',
    'deploy-id': 'v2',
    'auto-rollback': 'true',
    layout,
    dest: '/srv/app'
  }
  return readConfig((name) => inputs[name] ?? '', env)
}

const template = parseManifestTemplate('commands:\n  post:\n    - echo post\n', 'stretcher.yml')

function input(layout: 'in-place' | 'releases') {
  const config = configFor(layout)
  return {
    config,
    template,
    reportsFor: (deployId: string) => reportingCommands({ ...config, deployId }, template),
    store,
    log: memoryLog()
  }
}

const SRC = 's3://releases/apps/web/v1.tgz'
const CHECKSUM = 'a'.repeat(64)
const inPlaceV1 = {
  deployId: 'v1',
  manifestUrl: 's3://releases/apps/web/v1.yml',
  history: {
    deploy_id: 'v1',
    src_url: SRC,
    checksum: CHECKSUM,
    manifest_url: 's3://releases/apps/web/v1.yml'
  }
}
const releasesV1 = {
  ...inPlaceV1,
  history: {
    ...inPlaceV1.history,
    prepare_manifest_url: 's3://releases/apps/web/v1.prepare.yml',
    switch_manifest_url: 's3://releases/apps/web/v1.switch.yml'
  }
}

interface Manifest {
  src: string
  checksum: string
  dest: string
  commands: { pre?: string[]; post?: string[]; success: string[]; failure: string[] }
}
const uploaded = async (url: string) =>
  load(await store.getText(url.replace('s3://releases/', ''))) as Manifest

describe("rollbackManifests: the previous release in the run's layout", () => {
  test('published in the run’s layout: its own manifests, nothing uploaded', async () => {
    assert.deepEqual(await rollbackManifests(input('in-place'), inPlaceV1), {
      deployId: 'v1',
      manifestUrl: inPlaceV1.manifestUrl
    })
    assert.deepEqual(await rollbackManifests(input('releases'), releasesV1), {
      deployId: 'v1',
      manifestUrl: releasesV1.manifestUrl,
      switchUrl: releasesV1.history.switch_manifest_url
    })
    assert.equal(await store.head('apps/web/v1.releases.yml'), undefined)
    assert.equal(await store.head('apps/web/v1.in-place.yml'), undefined)
  })

  test('published in place, run with layout: releases: its archive prepared as releases/v1 and switched to, reported as v1', async () => {
    const got = await rollbackManifests(input('releases'), inPlaceV1)
    assert.deepEqual(got, { deployId: 'v1', manifestUrl: 's3://releases/apps/web/v1.releases.yml' })
    const manifest = await uploaded(got.manifestUrl)
    assert.equal(manifest.src, SRC)
    assert.equal(manifest.checksum, CHECKSUM)
    assert.equal(manifest.dest, '/srv/app/releases/v1')
    const post = manifest.commands.post ?? []
    assert.match(post[0] ?? '', /r=releases\/v1 /, 'switches current to v1 first')
    assert.equal(post[1], 'echo post', "then the template's post")
    assert.match(
      manifest.commands.success.join('\n'),
      /"deploy_id":"v1","status":"success","phase":"switch"/
    )
    assert.doesNotMatch(JSON.stringify(manifest), /\bv2\b/, 'nothing of the failed release')
  })

  test('published with layout: releases, run in place: synced into dest itself, no current', async () => {
    const got = await rollbackManifests(input('in-place'), releasesV1)
    assert.deepEqual(got, { deployId: 'v1', manifestUrl: 's3://releases/apps/web/v1.in-place.yml' })
    const manifest = await uploaded(got.manifestUrl)
    assert.equal(manifest.src, SRC)
    assert.equal(manifest.dest, '/srv/app')
    assert.doesNotMatch(JSON.stringify(manifest), /current|releases\/v1|\bv2\b/)
    assert.deepEqual(manifest.commands.post, ['echo post'])
    assert.match(manifest.commands.success.join('\n'), /"deploy_id":"v1","status":"success"/)
  })

  test('no dest known to the run (a promote renders no template): refused, nothing uploaded', async () => {
    const noDest = { ...input('releases'), template: undefined }
    noDest.config = { ...noDest.config, dest: undefined }
    const got = await rollbackManifests(noDest, { ...inPlaceV1, deployId: 'v7' })
    assert.ok('refused' in got)
    assert.match(got.refused, /published with layout: in-place.*dest is not known to this run/)
    assert.equal(await store.head('apps/web/v7.releases.yml'), undefined)
  })

  test('no history record to take the archive from: refused, saying why, nothing uploaded', async () => {
    const got = await rollbackManifests(input('releases'), {
      deployId: 'v0',
      manifestUrl: 's3://releases/apps/web/v0.yml'
    })
    assert.ok('refused' in got)
    assert.match(got.refused, /no history record of v0 names its archive/)
    assert.equal(await store.head('apps/web/v0.releases.yml'), undefined)
  })
})
