// The GitHub API client reporting uses: retries and rate limits handled here
// (@actions/github 9 bundles no retry or throttling plugin), the token kept out
// of every log line.
import { getOctokit } from '@actions/github'
import type { Log } from '../shared/log.ts'
import { plainText } from '../shared/text.ts'

export type Octokit = ReturnType<typeof getOctokit>

export interface RetryOptions {
  /** retries after the first attempt */
  retries: number
  /** first backoff for 5xx and network errors; doubles each retry */
  baseDelayMs: number
  /** a rate limit asking to wait longer than this is not waited for */
  maxWaitMs: number
  /** per request */
  timeoutMs: number
  sleep: (ms: number) => Promise<void>
}

/** The log reporting writes to: every line with the token scrubbed. */
export interface GitHubLog {
  info(message: string): void
  warning(message: string): void
}

interface ApiError {
  status?: number
  message?: string
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
}

function header(error: ApiError, name: string): string | undefined {
  const value = error.response?.headers?.[name]
  return value === undefined ? undefined : String(value)
}

/** A rate limit (primary or secondary): 429, or 403 saying so. */
function isRateLimit(error: ApiError): boolean {
  if (error.status === 429) return true
  if (error.status !== 403) return false
  return (
    header(error, 'retry-after') !== undefined ||
    header(error, 'x-ratelimit-remaining') === '0' ||
    /rate limit/i.test(error.message ?? '')
  )
}

/** The token may not do this: checks or statuses not writable, repository not visible. */
export function isRefused(error: unknown): boolean {
  const e = error as ApiError
  return (e.status === 403 && !isRateLimit(e)) || e.status === 404
}

/** How long GitHub asks us to wait before retrying, or undefined when not retryable. */
function retryDelay(
  error: ApiError,
  attempt: number,
  opts: RetryOptions,
  now: number
): number | undefined {
  if (isRateLimit(error)) {
    const after = Number(header(error, 'retry-after'))
    if (Number.isFinite(after) && after >= 0) return after * 1000
    const reset = Number(header(error, 'x-ratelimit-reset'))
    if (header(error, 'x-ratelimit-remaining') === '0' && Number.isFinite(reset))
      return Math.max(0, reset * 1000 - now)
    // Secondary limit without a hint: GitHub says to wait at least a minute.
    return 60_000
  }
  // Network errors reach us as status 500 from @octokit/request.
  if (error.status === undefined || error.status >= 500)
    return opts.baseDelayMs * 2 ** (attempt - 1)
  return undefined
}

function createClient(
  token: string,
  baseUrl: string,
  opts: RetryOptions,
  log: Pick<Log, 'info'>,
  now: () => number
): Octokit {
  const octokit = getOctokit(token, {
    baseUrl,
    log: { debug() {}, info() {}, warn() {}, error() {} }
  })
  octokit.hook.wrap('request', async (request, options) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request({
          ...options,
          request: { ...options.request, signal: AbortSignal.timeout(opts.timeoutMs) }
        })
      } catch (error) {
        const delay =
          attempt <= opts.retries ? retryDelay(error as ApiError, attempt, opts, now()) : undefined
        if (delay === undefined || delay > opts.maxWaitMs) throw error
        log.info(
          `GitHub API ${options.method} ${options.url}: ${describe(error)}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${attempt + 1})`
        )
        await opts.sleep(delay)
      }
    }
  })
  return octokit
}

/** A client for the runner's GitHub (GITHUB_API_URL), and a log that never shows the token. */
export function connectGitHub(
  token: string,
  env: NodeJS.ProcessEnv,
  retry: RetryOptions,
  log: Pick<Log, 'info' | 'warning'>,
  now: () => number
): { octokit: Octokit; log: GitHubLog } {
  const scrub = (message: string) => message.split(token).join('***')
  const scrubbed: GitHubLog = {
    info: (m) => log.info(scrub(m)),
    warning: (m) => log.warning(scrub(m))
  }
  const baseUrl = (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '')
  return { octokit: createClient(token, baseUrl, retry, scrubbed, now), log: scrubbed }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** One line about an API error: status and GitHub's message, bounded. */
export function describe(error: unknown): string {
  const e = error as ApiError
  const message = plainText(String(e.message ?? error).split('\n')[0] ?? '', 200)
  return e.status ? `${e.status} ${message}` : message
}
