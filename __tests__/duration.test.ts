import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatGoDuration, parseGoDuration } from '../src/shared/duration.ts'

test('parses Go durations as time.ParseDuration does', () => {
  assert.equal(parseGoDuration('90s'), 90_000)
  assert.equal(parseGoDuration('10m'), 600_000)
  assert.equal(parseGoDuration('1h30m'), 5_400_000)
  assert.equal(parseGoDuration('1.5h'), 5_400_000)
  assert.equal(parseGoDuration('250ms'), 250)
  assert.equal(parseGoDuration('2m3.5s'), 123_500)
  assert.equal(parseGoDuration('0'), 0)
  assert.equal(parseGoDuration('-1.5s'), -1500)
  assert.equal(parseGoDuration('+2m'), 120_000)
})

test('refuses what Go refuses: no unit, unknown unit, spaces, doubled signs, empty', () => {
  for (const bad of ['', '10', '10 m', '5d', 'm', '1h 30m', '--1s', '1hh', 's10', '1.2.3s', '-']) {
    assert.equal(parseGoDuration(bad), undefined, bad)
  }
})

test('formats whole durations the way Go prints them', () => {
  assert.equal(formatGoDuration(90_000), '1m30s')
  assert.equal(formatGoDuration(3_600_000), '1h')
  assert.equal(formatGoDuration(3_605_000), '1h5s')
  assert.equal(formatGoDuration(0), '0ms')
  assert.equal(formatGoDuration(1000), '1s')
})
