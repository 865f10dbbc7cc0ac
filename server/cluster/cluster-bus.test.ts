import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createBus } from '../bus/create-bus.ts';
import type { Bus } from '../bus/types.ts';
import type { ChannelMessage } from './channels.ts';
import { ClusterBus, type InvalidMessage } from './cluster-bus.ts';

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe.each(['local', 'redis'] as const)('typed channels over the %s bus', (kind) => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const transports: Bus[] = [];
  const make = async () => {
    const transport = await createBus(kind === 'redis' ? TEST_REDIS_URL : undefined, prefix);
    transports.push(transport);
    const invalid: InvalidMessage[] = [];
    return { bus: new ClusterBus(transport, (i) => invalid.push(i)), transport, invalid };
  };
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
  });

  it('delivers a valid payload typed by its channel, and drops one that fails the schema', async () => {
    const { bus, transport, invalid } = await make();
    const got: ChannelMessage<'room-events'>[] = [];
    await bus.subscribe('room-events', (m) => got.push(m));
    await bus.publish('room-events', { type: 'room_ended', roomId: 'r1', reason: 'empty', at: 'now' });
    // What a forger or a buggy older node could put on the channel: the wrong shape, a foreign type.
    await transport.publish('room-events', { type: 'room_ended', roomId: 42 });
    await transport.publish('room-events', { type: 'drop_tables', roomId: 'r1', at: 'now' });
    await until(() => invalid.length >= 2 && got.length >= 1);
    expect(got).toEqual([{ type: 'room_ended', roomId: 'r1', reason: 'empty', at: 'now' }]);
    expect(invalid.map((i) => i.channel)).toEqual(['room-events', 'room-events']);
    expect(invalid[0]!.issues).toEqual(expect.arrayContaining(['roomId']));
  });

  it('a keyed channel reaches only that key', async () => {
    const { bus } = await make();
    const a: unknown[] = [];
    const b: unknown[] = [];
    await bus.subscribe('join-grants', (m) => a.push(m), 'node-a');
    const unsubscribe = await bus.subscribe('join-grants', (m) => b.push(m), 'node-b');
    const m = { room: 'r', reason: 'invitation_revoked', until: 1 } as const;
    await bus.publish('join-grants', m, 'node-a');
    await until(() => a.length > 0);
    await new Promise((r) => setTimeout(r, 30));
    expect(a).toEqual([m]);
    expect(b).toEqual([]);
    await unsubscribe();
  });
});
