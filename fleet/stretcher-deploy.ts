// One stretcher invocation on a simulated node: fetch the manifest, render and
// parse it, deploy in stretcher's order, then the success or failure commands
// with the whole log on stdin (research/stretcher.md §3, §5). Real sh, tar and
// rsync do the work; only the S3 getter is local (path-style GET on s3rver).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { chmod, lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { httpGetStream } from './http-get.ts'
import { parseManifest } from './stretcher-manifest.ts'
import type { Manifest } from './stretcher-manifest.ts'
import { renderTemplate } from './stretcher-template.ts'

export interface StretcherContext {
  /** the node's name, for the simulated failure's message */
  name: string
  /** the node's filesystem: an absolute path P on the node is <root>P */
  root: string
  /** os.TempDir() of the node: archive download and mkdtemp go here */
  tmpDir: string
  /** the process environment of this stretcher run (template and commands) */
  env: Record<string, string>
  /** where s3://bucket/key is fetched from, path-style */
  s3Endpoint: string
  /** fail the deploy at a simulated broken step (after pre, before tar) */
  fail: boolean
}

export type RunStatus = 'success' | 'failure' | 'error'

export interface RunResult {
  /** success / failure: Deploy ran and so did those commands; error: stopped before Deploy, no command ran */
  status: RunStatus
  manifestUrl: string
  error?: string
  /** stretcher's log of this run, as the success/failure commands got it */
  log: string
  /** stdout and stderr of the success/failure commands (stretcher's own output) */
  reportOutput: string
}

/** Go's log package: "2006/01/02 15:04:05 message", kept in memory as LogBuffer is. */
class StretcherLog {
  private text = ''
  line(...parts: string[]): void {
    const now = new Date()
    const pad = (n: number): string => String(n).padStart(2, '0')
    const stamp = `${now.getFullYear()}/${pad(now.getMonth() + 1)}/${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`
    const message = parts.join(' ')
    this.text += `${stamp} ${message}${message.endsWith('\n') ? '' : '\n'}`
  }
  toString(): string {
    return this.text
  }
}

class DeployError extends Error {}

function exec(
  line: string,
  ctx: StretcherContext,
  stdin?: string
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], {
      cwd: ctx.root,
      env: ctx.env,
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
    if (stdin !== undefined) {
      // command.go InvokePipe: EPIPE from a command that does not read stdin is ignored.
      child.stdin!.on('error', () => {})
      child.stdin!.end(stdin)
    }
  })
}

function run(program: string, args: string[], cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

// command.go Invoke: in order, output logged after each one, stop at the first non-zero.
async function invoke(lines: string[], ctx: StretcherContext, log: StretcherLog): Promise<void> {
  for (const line of lines) {
    log.line('invoking command:', line)
    const { code, output } = await exec(line, ctx)
    if (output !== '') log.line(output)
    if (code !== 0) throw new DeployError(`failed: ${line}: exit status ${code ?? 'signal'}`)
  }
}

// stretcher.go getURL: s3, gs, http(s), file. The node's S3 is the local s3rver.
async function open(url: string, ctx: StretcherContext): Promise<Readable> {
  // Go's url.Parse refuses control characters; the payload is used untrimmed (§4).
  if ([...url].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw new Error(`parse ${JSON.stringify(url)}: net/url: invalid control character in URL`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error('manifest URL scheme must be s3, gs, http(s) or file')
  }
  switch (parsed.protocol) {
    case 's3:': {
      const key = parsed.pathname.replace(/^\/+/, '')
      const res = await httpGetStream(`${ctx.s3Endpoint}/${parsed.host}/${key}`)
      if (res.statusCode !== 200) {
        res.resume()
        throw new Error(
          `operation error S3: GetObject, https response error StatusCode: ${res.statusCode}`
        )
      }
      return res
    }
    case 'http:':
    case 'https:':
      // stretcher.go:147-159: the status code is never checked.
      return httpGetStream(url, { headers: { 'User-Agent': 'Stretcher/simulated' } })
    case 'file:':
      return createReadStream(join(ctx.root, decodeURIComponent(parsed.pathname)))
    case 'gs:':
      throw new Error('gs:// is not available on a simulated node')
    default:
      throw new Error('manifest URL scheme must be s3, gs, http(s) or file')
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

// manifest.go newHash: the algorithm follows the hex length.
const HASH_BY_LENGTH: Record<number, string> = {
  32: 'md5',
  40: 'sha1',
  64: 'sha256',
  128: 'sha512'
}

async function download(
  m: Manifest,
  ctx: StretcherContext,
  log: StretcherLog,
  into: string
): Promise<void> {
  const algorithm = HASH_BY_LENGTH[m.checksum.length]
  if (!algorithm) throw new DeployError(`checksum must be md5, sha1, sha256, sha512 hex string.`)
  log.line('Loading src:', m.src)
  const hash = createHash(algorithm)
  let bytes = 0
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    }
  })
  try {
    await pipeline(await open(m.src, ctx), tee, createWriteStream(into))
  } catch (err) {
    throw new DeployError(`Get src failed: ${(err as Error).message}`)
  }
  log.line(`Wrote ${bytes} bytes to ${into}`)
  const sum = hash.digest('hex')
  // manifest.go:193 compares against the lower-cased manifest value.
  if (sum !== m.checksum.toLowerCase())
    throw new DeployError(`checksum mismatch. expected:${m.checksum} got:${sum}`)
  log.line(`verify checksum succeeded. ${algorithm}:${sum}`)
}

async function sync(
  m: Manifest,
  from: string,
  ctx: StretcherContext,
  log: StretcherLog
): Promise<void> {
  // The node's commands run on the host's filesystem, in the node's root: a
  // manifest whose dest the node's own template expanded under that root (say
  // '{{ env "HOME" }}/srv/app', HOME being the root) names it as its commands do.
  const dest = m.dest.startsWith(`${ctx.root}/`) ? m.dest : join(ctx.root, m.dest)
  // A provisioned server has dest's parent; the simulated node's empty root does not.
  await mkdir(dirname(dest), { recursive: true })
  if (m.syncStrategy === 'mv') {
    // sync_strategy.go: os.Rename, which refuses an existing directory (EEXIST).
    const existing = await lstat(dest).catch(() => undefined)
    if (existing?.isDirectory()) throw new DeployError(`rename ${from}/ ${m.dest}: file exists`)
    log.line(`rename ${from}/ to ${m.dest}`)
    await rename(from, dest).catch((err: Error) => {
      throw new DeployError(err.message)
    })
    return
  }
  // sync_strategy.go:54-65: always -a --delete, excludes, exclude-from inside the tree.
  const args = ['-a', '--delete']
  for (const exclude of m.excludes) args.push('--exclude', exclude)
  if (m.excludeFrom !== '') args.push('--exclude-from', join(from, m.excludeFrom))
  args.push(`${from}/`, dest.endsWith('/') ? dest : `${dest}/`)
  log.line('rsync', args.join(' '))
  const { code, output } = await run('rsync', args, from, ctx.env)
  if (output !== '') log.line(output)
  if (code !== 0) throw new DeployError(`rsync failed: exit status ${code ?? 'signal'}`)
}

// manifest.go Deploy (§5 "Order of a deploy").
async function deploy(m: Manifest, ctx: StretcherContext, log: StretcherLog): Promise<void> {
  if (m.src === '') {
    // Commands-only mode (manifest.go Deploy): pre then post, before the sync
    // strategy is looked at, so dest and sync_strategy play no part.
    await invoke(m.commands.pre, ctx, log)
    await invoke(m.commands.post, ctx, log)
    return
  }
  if (!['', 'rsync', 'mv'].includes(m.syncStrategy))
    throw new DeployError(`invalid sync strategy: ${m.syncStrategy}`)
  const scratch = await mkdtemp(join(ctx.tmpDir, 'stretcher-src'))
  let dir: string | undefined
  try {
    const archive = join(scratch, 'src')
    await download(m, ctx, log, archive)
    dir = await mkdtemp(join(ctx.tmpDir, 'stretcher'))
    await invoke(m.commands.pre, ctx, log)
    if (ctx.fail) {
      log.line(`simulated failure on ${ctx.name}`)
      throw new DeployError(`simulated failure on ${ctx.name}`)
    }
    log.line(`Extract archive: ${archive} to ${dir}`)
    const tar = await run('tar', ['xf', archive], dir, ctx.env)
    if (tar.output !== '') log.line(tar.output)
    if (tar.code !== 0) throw new DeployError(`failed: tar xf ${archive}: exit status ${tar.code}`)
    await chmod(dir, m.destMode & 0o7777)
    await sync(m, dir, ctx, log)
    await invoke(m.commands.post, ctx, log)
  } finally {
    await rm(scratch, { recursive: true, force: true })
    if (dir) await rm(dir, { recursive: true, force: true })
  }
}

// command.go InvokePipe: each gets the log on stdin; a failing one ends the list
// (logged only), and never changes the outcome.
async function report(lines: string[], ctx: StretcherContext, log: StretcherLog): Promise<string> {
  let output = ''
  for (const line of lines) {
    const result = await exec(line, ctx, log.toString())
    output += result.output
    if (result.code !== 0) {
      log.line(`failed: ${line}: exit status ${result.code ?? 'signal'}`)
      break
    }
  }
  return output
}

/** `stretcher` given one manifest URL (stretcher.go Run). */
export async function runStretcher(manifestUrl: string, ctx: StretcherContext): Promise<RunResult> {
  const log = new StretcherLog()
  log.line('Starting up stretcher agent')
  log.line('Loading manifest:', manifestUrl)
  let manifest: Manifest
  try {
    const text = await readAll(await open(manifestUrl, ctx))
    manifest = parseManifest(renderTemplate(text, ctx.env))
  } catch (err) {
    // Before Deploy: no success/failure command runs (§5), the node writes nothing.
    const message = (err as Error).message
    log.line('Load manifest failed:', message)
    return { status: 'error', manifestUrl, error: message, log: log.toString(), reportOutput: '' }
  }
  log.line('Executing manifest')
  try {
    await deploy(manifest, ctx, log)
  } catch (err) {
    const message = (err as Error).message
    log.line('Deploy manifest failed:', message)
    const reportOutput = await report(manifest.commands.failure, ctx, log)
    return { status: 'failure', manifestUrl, error: message, log: log.toString(), reportOutput }
  }
  log.line('Deploy manifest succeeded.')
  const reportOutput = await report(manifest.commands.success, ctx, log)
  return { status: 'success', manifestUrl, log: log.toString(), reportOutput }
}
