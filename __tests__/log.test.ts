import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatBytes, formatRate, throttle } from '../src/shared/log.ts'

test('throttle: at most one line per interval, none before the first interval, flush emits the last', () => {
  let now = 0
  const seen: number[] = []
  const t = throttle<number>(
    1000,
    (v) => seen.push(v),
    () => now
  )
  t.update(1)
  now = 500
  t.update(2)
  assert.deepEqual(seen, [])
  now = 1000
  t.update(3)
  now = 1500
  t.update(4)
  assert.deepEqual(seen, [3])
  t.flush()
  t.flush()
  assert.deepEqual(seen, [3, 4])
})

test('bytes and rates read as a person reads them', () => {
  assert.equal(formatBytes(999), '999 B')
  assert.equal(formatBytes(30_700), '30.7 kB')
  assert.equal(formatBytes(201_800_000), '201.8 MB')
  assert.equal(formatBytes(1_200_000_000), '1.20 GB')
  assert.equal(formatRate(83_000_000, 1000), '83.0 MB/s')
})
