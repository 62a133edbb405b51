// A node's identity (contract 8a): one (datacenter, node name) pair. Consul names
// are unique only within a datacenter, so two datacenters may each have a
// `web-1`; Serf has no datacenters (its nodes have none). Pure.

export interface NodeId {
  node: string
  /** undefined: the agent's own datacenter (no `?dc`), or Serf's one cluster */
  datacenter?: string
}

/** A node as a caller names it: a bare name (in the datacenter of the caller's context), or the pair. */
export type NodeRef = string | NodeId

/** One string per node, for maps and sets: names repeat across datacenters, pairs do not. */
export function nodeKey(datacenter: string | undefined, node: string): string {
  // NUL is in no datacenter name (Consul allows [a-zA-Z0-9_-]), so the key is unambiguous.
  return `${datacenter ?? ''}\u0000${node}`
}

export const idKey = (id: NodeId): string => nodeKey(id.datacenter, id.node)

/** The pair, with `datacenter` only when there is one (so records of a plain run stay as they were). */
export function nodeId(datacenter: string | undefined, node: string): NodeId {
  return datacenter === undefined ? { node } : { node, datacenter }
}

/** Every node the steps name, once, in their order (a prepare step names its switch steps' nodes again). */
export function nodesOfSteps(
  steps: Iterable<{ datacenter: string | undefined; nodes: readonly string[] }>
): NodeId[] {
  const seen = new Map<string, NodeId>()
  for (const step of steps)
    for (const node of step.nodes) {
      const key = nodeKey(step.datacenter, node)
      if (!seen.has(key)) seen.set(key, nodeId(step.datacenter, node))
    }
  return [...seen.values()]
}

/**
 * The name a person reads: the node's name, and `web-1 (dc2)` where the name is
 * also a node of another datacenter of the same run. Naming the datacenter only
 * where it tells two nodes apart keeps every report of a run without repeated
 * names as it was; name first, so a list still sorts by name.
 */
export function nodeLabel(id: NodeId, repeated: boolean): string {
  return repeated && id.datacenter !== undefined ? `${id.node} (${id.datacenter})` : id.node
}

/** The steps' nodes by their labels, step after step (a repeated name with its datacenter). */
export function labelsOfSteps(
  steps: ReadonlyArray<{ datacenter: string | undefined; nodes: readonly string[] }>
): string[] {
  const named = new Map<string, number>()
  for (const { node } of nodesOfSteps(steps)) named.set(node, (named.get(node) ?? 0) + 1)
  return steps.flatMap((step) =>
    step.nodes.map((node) => nodeLabel(nodeId(step.datacenter, node), (named.get(node) ?? 0) > 1))
  )
}
