// The target inputs: which nodes take the release (node-filter, service-filter,
// tag-filter, as Consul's event filters) and in which datacenters.
import type { DatacenterSelection } from './config-types.ts'
import type { Getter, InputName } from './inputs.ts'
import { InputError, quote } from '../shared/errors.ts'
import type { EventFilters } from '../shared/filters.ts'
import { compileFilter } from '../shared/filters.ts'

// agent/config/builder.go: validateBasicName("datacenter", ...) with reBasicName
// `^[a-z0-9_-]+$` ("datacenter can only contain lowercase alphanumeric, - or _
// characters."), after the builder lowercased the setting (strings.ToLower): a
// datacenter is always named in lower case, and `?dc=DC1` finds no route.
const DATACENTER = /^[a-z0-9_-]+$/

function parseRegexFilter(name: InputName, raw: string): string | undefined {
  if (raw === '') return undefined
  // Consul compiles filters with Go's RE2 and refuses the event otherwise: say so
  // here, in Go's words, before anything is written (contract 2b).
  try {
    compileFilter(raw)
  } catch (error) {
    const why = (error as Error).message
    const perlOnly =
      /unsupported Perl syntax|invalid named capture: `\(\?<[=!]|invalid escape sequence: `\\[1-9]/.test(
        why
      )
    throw new InputError(
      name,
      `is not a valid regular expression for Consul (Go's RE2): ${why}${perlOnly ? ' (RE2 has no lookaround or backreferences)' : ''}`
    )
  }
  return raw
}

/** `datacenters`: comma- (or newline-) separated Consul datacenter names, or `all`. */
export function parseDatacenters(raw: string): DatacenterSelection {
  const names = raw
    .split(/[,\r\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== '')
  if (names.length === 0) return { kind: 'agent' }
  if (names.includes('all')) {
    if (names.length > 1)
      throw new InputError(
        'datacenters',
        `is either all or a list of datacenter names, not both (got ${quote(raw)})`
      )
    return { kind: 'all' }
  }
  for (const name of names) {
    if (DATACENTER.test(name)) continue
    const lower = name.toLowerCase()
    throw new InputError(
      'datacenters',
      DATACENTER.test(lower)
        ? `names ${quote(name)}: Consul datacenter names are lower case (did you mean ${quote(lower)}?)`
        : `names ${quote(name)}: a Consul datacenter name is lower-case letters, digits, - and _`
    )
  }
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice !== undefined) throw new InputError('datacenters', `names ${quote(twice)} twice`)
  return { kind: 'named', names }
}

export function readFilters(get: Getter): EventFilters {
  const filters: EventFilters = {
    node: parseRegexFilter('node-filter', get('node-filter')),
    service: parseRegexFilter('service-filter', get('service-filter')),
    tag: parseRegexFilter('tag-filter', get('tag-filter'))
  }
  if (filters.tag !== undefined && filters.service === undefined)
    // Consul refuses it: "Cannot provide tag filter without service filter".
    throw new InputError(
      'tag-filter',
      'needs service-filter (Consul filters tags within a service)'
    )
  return filters
}
