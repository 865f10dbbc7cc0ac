import type { NodeState } from './node-registry.ts';

/**
 * Where a new room goes: the live, non-draining node with the fewest consumers (what a room costs a
 * node grows with its subscriptions), CPU breaking near-ties; ids break exact ties so every node
 * picks the same one. Consumers within a small band count as equal, so a fresh node with a few
 * consumers less does not take every new room while its CPU is already higher.
 */
export function pickNode(nodes: readonly NodeState[], consumerBand = 8): NodeState | undefined {
  const candidates = nodes.filter((n) => !n.draining);
  const band = (n: NodeState) => Math.floor(n.consumers / consumerBand);
  return candidates.sort(
    (a, b) =>
      band(a) - band(b) || a.cpu - b.cpu || a.consumers - b.consumers || a.nodeId.localeCompare(b.nodeId),
  )[0];
}
