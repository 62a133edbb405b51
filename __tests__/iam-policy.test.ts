// The README's two IAM policies are exactly what the code asks of S3. dist/ runs
// against the local fleet with a recording proxy in front of s3rver for the
// action and another for the nodes (fleet/s3-faults.ts names each request's S3
// operation): a small deploy (one PutObject), a multipart deploy, an upload that
// fails (AbortMultipartUpload), a pack that fails after its last byte
// (an abort too, never a delete) and a rollback (HeadObject, GetObject). Every request must be
// allowed by the policy parsed from the README (action and resource), and every
// action the policy grants must be used by one of them: no extra grants.
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { LocalFleet } from '../fleet/index.ts'
import { startLocalFleet } from '../fleet/index.ts'
import { runAction } from '../fleet/run-action.ts'
import { S3RVER_CREDENTIALS } from '../fleet/s3.ts'
import { allObjects } from './helpers/hostile.ts'
import type { ActionRun } from '../fleet/run-action.ts'
import { startS3FaultProxy } from '../fleet/s3-faults.ts'
import type { S3FaultProxy, S3RequestLogEntry } from '../fleet/s3-faults.ts'

// The README's example: s3://acme-releases/releases, app web (the repository's name).
const BUCKET = 'acme-releases'
const KV = 'stretcher/web'

/**
 * The IAM action each S3 API operation is authorised by, and on what: S3's
 * "Actions, resources, and condition keys" and the API reference's permission notes
 * (HeadObject needs s3:GetObject; the multipart calls but the abort need s3:PutObject).
 */
const IAM_ACTION: Record<string, { action: string; on: 'object' | 'bucket' }> = {
  PutObject: { action: 's3:PutObject', on: 'object' },
  CreateMultipartUpload: { action: 's3:PutObject', on: 'object' },
  UploadPart: { action: 's3:PutObject', on: 'object' },
  CompleteMultipartUpload: { action: 's3:PutObject', on: 'object' },
  CopyObject: { action: 's3:PutObject', on: 'object' },
  UploadPartCopy: { action: 's3:PutObject', on: 'object' },
  AbortMultipartUpload: { action: 's3:AbortMultipartUpload', on: 'object' },
  ListParts: { action: 's3:ListMultipartUploadParts', on: 'object' },
  GetObject: { action: 's3:GetObject', on: 'object' },
  HeadObject: { action: 's3:GetObject', on: 'object' },
  DeleteObject: { action: 's3:DeleteObject', on: 'object' },
  GetObjectTagging: { action: 's3:GetObjectTagging', on: 'object' },
  PutObjectTagging: { action: 's3:PutObjectTagging', on: 'object' },
  DeleteObjectTagging: { action: 's3:DeleteObjectTagging', on: 'object' },
  GetObjectAcl: { action: 's3:GetObjectAcl', on: 'object' },
  PutObjectAcl: { action: 's3:PutObjectAcl', on: 'object' },
  ListObjects: { action: 's3:ListBucket', on: 'bucket' },
  ListObjectsV2: { action: 's3:ListBucket', on: 'bucket' },
  HeadBucket: { action: 's3:ListBucket', on: 'bucket' },
  GetBucketLocation: { action: 's3:GetBucketLocation', on: 'bucket' },
  ListMultipartUploads: { action: 's3:ListBucketMultipartUploads', on: 'bucket' },
  ListObjectVersions: { action: 's3:ListBucketVersions', on: 'bucket' },
  DeleteObjects: { action: 's3:DeleteObject', on: 'object' }
}

interface Statement {
  Sid?: string
  Effect: string
  Action: string | string[]
  Resource: string | string[]
}
interface Policy {
  Version: string
  Statement: Statement[]
}

/** A request as IAM sees it: the action it needs and the ARN it needs it on. */
interface Need {
  operation: string
  action: string
  resource: string
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v])

/** IAM's wildcards: * any run of characters, ? one character. */
function iamMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${re}$`, ignoreCase ? 'i' : '').test(value)
}

const allows = (s: Statement, need: Need): boolean =>
  s.Effect === 'Allow' &&
  list(s.Action).some((a) => iamMatch(a, need.action, true)) &&
  list(s.Resource).some((r) => iamMatch(r, need.resource, false))

function needsOf(requests: S3RequestLogEntry[]): Need[] {
  return requests.map((r) => {
    const iam = IAM_ACTION[r.operation]
    assert.ok(iam, `an S3 request the table cannot name: ${r.method} ${r.target}`)
    return {
      operation: r.operation,
      action: iam.action,
      resource: `arn:aws:s3:::${r.bucket}${iam.on === 'object' ? `/${r.key}` : ''}`
    }
  })
}

/** Each need allowed; each action and resource granted used by a need; nothing wider. */
function checkPolicy(name: string, policy: Policy, needs: Need[]): void {
  assert.equal(policy.Version, '2012-10-17')
  for (const s of policy.Statement) {
    assert.deepEqual(
      Object.keys(s).filter((k) => !['Sid', 'Effect', 'Action', 'Resource'].includes(k)),
      [],
      `${name}: only plain Allow statements`
    )
    assert.equal(s.Effect, 'Allow')
    for (const resource of list(s.Resource))
      assert.ok(
        needs.some((n) => iamMatch(resource, n.resource, false)),
        `${name}: ${resource} is granted but no request touches it`
      )
    for (const action of list(s.Action)) {
      assert.ok(!action.includes('*') && !action.includes('?'), `${name}: no wildcard action`)
      assert.ok(
        needs.some((n) => iamMatch(action, n.action, true) && allows(s, n)),
        `${name}: ${action} is granted but no request of the code needs it`
      )
    }
  }
  for (const need of needs)
    assert.ok(
      policy.Statement.some((s) => allows(s, need)),
      `${name}: ${need.operation} needs ${need.action} on ${need.resource}, which the policy does not allow`
    )
}

/** The two ```json blocks of the README's "AWS IAM policies" section: deploy role, nodes. */
async function readmePolicies(): Promise<{ deploy: Policy; nodes: Policy }> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## AWS IAM policies\n')
  assert.ok(start >= 0, 'README has an "AWS IAM policies" section')
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const blocks = [...section.matchAll(/```json\n([^]*?)\n```/g)].map(
    (m) => JSON.parse(m[1] as string) as Policy
  )
  assert.equal(blocks.length, 2, 'two policies: the deploy role, then the nodes')
  return { deploy: blocks[0] as Policy, nodes: blocks[1] as Policy }
}

let work: string
let fleet: LocalFleet
let actionS3: S3FaultProxy
let nodeS3: S3FaultProxy | undefined
let attempt = 0
/** what each scenario asked of S3, by the action and by the nodes */
const recorded: Array<{
  scenario: string
  action: S3RequestLogEntry[]
  nodes: S3RequestLogEntry[]
}> = []

async function scenario(
  name: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<ActionRun> {
  const fromAction = actionS3.requests.length
  const fromNodes = nodeS3!.requests.length
  const run = await runAction(
    {
      's3-url': `s3://${BUCKET}/releases`,
      's3-endpoint': actionS3.endpoint,
      'consul-addr': fleet.consul.url,
      'kv-prefix': KV,
      dest: '/srv/web',
      'service-filter': '^web$',
      timeout: '30s',
      ...inputs
    },
    {
      ...fleet.s3.env,
      GITHUB_WORKSPACE: work,
      GITHUB_REPOSITORY: 'acme/web',
      GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: String(++attempt),
      ...env
    },
    { timeoutMs: 90_000 }
  )
  recorded.push({
    scenario: name,
    action: actionS3.requests.slice(fromAction),
    nodes: nodeS3!.requests.slice(fromNodes)
  })
  return run
}

const operations = (requests: S3RequestLogEntry[]) => requests.map((r) => r.operation)

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'stretcher-iam-'))
  await mkdir(join(work, 'small'))
  await writeFile(join(work, 'small/index.html'), 'small\n')
  // 8 MiB gzip cannot shrink: two parts of the 6 MiB multipart upload.
  await mkdir(join(work, 'big'))
  await writeFile(join(work, 'big/blob.bin'), randomBytes(8 * 1024 * 1024))
  // 20 MiB for the failed pack: parts are usually on their way when tar's exit code is read.
  await mkdir(join(work, 'bigger'))
  await writeFile(join(work, 'bigger/blob.bin'), randomBytes(20 * 1024 * 1024))
  // GNU tar that writes the whole archive, then exits 2 (a file changed as it was read).
  await mkdir(join(work, 'bin'))
  await writeFile(
    join(work, 'bin/gtar'),
    '#!/bin/sh\n[ "$1" = --version ] && exec tar --version\ntar "$@"\necho "tar: index.html: file changed as we read it" >&2\nexit 2\n'
  )
  await chmod(join(work, 'bin/gtar'), 0o755)
  fleet = await startLocalFleet({
    nodes: 2,
    kvPrefix: KV,
    serverRunsStretcher: false,
    bucket: BUCKET,
    nodeS3Endpoint: async (upstream) => {
      nodeS3 = await startS3FaultProxy(upstream)
      return nodeS3.endpoint
    }
  })
  actionS3 = await startS3FaultProxy(fleet.s3.endpoint)
})

after(async () => {
  await fleet?.stop()
  await actionS3?.stop()
  await nodeS3?.stop()
  await rm(work, { recursive: true, force: true })
})

describe(
  'least AWS permissions (README policies against every S3 request)',
  {
    timeout: 300_000
  },
  () => {
    let first: ActionRun

    test('a deploy: archive and manifest each one PutObject; the nodes GetObject both', async () => {
      first = await scenario('deploy', { path: 'small' })
      assert.equal(first.code, 0, first.stdout)
      const { action, nodes } = recorded.at(-1)!
      assert.deepEqual(operations(action), ['PutObject', 'PutObject'])
      assert.deepEqual(operations(nodes), ['GetObject', 'GetObject', 'GetObject', 'GetObject'])
    })

    test('a multipart deploy: CreateMultipartUpload, UploadPart, CompleteMultipartUpload', async () => {
      const run = await scenario('multipart deploy', { path: 'big' })
      assert.equal(run.code, 0, run.stdout)
      const ops = operations(recorded.at(-1)!.action)
      assert.deepEqual(
        [...new Set(ops)],
        ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'PutObject']
      )
      assert.equal(ops.filter((o) => o === 'UploadPart').length, 2)
    })

    test('an upload that fails: AbortMultipartUpload', async () => {
      actionS3.inject({ kind: 'slow-down', code: 'ServiceUnavailable', partNumber: 2 })
      const run = await scenario('failed upload', { path: 'big' })
      actionS3.clear()
      assert.equal(run.code, 1, run.stdout)
      assert.ok(operations(recorded.at(-1)!.action).includes('AbortMultipartUpload'))
      assert.deepEqual(recorded.at(-1)!.nodes, [], 'the nodes were sent nothing')
    })

    test('a pack that fails after its last byte: the upload is aborted, nothing to delete', async () => {
      const run = await scenario(
        'failed pack',
        { path: 'bigger' },
        { PATH: `${join(work, 'bin')}:${process.env.PATH ?? ''}` }
      )
      assert.equal(run.code, 1, run.stdout)
      assert.match(run.errors[0] ?? '', /tar exited with code 2/)
      const ops = operations(recorded.at(-1)!.action)
      assert.equal(ops[0], 'CreateMultipartUpload')
      assert.equal(ops.at(-1), 'AbortMultipartUpload')
      assert.ok(!ops.includes('CompleteMultipartUpload') && !ops.includes('PutObject'), ops.join())
      const id = run.outputs['deploy-id'] as string
      assert.deepEqual(
        [...(await allObjects(fleet)).keys()].filter((k) => k.includes(id)),
        [],
        'no object of the failed deploy is stored'
      )
    })

    test('a rollback: HeadObject on both objects, GetObject on the archive; the nodes GetObject', async () => {
      const run = await scenario('rollback', {
        'rollback-to': first.outputs['deploy-id'] as string,
        path: 'does-not-exist'
      })
      assert.equal(run.code, 0, run.stdout)
      const { action, nodes } = recorded.at(-1)!
      assert.deepEqual(operations(action), ['HeadObject', 'HeadObject', 'GetObject'])
      assert.deepEqual(operations(nodes), ['GetObject', 'GetObject', 'GetObject', 'GetObject'])
      assert.ok(
        action.every((r) => r.key.startsWith(`releases/web/${first.outputs['deploy-id']}.`)),
        'only the rolled-back-to release is read'
      )
    })

    test('without s3:ListBucket, a rollback to a deleted release says the object is missing or unreadable', async () => {
      const client = new S3Client({
        endpoint: fleet.s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: S3RVER_CREDENTIALS
      })
      const id = first.outputs['deploy-id'] as string
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `releases/web/${id}.yml` }))
      client.destroy()
      // S3 answers a HEAD of a missing object with 403 to credentials without s3:ListBucket.
      actionS3.inject({ kind: 'no-list-bucket' })
      const run = await scenario('rollback to a deleted release', { 'rollback-to': id })
      actionS3.clear()
      assert.equal(run.code, 1, run.stdout)
      assert.deepEqual(run.errors, [
        `S3 answered 403 to a HEAD of s3://${BUCKET}/releases/web/${id}.yml: the object does not exist (S3's answer when the credentials lack s3:ListBucket) or the credentials may not s3:GetObject it`
      ])
      assert.deepEqual(operations(recorded.at(-1)!.action), ['HeadObject'])
    })

    test('the deploy role policy allows every request of the action and grants nothing else', async () => {
      assert.equal(recorded.length, 6, 'every scenario ran')
      const { deploy } = await readmePolicies()
      const requests = recorded.flatMap((r) => r.action)
      assert.ok(requests.every((r) => r.bucket === BUCKET))
      checkPolicy('deploy role', deploy, needsOf(requests))
    })

    test("the nodes' policy allows every request of stretcher and grants nothing else", async () => {
      const { nodes } = await readmePolicies()
      const requests = recorded.flatMap((r) => r.nodes)
      assert.ok(requests.length > 0)
      checkPolicy('nodes', nodes, needsOf(requests))
    })

    test('the check itself refuses a missing grant, an unused grant and a wildcard', () => {
      const needs: Need[] = [
        { operation: 'HeadObject', action: 's3:GetObject', resource: `arn:aws:s3:::${BUCKET}/r/a` }
      ]
      const policy = (Action: string[], Resource = `arn:aws:s3:::${BUCKET}/r/*`): Policy => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action, Resource }]
      })
      checkPolicy('exact', policy(['s3:GetObject']), needs)
      const put: Need = { ...needs[0]!, operation: 'UploadPart', action: 's3:PutObject' }
      assert.throws(
        () => checkPolicy('missing', policy(['s3:GetObject']), [...needs, put]),
        /missing: UploadPart needs s3:PutObject on arn:aws:s3:::acme-releases\/r\/a, which the policy does not allow/
      )
      assert.throws(
        () => checkPolicy('extra', policy(['s3:GetObject', 's3:ListBucket']), needs),
        /extra: s3:ListBucket is granted but no request of the code needs it/
      )
      assert.throws(() => checkPolicy('wildcard', policy(['s3:Get*']), needs), /no wildcard action/)
      assert.throws(
        () =>
          checkPolicy(
            'elsewhere',
            policy(['s3:GetObject'], `arn:aws:s3:::${BUCKET}/other/*`),
            needs
          ),
        /elsewhere: arn:aws:s3:::acme-releases\/other\/\* is granted but no request touches it/
      )
    })
  }
)
