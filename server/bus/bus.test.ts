import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createBus } from './create-bus.ts';
import type { Bus } from './types.ts';

const received = (bus: Bus, channel: string) => {
  const messages: unknown[] = [];
  const ready = bus.subscribe(channel, (m) => messages.push(m));
  return { messages, ready };
};
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe.each(['local', 'redis'] as const)('%s bus', (kind) => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const buses: Bus[] = [];
  const make = async () => {
    const bus = await createBus(kind === 'redis' ? TEST_REDIS_URL : undefined, prefix);
    buses.push(bus);
    return bus;
  };
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  it('is the implementation chosen by the URL', async () => {
    expect((await make()).kind).toBe(kind);
  });

  it('delivers published JSON to subscribers, in order, until unsubscribed', async () => {
    const bus = await make();
    const r = received(bus, 'events');
    const unsubscribe = await r.ready;
    await bus.publish('events', { n: 1, at: new Date(0) });
    await bus.publish('events', { n: 2 });
    await bus.publish('other', { n: 99 });
    await until(() => r.messages.length >= 2);
    expect(r.messages).toEqual([{ n: 1, at: '1970-01-01T00:00:00.000Z' }, { n: 2 }]);
    await unsubscribe();
    await bus.publish('events', { n: 3 });
    await new Promise((res) => setTimeout(res, 50));
    expect(r.messages).toHaveLength(2);
  });

  it('room directory: first claim wins, others see the owner, release only by the owner', async () => {
    const bus = await make();
    const room = `r-${randomBytes(4).toString('hex')}`;
    expect(await bus.claimRoom(room, 'node-a', 5000)).toBe('node-a');
    expect(await bus.claimRoom(room, 'node-b', 5000)).toBe('node-a');
    expect(await bus.roomOwner(room)).toBe('node-a');
    await bus.releaseRoom(room, 'node-b');
    expect(await bus.roomOwner(room)).toBe('node-a');
    await bus.releaseRoom(room, 'node-a');
    expect(await bus.roomOwner(room)).toBeUndefined();
    expect(await bus.claimRoom(room, 'node-b', 5000)).toBe('node-b');
  });

  it("a dead owner's claim expires", async () => {
    const bus = await make();
    const room = `r-${randomBytes(4).toString('hex')}`;
    await bus.claimRoom(room, 'node-a', 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await bus.claimRoom(room, 'node-b', 5000)).toBe('node-b');
  });

  it('keepFirst: the first value stays until forgotten or expired', async () => {
    const bus = await make();
    const key = `k-${randomBytes(4).toString('hex')}`;
    expect(await bus.keepFirst(key, '1', 5000)).toBe('1');
    expect(await bus.keepFirst(key, '2', 5000)).toBe('1');
    await bus.forget(key);
    expect(await bus.keepFirst(key, '3', 50)).toBe('3');
    await new Promise((r) => setTimeout(r, 120));
    expect(await bus.keepFirst(key, '4', 5000)).toBe('4');
  });

  it('slots: at most max live ones per set; taking a held one again is fine; released and expired ones free room', async () => {
    const bus = await make();
    const set = `s-${randomBytes(4).toString('hex')}`;
    expect(await bus.takeSlot(set, 'a', 2, 5000)).toBe(true);
    expect(await bus.takeSlot(set, 'b', 2, 80)).toBe(true);
    expect(await bus.takeSlot(set, 'c', 2, 5000)).toBe(false);
    expect(await bus.takeSlot(set, 'a', 2, 5000)).toBe(true);
    expect(await bus.takeSlot(`${set}-other`, 'c', 2, 5000)).toBe(true);
    // b is not renewed: it runs out; a is renewed past a's first expiry.
    await bus.renewSlots([{ set, slot: 'a' }], 5000);
    await new Promise((r) => setTimeout(r, 150));
    expect(await bus.takeSlot(set, 'c', 2, 5000)).toBe(true);
    expect(await bus.takeSlot(set, 'd', 2, 5000)).toBe(false);
    await bus.releaseSlot(set, 'a');
    expect(await bus.takeSlot(set, 'd', 2, 5000)).toBe(true);
  });
});

it('redis: two nodes share messages and the directory', async () => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const a = await createBus(TEST_REDIS_URL, prefix);
  const b = await createBus(TEST_REDIS_URL, prefix);
  try {
    const r = received(b, 'room-events');
    await r.ready;
    await a.publish('room-events', { type: 'room_started' });
    await until(() => r.messages.length > 0);
    expect(r.messages).toEqual([{ type: 'room_started' }]);
    await a.claimRoom('shared', 'node-a', 5000);
    expect(await b.roomOwner('shared')).toBe('node-a');
  } finally {
    await a.close();
    await b.close();
  }
});

it('redis: an unreachable server fails createBus with an error', async () => {
  await expect(createBus('redis://127.0.0.1:1')).rejects.toThrow();
});
