import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../db/schema/index.ts';
import type { CareCallNode } from '../server/node.ts';
import type { RoomFileGrant } from '../signaling/protocol/index.ts';
import { SMALL_PDF, uploadThroughApp } from './helpers/app-upload.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import type { IdentityHarness } from './helpers/identity.ts';
import { startTestNode } from './helpers/node.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from './helpers/scheduling.ts';
import { connectClient, type TestClient } from './helpers/ws-client.ts';

/**
 * A guest (no account, a join link only) downloads a file of the room over HTTP with the room file
 * grant the room socket gives it: only while admitted. Its grant and its links end with its
 * admission (left the room, its invitation revoked), on whichever node the request lands.
 */
const at = (hour: number) => `2027-03-03T${String(hour).padStart(2, '0')}:00:00Z`;
const clock = { now: new Date(at(8)) };
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let n: Awaited<ReturnType<typeof startTestNode>>;
let c: SchedulingClinic;
const clients: TestClient[] = [];

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; auth?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth) headers.authorization = opts.auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await n.node.app.request(
    path,
    { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
    { remoteAddress: '203.0.113.7' },
  );
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
  return { status: res.status, type, headers: res.headers, body };
}

beforeAll(async () => {
  pg = await createTestDatabase();
  n = await startTestNode(
    {
      PASSWORD_HASH_STRENGTH: 'minimum',
      LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
      JOIN_TOKEN_PRIVATE_KEY: generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
    },
    { busPrefix: `test:${randomBytes(4).toString('hex')}:`, now: () => clock.now, grantRecheckMs: 60_000 },
  );
  c = await schedulingClinic({
    db: n.node.db.db,
    identity: n.node.identity,
    call,
  } as unknown as IdentityHarness);
});
afterAll(async () => {
  clients.forEach((x) => x.close());
  await n?.node.stop();
  await pg?.drop();
});

let hour = 8;
async function appointment() {
  const slot = at(hour++);
  const res = await call('POST', '/api/appointments', {
    token: c.patient.token,
    body: booking(c, c.patient.id, slot),
  });
  expect(res.status).toBe(201);
  clock.now = new Date(Date.parse(slot) - 5 * 60_000);
  return res.body.id as string;
}
async function enter(token: string) {
  const client = await connectClient(n.wsUrl, token);
  clients.push(client);
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { client, joined };
}
async function invite(id: string) {
  const inv = await call('POST', `/api/appointments/${id}/guests`, {
    token: c.doctor.token,
    body: { kind: 'interpreter', displayName: 'Ana' },
  });
  const res = await call('GET', new URL(inv.body.link).pathname);
  const token = decodeURIComponent(res.headers.get('location')!.split('#token=')[1]!);
  return { guestId: inv.body.id as string, token };
}
/** A room with its doctor, a file the doctor shared there, and a guest let in. */
async function roomWithFile() {
  const id = await appointment();
  const { token: doctorJoin } = (
    await call('POST', `/api/appointments/${id}/join-token`, { token: c.doctor.token })
  ).body as { token: string };
  const doctor = await enter(doctorJoin);
  const doctorGrant = (await doctor.client.request('files.grant', {})) as RoomFileGrant;
  const fileId = await uploadThroughApp(n.node, `Room ${doctorGrant.token}`, doctorGrant.conversationId);
  const guest = await invite(id);
  const inRoom = await enter(guest.token);
  expect(inRoom.joined.status).toBe('waiting');
  return { id, doctor, guest, inRoom, fileId };
}
async function admit(doctor: TestClient, guest: { client: TestClient; joined: { peerId: string } }) {
  await doctor.request('admit', { peerId: guest.joined.peerId });
  await guest.client.waitFor('admitted');
}
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code,
  );
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const link = async (grant: RoomFileGrant, fileId: string) =>
  call('POST', `/api/files/${fileId}/link`, { auth: `Room ${grant.token}` });
/** A refusal names the conversation (the file stays unknown to whoever is refused). */
const deniedFor = (guestId: string) =>
  n.node.db.db
    .select({ action: auditLog.action, reason: auditLog.reason })
    .from(auditLog)
    .where(and(eq(auditLog.actorId, `guest:${guestId}`), eq(auditLog.outcome, 'denied')));

describe('guests and room files over HTTP', () => {
  it('an admitted guest downloads the file byte-identical; after leaving its grant and its link reach nothing, waiting again neither', async () => {
    const { doctor, guest, inRoom, fileId } = await roomWithFile();
    // Waiting: no grant at all.
    expect(await refusal(inRoom.client.request('files.grant', {}))).toBe('not_allowed');
    await admit(doctor.client, inRoom);
    const grant = (await inRoom.client.request('files.grant', {})) as RoomFileGrant;
    const issued = await link(grant, fileId);
    expect(issued.status).toBe(201);
    const url = issued.body.url as string;
    const got = await call('GET', url);
    expect([got.status, got.headers.get('content-type')]).toEqual([200, 'application/pdf']);
    expect(sha(got.body as Buffer)).toBe(sha(SMALL_PDF));

    // The guest leaves: what it held ends with its admission, though neither token has expired.
    await inRoom.client.request('leave', {});
    // The admission ends right after the session (one update): allow it a moment, not a grant's lifetime.
    const deadline = Date.now() + 2000;
    let afterLeave = await call('GET', url);
    while (afterLeave.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      afterLeave = await call('GET', url);
    }
    expect([afterLeave.status, afterLeave.type, afterLeave.body.code]).toEqual([
      403,
      'application/problem+json',
      'forbidden',
    ]);
    const relink = await link(grant, fileId);
    expect([relink.status, relink.body.code]).toEqual([403, 'forbidden']);

    // Back in the waiting room with the same link: the old grant still reaches nothing, and no new one is given.
    const again = await enter(guest.token);
    expect(again.joined.status).toBe('waiting');
    expect((await call('GET', url)).status).toBe(403);
    expect(await refusal(again.client.request('files.grant', {}))).toBe('not_allowed');
    expect(await deniedFor(guest.guestId)).toEqual(
      expect.arrayContaining([
        { action: 'file.downloaded', reason: 'not_in_room' },
        { action: 'file.link_issued', reason: 'not_in_room' },
      ]),
    );
    // Admitted again: a fresh grant works again.
    await admit(doctor.client, again);
    const fresh = (await again.client.request('files.grant', {})) as RoomFileGrant;
    const relinked = await link(fresh, fileId);
    expect(relinked.status).toBe(201);
    expect((await call('GET', relinked.body.url)).status).toBe(200);
  });

  it('a guest whose invitation is revoked is refused with its grant and its link, audited', async () => {
    const { id, doctor, guest, inRoom, fileId } = await roomWithFile();
    await admit(doctor.client, inRoom);
    const grant = (await inRoom.client.request('files.grant', {})) as RoomFileGrant;
    const issued = await link(grant, fileId);
    expect(issued.status).toBe(201);
    expect(
      (await call('DELETE', `/api/appointments/${id}/guests/${guest.guestId}`, { token: c.doctor.token }))
        .status,
    ).toBeLessThan(300);
    await inRoom.client.closed;
    const download = await call('GET', issued.body.url);
    expect([download.status, download.type, download.body.code]).toEqual([
      403,
      'application/problem+json',
      'forbidden',
    ]);
    expect((await link(grant, fileId)).status).toBe(403);
    const denied = await deniedFor(guest.guestId);
    expect(denied.map((d) => d.action)).toEqual(
      expect.arrayContaining(['file.downloaded', 'file.link_issued']),
    );
  });
});
