// The rollout inputs: timeout, and waves, bake-time, auto-rollback, layout and
// keep-releases (how the fleet takes the release; waves.ts parses the first two).
import type { Config } from './config-types.ts'
import type { Getter } from './inputs.ts'
import { parseBoolean, parseInteger } from './inputs.ts'
import { parseBakeTime, parseWaves } from './waves.ts'
import { formatGoDuration, parseGoDuration } from '../shared/duration.ts'
import { InputError, quote } from '../shared/errors.ts'

export function parseTimeout(raw: string): number {
  const timeoutMs = parseGoDuration(raw)
  if (timeoutMs === undefined)
    throw new InputError(
      'timeout',
      `must be a Go duration such as 90s, 10m or 1h30m (got ${quote(raw)})`
    )
  if (timeoutMs < 1000 || timeoutMs > 24 * 3_600_000)
    throw new InputError(
      'timeout',
      `must be between 1s and 24h (got ${quote(raw)} = ${formatGoDuration(timeoutMs)})`
    )
  return timeoutMs
}

/** Waves, their gate and the releases layout: how the fleet takes the release. */
export function readRollout(
  get: Getter,
  wait: boolean
): Pick<Config, 'waves' | 'bakeMs' | 'autoRollback' | 'layout' | 'keepReleases'> {
  const waves = parseWaves(get('waves'))
  const bakeMs = parseBakeTime(get('bake-time'))
  const autoRollback = parseBoolean('auto-rollback', get('auto-rollback'))
  const layout = get('layout') || 'in-place'
  if (layout !== 'in-place' && layout !== 'releases')
    throw new InputError('layout', `must be in-place or releases (got ${quote(layout)})`)
  const keepReleases = parseInteger('keep-releases', get('keep-releases') || '5', 2, 1000)
  // A wave starts when the one before has reported: nothing of it works without waiting.
  if (!wait)
    for (const [name, used] of [
      ['waves', waves !== undefined],
      ['bake-time', bakeMs > 0],
      ['auto-rollback', autoRollback],
      ['layout', layout === 'releases']
    ] as const)
      if (used) throw new InputError(name, 'needs wait: true (it acts on what the nodes report)')
  return { waves, bakeMs, autoRollback, layout, keepReleases }
}

/**
 * The one-wave default: no waves, no promote, in place. Its event carries the
 * configured filters (Consul) or reaches every member (Serf), not a list of names.
 */
export function sendsByFilters(config: Pick<Config, 'waves' | 'promote' | 'layout'>): boolean {
  return config.waves === undefined && !config.promote && config.layout !== 'releases'
}
