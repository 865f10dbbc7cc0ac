import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppControl } from '../loadtests/sfu/app-control.ts';
import { Publisher, Subscriber } from '../loadtests/sfu/bot.ts';
import { createBus } from '../server/bus/create-bus.ts';
import type { Bus } from '../server/bus/types.ts';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../server/media/join-tokens.ts';
import { closeCode } from '../signaling/protocol/index.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { newRoomId } from './helpers/tokens.ts';

/**
 * Two real node processes sharing one PostgreSQL database and one Redis prefix: any node accepts
 * any participant, the room lives on one of them, media goes straight to that node.
 */
const pem = ed25519Pem();
const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 600);
const prefix = `test:${randomBytes(4).toString('hex')}:`;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let observer: Bus;
const nodes: NodeProcess[] = [];
const bots: { close(): void }[] = [];

const nodeIdOf = (node: NodeProcess) => node.lines.find((l) => l.msg === 'bus ready')?.nodeId as string;
const wsUrl = (node: NodeProcess) => `ws://127.0.0.1:${node.port}/ws`;
const token = (room: string, sub: string) =>
  issuer.mint({ sub, room, role: 'doctor', perms: ['publish', 'subscribe', 'admit'] });
const startNode = () =>
  startNodeProcess({
    DATABASE_URL: pg.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    JOIN_TOKEN_PRIVATE_KEY: pem,
    CLUSTER_LEASE_MS: '2000',
    CLUSTER_HEARTBEAT_MS: '400',
    DRAIN_DEADLINE_SECONDS: '2',
  }).then((n) => (nodes.push(n), n));
const track = <T extends { close(): void }>(bot: T) => (bots.push(bot), bot);

beforeAll(async () => {
  pg = await createTestDatabase();
  // One after the other: the first one runs the migrations.
  await startNode();
  await startNode();
  observer = await createBus(TEST_REDIS_URL, prefix);
}, 180_000);
afterAll(async () => {
  for (const bot of bots) bot.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await observer?.close();
  await pg?.drop();
});

it(
  'a participant on the other node joins the room through the relay and receives the media of its owner',
  {
    timeout: 90_000,
  },
  async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const room = newRoomId();
    track(await Publisher.start(await AppControl.connect(wsUrl(a), await token(room, 'doctor'))));
    const owner = await observer.roomOwner(room);
    expect([nodeIdOf(a), nodeIdOf(b)]).toContain(owner);
    const elsewhere = owner === nodeIdOf(a) ? b : a;
    const sub = track(
      await Subscriber.start(await AppControl.connect(wsUrl(elsewhere), await token(room, 'patient'))),
    );
    expect(sub.consumerCount, 'audio and video of the publisher').toBe(2);
    expect(sub.received).toBeGreaterThan(0);
    expect(await observer.roomOwner(room), 'still one owner').toBe(owner);
    // Media comes from the owner's ports, not the relaying node's: the join answer carried its candidates.
    expect((await observer.liveNodes()).size).toBe(2);
  },
);

it(
  'SIGKILL of the owner: relayed participants are told room_moved, everyone rejoins on the live node and media flows again',
  {
    timeout: 120_000,
  },
  async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const room = newRoomId();
    // The publisher is on the owner node; the subscriber is relayed from the other node.
    track(await Publisher.start(await AppControl.connect(wsUrl(a), await token(room, 'doctor'))));
    const ownerId = (await observer.roomOwner(room))!;
    const owner = ownerId === nodeIdOf(a) ? a : b;
    const survivor = owner === a ? b : a;
    const relayedControl = await AppControl.connect(wsUrl(survivor), await token(room, 'patient'));
    track(await Subscriber.start(relayedControl));

    const killedAt = Date.now();
    owner.child.kill('SIGKILL');
    await owner.exited;
    for (let i = 0; i < 200 && relayedControl.closedWith === undefined; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(relayedControl.closedWith, 'the relayed participant is told to join again').toBe(
      closeCode('room_moved'),
    );

    // What a client does after room_moved (rejoin) or a lost socket behind a load balancer: join via a live node.
    track(await Publisher.start(await AppControl.connect(wsUrl(survivor), await token(room, 'doctor'))));
    const again = track(
      await Subscriber.start(await AppControl.connect(wsUrl(survivor), await token(room, 'patient'))),
    );
    const recoveredMs = Date.now() - killedAt;
    expect(again.consumerCount).toBe(2);
    expect(await observer.roomOwner(room), 'one owner afterwards: the live node').toBe(nodeIdOf(survivor));
    expect([...(await observer.liveNodes()).keys()]).toEqual([nodeIdOf(survivor)]);
    process.stdout.write(`owner killed -> media decoding again on the live node after ${recoveredMs} ms\n`);
    expect(recoveredMs, 'bounded: lease (2 s) + rejoin + first frames').toBeLessThan(20_000);
  },
);

it(
  'SIGTERM drains: no new room lands on the draining node, its participants are moved at the deadline, it exits 0',
  {
    timeout: 150_000,
  },
  async () => {
    await startNode();
    const live = nodes.filter((n) => n.alive());
    expect(live).toHaveLength(2);
    const room = newRoomId();
    const publisher = await AppControl.connect(wsUrl(live[0]!), await token(room, 'doctor'));
    track(await Publisher.start(publisher));
    const ownerId = await observer.roomOwner(room);
    const owner = live.find((n) => nodeIdOf(n) === ownerId)!;
    const other = live.find((n) => n !== owner)!;
    const subscriber = await AppControl.connect(wsUrl(other), await token(room, 'patient'));
    track(await Subscriber.start(subscriber));

    owner.child.kill('SIGTERM');
    for (let i = 0; i < 100 && !owner.lines.some((l) => l.msg === 'draining: no new rooms on this node'); i++)
      await new Promise((r) => setTimeout(r, 50));
    // Within the deadline: a new room reaching the draining node is placed on the other one.
    const fresh = newRoomId();
    const probe = await AppControl.connect(wsUrl(owner), await token(fresh, 'doctor'));
    await probe.routerRtpCapabilities();
    expect(await observer.roomOwner(fresh), 'placed on the live node').toBe(nodeIdOf(other));
    probe.close();

    expect((await owner.exited).code, 'a clean exit').toBe(0);
    expect(owner.lines.find((l) => l.msg === 'drained')?.moved, 'the publisher and the subscriber').toBe(2);
    for (let i = 0; i < 100 && (publisher.closedWith ?? subscriber.closedWith) === undefined; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect([publisher.closedWith, subscriber.closedWith]).toEqual([
      closeCode('room_moved'),
      closeCode('room_moved'),
    ]);
    track(await Publisher.start(await AppControl.connect(wsUrl(other), await token(room, 'doctor'))));
    const again = track(
      await Subscriber.start(await AppControl.connect(wsUrl(other), await token(room, 'patient'))),
    );
    expect(again.consumerCount).toBe(2);
    expect(await observer.roomOwner(room)).toBe(nodeIdOf(other));
  },
);
