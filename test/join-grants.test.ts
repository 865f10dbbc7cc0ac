import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments, consultationGuests } from '../db/schema/index.ts';
import type { CareCallNode } from '../server/node.ts';
import { closeCode, signalingProtocols } from '../signaling/protocol/index.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import type { IdentityHarness } from './helpers/identity.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from './helpers/scheduling.ts';
import { connectClient, type TestClient } from './helpers/ws-client.ts';
import { upgradeAnswer } from './helpers/upgrade.ts';

// Wednesday 3 March 2027 (the doctor works 08:00-16:00Z); 30-minute consults.
const at = (hour: number, minute = 0) =>
  `2027-03-03T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00Z`;
const clock = { now: new Date(at(8)) };
// One join-token key for every node, as in production (tokens minted by one node open sockets on any).
const JOIN_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();
const ENV = {
  PASSWORD_HASH_STRENGTH: 'minimum',
  LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
  JOIN_TOKEN_PRIVATE_KEY: JOIN_KEY,
};

/** The API of a running node, shaped like the identity harness the scheduling helpers expect. */
function apiOf(node: CareCallNode) {
  const call = async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
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
let a: Awaited<ReturnType<typeof startTestNode>>;
let b: Awaited<ReturnType<typeof startTestNode>>;
let api: ReturnType<typeof apiOf>;
let c: SchedulingClinic;
const clients: TestClient[] = [];

beforeAll(async () => {
  pg = await createTestDatabase();
  const busPrefix = `test:${randomBytes(4).toString('hex')}:`;
  const shared = { ...ENV, DATABASE_URL: pg.url, REDIS_URL: TEST_REDIS_URL };
  // The re-check is slowed down here so that the tests see the bus, not the re-check, at work.
  a = await startTestNode(shared, { busPrefix, now: () => clock.now, grantRecheckMs: 60_000 });
  b = await startTestNode(shared, { busPrefix, now: () => clock.now, grantRecheckMs: 60_000 });
  api = apiOf(a.node);
  c = await schedulingClinic(api.harness);
});
afterAll(async () => {
  clients.forEach((x) => x.close());
  await Promise.all([a?.node.stop(), b?.node.stop()]);
  await pg?.drop();
});

async function appointment(hour: number, minute = 0) {
  const res = await api.call('POST', '/api/appointments', {
    token: c.patient.token,
    body: booking(c, c.patient.id, at(hour, minute)),
  });
  expect(res.status).toBe(201);
  // The consultation clock: five minutes before this appointment, so its room is open.
  clock.now = new Date(Date.parse(at(hour, minute)) - 5 * 60_000);
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
  expect(res.status).toBe(302);
  return {
    guestId: inv.body.id as string,
    token: decodeURIComponent(res.headers.get('location')!.split('#token=')[1]!),
  };
}
async function enter(wsUrl: string, token: string) {
  const client = await connectClient(wsUrl, token);
  clients.push(client);
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { client, joined };
}

describe('a revoked guest', () => {
  it('knocking: the socket is closed with 4006 invitation_revoked, the host sees the waiting room empty', async () => {
    const id = await appointment(8);
    const doctor = await enter(a.wsUrl, await joinToken(c.doctor.token, id));
    const guest = await guestToken(id);
    const knock = await enter(a.wsUrl, guest.token);
    expect(knock.joined.status).toBe('waiting');
    await doctor.client.waitFor('waitingRoom');

    expect(
      (await api.call('DELETE', `/api/appointments/${id}/guests/${guest.guestId}`, { token: c.doctor.token }))
        .status,
    ).toBe(204);
    expect(await knock.client.closed).toEqual({
      code: closeCode('invitation_revoked'),
      reason: 'invitation_revoked',
    });
    const lists = (await doctor.client.waitFor('waitingRoom', 2)) as { waiting: unknown[] }[];
    expect(lists.at(-1)!.waiting).toEqual([]);
    // Its token no longer opens a socket, on either node (the other heard it over the bus).
    for (const node of [a, b]) {
      const refused = await upgradeAnswer(
        node.wsUrl,
        signalingProtocols({ kind: 'join', token: guest.token }).join(', '),
      );
      expect(refused).toMatchObject({ status: 403, body: { code: 'access_revoked' } });
    }
  });

  it('admitted, in the call: closed with the reason, the others see it leave', async () => {
    const id = await appointment(9);
    const doctor = await enter(a.wsUrl, await joinToken(c.doctor.token, id));
    const guest = await guestToken(id);
    const inside = await enter(a.wsUrl, guest.token);
    await doctor.client.request('admit', { peerId: inside.joined.peerId });
    await inside.client.waitFor('admitted');
    await api.call('DELETE', `/api/appointments/${id}/guests/${guest.guestId}`, { token: c.doctor.token });
    expect(await inside.client.closed).toEqual({
      code: closeCode('invitation_revoked'),
      reason: 'invitation_revoked',
    });
    expect(await doctor.client.waitFor('peerLeft')).toEqual([{ peerId: inside.joined.peerId }]);
    expect(doctor.client.notifications.some((n) => n.method === 'roomClosed')).toBe(false);
  });

  it('a revocation this node never heard of (written straight to the database) still refuses the join', async () => {
    const id = await appointment(10);
    const guest = await guestToken(id);
    await a.node.db.db
      .update(consultationGuests)
      .set({ revokedAt: new Date() })
      .where(eq(consultationGuests.id, guest.guestId));
    const client = await connectClient(b.wsUrl, guest.token); // the upgrade gate does not know
    clients.push(client);
    const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
    await expect(client.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject(
      { code: 'access_revoked' },
    );
    expect(await client.closed).toEqual({
      code: closeCode('invitation_revoked'),
      reason: 'invitation_revoked',
    });
  });
});

describe('a cancelled appointment', () => {
  it('everyone in its room is closed with 4006 consultation_cancelled, on the node hosting the room', async () => {
    const id = await appointment(11);
    const [doctorToken, patientToken] = [
      await joinToken(c.doctor.token, id),
      await joinToken(c.patient.token, id),
    ];
    // The sockets reach node b; the cancellation is made through node a's API.
    const doctor = await enter(b.wsUrl, doctorToken);
    const patient = await enter(b.wsUrl, patientToken);
    expect(patient.joined.status).toBe('waiting');
    const room = JSON.parse(Buffer.from(doctorToken.split('.')[1]!, 'base64url').toString()).room as string;
    // Placement puts the room on the least-loaded node, which need not be the one the sockets reached.
    const host = [a, b].find((n) => n.node.hub.rooms.has(room));
    expect(host).toBeDefined();

    expect(
      (
        await api.call('POST', `/api/appointments/${id}/cancel`, {
          token: c.patient.token,
          body: { reason: 'feeling better' },
        })
      ).status,
    ).toBe(200);
    for (const x of [doctor, patient])
      expect(await x.client.closed).toEqual({
        code: closeCode('consultation_cancelled'),
        reason: 'consultation_cancelled',
      });
    for (let i = 0; i < 50 && host!.node.hub.rooms.has(room); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(host!.node.hub.rooms.has(room)).toBe(false);
    // Tokens minted before the cancellation no longer open the room.
    for (const token of [doctorToken, patientToken]) {
      expect(
        await upgradeAnswer(a.wsUrl, signalingProtocols({ kind: 'join', token }).join(', ')),
      ).toMatchObject({ status: 403, body: { code: 'access_revoked' } });
    }
  });

  it('a node started after the cancellation refuses its tokens at the upgrade too (loaded from the database)', async () => {
    const id = await appointment(12);
    const token = await joinToken(c.patient.token, id);
    await api.call('POST', `/api/appointments/${id}/cancel`, {
      token: c.patient.token,
      body: { reason: 'moved away' },
    });
    const late = await startTestNode(
      { ...ENV, DATABASE_URL: pg.url, REDIS_URL: TEST_REDIS_URL },
      { now: () => clock.now },
    );
    try {
      expect(
        await upgradeAnswer(late.wsUrl, signalingProtocols({ kind: 'join', token }).join(', ')),
      ).toMatchObject({ status: 403, body: { code: 'access_revoked' } });
    } finally {
      await late.node.stop();
    }
  });

  it('without the bus message, the join is refused by the database and live participants by the re-check', async () => {
    const id = await appointment(13);
    const lone = await startTestNode(
      { ...ENV, DATABASE_URL: pg.url },
      { now: () => clock.now, grantRecheckMs: 200 },
    ); // its own in-process bus
    try {
      const doctor = await enter(lone.wsUrl, await joinToken(c.doctor.token, id));
      const patientToken = await joinToken(c.patient.token, id);
      await api.call('POST', `/api/appointments/${id}/cancel`, {
        token: c.patient.token,
        body: { reason: 'elsewhere' },
      });
      const late = await connectClient(lone.wsUrl, patientToken);
      clients.push(late);
      const { rtpCapabilities } = await late.request('getRouterRtpCapabilities', {});
      await expect(late.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject(
        { code: 'access_revoked' },
      );
      expect(await late.closed).toEqual({
        code: closeCode('consultation_cancelled'),
        reason: 'consultation_cancelled',
      });
      expect(await doctor.client.closed).toEqual({
        code: closeCode('consultation_cancelled'),
        reason: 'consultation_cancelled',
      });
    } finally {
      await lone.node.stop();
    }
  });
});

describe('a consultation that is not open', () => {
  it('completed: the call in progress goes on, a new join is refused (consultation_not_open)', async () => {
    const id = await appointment(14);
    const doctor = await enter(a.wsUrl, await joinToken(c.doctor.token, id));
    const patientToken = await joinToken(c.patient.token, id);
    for (const [to, who] of [
      ['checked_in', c.patient],
      ['in_call', c.doctor],
      ['completed', c.doctor],
    ] as const) {
      const r = await api.call('POST', `/api/appointments/${id}/transitions`, {
        token: who.token,
        body: { to },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const [row] = await a.node.db.db.select().from(appointments).where(eq(appointments.id, id));
    expect(row!.status).toBe('completed');
    const late = await connectClient(a.wsUrl, patientToken);
    clients.push(late);
    const { rtpCapabilities } = await late.request('getRouterRtpCapabilities', {});
    await expect(late.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject({
      code: 'access_revoked',
    });
    expect(await late.closed).toEqual({
      code: closeCode('consultation_not_open'),
      reason: 'consultation_not_open',
    });
    expect(await doctor.client.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
  });

  it("a token used outside its appointment's time (moved later) is refused at join", async () => {
    const id = await appointment(15);
    const token = await joinToken(c.patient.token, id);
    await a.node.db.db
      .update(appointments)
      .set({ startsAt: new Date('2027-03-04T15:00:00Z'), endsAt: new Date('2027-03-04T15:30:00Z') })
      .where(eq(appointments.id, id));
    const early = await connectClient(a.wsUrl, token);
    clients.push(early);
    const { rtpCapabilities } = await early.request('getRouterRtpCapabilities', {});
    await expect(early.request('join', { rtpCapabilities: rtpCapabilities as never })).rejects.toMatchObject({
      code: 'access_revoked',
    });
    expect(await early.closed).toEqual({
      code: closeCode('consultation_not_open'),
      reason: 'consultation_not_open',
    });
  });
});

it('a malformed message on the join-grants channel is logged and ignored, nobody is closed', async () => {
  const id = await appointment(15, 30);
  const doctor = await enter(a.wsUrl, await joinToken(c.doctor.token, id));
  await b.node.bus.publish('join-grants', { room: 42, reason: 'because' });
  const dropped = () =>
    a.logs.lines.some((l) => l.includes('malformed message on the bus') && l.includes('"join-grants"'));
  for (let i = 0; i < 50 && !dropped(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(dropped()).toBe(true);
  expect(await doctor.client.request('getRouterRtpCapabilities', {})).toHaveProperty('rtpCapabilities');
});
