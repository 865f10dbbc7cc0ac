import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clinics } from '../db/schema/index.ts';
import type { UserNotifications } from '../signaling/protocol/index.ts';
import type { WebSocketLike } from '../web-client/src/signaling-client.ts';
import { UserSocket } from '../web-client/src/user-chat-client.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { createUser, signIn, type IdentityHarness } from './helpers/identity.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';

/** Live chat over the user socket on real PostgreSQL and Redis: events and messages reach the people concerned. */
const pem = () =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let a: Awaited<ReturnType<typeof startTestNode>>;
const sockets: UserSocket[] = [];

type Seen = { method: keyof UserNotifications; data: any }[];
async function connect(token: string) {
  const socket = new UserSocket({
    url: `ws://127.0.0.1:${a.node.port}/ws/user`,
    tokens: async () => ({
      accessToken: token,
      expiresAt: a.node.identity.tokens.verifyNow(token).expiresAtMs,
    }),
    createSocket: (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike,
    backoffMs: () => 100,
  });
  sockets.push(socket);
  const seen: Seen = [];
  socket.on('notification', (method, data) => seen.push({ method, data }));
  socket.on('error', () => {});
  await socket.start();
  return seen;
}
const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** The node's app in-process, shaped as the identity helpers' `call`. */
async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await a.node.app.request(
    path,
    { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
    { remoteAddress: '203.0.113.7' },
  );
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
}
const call = api as unknown as IdentityHarness['call'];

beforeAll(async () => {
  pg = await createTestDatabase();
  a = await startTestNode(
    {
      PASSWORD_HASH_STRENGTH: 'minimum',
      LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
      AUTH_TOKEN_PRIVATE_KEY: pem(),
      JOIN_TOKEN_PRIVATE_KEY: pem(),
      DATA_KEK: randomBytes(32).toString('base64'),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
      LIVECHAT_WORKER: 'off',
    },
    { busPrefix: `test:${randomBytes(4).toString('hex')}:` },
  );
}, 60_000);
afterAll(async () => {
  sockets.forEach((s) => s.close());
  await a?.node.stop();
  await pg?.drop();
});

describe('live chat on the user socket', () => {
  it('tells the patient their place, who took the chat and the handover; the holder’s socket carries the chat', async () => {
    const db = a.node.db.db;
    const clinicId = randomUUID();
    await db.insert(clinics).values({ id: clinicId, name: 'Clinic' });
    const person = async (role: 'patient' | 'operator' | 'doctor') => {
      const u = await createUser(a.node.identity, db, { role, clinicId });
      return { id: u.id, token: (await signIn(call, db, u.email)).accessToken };
    };
    const [patient, waiting, later, operator, doctor] = [
      await person('patient'),
      await person('patient'),
      await person('patient'),
      await person('operator'),
      await person('doctor'),
    ];
    const patientSeen = await connect(patient.token);
    const waitingSeen = await connect(waiting.token);
    const laterSeen = await connect(later.token);
    const operatorSeen = await connect(operator.token);
    const doctorSeen = await connect(doctor.token);
    const events = (seen: Seen) => seen.filter((n) => n.method === 'livechat.event').map((n) => n.data);

    const presence = { status: 'available', capacity: 1 };
    await api('PUT', `/api/livechat/clinics/${clinicId}/presence`, { token: operator.token, body: presence });
    const first = { id: randomUUID(), body: 'Can I change my booking?' };
    const chat = (
      await api('POST', '/api/livechat/chats', { token: patient.token, body: { clinicId, message: first } })
    ).body.conversationId as string;
    const start = (who: { token: string }) =>
      api('POST', '/api/livechat/chats', {
        token: who.token,
        body: { clinicId, message: { id: randomUUID(), body: 'Hello?' } },
      });
    expect((await start(waiting)).body).toMatchObject({ status: 'queued', position: 1 });
    const queued = (await start(later)).body;
    expect(queued).toMatchObject({ status: 'queued', position: 2 });

    const assigned = { type: 'livechat.assigned', conversationId: chat, assigneeId: operator.id };
    await until(() => events(patientSeen).some((e) => e.type === 'livechat.assigned'));
    expect(events(patientSeen)).toContainEqual(assigned);
    await until(() => events(operatorSeen).some((e) => e.type === 'livechat.assigned'));
    // The holder's socket carries the chat: the patient's next message reaches the operator live.
    await until(() => operatorSeen.some((n) => n.method === 'conversation.updated' && n.data.id === chat));
    const next = { id: randomUUID(), body: 'It is for Tuesday' };
    await api('POST', `/api/conversations/${chat}/messages`, { token: patient.token, body: next });
    await until(() => operatorSeen.some((n) => n.method === 'chat.message' && n.data.id === next.id));

    const handed = await api('POST', `/api/livechat/chats/${chat}/transfer`, {
      token: operator.token,
      body: { toUserId: doctor.id, note: { id: randomUUID(), body: 'medical question' } },
    });
    expect(handed.status).toBe(200);
    const transferred = {
      type: 'livechat.transferred',
      conversationId: chat,
      fromId: operator.id,
      assigneeId: doctor.id,
    };
    await until(() => events(doctorSeen).some((e) => e.type === 'livechat.transferred'));
    expect(events(doctorSeen)).toContainEqual(transferred);
    await until(() => events(patientSeen).some((e) => e.type === 'livechat.transferred'));
    // The operator's slot freed: the waiting chat is theirs now, and its patient hears it.
    await until(() => events(waitingSeen).some((e) => e.type === 'livechat.assigned'));
    // And the one behind moved up a place.
    await until(() => events(laterSeen).some((e) => e.type === 'livechat.queue_position'));
    expect(events(laterSeen)).toContainEqual({
      type: 'livechat.queue_position',
      conversationId: queued.conversationId,
      position: 1,
    });
    const after = { id: randomUUID(), body: 'Thanks, doctor' };
    await api('POST', `/api/conversations/${chat}/messages`, { token: patient.token, body: after });
    await until(() => doctorSeen.some((n) => n.method === 'chat.message' && n.data.id === after.id));
    // The patient never saw the staff note on their socket.
    expect(patientSeen.some((n) => n.method === 'chat.message' && n.data.audience === 'staff')).toBe(false);
  }, 60_000);
});
