// Where things sit in the manifest template, for errors that point at them
// (file:line:col, as an editor jumps to).
import type { Node } from 'js-yaml'
import { InputError } from '../../shared/errors.ts'

export class Places {
  /** where each node of the syntax tree starts; filled in by template.ts locateNodes */
  readonly offsets = new Map<Node, number>()
  readonly fileName: string
  private readonly lineStarts = [0]

  constructor(fileName: string, text: string) {
    this.fileName = fileName
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '\n') this.lineStarts.push(i + 1)
    }
  }

  /** `file:line:col` of an offset in the text */
  where(offset: number): string {
    const starts = this.lineStarts
    let line = 0
    while (line + 1 < starts.length && starts[line + 1]! <= offset) {
      line++
    }
    return `${this.fileName}:${line + 1}:${offset - starts[line]! + 1}`
  }

  at(node: Node): number {
    return this.offsets.get(node) ?? 0
  }

  /** `file:line:col` of a node */
  of(node: Node): string {
    return this.where(this.at(node))
  }

  fail(offset: number, reason: string): never {
    throw new InputError('manifest', `${this.where(offset)}: ${reason}`)
  }

  /** fails at `node` */
  refuse(node: Node, reason: string): never {
    return this.fail(this.at(node), reason)
  }
}
