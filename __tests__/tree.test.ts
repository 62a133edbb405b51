// The walk's readability verdict comes from mode bits (tree.ts mayRead) instead of
// an access() per entry: these tests hold it to what access() says, for a user
// who is not root, over owners, groups and modes.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { accessSync, chmodSync, chownSync, constants, mkdirSync, mkdtempSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { walkTree } from '../src/publish/tree.ts'
import { NOBODY, nobodyCannotRun } from './helpers/nobody.ts'

const isRoot = process.getuid?.() === 0
const treeModule = new URL('../src/publish/tree.ts', import.meta.url).pathname

/** For every `<case>/<dir>` tree: walkTree's verdict and access()'s, seen by uid/gid nobody. */
const JUDGE = `
import { accessSync, constants, readdirSync } from 'node:fs'
import { walkTree } from ${JSON.stringify(treeModule)}
const root = process.argv[1]
const out = {}
for (const name of readdirSync(root)) {
  const dir = root + '/' + name + '/tree'
  const target = dir + '/x'
  let byAccess = true
  try {
    const dirTarget = name.startsWith('dir-')
    accessSync(target, dirTarget ? constants.R_OK | constants.X_OK : constants.R_OK)
  } catch { byAccess = false }
  let byWalk
  try {
    await walkTree({ root: dir, exclude: [], deployIdFile: 'DEPLOY_ID' })
    byWalk = 'ok'
  } catch (err) { byWalk = err.message }
  out[name] = { byAccess, byWalk }
}
console.log(JSON.stringify(out))
`

describe('walkTree: readable entries, as a user who is not root', () => {
  const base = mkdtempSync(join(tmpdir(), 'tree-modes-'))
  after(() => rm(base, { recursive: true, force: true }))

  it(
    'refuses exactly the files and directories access() refuses',
    { skip: (!isRoot && 'needs root to create files of other owners') || nobodyCannotRun() },
    () => {
      chmodSync(base, 0o755)
      const owners = [
        ['root', 0, 0],
        ['nobody', NOBODY, 0],
        ['group', 0, NOBODY]
      ] as const
      // owner class first: an owner without r is refused even when group/other have it
      const modes = [
        0o000, 0o400, 0o040, 0o004, 0o044, 0o440, 0o404, 0o700, 0o500, 0o100, 0o050, 0o005, 0o001,
        0o755
      ]
      for (const [who, uid, gid] of owners) {
        for (const mode of modes) {
          for (const kind of ['file', 'dir'] as const) {
            const dir = join(base, `${kind}-${who}-${mode.toString(8)}`, 'tree')
            mkdirSync(dir, { recursive: true, mode: 0o755 })
            chmodSync(dir, 0o755)
            chmodSync(join(dir, '..'), 0o755)
            const target = join(dir, 'x')
            if (kind === 'file') writeFileSync(target, 'x')
            else mkdirSync(target)
            chownSync(target, uid, gid)
            chmodSync(target, mode)
          }
        }
      }
      const out = JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', JUDGE, base], {
          uid: NOBODY,
          gid: NOBODY,
          encoding: 'utf8'
        })
      ) as Record<string, { byAccess: boolean; byWalk: string }>
      assert.equal(Object.keys(out).length, owners.length * modes.length * 2)
      let refused = 0
      for (const [name, { byAccess, byWalk }] of Object.entries(out)) {
        if (byAccess) {
          assert.equal(byWalk, 'ok', name)
        } else {
          refused++
          const kind = name.startsWith('dir-') ? 'directory' : 'file'
          assert.equal(
            byWalk,
            `path has a ${kind} it may not read at "x" (permission denied): fix its mode or exclude it`,
            name
          )
        }
      }
      // both verdicts occur, or the comparison proves nothing
      assert.ok(refused > 10 && refused < Object.keys(out).length - 10, `refused ${refused}`)
    }
  )

  it(
    'root reads what its mode forbids (as access() says)',
    { skip: !isRoot && 'needs root' },
    async () => {
      const dir = join(base, 'as-root')
      mkdirSync(join(dir, 'locked'), { recursive: true })
      writeFileSync(join(dir, 'locked', 'secret'), 'x')
      chmodSync(join(dir, 'locked', 'secret'), 0o000)
      chmodSync(join(dir, 'locked'), 0o000)
      accessSync(join(dir, 'locked', 'secret'), constants.R_OK)
      const tree = await walkTree({ root: dir, exclude: [], deployIdFile: 'DEPLOY_ID' })
      assert.deepEqual(tree.list.toString().split('\0'), ['locked', 'locked/secret', ''])
    }
  )
})

describe('walkTree: the list it hands tar', () => {
  it('is pre-order, sorted by name, NUL-terminated, with UTF-8 names and totals', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tree-list-'))
    try {
      mkdirSync(join(root, 'b/é'), { recursive: true })
      writeFileSync(join(root, 'b/é/ü.txt'), '12345')
      writeFileSync(join(root, 'a'), '1')
      writeFileSync(join(root, 'c'), '')
      const tree = await walkTree({ root, exclude: ['c'], deployIdFile: 'meta/DEPLOY_ID' })
      assert.deepEqual(tree.list.toString('utf8').split('\0'), ['a', 'b', 'b/é', 'b/é/ü.txt', ''])
      assert.equal(tree.count, 4)
      assert.equal(tree.fileBytes, 6)
      assert.deepEqual(tree.deployIdEntries, ['meta', 'meta/DEPLOY_ID'])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
