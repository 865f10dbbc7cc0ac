import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments, consultationRooms } from '../../db/schema/index.ts';
import { startTestNode } from '../../test/helpers/node.ts';
import { connectClient, type TestClient } from '../../test/helpers/ws-client.ts';
import { DEMO_ACCOUNTS } from './demo-seed.ts';

// The printed demo links lead into a real consultation: chat is stored and files are granted.
describe('demo links join a booked demo consultation', () => {
  const clock = { now: new Date('2027-05-04T10:00:00Z') };
  let t: Awaited<ReturnType<typeof startTestNode>>;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    t = await startTestNode({ DEMO: 'on' }, { now: () => clock.now });
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await t?.node.stop();
  });

  const follow = async (who: 'doctor' | 'patient') => {
    const link = t.node.demoLinks()![who].replace(/^http:\/\/[^/]+/, t.baseUrl);
    const res = await fetch(link, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith('/app/precall.html#token=')).toBe(true);
    const token = decodeURIComponent(location.split('#token=')[1]!);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    return { token, claims };
  };
  const appointmentOf = async (roomId: string) => {
    const [row] = await t.node.db.db
      .select({ id: appointments.id, doctorId: appointments.doctorId, patientId: appointments.patientId })
      .from(consultationRooms)
      .innerJoin(appointments, eq(appointments.id, consultationRooms.appointmentId))
      .where(eq(consultationRooms.roomId, roomId));
    return row;
  };
  const enter = async (token: string) => {
    const client = await connectClient(t.wsUrl, token);
    clients.push(client);
    const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
    const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
    return { client, joined };
  };

  it('both links open the same appointment of the demo doctor and patient, where chat is stored and files are granted', async () => {
    const [doctorLink, patientLink] = [await follow('doctor'), await follow('patient')];
    expect(doctorLink.claims).toMatchObject({ role: 'doctor', sub: DEMO_ACCOUNTS[1].id });
    expect(patientLink.claims).toMatchObject({ role: 'patient', sub: DEMO_ACCOUNTS[2].id });
    expect(doctorLink.claims.room).toBe(patientLink.claims.room);
    expect(await appointmentOf(doctorLink.claims.room)).toMatchObject({
      doctorId: DEMO_ACCOUNTS[1].id,
      patientId: DEMO_ACCOUNTS[2].id,
    });
    const doctor = await enter(doctorLink.token);
    const patient = await enter(patientLink.token);
    await doctor.client.request('admit', { peerId: patient.joined.peerId });
    await patient.client.waitFor('admitted');
    await patient.client.request('chat.after', { seq: 0 });
    const ack = await doctor.client.request('chat.send', { clientId: crypto.randomUUID(), body: 'Welcome' });
    expect(ack).toMatchObject({ seq: 1, duplicate: false });
    await patient.client.waitFor('chat.message');
    const grant = await patient.client.request('files.grant', {});
    expect(grant.conversationId).toBe(ack.conversationId);
    // A second visit while it is open joins the same consultation again.
    expect((await follow('patient')).claims.room).toBe(doctorLink.claims.room);
  });

  it('books the next consultation once the last one ended, without overlapping it', async () => {
    const first = (await follow('doctor')).claims.room as string;
    const firstId = (await appointmentOf(first))!.id;
    await t.node.db.db.update(appointments).set({ status: 'completed' }).where(eq(appointments.id, firstId));
    clock.now = new Date(clock.now.getTime() + 10 * 60_000);
    const second = (await follow('doctor')).claims.room as string;
    expect(second).not.toBe(first);
    const rows = await t.node.db.db
      .select({ id: appointments.id, startsAt: appointments.startsAt, endsAt: appointments.endsAt })
      .from(appointments)
      .where(eq(appointments.doctorId, DEMO_ACCOUNTS[1].id))
      .orderBy(appointments.startsAt);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.endsAt.getTime()).toBeLessThanOrEqual(rows[1]!.startsAt.getTime());
    // Four and a half hours later the booked one has run out: the links book a fresh one.
    clock.now = new Date(clock.now.getTime() + 5 * 3_600_000);
    expect((await follow('patient')).claims.room).not.toBe(second);
  });
});
