import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { startTestNode } from '../../test/helpers/node.ts';
import { ed25519Pem } from '../../test/helpers/node-process.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { mintFor, newRoomId } from '../../test/helpers/tokens.ts';
import { connectClient } from '../../test/helpers/ws-client.ts';
import { createBus } from '../bus/create-bus.ts';
import type { Bus } from '../bus/types.ts';

type Node = Awaited<ReturnType<typeof startTestNode>>;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let a: Node;
let b: Node;
let raw: Bus;
const busPrefix = `test:${randomBytes(4).toString('hex')}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pg = await createTestDatabase();
  const env = { DATABASE_URL: pg.url, REDIS_URL: TEST_REDIS_URL, JOIN_TOKEN_PRIVATE_KEY: ed25519Pem() };
  a = await startTestNode(env, { busPrefix });
  b = await startTestNode(env, { busPrefix });
  raw = await createBus(TEST_REDIS_URL, busPrefix);
}, 60_000);
afterAll(async () => {
  await raw?.close();
  await Promise.all([a?.node.stop(), b?.node.stop()]);
  await pg?.drop();
});

it('a forged open (a made-up token) on a node inbox opens no session; malformed messages are dropped', async () => {
  const before = a.logs.lines.length;
  await raw.publish(`signal-relay:${a.node.nodeId}`, {
    t: 'open',
    link: 'forgedlink123',
    from: b.node.nodeId,
    token: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln',
  });
  await raw.publish(`signal-relay:${a.node.nodeId}`, { t: 'frame', link: '../x', text: 42 });
  const logged = (text: string) => a.logs.lines.slice(before).some((l) => l.includes(text));
  for (let i = 0; i < 100 && !(logged('relayed participant refused') && logged('malformed message')); i++)
    await sleep(20);
  expect(logged('relayed participant refused')).toBe(true);
  expect(logged('"channel":"signal-relay"')).toBe(true);
});

it('frames for a live link from any node but its edge are ignored; the relayed participant is unaffected', async () => {
  const room = newRoomId();
  // The room lives where placement put it; the participant reaches the other node and is relayed.
  const first = await connectClient(a.wsUrl, await mintFor(a.node, room, 'host'));
  const { rtpCapabilities } = await first.request('getRouterRtpCapabilities', {});
  await first.request('join', { rtpCapabilities: rtpCapabilities as never });
  const owner = (await raw.roomOwner(room)) === a.node.nodeId ? a : b;
  const edge = owner === a ? b : a;
  const links: string[] = [];
  await raw.subscribe(`signal-relay:${owner.node.nodeId}`, (m) => links.push((m as { link: string }).link));
  const relayed = await connectClient(edge.wsUrl, await mintFor(edge.node, room, 'guest'));
  const caps = await relayed.request('getRouterRtpCapabilities', {});
  await relayed.request('join', { rtpCapabilities: caps.rtpCapabilities as never });
  expect(owner.node.hub.rooms.get(room)?.room.peers.size, 'both peers on the owner').toBe(2);
  expect(edge.node.hub.rooms.has(room), 'no second room on the edge').toBe(false);

  // A spoofed node id replays a leave for the relayed participant: the owner does not act on it.
  const leave = JSON.stringify({ type: 'request', id: 9999, method: 'leave', data: {} });
  await raw.publish(`signal-relay:${owner.node.nodeId}`, {
    t: 'frame',
    link: links[0]!,
    from: 'node-spoofed',
    text: leave,
  });
  await raw.publish(`signal-relay:${owner.node.nodeId}`, {
    t: 'close',
    link: links[0]!,
    from: 'node-spoofed',
    code: 4004,
    reason: 'client_left',
  });
  await sleep(300);
  expect(owner.node.hub.rooms.get(room)?.room.peers.size, 'nobody left').toBe(2);
  expect(await relayed.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
  relayed.close();
  first.close();
});

it('an open with a valid join token, published without the cluster key, is dropped before any session opens', async () => {
  const forger = await createBus(TEST_REDIS_URL, busPrefix, undefined, { key: randomBytes(32) });
  try {
    const before = a.logs.lines.length;
    const rooms = () => a.node.hub.rooms.size;
    const roomsBefore = rooms();
    await forger.publish(`signal-relay:${a.node.nodeId}`, {
      t: 'open',
      link: 'forgedlink456',
      from: b.node.nodeId,
      token: await mintFor(a.node, newRoomId(), 'intruder'),
    });
    const logged = (text: string) => a.logs.lines.slice(before).some((l) => l.includes(text));
    for (let i = 0; i < 100 && !logged('without a valid cluster signature'); i++) await sleep(20);
    expect(logged('without a valid cluster signature')).toBe(true);
    expect(logged(`"subject":"signal-relay:${a.node.nodeId}"`)).toBe(true);
    await sleep(100);
    expect(logged('relayed participant'), 'never reached the relay').toBe(false);
    expect(rooms(), 'no room opened for it').toBe(roomsBefore);
  } finally {
    await forger.close();
  }
});
