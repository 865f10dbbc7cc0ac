import { z } from 'zod';
import type { Bus } from '../bus/types.ts';

/** What a node announces on every heartbeat: enough to place a room and to route to it. */
export const nodeStateSchema = z.object({
  nodeId: z.string().min(1).max(64),
  rooms: z.number().int().nonnegative(),
  consumers: z.number().int().nonnegative(),
  /** Share of the machine's cores used by the node and its media workers since the last beat, 0..1. */
  cpu: z.number().nonnegative(),
  /** Draining nodes take no new rooms. */
  draining: z.boolean(),
  at: z.number(),
});
export type NodeState = z.infer<typeof nodeStateSchema>;

/** The live nodes, each known by the state it announced last; a node that stops announcing expires. */
export class NodeRegistry {
  constructor(
    private readonly transport: Bus,
    private readonly ttlMs: number,
  ) {}

  announce(state: NodeState): Promise<void> {
    return this.transport.putNode(state.nodeId, JSON.stringify(state), this.ttlMs);
  }

  leave(nodeId: string): Promise<void> {
    return this.transport.removeNode(nodeId);
  }

  /** Live nodes; an entry that is not a node state (or claims another node's id) is left out. */
  async live(): Promise<NodeState[]> {
    const out: NodeState[] = [];
    for (const [id, text] of await this.transport.liveNodes()) {
      let parsed;
      try {
        parsed = nodeStateSchema.safeParse(JSON.parse(text));
      } catch {
        continue;
      }
      if (parsed.success && parsed.data.nodeId === id) out.push(parsed.data);
    }
    return out;
  }
}
