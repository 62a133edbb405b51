// The S3 inputs (s3-url, s3-endpoint, aws-region): where releases are uploaded,
// and the keys and URLs of release objects there.
import type { Config, S3Location } from './config-types.ts'
import type { Getter } from './inputs.ts'
import { InputError, quote } from '../shared/errors.ts'

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const KEY_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/
const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/

function parseS3Url(raw: string): { bucket: string; prefix: string } {
  const bad = () =>
    new InputError('s3-url', `must look like s3://bucket/prefix (got ${quote(raw)})`)
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(raw)
  if (!match) throw bad()
  const bucket = match[1] as string
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw new InputError(
      's3-url',
      `has an invalid bucket name ${quote(bucket)} (3-63 lower-case letters, digits, dots, hyphens)`
    )
  const prefix = (match[2] ?? '').replace(/\/+$/, '')
  if (prefix !== '') {
    for (const segment of prefix.split('/')) {
      // stretcher URL-decodes the key and the event payload must stay small:
      // keep keys to characters that need no escaping anywhere.
      if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..')
        throw new InputError(
          's3-url',
          `prefix must be path segments of letters, digits and !_.*'()- (got ${quote(raw)})`
        )
    }
  }
  return { bucket, prefix }
}

function parseS3Endpoint(raw: string): string | undefined {
  if (raw === '') return undefined
  let url: URL | undefined
  try {
    url = new URL(raw)
  } catch {
    url = undefined
  }
  // The endpoint appears in error messages: it must not carry a secret.
  if (url && (url.username || url.password))
    throw new InputError(
      's3-endpoint',
      'must not carry credentials; the AWS SDK takes them from the environment'
    )
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new InputError('s3-endpoint', `must be an http:// or https:// URL (got ${quote(raw)})`)
  if (url.search || url.hash)
    throw new InputError(
      's3-endpoint',
      `must be only scheme, host, port and path (got ${quote(`${url.protocol}//${url.host}${url.pathname}?…`)})`
    )
  return raw.replace(/\/+$/, '')
}

export function readS3(get: Getter, env: NodeJS.ProcessEnv): S3Location {
  const s3Url = get('s3-url')
  if (s3Url === '') throw new InputError('s3-url', 'is required (s3://bucket/prefix)')
  const { bucket, prefix } = parseS3Url(s3Url)
  const endpoint = parseS3Endpoint(get('s3-endpoint'))
  const region =
    get('aws-region') || env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : '')
  if (region === '')
    throw new InputError(
      'aws-region',
      'is required (set the input, AWS_REGION or AWS_DEFAULT_REGION)'
    )
  if (!REGION.test(region))
    throw new InputError('aws-region', `must look like us-east-1 (got ${quote(region)})`)
  return { bucket, prefix, region, endpoint }
}

/** S3 key of a release object: `<prefix>/<app>/<deploy-id>.<ext>`. Short, so the manifest URL stays a small event payload. */
export function releaseKey(
  config: Pick<Config, 's3' | 'app'>,
  deployId: string,
  ext: 'tgz' | 'yml' | 'prepare.yml' | 'switch.yml'
): string {
  return [config.s3.prefix, config.app, `${deployId}.${ext}`].filter((s) => s !== '').join('/')
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`
}
