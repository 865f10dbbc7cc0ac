import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createBus } from './create-bus.ts';
import { developmentClusterKey, MessageSigner } from './message-signing.ts';
import type { Bus } from './types.ts';

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};
const opened: Bus[] = [];
let raw: Redis | undefined;
afterAll(async () => {
  await Promise.all(opened.map((b) => b.close()));
  raw?.disconnect();
});

it('a signature holds for its subject and text only, and only for a while', () => {
  const signer = new MessageSigner(randomBytes(32), 60_000);
  const signed = signer.sign('p:signal-relay:node-a', '{"t":"open"}', 1_000_000);
  expect(signer.open('p:signal-relay:node-a', signed, 1_000_500)).toBe('{"t":"open"}');
  // Replayed into another node's inbox, altered, too old, from the future, from another key, garbage.
  expect(signer.open('p:signal-relay:node-b', signed, 1_000_500)).toBeUndefined();
  expect(signer.open('p:signal-relay:node-a', signed.replace('open', 'shut'), 1_000_500)).toBeUndefined();
  expect(signer.open('p:signal-relay:node-a', signed, 1_061_000)).toBeUndefined();
  expect(signer.open('p:signal-relay:node-a', signed, 939_000)).toBeUndefined();
  const other = new MessageSigner(randomBytes(32)).sign('p:signal-relay:node-a', '{"t":"open"}', 1_000_000);
  expect(signer.open('p:signal-relay:node-a', other, 1_000_500)).toBeUndefined();
  for (const junk of ['', '{"t":"open"}', '1.2', 'x.y.z', `${'9'.repeat(20)}.a.{}`])
    expect(signer.open('p:signal-relay:node-a', junk, 1_000_500)).toBeUndefined();
});

it('the development key is the same for one Redis and prefix, another for another prefix', () => {
  expect(developmentClusterKey('redis://h:6379', 'a:')).toEqual(
    developmentClusterKey('redis://h:6379', 'a:'),
  );
  expect(developmentClusterKey('redis://h:6379', 'a:')).not.toEqual(
    developmentClusterKey('redis://h:6379', 'b:'),
  );
});

it('redis: messages and node states written without the cluster key are dropped and reported', async () => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const key = randomBytes(32);
  const rejected: string[] = [];
  const node = await createBus(TEST_REDIS_URL, prefix, undefined, {
    key,
    onRejected: (s) => rejected.push(s),
  });
  const peer = await createBus(TEST_REDIS_URL, prefix, undefined, { key });
  const forger = await createBus(TEST_REDIS_URL, prefix, undefined, { key: randomBytes(32) });
  opened.push(node, peer, forger);
  raw = new Redis(TEST_REDIS_URL);
  const got: unknown[] = [];
  await node.subscribe('signal-relay:node-a', (m) => got.push(m));
  await forger.publish('signal-relay:node-a', { t: 'open', from: 'forger' });
  await raw.publish(`${prefix}signal-relay:node-a`, JSON.stringify({ t: 'open', from: 'plain' }));
  await peer.publish('signal-relay:node-a', { t: 'open', from: 'peer' });
  await until(() => got.length > 0 && rejected.length >= 2);
  await new Promise((r) => setTimeout(r, 50));
  expect(got).toEqual([{ t: 'open', from: 'peer' }]);
  expect(rejected).toEqual(['signal-relay:node-a', 'signal-relay:node-a']);

  // A node announced by a peer counts; one announced with another key, or written by hand, does not.
  await peer.putNode('node-peer', '{"nodeId":"node-peer"}', 5000);
  await forger.putNode('node-forged', '{"nodeId":"node-forged"}', 5000);
  await raw
    .multi()
    .set(`${prefix}node:node-hand`, '{"nodeId":"node-hand"}', 'PX', 5000)
    .sadd(`${prefix}nodes`, 'node-hand')
    .exec();
  expect([...(await node.liveNodes()).keys()]).toEqual(['node-peer']);
  expect(rejected).toEqual(expect.arrayContaining(['node:node-forged', 'node:node-hand']));
});
