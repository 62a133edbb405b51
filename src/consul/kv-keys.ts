// The Consul KV layout under `<kv-prefix>` (contract 5).

export const kvKeys = (prefix: string) => ({
  latest: `${prefix}/latest`,
  deployId: `${prefix}/deploy-id`,
  history: (id: string) => `${prefix}/history/${id}`,
  results: `${prefix}/results/`,
  result: (node: string) => `${prefix}/results/${node}`,
  log: (node: string) => `${prefix}/logs/${node}`,
  lock: `${prefix}/lock`,
  rollout: `${prefix}/rollout`
})
