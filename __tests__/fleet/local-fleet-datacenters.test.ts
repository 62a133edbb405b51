// startLocalFleet with several Consul datacenters: each node's stretcher talks to
// its own agent, so it hears only its datacenter's events and reports into its
// datacenter's KV; the action's address is the first datacenter's server.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startLocalFleet } from '../../fleet/index.ts'
import { fireEvent, kvText, manifestYaml, putObject } from '../../fleet/manual-release.ts'
import { successCommands } from '../../src/publish/manifest/node-report.ts'

test('an event fired with ?dc=dc2 reaches only dc2 nodes; their results land in dc2 KV', async () => {
  const fleet = await startLocalFleet({
    kvPrefix: 'stretcher/app',
    datacenters: [
      { name: 'dc1', nodes: 3 },
      { name: 'dc2', nodes: 3 }
    ]
  })
  try {
    assert.deepEqual(fleet.datacenters, ['dc1', 'dc2'])
    assert.deepEqual(
      [...fleet.nodes.keys()],
      ['dc1-node-1', 'dc1-node-2', 'dc1-node-3', 'dc2-node-1', 'dc2-node-2', 'dc2-node-3']
    )
    assert.equal(fleet.server?.name, 'consul-server-1')
    assert.equal(fleet.servers.get('dc2')?.name, 'consul-server-1-dc2')
    assert.equal(fleet.datacenterOf('dc2-node-1'), 'dc2')
    assert.equal(fleet.datacenterOf('consul-server-1'), 'dc1')
    assert.equal(fleet.env.FLEET_DATACENTERS, 'dc1,dc2')
    assert.equal(fleet.env.FLEET_CONSUL_ADDR, fleet.consul.url)
    const self = (await (await fetch(`${fleet.env.FLEET_CONSUL_ADDR}/v1/agent/self`)).json()) as {
      Config: { Datacenter: string }
    }
    assert.equal(self.Config.Datacenter, 'dc1')
    const listed = await (await fetch(`${fleet.consul.url}/v1/catalog/datacenters`)).json()
    assert.deepEqual(listed, ['dc1', 'dc2'])

    const url = await putObject(
      fleet,
      'app/d2.yml',
      manifestYaml({
        commands: { success: successCommands({ kvPrefix: 'stretcher/app', deployId: 'd2' }) }
      })
    )
    // Fired through dc1's server, as the action would, into dc2.
    await fireEvent(fleet, url, { service: '^web$', dc: 'dc2' })
    const dc2Nodes = [...fleet.nodes.values()].filter((n) => fleet.datacenterOf(n.name) === 'dc2')
    for (const node of dc2Nodes) {
      const run = await node.waitForRuns(1)
      assert.equal(run.status, 'success', run.log)
      const result = JSON.parse(kvText(fleet, `stretcher/app/results/${node.name}`, 'dc2')!) as {
        deploy_id: string
        node: string
      }
      assert.equal(result.deploy_id, 'd2')
      assert.equal(result.node, node.name)
      // Not in dc1's KV.
      assert.equal(kvText(fleet, `stretcher/app/results/${node.name}`, 'dc1'), undefined)
    }
    // dc1's nodes and both servers (not web) heard nothing.
    await new Promise((r) => setTimeout(r, 200))
    for (const node of [...fleet.nodes.values(), ...fleet.servers.values()])
      if (!dc2Nodes.includes(node)) assert.equal(node.runs, 0, node.name)
    for (const name of ['dc1-node-1', 'dc1-node-2', 'dc1-node-3'])
      assert.deepEqual(fleet.consul.events(name), [], name)
    assert.deepEqual(
      fleet.consul.datacenter('dc1').kv('stretcher/app/results/dc2-node-1'),
      undefined
    )
  } finally {
    await fleet.stop()
  }
})

test('ACLs on: the action and node tokens are global, valid in every datacenter', async () => {
  const fleet = await startLocalFleet({
    kvPrefix: 'stretcher/app',
    acl: {},
    datacenters: [
      { name: 'dc1', nodes: 1 },
      { name: 'dc2', nodes: 1 }
    ]
  })
  try {
    const headers = { 'X-Consul-Token': fleet.tokens!.action }
    const write = await fetch(`${fleet.consul.url}/v1/kv/stretcher/app/latest?dc=dc2`, {
      method: 'PUT',
      body: 'x',
      headers
    })
    assert.equal(write.status, 200)
    assert.equal(kvText(fleet, 'stretcher/app/latest', 'dc2'), 'x')
    const url = await putObject(
      fleet,
      'app/d3.yml',
      manifestYaml({
        commands: { success: successCommands({ kvPrefix: 'stretcher/app', deployId: 'd3' }) }
      })
    )
    await fireEvent(fleet, url, { service: '^web$', dc: 'dc2', token: fleet.tokens!.action })
    const node = fleet.nodes.get('dc2-node-1')!
    const run = await node.waitForRuns(1)
    assert.equal(run.status, 'success', run.log)
    assert.match(kvText(fleet, 'stretcher/app/results/dc2-node-1', 'dc2')!, /"d3"/)
  } finally {
    await fleet.stop()
  }
})

test('datacenters and nodes together are refused; a name repeats only across datacenters', async () => {
  await assert.rejects(
    startLocalFleet({ nodes: 1, datacenters: [{ name: 'dc1' }] }),
    /per datacenter/
  )
  await assert.rejects(
    startLocalFleet({
      datacenters: [{ name: 'dc1', nodes: [{ name: 'a' }, { name: 'a' }] }, { name: 'dc2' }]
    }),
    /twice/
  )
  // Consul names nodes uniquely per datacenter only: two nodes, keyed <dc>/<name>.
  const fleet = await startLocalFleet({
    datacenters: [
      { name: 'dc1', nodes: [{ name: 'a' }] },
      { name: 'dc2', nodes: [{ name: 'a' }, { name: 'b' }] }
    ]
  })
  try {
    assert.deepEqual([...fleet.nodes.keys()].sort(), ['b', 'dc1/a', 'dc2/a'])
    assert.equal(fleet.datacenterOf('dc1/a'), 'dc1')
    assert.equal(fleet.datacenterOf('dc2/a'), 'dc2')
  } finally {
    await fleet.stop()
  }
})
