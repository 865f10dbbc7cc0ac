import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rooms } from '../db/schema/index.ts';
import { createBus } from '../server/bus/create-bus.ts';
import type { Bus } from '../server/bus/types.ts';
import type { RoomEvent } from '../server/media/room-events.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { mintFor, newRoomId } from './helpers/tokens.ts';
import { connectClient } from './helpers/ws-client.ts';

let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let t: Awaited<ReturnType<typeof startTestNode>>;
let observer: Bus;
const events: RoomEvent[] = [];
const busPrefix = `test:${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  pg = await createTestDatabase();
  t = await startTestNode(
    { DATABASE_URL: pg.url, REDIS_URL: TEST_REDIS_URL },
    { emptyRoomTimeoutMs: 200, busPrefix },
  );
  observer = await createBus(TEST_REDIS_URL, busPrefix);
  await observer.subscribe('room-events', (e) => events.push(e as RoomEvent));
});
afterAll(async () => {
  await observer?.close();
  await t?.node.stop();
  await pg?.drop();
});

it('runs on PostgreSQL and Redis when their URLs are set', () => {
  expect(t.node.db.kind).toBe('postgres');
  expect(t.node.bus.kind).toBe('redis');
});

it('a room is claimed, recorded, announced on the bus, and closed when empty', async () => {
  const room = newRoomId();
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, 'p1', { role: 'doctor' }));
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  expect(await t.node.bus.roomOwner(room)).toBe(t.node.nodeId);
  const [row] = await t.node.db.db.select().from(rooms).where(eq(rooms.id, room));
  expect(row).toMatchObject({ nodeId: t.node.nodeId, endedAt: null });

  c.close();
  for (let i = 0; i < 100 && !events.some((e) => e.type === 'room_ended' && e.roomId === room); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const mine = events.filter((e) => e.roomId === room).map((e) => e.type);
  expect(mine).toEqual(['room_started', 'participant_joined', 'participant_left', 'room_ended']);
  const joined = events.find((e) => e.type === 'participant_joined' && e.roomId === room);
  expect(joined).toMatchObject({ peerId: 'p1', role: 'doctor' });
  const [ended] = await t.node.db.db.select().from(rooms).where(eq(rooms.id, room));
  expect(ended!.endReason).toBe('empty');
  expect(ended!.endedAt).toBeInstanceOf(Date);
  expect(await t.node.bus.roomOwner(room)).toBeUndefined();
});

it('a room leased to a node that is not alive waits for the lease to lapse, then is placed here', async () => {
  const room = newRoomId();
  await t.node.bus.claimRoom(room, 'node-gone', 800);
  const c = await connectClient(t.wsUrl, await mintFor(t.node, room, 'p2'));
  const { rtpCapabilities } = await c.request('getRouterRtpCapabilities', {});
  await c.request('join', { rtpCapabilities: rtpCapabilities as never });
  expect(await t.node.bus.roomOwner(room)).toBe(t.node.nodeId);
  expect(t.node.hub.rooms.get(room)!.room.peers.size).toBe(1);
  c.close();
});

it('concurrent joins to a new room create exactly one room', async () => {
  const room = newRoomId();
  const clients = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => connectClient(t.wsUrl, await mintFor(t.node, room, `c${i}`))),
  );
  const caps = await Promise.all(clients.map((c) => c.request('getRouterRtpCapabilities', {})));
  await Promise.all(
    clients.map((c, i) => c.request('join', { rtpCapabilities: caps[i]!.rtpCapabilities as never })),
  );
  expect(t.node.hub.rooms.get(room)!.room.peers.size).toBe(8);
  // Events travel through Redis to the observer: wait for them, then make sure no second one follows.
  await expect
    .poll(() => events.filter((e) => e.type === 'room_started' && e.roomId === room).length)
    .toBe(1);
  await new Promise((r) => setTimeout(r, 100));
  expect(events.filter((e) => e.type === 'room_started' && e.roomId === room)).toHaveLength(1);
  clients.forEach((c) => c.close());
});
