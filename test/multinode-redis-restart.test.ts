import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppControl } from '../loadtests/sfu/app-control.ts';
import { Publisher, Subscriber } from '../loadtests/sfu/bot.ts';
import { createBus } from '../server/bus/create-bus.ts';
import type { Bus } from '../server/bus/types.ts';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../server/media/join-tokens.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { freePort } from './helpers/ports.ts';
import { newRoomId } from './helpers/tokens.ts';

/**
 * A Redis of this test's own (no persistence: it comes back empty, the hard case) restarted under
 * two real node processes in the middle of a call.
 */
const pem = ed25519Pem();
const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 600);
let redisPort: number;
let redis: ChildProcess | undefined;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let observer: Bus;
const nodes: NodeProcess[] = [];
const closers: { close(): void }[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redisUrl = () => `redis://127.0.0.1:${redisPort}`;

async function startRedis() {
  redis = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    const probe = await createBus(redisUrl(), 'probe:').catch(() => undefined);
    if (probe) return probe.close();
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}
async function stopRedis() {
  const child = redis!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
const nodeIdOf = (node: NodeProcess) => node.lines.find((l) => l.msg === 'bus ready')?.nodeId as string;
const wsUrl = (node: NodeProcess) => `ws://127.0.0.1:${node.port}/ws`;
const token = (room: string, sub: string) =>
  issuer.mint({ sub, room, role: 'doctor', perms: ['publish', 'subscribe', 'admit'] });
const track = <T extends { close(): void }>(x: T) => (closers.push(x), x);
async function flowing(sub: Subscriber, packets = 50, ms = 10_000) {
  const before = sub.received;
  const deadline = Date.now() + ms;
  while (sub.received < before + packets) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

beforeAll(async () => {
  redisPort = await freePort();
  await startRedis();
  pg = await createTestDatabase();
  const env = {
    DATABASE_URL: pg.url,
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: 'restart:',
    JOIN_TOKEN_PRIVATE_KEY: pem,
    CLUSTER_LEASE_MS: '2000',
    CLUSTER_HEARTBEAT_MS: '400',
  };
  nodes.push(await startNodeProcess(env));
  nodes.push(await startNodeProcess(env));
  observer = await createBus(redisUrl(), 'restart:');
}, 180_000);
afterAll(async () => {
  for (const x of closers) x.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await observer?.close();
  if (redis && redis.exitCode === null) await stopRedis();
  await pg?.drop();
});

it(
  'Redis restarts empty mid-call: the call keeps its media, a join during the outage succeeds once Redis is back, the directory agrees with the nodes',
  { timeout: 120_000 },
  async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const room = newRoomId();
    track(await Publisher.start(await AppControl.connect(wsUrl(a), await token(room, 'doctor'))));
    const ownerId = (await observer.roomOwner(room))!;
    const owner = ownerId === nodeIdOf(a) ? a : b;
    const edge = owner === a ? b : a;
    // One subscriber on the owner, one relayed through the other node.
    const direct = track(
      await Subscriber.start(await AppControl.connect(wsUrl(owner), await token(room, 'nurse'))),
    );
    const relayedControl = await AppControl.connect(wsUrl(edge), await token(room, 'patient'));
    const relayed = track(await Subscriber.start(relayedControl));

    await stopRedis();
    // Longer than a lease: whatever Redis held would have expired by now anyway.
    await sleep(3000);
    expect(await flowing(direct), 'media on the owner goes on without Redis').toBe(true);
    expect(
      await flowing(relayed),
      'media of the relayed participant too (it goes straight to the owner)',
    ).toBe(true);
    expect((await fetch(`${owner.baseUrl}/readyz`)).status, 'not ready for new rooms').toBe(503);

    // A new participant arrives while Redis is away; it retries as the web client does until it is in.
    const fresh = newRoomId();
    const joining = (async () => {
      for (let attempt = 1; ; attempt++) {
        const control = await AppControl.connect(wsUrl(edge), await token(fresh, 'late')).catch(
          () => undefined,
        );
        // A socket closed with room_moved leaves its request unanswered: give up on it after a while.
        const entered = control
          ? await Promise.race([
              control.routerRtpCapabilities().then((caps) => control.join(caps)),
              sleep(3000).then(() => Promise.reject(new Error('no answer'))),
            ]).then(
              () => true,
              () => false,
            )
          : false;
        if (entered) return { control: control!, attempt };
        control?.close();
        await sleep(300);
      }
    })();
    await sleep(1500);
    await startRedis();
    const { control: late, attempt } = await joining;
    track(late);
    expect(attempt, 'refused while Redis was away').toBeGreaterThan(1);

    // The nodes announce themselves and re-take the leases they hold; nobody was cut off.
    for (let i = 0; i < 100 && (await observer.liveNodes()).size < 2; i++) await sleep(100);
    for (let i = 0; i < 100 && (await observer.roomOwner(room)) === undefined; i++) await sleep(100);
    expect(await observer.roomOwner(room), 'the room is leased to the node that hosts it').toBe(ownerId);
    const freshOwner = await observer.roomOwner(fresh);
    expect([nodeIdOf(a), nodeIdOf(b)]).toContain(freshOwner);
    expect(relayedControl.closedWith, 'the relayed participant was not told to move').toBeUndefined();
    expect(await flowing(relayed)).toBe(true);
    // Routing agrees with where the call is: a newcomer through the edge gets the publisher's media.
    const newcomer = track(
      await Subscriber.start(await AppControl.connect(wsUrl(edge), await token(room, 'late2'))),
    );
    expect(newcomer.consumerCount).toBe(2);
    expect(owner.lines.some((l) => l.msg === 'room leases lost to another node: rooms closed here')).toBe(
      false,
    );
    for (let i = 0; i < 50 && (await fetch(`${owner.baseUrl}/readyz`)).status !== 200; i++) await sleep(100);
    expect((await fetch(`${owner.baseUrl}/readyz`)).status).toBe(200);
  },
);
