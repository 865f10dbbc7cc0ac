import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clinicMembers, users } from '../db/schema/index.ts';
import type { CareCallNode } from '../server/node.ts';
import { closeCode, userSocketProtocols, type UserNotifications } from '../signaling/protocol/index.ts';
import type { WebSocketLike } from '../web-client/src/signaling-client.ts';
import { UserChatClient, UserSocket } from '../web-client/src/user-chat-client.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import type { IdentityHarness } from './helpers/identity.ts';
import { createUser, signIn } from './helpers/identity.ts';
import { startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from './helpers/scheduling.ts';
import { upgradeAnswer } from './helpers/upgrade.ts';
import { fileMessageBody } from '../signaling/protocol/index.ts';
import { uploadThroughApp } from './helpers/app-upload.ts';

/**
 * The user connection (/ws/user) on real PostgreSQL and Redis: node A runs in this process, node B
 * is a second server process sharing the database and the bus, so a message sent on A reaches a
 * member connected to B.
 */
const pem = () =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const prefix = `test:${randomBytes(4).toString('hex')}:`;
const slot = '2027-03-03T10:00:00Z';
const clock = { now: new Date('2027-03-03T08:00:00Z') };
let ENV: Record<string, string>;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let a: Awaited<ReturnType<typeof startTestNode>>;
let b: NodeProcess;
let call: IdentityHarness['call'];
let c: SchedulingClinic;
let threadId: string;
let appointmentId: string;
const sockets: UserSocket[] = [];

function apiOf(node: CareCallNode) {
  return async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
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
}

const userUrl = (port: number) => `ws://127.0.0.1:${port}/ws/user`;
const factory = (url: string, protocols: string[]) =>
  new WebSocket(url, protocols) as unknown as WebSocketLike;

type Recorded = { method: keyof UserNotifications; data: unknown }[];
/** A user socket that records its notifications and its final close. */
async function connect(
  port: number,
  token: string | (() => Promise<string>),
  opts: { refreshLeadMs?: number; backoffMs?: (attempt: number) => number } = {},
) {
  const tokens = async () => {
    const accessToken = typeof token === 'string' ? token : await token();
    return { accessToken, expiresAt: a.node.identity.tokens.verifyNow(accessToken).expiresAtMs };
  };
  const socket = new UserSocket({
    url: userUrl(port),
    tokens,
    createSocket: factory,
    backoffMs: () => 100,
    ...opts,
  });
  sockets.push(socket);
  const seen: Recorded = [];
  socket.on('notification', (method, data) => seen.push({ method, data }));
  const closed = new Promise<{ reason: string; code: number }>((resolve) =>
    socket.once('closed', (reason, code) => resolve({ reason, code })),
  );
  socket.on('error', () => {});
  const ready = await socket.start();
  return { socket, seen, closed, ready };
}
const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code ?? String(err),
  );
const messagesIn = (seen: Recorded, conversationId: string) =>
  seen
    .filter((n) => n.method === 'chat.message')
    .map((n) => n.data as UserNotifications['chat.message'])
    .filter((m) => m.conversationId === conversationId);
/** An account of its own, for counting its sockets: nobody else's sockets (open or closing) count against it. */
async function freshAccount() {
  const user = await createUser(a.node.identity, a.node.db.db, { role: 'patient', clinicId: c.clinicId });
  return (await signIn(call, a.node.db.db, user.email!)).accessToken;
}
const mintFor = (token: string, ttlSeconds?: number) => {
  const { claims } = a.node.identity.tokens.verifyNow(token);
  return a.node.identity.tokens.mint(claims, ttlSeconds);
};

beforeAll(async () => {
  pg = await createTestDatabase();
  ENV = {
    PASSWORD_HASH_STRENGTH: 'minimum',
    LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
    AUTH_TOKEN_PRIVATE_KEY: pem(),
    JOIN_TOKEN_PRIVATE_KEY: pem(),
    DATA_KEK: randomBytes(32).toString('base64'),
    MESSAGE_MAX_BYTES: '256',
    MESSAGE_RATE_PER_SECOND: '1',
    MESSAGE_RATE_BURST: '40',
    USER_SOCKET_MAX_PER_USER: '4',
    DATABASE_URL: pg.url,
    REDIS_URL: TEST_REDIS_URL,
  };
  a = await startTestNode(ENV, { busPrefix: prefix, now: () => clock.now, userSocketRecheckMs: 300 });
  call = apiOf(a.node) as unknown as IdentityHarness['call'];
  c = await schedulingClinic({
    db: a.node.db.db,
    identity: a.node.identity,
    call,
  } as unknown as IdentityHarness);
  const booked = await call('POST', '/api/appointments', {
    token: c.patient.token,
    body: booking(c, c.patient.id, slot),
  });
  expect(booked.status).toBe(201);
  appointmentId = booked.body.id;
  // Node B on the ws tier (node A takes uWS where it loads): the user socket on both implementations.
  b = await startNodeProcess({ ...ENV, REDIS_PREFIX: prefix, SOCKET_SERVER: 'ws' });
}, 180_000);
afterAll(async () => {
  sockets.forEach((s) => s.close());
  await b?.stop();
  await a?.node.stop();
  await pg?.drop();
});

describe('the user connection', () => {
  it('carries a thread opened while connected; a send is acked once per client id and reaches the doctor on the other node once', async () => {
    const doctor = await connect(b.port, c.doctor.token);
    const patient = await connect(a.node.port, c.patient.token);
    const opened = await call('POST', '/api/conversations/care', {
      token: c.patient.token,
      body: { clinicId: c.clinicId, doctorId: c.doctor.id, patientId: c.patient.id },
    });
    expect(opened.status).toBe(201);
    threadId = opened.body.id;
    // Both sockets learn of the new conversation (membership over the bus), then carry its messages.
    await until(() => doctor.seen.some((n) => n.method === 'conversation.updated'));
    await until(() => patient.seen.some((n) => n.method === 'conversation.updated'));

    const clientId = randomUUID();
    const first = await patient.socket.request('chat.send', {
      conversationId: threadId,
      clientId,
      body: 'my knee hurts',
    });
    const retry = await patient.socket.request('chat.send', {
      conversationId: threadId,
      clientId,
      body: 'my knee hurts',
    });
    expect(first.duplicate).toBe(false);
    expect(retry).toMatchObject({ seq: first.seq, duplicate: true });
    await until(() => messagesIn(doctor.seen, threadId).length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(messagesIn(doctor.seen, threadId).map((m) => [m.seq, m.body])).toEqual([
      [first.seq, 'my knee hurts'],
    ]);
    // The doctor's unread count arrives as conversation.updated.
    await until(() =>
      doctor.seen.some(
        (n) => n.method === 'conversation.updated' && (n.data as { unread: number }).unread === 1,
      ),
    );
    const { conversations } = await doctor.socket.request('conversations.list', {});
    expect(conversations.find((x) => x.id === threadId)).toMatchObject({ unread: 1, lastSeq: first.seq });
    doctor.socket.close();
    patient.socket.close();
  });

  it('a file message names a complete file of its own conversation, else file_unknown / file_incomplete; it is never edited', async () => {
    const patient = await connect(b.port, c.patient.token);
    const bearer = `Bearer ${c.patient.token}`;
    const complete = await uploadThroughApp(a.node, bearer, threadId);
    const unfinished = await uploadThroughApp(a.node, bearer, threadId, { complete: false });
    // The appointment's room conversation is another conversation of the same two people.
    const { id: room } = await a.node.services.messaging
      .forActor({
        kind: 'user',
        presence: 'admitted',
        actor: { userId: c.doctor.id, role: 'doctor', sessionId: 'test', clinicIds: [c.clinicId] },
      })
      .roomConversation(appointmentId);
    const foreign = await uploadThroughApp(a.node, `Bearer ${c.doctor.token}`, room);
    const send = (fileId: string, clientId = randomUUID()) =>
      refusal(
        patient.socket.request('chat.send', {
          conversationId: threadId,
          clientId,
          body: fileMessageBody(fileId),
        }),
      );
    expect(await send(randomUUID())).toBe('file_unknown');
    expect(await send(foreign)).toBe('file_unknown');
    expect(await send(unfinished)).toBe('file_incomplete');
    const sent = randomUUID();
    expect(await send(complete, sent)).toBe('resolved');
    expect(
      await refusal(
        patient.socket.request('chat.edit', { conversationId: threadId, id: sent, body: 'text' }),
      ),
    ).toBe('not_editable');
    const { messages: latest } = await patient.socket.request('chat.history', {
      conversationId: threadId,
      limit: 1,
    });
    expect(latest.map((m) => [m.id, m.body])).toEqual([[sent, fileMessageBody(complete)]]);
    patient.socket.close();
  });

  it('a client catches up after a reconnect, in order, and re-sends what was not acknowledged with its own id', async () => {
    // Reconnects after 1.5 s, so what the doctor writes meanwhile can only arrive by catch-up.
    const patient = await connect(a.node.port, c.patient.token, { backoffMs: () => 1500 });
    const chats = new UserChatClient(patient.socket);
    await chats.next('synced');
    const thread = await chats.open(threadId);
    const before = thread.lastSeq;
    const synced = chats.next('synced');
    patient.socket.drop();
    await until(() => !patient.socket.connected);
    const offline = thread.send('written while offline');
    for (const text of ['one', 'two', 'three'])
      expect(
        (
          await call('POST', `/api/conversations/${threadId}/messages`, {
            token: c.doctor.token,
            body: { id: randomUUID(), body: text },
          })
        ).status,
      ).toBe(201);
    await synced;
    await until(() => thread.pending.length === 0);
    const after = thread.messages.filter((m) => m.seq > before).map((m) => m.body);
    expect(after).toEqual(['one', 'two', 'three', 'written while offline']);
    expect(thread.messages.find((m) => m.body === 'written while offline')?.id).toBe(offline.id);
    const stored = await patient.socket.request('chat.after', { conversationId: threadId, seq: before });
    expect(
      stored.messages.map((m) => m.body),
      'stored once',
    ).toEqual(after);
    chats.close();
    patient.socket.close();
  });

  it('auth.refresh with a token of the same session keeps the socket; one of another session is refused and the socket stays', async () => {
    const patient = await connect(a.node.port, c.patient.token);
    const renewed = await mintFor(c.patient.token);
    const { expiresAt } = await patient.socket.request('auth.refresh', { accessToken: renewed });
    expect(expiresAt).toBeGreaterThanOrEqual(patient.ready.expiresAt);
    const other = await signIn(call, a.node.db.db, c.patient.email);
    expect(await refusal(patient.socket.request('auth.refresh', { accessToken: other.accessToken }))).toBe(
      'token_invalid',
    );
    expect(await refusal(patient.socket.request('auth.refresh', { accessToken: 'a.b.c' }))).toBe(
      'token_invalid',
    );
    expect((await patient.socket.request('conversations.list', {})).conversations.length).toBeGreaterThan(0);
    patient.socket.close();
  });

  it('closes with token_expired when the token runs out without a refresh', async () => {
    const short = await mintFor(c.patient.token, 1);
    const ws = new WebSocket(userUrl(a.node.port), userSocketProtocols(short));
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    expect(closed).toEqual({ code: closeCode('token_expired'), reason: 'token_expired' });
  }, 15_000);

  it('the client refreshes its token over the open socket before it expires', async () => {
    let minted = 0;
    const patient = await connect(a.node.port, async () => (minted++, mintFor(c.patient.token, 1)), {
      refreshLeadMs: 4000,
    });
    let disconnects = 0;
    patient.socket.on('disconnected', () => disconnects++);
    await new Promise((r) => setTimeout(r, 7000));
    expect(patient.socket.connected).toBe(true);
    expect(disconnects, 'the socket was never dropped for the token').toBe(0);
    expect(minted).toBeGreaterThan(1);
    patient.socket.close();
  }, 15_000);

  it("logout on one node closes the session's user sockets on both nodes within a second", async () => {
    const session = await signIn(call, a.node.db.db, c.doctor.email);
    const onA = await connect(a.node.port, session.accessToken);
    const onB = await connect(b.port, session.accessToken);
    const closedAt: number[] = [];
    void onA.closed.then(() => closedAt.push(Date.now()));
    void onB.closed.then(() => closedAt.push(Date.now()));
    expect((await call('POST', '/api/auth/logout', { token: session.accessToken })).status).toBeLessThan(300);
    // Counted from the committed logout (its answer), not from the request: the API call itself is not the bound.
    const loggedOut = Date.now();
    const [x, y] = await Promise.all([onA.closed, onB.closed]);
    await until(() => closedAt.length === 2);
    expect(Math.max(...closedAt) - loggedOut, 'ms from logout to the last socket closed').toBeLessThan(1000);
    expect([x, y]).toEqual([
      { reason: 'session_revoked', code: closeCode('session_revoked') },
      { reason: 'session_revoked', code: closeCode('session_revoked') },
    ]);
    // The ended session cannot open a new one either.
    const again = new UserSocket({
      url: userUrl(b.port),
      tokens: async () => ({ accessToken: session.accessToken, expiresAt: Date.now() + 60_000 }),
      createSocket: factory,
    });
    sockets.push(again);
    expect(await refusal(again.start())).toBe('ConnectionLost: session_revoked');
  });

  it('a membership that ends while connected stops the conversation on both nodes at once; one that begins (an invitation accepted) starts it', async () => {
    const onA = await connect(a.node.port, c.patient.token);
    const onB = await connect(b.port, c.patient.token);
    const doctorSays = async (body: string) =>
      expect(
        (
          await call('POST', `/api/conversations/${threadId}/messages`, {
            token: c.doctor.token,
            body: { id: randomUUID(), body },
          })
        ).status,
      ).toBe(201);
    const bodies = (r: Recorded) => messagesIn(r, threadId).map((m) => m.body);
    await doctorSays('before');
    await until(() => bodies(onA.seen).includes('before') && bodies(onB.seen).includes('before'));

    // The patient leaves the clinic (as an administrator's removal would), and says so.
    const db = a.node.db.db;
    const membership = and(eq(clinicMembers.userId, c.patient.id), eq(clinicMembers.clinicId, c.clinicId));
    await db.delete(clinicMembers).where(membership);
    a.node.services.messaging.membershipChanged([c.patient.id]);
    const told = (r: Recorded, method: keyof UserNotifications, from = 0) =>
      r
        .slice(from)
        .some(
          (n) =>
            n.method === method &&
            (n.data as { conversationId?: string; id?: string })[
              method === 'conversation.removed' ? 'conversationId' : 'id'
            ] === threadId,
        );
    await until(() => told(onA.seen, 'conversation.removed') && told(onB.seen, 'conversation.removed'), 2000);
    await doctorSays('after');
    await new Promise((r) => setTimeout(r, 300));
    expect(bodies(onA.seen)).toEqual(['before']);
    expect(bodies(onB.seen)).toEqual(['before']);
    for (const s of [onA, onB])
      expect(await refusal(s.socket.request('chat.after', { conversationId: threadId, seq: 0 }))).toBe(
        'not_found',
      );

    // Back in the clinic through the API (the doctor invites, the signed-in patient accepts): both
    // sockets carry the thread again without a reconnect.
    const marks = [onA.seen.length, onB.seen.length];
    const invited = await call('POST', `/api/clinics/${c.clinicId}/invitations`, {
      token: c.doctor.token,
      body: { email: c.patient.email, role: 'patient' },
    });
    expect(invited.status).toBe(201);
    const invitation = /#invitation=(.+)$/.exec(invited.body.link as string)![1]!;
    const accepted = await call('POST', '/api/invitations/accept', {
      token: c.patient.token,
      body: { token: invitation },
    });
    expect(accepted.status).toBe(200);
    await until(
      () =>
        told(onA.seen, 'conversation.updated', marks[0]) && told(onB.seen, 'conversation.updated', marks[1]),
      2000,
    );
    await doctorSays('back');
    await until(() => bodies(onA.seen).includes('back') && bodies(onB.seen).includes('back'));
    onA.socket.close();
    onB.socket.close();
  });

  it("a disabled account's sockets close (account_disabled) at the next check", async () => {
    const guardian = await connect(a.node.port, c.guardian.token);
    await a.node.db.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, c.guardian.id));
    expect(await guardian.closed).toEqual({
      reason: 'account_disabled',
      code: closeCode('account_disabled'),
    });
  });

  it('refuses a foreign or unknown conversation as not_found, and bad input with typed errors; the socket stays usable', async () => {
    const doctor = await connect(a.node.port, c.doctor.token);
    const operator = await connect(a.node.port, c.operator.token);
    const send = (conversationId: string, body: string) =>
      refusal(operator.socket.request('chat.send', { conversationId, clientId: randomUUID(), body }));
    expect(await send(threadId, 'hello'), 'not a member').toBe('not_found');
    expect(await send(randomUUID(), 'hello'), 'no such conversation').toBe('not_found');
    expect(await refusal(operator.socket.request('chat.after', { conversationId: threadId, seq: 0 }))).toBe(
      'not_found',
    );
    const mine = (body: string) =>
      refusal(doctor.socket.request('chat.send', { conversationId: threadId, clientId: randomUUID(), body }));
    expect(await mine('x'.repeat(300))).toBe('message_too_large');
    expect(await mine('   ')).toBe('message_empty');
    expect(await refusal(doctor.socket.request('chat.send', { conversationId: 'nope' } as never))).toBe(
      'invalid_request',
    );
    expect(await refusal(doctor.socket.request('no.such' as never, {} as never))).toBe('unknown_method');
    const errors: unknown[] = [];
    doctor.socket.on('error', (e) => errors.push((e as { code?: string }).code));
    doctor.socket.sendRaw('{not json');
    doctor.socket.sendRaw(
      JSON.stringify({ type: 'request', id: 1, method: 'chat.send', data: 'x'.repeat(70_000) }),
    );
    await until(() => errors.length >= 2);
    expect(errors).toEqual(['bad_frame', 'frame_too_large']);
    // Sends beyond the member's burst are refused with rate_limited, nothing stored for them.
    const outcomes = await Promise.all(Array.from({ length: 45 }, () => mine('burst')));
    expect(outcomes).toContain('rate_limited');
    const ok = await doctor.socket.request('chat.history', { conversationId: threadId, limit: 1 });
    expect(ok.messages.length).toBe(1);
    doctor.socket.close();
    operator.socket.close();
  });

  it('refuses a token in the URL, a missing or bad token, and more sockets than the per-user limit', async () => {
    for (const port of [a.node.port, b.port]) {
      const url = userUrl(port);
      const inUrl = await upgradeAnswer(
        `${url}?access_token=${c.patient.token}`,
        userSocketProtocols(c.patient.token).join(', '),
      );
      expect([inUrl.status, inUrl.body?.code]).toEqual([400, 'credential_in_url']);
      expect((await upgradeAnswer(url, undefined)).body?.code).toBe('token_missing');
      expect((await upgradeAnswer(url, 'carecall.user, carecall.bearer.x.y.z')).body?.code).toBe(
        'token_invalid',
      );
      expect((await upgradeAnswer(url, `carecall.bearer.${c.patient.token}`)).body?.code).toBe(
        'subprotocol_required',
      );
      const ok = await upgradeAnswer(url, userSocketProtocols(c.patient.token).join(', '));
      expect([ok.status, ok.headers['sec-websocket-protocol']]).toEqual([101, 'carecall.user']);
      // USER_SOCKET_MAX_PER_USER=4: the fifth on the same node is refused at the upgrade already.
      const account = await freshAccount();
      const held = await Promise.all([1, 2, 3, 4].map(() => connect(port, account)));
      const fifth = await upgradeAnswer(url, userSocketProtocols(account).join(', '));
      expect([fifth.status, fifth.body?.code]).toEqual([429, 'too_many_connections']);
      held.forEach((h) => h.socket.close());
    }
  });

  it("the per-user limit counts the account's sockets on every node; a dead node's sockets stop counting within its lease", async () => {
    const raw: WebSocket[] = [];
    /** A user socket by hand: 'ready' once the server says so, else the close code it got instead. */
    const open = (port: number) =>
      new Promise<number | 'ready'>((resolve) => {
        const ws = new WebSocket(userUrl(port), userSocketProtocols(account));
        raw.push(ws);
        ws.on('message', (d) => {
          if ((JSON.parse(String(d)) as { method?: string }).method === 'user.ready') resolve('ready');
        });
        ws.on('close', (code) => resolve(code));
      });
    const refused = closeCode('too_many_user_connections');
    const account = await freshAccount();
    try {
      // USER_SOCKET_MAX_PER_USER=4 for the account, wherever its sockets are: 2 here and 2 there.
      expect(await Promise.all([open(a.node.port), open(a.node.port), open(b.port), open(b.port)])).toEqual(
        Array(4).fill('ready'),
      );
      expect([await open(a.node.port), await open(b.port)], 'each node holds only 2 itself').toEqual([
        refused,
        refused,
      ]);

      // A third node with a short lease holds 2 of the 4 (B's go), then dies without a word.
      const c3 = await startNodeProcess({
        ...ENV,
        REDIS_PREFIX: prefix,
        SOCKET_SERVER: 'ws',
        CLUSTER_LEASE_MS: '1500',
      });
      try {
        raw[2]!.close();
        raw[3]!.close();
        await until(() => raw[2]!.readyState === WebSocket.CLOSED && raw[3]!.readyState === WebSocket.CLOSED);
        let third: (number | 'ready')[] = [];
        // The closes on B reach the shared count a moment after the sockets closed.
        for (let i = 0; i < 20; i++) {
          third = await Promise.all([open(c3.port), open(c3.port)]);
          if (third.every((x) => x === 'ready')) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(third).toEqual(['ready', 'ready']);
        expect(await open(a.node.port)).toBe(refused);
        const killedAt = Date.now();
        c3.child.kill('SIGKILL');
        await c3.exited;
        let after: number | 'ready' = refused;
        while (after !== 'ready' && Date.now() - killedAt < 10_000) {
          await new Promise((r) => setTimeout(r, 200));
          after = await open(a.node.port);
        }
        expect(after, "the dead node's sockets no longer count").toBe('ready');
        expect(Date.now() - killedAt, 'within its lease (1.5 s) and a retry').toBeLessThan(4000);
      } finally {
        await c3.stop();
      }
    } finally {
      raw.forEach((ws) => ws.close());
    }
  });
});
