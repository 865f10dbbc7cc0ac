import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createBus } from '../bus/create-bus.ts';
import type { Bus } from '../bus/types.ts';
import { NodeRegistry, type NodeState } from './node-registry.ts';
import { pickNode } from './placement.ts';
import { RoomDirectory } from './room-directory.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const room = () => `r-${randomBytes(4).toString('hex')}`;
const state = (nodeId: string, over: Partial<NodeState> = {}): NodeState => ({
  nodeId,
  rooms: 0,
  consumers: 0,
  cpu: 0,
  draining: false,
  at: Date.now(),
  ...over,
});

describe.each(['local', 'redis'] as const)('room leases and node registry (%s)', (kind) => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  let transport: Bus;
  const shared = async () =>
    (transport ??= await createBus(kind === 'redis' ? TEST_REDIS_URL : undefined, prefix));
  afterAll(async () => transport?.close());

  it('a hosted room is renewed by its owner and free again soon after the owner stops renewing', async () => {
    const bus = await shared();
    const a = new RoomDirectory(bus, 'node-a', 150);
    const b = new RoomDirectory(bus, 'node-b', 150);
    const id = room();
    expect(await a.host(id)).toBe(true);
    expect(await b.host(id)).toBe(false);
    for (let i = 0; i < 4; i++) {
      await sleep(80);
      expect(await a.renew()).toEqual([]);
    }
    expect(await b.owner(id)).toBe('node-a');
    // node-a "dies": no more renewals.
    await sleep(200);
    expect(await b.owner(id)).toBeUndefined();
    expect(await b.host(id)).toBe(true);
    // node-a wakes up: its lease went to node-b, so it must stop hosting the room.
    expect(await a.renew()).toEqual([id]);
    expect(a.held).toEqual([]);
    expect(await a.owner(id)).toBe('node-b');
  });

  it('a lapsed lease nobody took is claimed back by its owner (a Redis outage longer than a lease)', async () => {
    const bus = await shared();
    const a = new RoomDirectory(bus, 'node-a', 60);
    const id = room();
    await a.host(id);
    await sleep(120);
    expect(await a.owner(id)).toBeUndefined();
    expect(await a.renew()).toEqual([]);
    expect(await a.owner(id)).toBe('node-a');
  });

  it('a reservation keeps the lease until the last session and the room are gone; only the owner releases', async () => {
    const bus = await shared();
    const a = new RoomDirectory(bus, 'node-a', 5000);
    const b = new RoomDirectory(bus, 'node-b', 5000);
    const id = room();
    expect(await b.claim(id, 'node-a')).toBe('node-a');
    a.reserve(id);
    a.reserve(id);
    await a.host(id);
    await a.unhost(id);
    await a.unreserve(id);
    expect(await a.owner(id)).toBe('node-a');
    await b.unhost(id);
    expect(await a.owner(id)).toBe('node-a');
    await a.unreserve(id);
    expect(await a.owner(id)).toBeUndefined();
  });

  it('nodes expire when they stop announcing; a malformed or spoofed entry is not a node', async () => {
    const bus = await shared();
    const registry = new NodeRegistry(bus, 150);
    await registry.announce(state('node-a', { consumers: 3 }));
    await registry.announce(state('node-b'));
    await bus.putNode('node-x', '{"nodeId": "node-x", "rooms": "many"}', 5000);
    await bus.putNode('node-y', JSON.stringify(state('node-a')), 5000);
    await bus.putNode('node-z', 'not json', 5000);
    const ids = async () => (await registry.live()).map((n) => n.nodeId).sort();
    expect(await ids()).toEqual(['node-a', 'node-b']);
    await sleep(100);
    await registry.announce(state('node-b'));
    await sleep(100);
    expect(await ids()).toEqual(['node-b']);
    await registry.leave('node-b');
    expect(await ids()).toEqual([]);
    for (const id of ['node-x', 'node-y', 'node-z']) await bus.removeNode(id);
  });
});

describe('placement', () => {
  it('picks the node with the fewest consumers, CPU breaking near-ties, never a draining one', () => {
    const nodes = [
      state('node-a', { consumers: 40, cpu: 0.1 }),
      state('node-b', { consumers: 10, cpu: 0.5 }),
      state('node-c', { consumers: 12, cpu: 0.2 }),
      state('node-d', { consumers: 0, cpu: 0, draining: true }),
    ];
    expect(pickNode(nodes)?.nodeId).toBe('node-c');
    expect(pickNode(nodes, 1)?.nodeId).toBe('node-b');
    expect(pickNode([state('node-b'), state('node-a')])?.nodeId).toBe('node-a');
    expect(pickNode([state('node-d', { draining: true })])).toBeUndefined();
    expect(pickNode([])).toBeUndefined();
  });
});
