import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppControl } from '../loadtests/sfu/app-control.ts';
import { Publisher, Subscriber } from '../loadtests/sfu/bot.ts';
import { createBus } from '../server/bus/create-bus.ts';
import type { Bus } from '../server/bus/types.ts';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../server/media/join-tokens.ts';
import { closeCode, type JoinClaims } from '../signaling/protocol/index.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { resumableSignaling } from './helpers/resumable-signaling.ts';
import { newRoomId, patientPerms } from './helpers/tokens.ts';
import { connectClient, type TestClient } from './helpers/ws-client.ts';

/**
 * Two real node processes: a participant relayed through one node to the room on the other keeps
 * its session across a lost socket (resumed through either node), and a waiting room survives the
 * death of the node that hosted it.
 */
const pem = ed25519Pem();
const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 600);
const prefix = `test:${randomBytes(4).toString('hex')}:`;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let observer: Bus;
const nodes: NodeProcess[] = [];
const closers: { close(): void }[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodeIdOf = (node: NodeProcess) => node.lines.find((l) => l.msg === 'bus ready')?.nodeId as string;
const wsUrl = (node: NodeProcess) => `ws://127.0.0.1:${node.port}/ws`;
const token = (room: string, sub: string, perms: JoinClaims['perms'] = ['publish', 'subscribe', 'admit']) =>
  issuer.mint({ sub, room, role: perms.includes('admit') ? 'doctor' : 'patient', perms });
const track = <T extends { close(): void }>(x: T) => (closers.push(x), x);
async function enter(url: string, joinToken: string) {
  const client = track(await connectClient(url, joinToken));
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { client, joined };
}
const ofPeer = (client: TestClient, method: 'peerJoined' | 'peerLeft', peerId: string) =>
  client.notifications.filter((n) => n.method === method && (n.data as { peerId: string }).peerId === peerId);
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

beforeAll(async () => {
  pg = await createTestDatabase();
  const env = {
    DATABASE_URL: pg.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    JOIN_TOKEN_PRIVATE_KEY: pem,
    CLUSTER_LEASE_MS: '2000',
    CLUSTER_HEARTBEAT_MS: '400',
  };
  // One after the other: the first one runs the migrations.
  nodes.push(await startNodeProcess(env));
  nodes.push(await startNodeProcess(env));
  observer = await createBus(TEST_REDIS_URL, prefix);
}, 180_000);
afterAll(async () => {
  for (const x of closers) x.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await observer?.close();
  await pg?.drop();
});

it(
  'a relayed participant who loses its socket resumes through the relaying node, then through the owner: media flows on, no second peer',
  { timeout: 90_000 },
  async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const room = newRoomId();
    const doctor = await enter(wsUrl(a), await token(room, 'doctor'));
    const ownerId = await observer.roomOwner(room);
    const owner = ownerId === nodeIdOf(a) ? a : b;
    const edge = owner === a ? b : a;
    track(await Publisher.start(await AppControl.connect(wsUrl(owner), await token(room, 'camera'))));
    const signaling = resumableSignaling();
    const control = await AppControl.connect(wsUrl(edge), await token(room, 'patient'), signaling.connect);
    const patient = track(await Subscriber.start(control));
    expect(patient.consumerCount).toBe(2);
    expect(signaling.resumeKey!.endsWith(nodeIdOf(owner)), 'the key names the node holding the session').toBe(
      true,
    );

    for (const through of [edge, owner]) {
      expect(
        await signaling.dropAndResume(wsUrl(through)),
        `resumed through the ${through === edge ? 'edge' : 'owner'}`,
      ).toBe('resumed');
      // The same session answers: a request goes through, and the media never stopped.
      expect(await control.routerRtpCapabilities()).toHaveProperty('codecs');
      const before = patient.received;
      await until(() => patient.received > before + 20);
      expect(patient.connectionState).toBe('connected');
    }
    // Nobody else saw the patient leave or join again; the room holds each participant once.
    expect(ofPeer(doctor.client, 'peerJoined', 'patient')).toHaveLength(1);
    expect(ofPeer(doctor.client, 'peerLeft', 'patient')).toHaveLength(0);
    const late = await enter(wsUrl(edge), await token(room, 'late'));
    expect(late.joined.peers.map((p) => p.peerId).sort()).toEqual(['camera', 'doctor', 'patient']);
    expect(await observer.roomOwner(room), 'the room did not move').toBe(ownerId);

    // A resume key made up for the owner node finds nothing there: session_expired, so the client joins again.
    const forged = `${randomBytes(18).toString('base64url')}${ownerId}`;
    const stranger = resumableSignaling();
    await AppControl.connect(wsUrl(edge), await token(room, 'stranger'), stranger.connect);
    track(stranger.client);
    expect(await stranger.resume(wsUrl(edge), forged)).toBe('expired');
  },
);

it(
  'SIGKILL of the node hosting a waiting room: the waiting patient rejoins through the live node, is waiting again since the first knock and is admitted',
  { timeout: 90_000 },
  async () => {
    const live = nodes.filter((n) => n.alive());
    const room = newRoomId();
    const host = await enter(wsUrl(live[0]!), await token(room, 'doctor'));
    const ownerId = (await observer.roomOwner(room))!;
    const owner = live.find((n) => nodeIdOf(n) === ownerId)!;
    const survivor = live.find((n) => n !== owner)!;
    // The patient knocks through the node that does not host the room.
    const patient = await enter(wsUrl(survivor), await token(room, 'patient', patientPerms));
    expect(patient.joined.status).toBe('waiting');
    await until(() => host.client.notifications.some((n) => n.method === 'waitingRoom'));
    const [firstKnock] = host.client.notifications
      .filter((n) => n.method === 'waitingRoom')
      .map((n) => (n.data as { waiting: { since: string }[] }).waiting[0]!.since);

    owner.child.kill('SIGKILL');
    await owner.exited;
    // Relayed through the survivor: told the room moved (a direct socket on the dead node just drops).
    expect((await patient.client.closed).code).toBe(closeCode('room_moved'));
    await host.client.closed;

    // What the web client does on room_moved or a lost socket it cannot resume: join again with its token.
    const knockedAgainAt = Date.now();
    const again = await enter(wsUrl(survivor), await token(room, 'patient', patientPerms));
    expect(again.joined.status, 'still waiting, not admitted by itself, not refused').toBe('waiting');
    const hostAgain = await enter(wsUrl(survivor), await token(room, 'doctor'));
    expect(hostAgain.joined.waiting.map((w) => w.peerId)).toEqual(['patient']);
    // Waiting since the first knock, on the node that died: the wait did not start over.
    expect(hostAgain.joined.waiting[0]!.since).toBe(firstKnock);
    const [status] = (await again.client.waitFor('waitingStatus')) as { since: string; waitedMs: number }[];
    expect(status!.since).toBe(firstKnock);
    expect(status!.waitedMs).toBeGreaterThanOrEqual(knockedAgainAt - Date.parse(firstKnock!));
    await hostAgain.client.request('admit', { peerId: 'patient' });
    const [admitted] = (await again.client.waitFor('admitted')) as { peers: { peerId: string }[] }[];
    expect(admitted!.peers.map((p) => p.peerId)).toEqual(['doctor']);
    expect(await observer.roomOwner(room), 'one owner afterwards: the live node').toBe(nodeIdOf(survivor));
  },
);
