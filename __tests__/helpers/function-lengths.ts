// Lengths of the functions of src/ (declarations, methods, arrows and function
// expressions), in lines from the first to the last, read with TypeScript's parser.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { readLayout } from './layout-rules.ts'

export interface FunctionLength {
  file: string
  name: string
  lines: number
}

function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node }
  if (named.name && ts.isIdentifier(named.name)) return named.name.text
  const parent = node.parent
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name))
    return parent.name.text
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name))
    return parent.name.text
  return '(anonymous)'
}

export function functionLengths(srcDir: string): FunctionLength[] {
  const out: FunctionLength[] = []
  for (const file of readLayout(srcDir).files) {
    const text = readFileSync(join(srcDir, file), 'utf8')
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node) => {
      if (
        ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isArrowFunction(node) ||
        ts.isFunctionExpression(node) ||
        ts.isGetAccessor(node) ||
        ts.isConstructorDeclaration(node)
      ) {
        const body = (node as ts.FunctionLikeDeclaration).body
        if (body) {
          const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
          const last = source.getLineAndCharacterOfPosition(node.end).line
          out.push({ file, name: nameOf(node), lines: last - first + 1 })
        }
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return out.sort((a, b) => b.lines - a.lines)
}
