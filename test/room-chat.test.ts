import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomChatService, SPEAKER_REUSE_MS } from '../server/messaging/room-chat.ts';
import type { CareCallNode } from '../server/node.ts';
import type { ChatMessageInfo, ChatNotifications } from '../signaling/protocol/index.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import type { IdentityHarness } from './helpers/identity.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from './helpers/scheduling.ts';
import { connectClient, type TestClient } from './helpers/ws-client.ts';
import { ChatClient, roomChatTransport } from '../web-client/src/chat-client.ts';
import { and, eq, inArray } from 'drizzle-orm';
import { auditLog, clinicMembers, messages as messageRows } from '../db/schema/index.ts';
import { fileMessageBody, type RoomFileGrant } from '../signaling/protocol/index.ts';
import { uploadThroughApp } from './helpers/app-upload.ts';

// Wednesday 3 March 2027 (the doctor works 08:00-16:00Z); 30-minute consults.
const at = (hour: number, minute = 0) =>
  `2027-03-03T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00Z`;
const clock = { now: new Date(at(8)) };
const ENV = {
  PASSWORD_HASH_STRENGTH: 'minimum',
  LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
  JOIN_TOKEN_PRIVATE_KEY: generateKeyPairSync('ed25519')
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString(),
  MESSAGE_MAX_BYTES: '256',
  MESSAGE_RATE_PER_SECOND: '1',
  MESSAGE_RATE_BURST: '30',
};

function apiOf(node: CareCallNode) {
  const call = async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await node.app.request(
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
  };
  return { harness: { db: node.db.db, identity: node.identity, call } as unknown as IdentityHarness, call };
}

let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let n: Awaited<ReturnType<typeof startTestNode>>;
let api: ReturnType<typeof apiOf>;
let c: SchedulingClinic;
const clients: TestClient[] = [];

beforeAll(async () => {
  pg = await createTestDatabase();
  n = await startTestNode(
    { ...ENV, DATABASE_URL: pg.url, REDIS_URL: TEST_REDIS_URL },
    { busPrefix: `test:${randomBytes(4).toString('hex')}:`, now: () => clock.now, grantRecheckMs: 60_000 },
  );
  api = apiOf(n.node);
  c = await schedulingClinic(api.harness);
});
afterAll(async () => {
  clients.forEach((x) => x.close());
  await n?.node.stop();
  await pg?.drop();
});

// Half-hour slots from 08:00: sixteen appointments fit the doctor's day.
let slotIndex = 0;
async function appointment() {
  const slot = at(8 + Math.floor(slotIndex / 2), (slotIndex++ % 2) * 30);
  const res = await api.call('POST', '/api/appointments', {
    token: c.patient.token,
    body: booking(c, c.patient.id, slot),
  });
  expect(res.status).toBe(201);
  clock.now = new Date(Date.parse(slot) - 5 * 60_000);
  return res.body.id as string;
}
const joinToken = async (token: string, id: string) =>
  (await api.call('POST', `/api/appointments/${id}/join-token`, { token })).body.token as string;
async function guestToken(id: string) {
  const inv = await api.call('POST', `/api/appointments/${id}/guests`, {
    token: c.doctor.token,
    body: { kind: 'interpreter', displayName: 'Ana' },
  });
  const res = await api.call('GET', new URL(inv.body.link).pathname);
  return {
    guestId: inv.body.id as string,
    token: decodeURIComponent(res.headers.get('location')!.split('#token=')[1]!),
  };
}
async function enter(token: string) {
  const client = await connectClient(n.wsUrl, token);
  clients.push(client);
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { client, joined };
}
/** A doctor and an admitted patient in one call. */
async function call() {
  const id = await appointment();
  const doctor = await enter(await joinToken(c.doctor.token, id));
  const patient = await enter(await joinToken(c.patient.token, id));
  await doctor.client.request('admit', { peerId: patient.joined.peerId });
  await patient.client.waitFor('admitted');
  return { id, doctor, patient };
}
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code,
  );
const messages = (client: TestClient) =>
  client.notifications.filter((x) => x.method === 'chat.message').map((x) => x.data as ChatMessageInfo);

describe('room chat over the room socket', () => {
  it('a message reaches the other side once, a retried send is stored once, receipts and typing are seen', async () => {
    const { doctor, patient } = await call();
    await doctor.client.request('chat.after', { seq: 0 });
    const { conversationId } = await patient.client.request('chat.after', { seq: 0 });
    const clientId = randomUUID();
    const first = await patient.client.request('chat.send', { clientId, body: 'my knee hurts' });
    const retry = await patient.client.request('chat.send', { clientId, body: 'my knee hurts' });
    expect(first).toMatchObject({ conversationId, seq: 1, duplicate: false });
    expect(retry).toMatchObject({ seq: 1, duplicate: true });
    const [seen] = (await doctor.client.waitFor('chat.message')) as ChatMessageInfo[];
    expect(seen).toMatchObject({ seq: 1, id: clientId, body: 'my knee hurts', audience: 'all' });

    await doctor.client.request('chat.typing', { typing: true });
    const [typing] = (await patient.client.waitFor('chat.typing')) as ChatNotifications['chat.typing'][];
    expect(typing).toMatchObject({ memberId: c.doctor.id, typing: true });

    expect(await doctor.client.request('chat.read', { seq: 1 })).toEqual({ seq: 1 });
    const receipts = (await patient.client.waitFor('chat.receipt')) as ChatNotifications['chat.receipt'][];
    expect(receipts[0]).toMatchObject({ memberId: c.doctor.id, kind: 'read', seq: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(messages(doctor.client)).toHaveLength(1);
  });

  it('edits and deletes reach the others; only the sender may change a message', async () => {
    const { doctor, patient } = await call();
    await doctor.client.request('chat.after', { seq: 0 });
    await patient.client.request('chat.after', { seq: 0 });
    const id = randomUUID();
    await patient.client.request('chat.send', { clientId: id, body: 'tomorow' });
    expect(await refusal(doctor.client.request('chat.edit', { id, body: 'no' }))).toBe('not_editable');
    expect(await patient.client.request('chat.edit', { id, body: 'tomorrow' })).toMatchObject({
      body: 'tomorrow',
      edited: true,
    });
    await patient.client.request('chat.delete', { id });
    const changes = (await doctor.client.waitFor('chat.edited', 2)) as ChatNotifications['chat.edited'][];
    expect(changes.map((e) => [e.body, e.deleted])).toEqual([
      ['tomorrow', false],
      [null, true],
    ]);
    const { messages: page } = await doctor.client.request('chat.history', { limit: 10 });
    expect(page[0]).toMatchObject({ id, body: null, deleted: true });
  });

  it('a file message is stored only for a complete file of the room conversation; file messages are not edited', async () => {
    const { doctor, patient } = await call();
    await doctor.client.request('chat.after', { seq: 0 });
    const grant = (await patient.client.request('files.grant', {})) as RoomFileGrant;
    const room = `Room ${grant.token}`;
    const complete = await uploadThroughApp(n.node, room, grant.conversationId);
    const unfinished = await uploadThroughApp(n.node, room, grant.conversationId, { complete: false });
    // A file of another conversation of the same doctor and patient (their care thread).
    const thread = await api.call('POST', '/api/conversations/care', {
      token: c.patient.token,
      body: { clinicId: c.clinicId, doctorId: c.doctor.id, patientId: c.patient.id },
    });
    const foreign = await uploadThroughApp(n.node, `Bearer ${c.doctor.token}`, thread.body.id);
    const send = (clientId: string, fileId: string) =>
      refusal(patient.client.request('chat.send', { clientId, body: fileMessageBody(fileId) }));
    const refused = { unknown: randomUUID(), foreign: randomUUID(), unfinished: randomUUID() };
    expect(await send(refused.unknown, randomUUID())).toBe('file_unknown');
    expect(await send(refused.foreign, foreign)).toBe('file_unknown');
    expect(await send(refused.unfinished, unfinished)).toBe('file_incomplete');
    const ids = Object.values(refused);
    const db = n.node.db.db;
    expect(await db.select().from(messageRows).where(inArray(messageRows.id, ids))).toEqual([]);
    const denied = await db
      .select({ reason: auditLog.reason })
      .from(auditLog)
      .where(
        and(
          inArray(auditLog.resourceId, ids),
          eq(auditLog.outcome, 'denied'),
          eq(auditLog.action, 'message.sent'),
        ),
      );
    expect(denied.map((d) => d.reason).sort()).toEqual(['file_incomplete', 'file_unknown', 'file_unknown']);

    const sent = randomUUID();
    expect(await send(sent, complete)).toBe('resolved');
    const [seen] = (await doctor.client.waitFor('chat.message')) as ChatMessageInfo[];
    expect(seen).toMatchObject({ id: sent, body: fileMessageBody(complete) });
    expect(await refusal(patient.client.request('chat.edit', { id: sent, body: 'text now' }))).toBe(
      'not_editable',
    );
    const text = randomUUID();
    await patient.client.request('chat.send', { clientId: text, body: 'a text' });
    expect(
      await refusal(patient.client.request('chat.edit', { id: text, body: fileMessageBody(complete) })),
    ).toBe('not_editable');
  });

  it('a reconnecting client asks for everything after its last seq and gets it in order', async () => {
    const { id, doctor, patient } = await call();
    await doctor.client.request('chat.after', { seq: 0 });
    await patient.client.request('chat.send', { clientId: randomUUID(), body: 'one' });
    patient.client.close();
    for (const body of ['two', 'three', 'four'])
      await doctor.client.request('chat.send', { clientId: randomUUID(), body });
    const again = await enter(await joinToken(c.patient.token, id));
    await doctor.client.request('admit', { peerId: again.joined.peerId });
    await again.client.waitFor('admitted');
    const caughtUp = await again.client.request('chat.after', { seq: 1 });
    expect(caughtUp.messages.map((m) => [m.seq, m.body])).toEqual([
      [2, 'two'],
      [3, 'three'],
      [4, 'four'],
    ]);
    await doctor.client.request('chat.send', { clientId: randomUUID(), body: 'five' });
    const [live] = (await again.client.waitFor('chat.message')) as ChatMessageInfo[];
    expect(live).toMatchObject({ seq: 5, body: 'five' });
  });

  it('waiting: posts to the hosts only and reads nothing; once admitted it reads the room, its own note included', async () => {
    const id = await appointment();
    const doctor = await enter(await joinToken(c.doctor.token, id));
    await doctor.client.request('chat.after', { seq: 0 });
    const guest = await guestToken(id);
    const waiting = await enter(guest.token);
    expect(waiting.joined.status).toBe('waiting');
    const sent = await waiting.client.request('chat.send', { clientId: randomUUID(), body: 'I am here' });
    expect(sent.seq).toBe(1);
    const [toHost] = (await doctor.client.waitFor('chat.message')) as ChatMessageInfo[];
    expect(toHost).toMatchObject({ body: 'I am here', audience: 'hosts', senderKind: 'guest' });
    expect(await refusal(waiting.client.request('chat.after', { seq: 0 }))).toBe('not_allowed');
    expect(await refusal(waiting.client.request('chat.history', {}))).toBe('not_allowed');
    // The refusal left the socket usable.
    expect(await waiting.client.request('chat.typing', { typing: true })).toEqual({});

    await doctor.client.request('admit', { peerId: waiting.joined.peerId });
    await waiting.client.waitFor('admitted');
    await doctor.client.request('chat.send', { clientId: randomUUID(), body: 'welcome' });
    const after = await waiting.client.request('chat.after', { seq: 0 });
    expect(after.messages.map((m) => m.body)).toEqual(['I am here', 'welcome']);
  });

  it('an expired or revoked guest reads and writes nothing', async () => {
    const { id, doctor } = await call();
    await doctor.client.request('chat.send', { clientId: randomUUID(), body: 'before the guest' });
    const guest = await guestToken(id);
    const inside = await enter(guest.token);
    await doctor.client.request('admit', { peerId: inside.joined.peerId });
    await inside.client.waitFor('admitted');
    expect((await inside.client.request('chat.after', { seq: 0 })).messages).toHaveLength(1);
    await api.call('DELETE', `/api/appointments/${id}/guests/${guest.guestId}`, { token: c.doctor.token });
    await inside.client.closed;
    // Its repository no longer admits it either, whatever socket would ask.
    const chat = new RoomChatService(n.node.db.db, n.node.services.messaging);
    // An expired guest's room conversation stays unknown to it, as a foreign one would.
    expect(await refusal(chat.speaker(claimsOf(guest.token), 'admitted'))).toBe('not_found');
  });

  it('a doctor who leaves the clinic can no longer write once the reused speaker expires', async () => {
    const { doctor, patient } = await call();
    const send = (client: TestClient, body: string) =>
      refusal(client.request('chat.send', { clientId: randomUUID(), body }));
    expect(await send(doctor.client, 'first')).toBe('resolved');
    const membership = and(eq(clinicMembers.userId, c.doctor.id), eq(clinicMembers.clinicId, c.clinicId));
    await n.node.db.db.delete(clinicMembers).where(membership);
    try {
      await new Promise((r) => setTimeout(r, SPEAKER_REUSE_MS + 100));
      expect(await send(doctor.client, 'after leaving')).not.toBe('resolved');
      expect(await send(patient.client, 'the patient still writes')).toBe('resolved');
    } finally {
      await n.node.db.db.insert(clinicMembers).values({ clinicId: c.clinicId, userId: c.doctor.id });
    }
    await new Promise((r) => setTimeout(r, SPEAKER_REUSE_MS + 100));
    expect(await send(doctor.client, 'back')).toBe('resolved');
  });

  it('bad chat frames are typed errors and the socket stays usable', async () => {
    const { patient } = await call();
    const send = (body: unknown, clientId: unknown = randomUUID()) =>
      refusal(patient.client.request('chat.send', { clientId, body } as never));
    expect(await send('x'.repeat(300))).toBe('message_too_large');
    expect(await send('   ')).toBe('message_empty');
    expect(await send('hi', 'not-a-uuid')).toBe('invalid_request');
    expect(await send(42)).toBe('invalid_request');
    expect(await refusal(patient.client.request('chat.after', { seq: -1 }))).toBe('invalid_request');
    expect(
      await refusal(patient.client.request('chat.after', { seq: 0, conversationId: randomUUID() })),
    ).toBe('not_found');
    const ok = await patient.client.request('chat.send', { clientId: randomUUID(), body: 'still here' });
    expect(ok.seq).toBeGreaterThan(0);
  });

  it('a flood of sends is refused with rate_limited, not dropped silently', async () => {
    // A guest of its own: the send budget is per member, and the other tests' members keep theirs.
    const { id, doctor } = await call();
    const guest = await enter((await guestToken(id)).token);
    await doctor.client.request('admit', { peerId: guest.joined.peerId });
    await guest.client.waitFor('admitted');
    const codes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        refusal(guest.client.request('chat.send', { clientId: randomUUID(), body: `m${i}` })),
      ),
    );
    expect(codes.filter((x) => x === 'rate_limited').length).toBeGreaterThan(0);
    expect(codes.filter((x) => x === 'resolved').length).toBeLessThanOrEqual(31);
  });
});

describe('the browser chat client over a real room socket', () => {
  it('shows a send as "sending" until acked, re-sends it with the same id after a lost socket, sees read receipts and typing', async () => {
    const { id, doctor, patient } = await call();
    const doctorChat = new ChatClient(c.doctor.id);
    const patientChat = new ChatClient(c.patient.id);
    await doctorChat.attach(roomChatTransport(doctor.client));
    await patientChat.attach(roomChatTransport(patient.client));

    const first = patientChat.send('hello doctor');
    expect(patientChat.pending).toEqual([{ id: first.id, body: 'hello doctor', state: 'sending' }]);
    while (patientChat.pending.length) await patientChat.next('changed');
    expect(patientChat.messages.map((m) => [m.seq, m.body])).toEqual([[1, 'hello doctor']]);
    while (doctorChat.messages.length < 1) await doctorChat.next('changed');
    expect(doctorChat.unread).toBe(1);

    // The socket goes away before the next send is acknowledged: it stays "sending", never sent.
    patient.client.close();
    await patient.client.closed;
    const lost = patientChat.send('are you there?');
    await new Promise((r) => setTimeout(r, 50));
    expect(patientChat.pending.map((p) => p.state)).toEqual(['sending']);
    const again = await enter(await joinToken(c.patient.token, id));
    await doctor.client.request('admit', { peerId: again.joined.peerId });
    await again.client.waitFor('admitted');
    await patientChat.attach(roomChatTransport(again.client));
    while (patientChat.pending.length) await patientChat.next('changed');
    expect(patientChat.messages.map((m) => [m.seq, m.id])).toEqual([
      [1, first.id],
      [2, lost.id],
    ]);
    // A second re-send of the same id is stored once (the server's dedupe).
    const retry = await again.client.request('chat.send', { clientId: lost.id, body: 'are you there?' });
    expect(retry).toMatchObject({ seq: 2, duplicate: true });

    const typing = patientChat.next('typing');
    await doctorChat.typing(true);
    expect((await typing)[0]).toEqual([c.doctor.id]);
    while (doctorChat.messages.length < 2) await doctorChat.next('changed');
    await doctorChat.markRead();
    expect(doctorChat.unread).toBe(0);
    while (patientChat.statusOf(patientChat.messages[1]!) !== 'read') await patientChat.next('changed');
    doctorChat.close();
    patientChat.close();
  });
});

function claimsOf(token: string) {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}
