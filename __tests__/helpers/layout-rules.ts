// The layout of src/ as rules (DESIGN "Rooms"): folders by stage, imports one
// way, pure rooms free of network code, no cycle. Read with TypeScript's own
// parser (already a dev dependency), so multi-line and type-only imports are
// seen as the compiler sees them.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/**
 * The stages from the bottom up: a file may import from its own room or from a
 * room of a lower rank. Rooms of one rank (the two backends; action and cli)
 * never import each other.
 */
export const RANKS: Record<string, number> = {
  shared: 0,
  config: 1,
  'fleet-state': 2,
  /** the fleet backend seam: the interface both backends implement */
  backend: 3,
  consul: 4,
  serf: 4,
  publish: 5,
  plan: 6,
  rollout: 7,
  report: 8,
  github: 9,
  pipeline: 10,
  action: 11,
  cli: 11,
  'index.ts': 12,
  'post-entry.ts': 12,
  'cli-entry.ts': 12
}

/** Rooms of pure logic: they import (at run time) only from these rooms and themselves. */
export const PURE: Record<string, readonly string[]> = {
  'rollout/plan': ['shared', 'config', 'fleet-state'],
  report: ['shared', 'config', 'fleet-state'],
  'publish/manifest': ['shared', 'config']
}

/** Packages that talk to the network: never imported by a pure room. */
const NETWORK =
  /^(node:)?(http|https|http2|net|tls|dgram)$|^undici$|^@aws-sdk\/|^@actions\/github$|^@octokit\//

export interface Edge {
  from: string
  to: string
  typeOnly: boolean
}

export interface Layout {
  files: string[]
  edges: Edge[]
  /** imports of packages (not files), per file */
  packages: Array<{ from: string; name: string; typeOnly: boolean }>
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? listTs(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')
        ? [join(dir, e.name)]
        : []
  )
}

function specifiers(file: string): Array<{ spec: string; typeOnly: boolean }> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest)
  const out: Array<{ spec: string; typeOnly: boolean }> = []
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)))
      out.push({ spec: node.moduleSpecifier.text, typeOnly: allTypes })
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push({ spec: node.moduleSpecifier.text, typeOnly: node.isTypeOnly })
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ spec: node.arguments[0].text, typeOnly: false })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** Every file of `srcDir` (paths relative to it, `/`-separated) and its imports. */
export function readLayout(srcDir: string): Layout {
  const root = resolve(srcDir)
  const rel = (p: string) => relative(root, p).split(sep).join('/')
  const files = listTs(root)
  const edges: Edge[] = []
  const packages: Layout['packages'] = []
  for (const file of files) {
    for (const { spec, typeOnly } of specifiers(file)) {
      if (spec.startsWith('.'))
        edges.push({ from: rel(file), to: rel(resolve(dirname(file), spec)), typeOnly })
      else packages.push({ from: rel(file), name: spec, typeOnly })
    }
  }
  return { files: files.map(rel), edges, packages }
}

/** The room of a file: its top folder, or the file itself at the top. */
export function roomOf(file: string): string {
  return file.split('/')[0]!
}

function pureRoomOf(file: string): string | undefined {
  return Object.keys(PURE).find((room) => file === room || file.startsWith(`${room}/`))
}

/** Each cycle once, as the files around it (shortest rotation first). */
export function cycles(layout: Layout): string[][] {
  const next = new Map<string, string[]>()
  for (const e of layout.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to])
  const found = new Map<string, string[]>()
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const walk = (file: string) => {
    state.set(file, 'open')
    stack.push(file)
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') {
        const ring = stack.slice(stack.indexOf(to))
        const start = ring.indexOf([...ring].sort()[0]!)
        const key = [...ring.slice(start), ...ring.slice(0, start)]
        found.set(key.join(' -> '), key)
      } else if (!state.has(to)) walk(to)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of [...layout.files].sort()) if (!state.has(file)) walk(file)
  return [...found.values()]
}

/** Every broken rule, one line each; none when the layout holds. */
export function layoutProblems(layout: Layout): string[] {
  const problems: string[] = []
  for (const file of layout.files)
    if (RANKS[roomOf(file)] === undefined)
      problems.push(`${file}: not in a room of the layout (${Object.keys(RANKS).join(', ')})`)
  for (const e of layout.edges) {
    const from = roomOf(e.from)
    const to = roomOf(e.to)
    if (!layout.files.includes(e.to))
      problems.push(`${e.from}: imports ${e.to}, not a file of src/`)
    if (from !== to && RANKS[from] !== undefined && RANKS[to] !== undefined) {
      if (RANKS[to]! >= RANKS[from]!)
        problems.push(`${e.from}: imports ${e.to} (${to} is not below ${from})`)
    }
    const pure = pureRoomOf(e.from)
    if (pure && !e.typeOnly && pureRoomOf(e.to) !== pure && !PURE[pure]!.includes(to))
      problems.push(`${e.from}: pure room ${pure} imports ${e.to} at run time`)
  }
  for (const p of layout.packages) {
    const pure = pureRoomOf(p.from)
    if (pure && !p.typeOnly && NETWORK.test(p.name))
      problems.push(`${p.from}: pure room ${pure} imports network package ${p.name}`)
  }
  for (const ring of cycles(layout)) problems.push(`cycle: ${[...ring, ring[0]].join(' -> ')}`)
  return problems
}
