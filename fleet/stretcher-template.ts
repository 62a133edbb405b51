// The part of Go text/template that stretcher v2 applies to every manifest before
// reading it (research/stretcher.md §1 "Parsing": kayac/go-config with the
// functions env, must_env and json_escape, evaluated with the node's environment).
// Supported: string literals ("..." and `...`), those three functions, pipes,
// comments and the {{- / -}} trim markers. Anything else is a template error, as
// Go would report for an undefined function or field on a nil data value.

export class TemplateError extends Error {
  override name = 'TemplateError'
}

type Env = Readonly<Record<string, string | undefined>>

interface Token {
  kind: 'string' | 'word' | 'pipe'
  text: string
}

const GO_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v'
}

function lex(action: string, line: number): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < action.length) {
    const c = action[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === '|') {
      tokens.push({ kind: 'pipe', text: '|' })
      i++
    } else if (c === '`') {
      const end = action.indexOf('`', i + 1)
      if (end < 0)
        throw new TemplateError(`template: manifest:${line}: unterminated raw quoted string`)
      tokens.push({ kind: 'string', text: action.slice(i + 1, end) })
      i = end + 1
    } else if (c === '"') {
      let text = ''
      i++
      for (;;) {
        const ch = action[i]
        if (ch === undefined || ch === '\n')
          throw new TemplateError(`template: manifest:${line}: unterminated quoted string`)
        i++
        if (ch === '"') break
        if (ch !== '\\') {
          text += ch
          continue
        }
        const esc = action[i++]
        if (esc === 'x' || esc === 'u' || esc === 'U') {
          const width = esc === 'x' ? 2 : esc === 'u' ? 4 : 8
          const hex = action.slice(i, i + width)
          if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex))
            throw new TemplateError(`template: manifest:${line}: invalid syntax`)
          text += String.fromCodePoint(parseInt(hex, 16))
          i += width
        } else if (esc !== undefined && GO_ESCAPES[esc] !== undefined) {
          text += GO_ESCAPES[esc]
        } else {
          throw new TemplateError(`template: manifest:${line}: invalid syntax`)
        }
      }
      tokens.push({ kind: 'string', text })
    } else {
      const match = /^[^\s|"`]+/.exec(action.slice(i))!
      tokens.push({ kind: 'word', text: match[0] })
      i += match[0].length
    }
  }
  return tokens
}

function call(name: string, args: string[], env: Env, line: number): string {
  const where = `template: manifest:${line}`
  switch (name) {
    case 'env': {
      // go-config envFunc: the first non-empty variable; else the last argument itself.
      let value = ''
      for (const key of args) {
        value = env[key] ?? ''
        if (value !== '') return value
        value = key
      }
      return value
    }
    case 'must_env': {
      if (args.length !== 1)
        throw new TemplateError(
          `${where}: wrong number of args for must_env: want 1 got ${args.length}`
        )
      const value = env[args[0]!]
      // go-config mustEnvFunc panics: stretcher dies before running anything.
      if (value === undefined)
        throw new TemplateError(`panic: environment variable ${args[0]} is not defined`)
      return value
    }
    case 'json_escape': {
      if (args.length !== 1)
        throw new TemplateError(
          `${where}: wrong number of args for json_escape: want 1 got ${args.length}`
        )
      return JSON.stringify(args[0]).slice(1, -1)
    }
    default:
      if (name.startsWith('.') || name.startsWith('$'))
        throw new TemplateError(
          `${where}: executing "manifest": ${name} is not supported on a nil data value`
        )
      throw new TemplateError(`${where}: function "${name}" not defined`)
  }
}

function evaluate(action: string, env: Env, line: number): string {
  const tokens = lex(action, line)
  if (tokens.length === 0)
    throw new TemplateError(`template: manifest:${line}: missing value for command`)
  const stages: Token[][] = [[]]
  for (const token of tokens) {
    if (token.kind === 'pipe') stages.push([])
    else stages[stages.length - 1]!.push(token)
  }
  let value: string | undefined
  for (const stage of stages) {
    const [head, ...rest] = stage
    if (!head) throw new TemplateError(`template: manifest:${line}: missing command`)
    if (head.kind === 'string') {
      if (rest.length > 0 || value !== undefined)
        throw new TemplateError(`template: manifest:${line}: can't give argument to non-function`)
      value = head.text
      continue
    }
    const args = rest.map((token) => {
      if (token.kind !== 'string')
        throw new TemplateError(`template: manifest:${line}: unsupported argument ${token.text}`)
      return token.text
    })
    if (value !== undefined) args.push(value)
    value = call(head.text, args, env, line)
  }
  return value ?? ''
}

/** Renders a manifest as stretcher would; throws TemplateError where stretcher fails. */
export function renderTemplate(text: string, env: Env): string {
  let out = ''
  let pos = 0
  for (;;) {
    const open = text.indexOf('{{', pos)
    if (open < 0) return out + text.slice(pos)
    const line = text.slice(0, open).split('\n').length
    let literal = text.slice(pos, open)
    let start = open + 2
    // "{{- " trims the white space before the action.
    if (/^-[ \t\r\n]/.test(text.slice(start))) {
      literal = literal.replace(/[ \t\r\n]+$/, '')
      start += 1
    }
    out += literal
    // Find the closing }} outside string literals.
    let i = start
    let quote: string | null = null
    for (; i < text.length; i++) {
      const c = text[i]!
      if (quote) {
        if (c === '\\' && quote === '"') i++
        else if (c === quote) quote = null
      } else if (c === '"' || c === '`') quote = c
      else if (text.startsWith('}}', i)) break
    }
    if (i >= text.length) throw new TemplateError(`template: manifest:${line}: unclosed action`)
    let end = i
    let trimAfter = false
    if (/[ \t\r\n]-$/.test(text.slice(start, end))) {
      end -= 1
      trimAfter = true
    }
    const action = text.slice(start, end).trim()
    if (!(action.startsWith('/*') && action.endsWith('*/'))) out += evaluate(action, env, line)
    pos = i + 2
    if (trimAfter) pos += /^[ \t\r\n]*/.exec(text.slice(pos))![0].length
  }
}
