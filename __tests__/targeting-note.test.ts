// The log's note on who a run's filters reach (plan/targeting-note.ts), per backend.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { InputName } from '../src/config/config.ts'
import { readConfig } from '../src/config/config.ts'
import { targetingNote } from '../src/plan/targeting-note.ts'

const env = {
  GITHUB_REPOSITORY: 'acme/web',
  GITHUB_SHA: '3f9c2ab1e0d94c7a8b6f5e4d3c2b1a0f9e8d7c6b',
  GITHUB_RUN_ID: '1',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_WORKSPACE: '/work/space',
  AWS_REGION: 'eu-west-1'
}
const note = (inputs: Partial<Record<InputName, string>>) =>
  targetingNote(readConfig((name) => inputs[name] ?? '', env))
const consul = (inputs: Partial<Record<InputName, string>> = {}) =>
  note({ 's3-url': 's3://acme-releases/web', ...inputs })
const serf = (inputs: Partial<Record<InputName, string>> = {}) =>
  consul({ backend: 'serf', ...inputs })

test('consul: no filter targets every live node, servers included; any filter: nothing to say', () => {
  assert.match(consul() ?? '', /^no node-filter or service-filter: every live node is targeted/)
  assert.equal(consul({ 'node-filter': '^web-' }), undefined)
  assert.equal(consul({ 'service-filter': '^web$' }), undefined)
  assert.equal(consul({ 'service-filter': '^web$', 'tag-filter': 'blue' }), undefined)
})

test('serf: no filter targets every alive member; only this app may handle its event', () => {
  assert.match(
    serf({ 'event-name': 'deploy-web' }) ?? '',
    /every alive member is targeted; .*"deploy-web"/
  )
})

test('serf with a filter and one event: members outside it that handle the event deploy too; waves: 100% is the way out', () => {
  for (const filter of [{ 'node-filter': '^web-' }, { 'serf-tags': 'role=web' }]) {
    const line = serf(filter) ?? ''
    assert.match(line, /reaches every member, and each one that handles it deploys/, line)
    assert.match(line, /set waves: 100%/, line)
  }
})

test('serf with a filter and queries (waves, layout: releases, promote): nothing to say', () => {
  const filtered = { 'node-filter': '^web-' }
  assert.equal(serf({ ...filtered, waves: '100%' }), undefined)
  assert.equal(serf({ ...filtered, waves: '1, 100%' }), undefined)
  assert.equal(serf({ ...filtered, layout: 'releases', dest: '/srv/web' }), undefined)
  assert.equal(serf({ ...filtered, promote: '20261130-113000-abcdef0-r7.1' }), undefined)
})
