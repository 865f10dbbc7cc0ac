import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorCalendarFeeds, users } from '../../db/schema/index.ts';
import {
  createUser,
  signIn,
  startIdentityHarness,
  storedProfile,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';
import { sha256Hex } from '../identity/secrets.ts';
import { may } from '../policy/decide.ts';

const FEED_URL = /^http:\/\/carecall\.test\/api\/calendar-feeds\/([A-Za-z0-9_-]{43})\.ics$/;

describe('doctor calendar feed: a secret subscription URL', () => {
  let h: IdentityHarness;
  let b: SchedulingClinic;
  let other: SchedulingClinic;
  let otherDoctorSameClinic: string;
  let appointmentId: string;
  const questionnaireSecret = 'persistent migraine with aura';
  const feedPath = (url: string) => new URL(url).pathname;
  // No Authorization header: this is what a calendar app sends.
  const fetchFeed = (path: string, headers: Record<string, string> = {}) =>
    h.app.request(path, { headers }, { remoteAddress: '198.51.100.9' });
  const issue = async (token = b.doctor.token) => {
    const r = await h.call('POST', `/api/doctors/${b.doctor.id}/calendar-feed`, { token });
    expect(r.status).toBe(201);
    return { ...r.body, secret: FEED_URL.exec(r.body.url)![1]! } as {
      url: string;
      webcalUrl: string;
      issuedAt: string;
      secret: string;
    };
  };

  beforeAll(async () => {
    h = await startIdentityHarness();
    b = await schedulingClinic(h, { name: 'Clinic B', timeZone: 'America/New_York', licence: 'US-NY' });
    other = await schedulingClinic(h, { name: 'Clinic O' });
    const r = await h.call('POST', '/api/appointments', {
      token: b.patient.token,
      body: booking(b, b.patient.id, '2027-03-15T09:00:00-04:00', {
        patientJurisdiction: 'US-NY',
        questionnaire: [{ questionId: 'complaint', answer: questionnaireSecret }],
        reason: 'second opinion',
      }),
    });
    expect(r.status).toBe(201);
    appointmentId = r.body.id;
    const doc = await createUser(h.identity, h.db, { role: 'doctor', clinicId: b.clinicId });
    otherDoctorSameClinic = (await signIn(h.call, h.db, doc.email)).accessToken;
  });
  afterAll(() => h.close());

  it('the doctor issues a URL that serves, without a login, the same .ics as the authenticated export and no patient data', async () => {
    h.clock.now = new Date('2027-03-01T12:00:00Z');
    const created = await h.call('POST', `/api/doctors/${b.doctor.id}/calendar-feed`, {
      token: b.doctor.token,
    });
    expect(created.status).toBe(201);
    expect(created.body.url).toMatch(FEED_URL);
    expect(created.body.webcalUrl).toBe(created.body.url.replace('http:', 'webcal:'));
    expect(created.body.issuedAt).toBe('2027-03-01T12:00:00.000Z');
    const secret = FEED_URL.exec(created.body.url)![1]!;

    const feed = await fetchFeed(feedPath(created.body.url));
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(feed.headers.get('cache-control')).toBe('private, max-age=300');
    expect(feed.headers.get('referrer-policy')).toBe('no-referrer');
    expect(feed.headers.get('etag')).toMatch(/^W\/"[0-9a-f]{32}"$/);
    const text = await feed.text();
    const exported = await h.app.request(
      `/api/doctors/${b.doctor.id}/calendar.ics`,
      { headers: { authorization: `Bearer ${b.doctor.token}` } },
      { remoteAddress: '203.0.113.7' },
    );
    expect(text).toBe(await exported.text());
    expect(text).toContain(`UID:${appointmentId}@carecall`);
    expect(text).toContain('DTSTART:20270315T130000Z');
    const patient = await storedProfile(h.db, b.patient.id);
    for (const phi of [
      patient.displayName,
      patient.email!,
      questionnaireSecret,
      'second opinion',
      b.patient.id,
    ])
      expect(text).not.toContain(phi);

    // Stored as a hash only; the access is stamped and audited, and neither the logs nor the audit log hold the secret.
    const [row] = await h.db
      .select()
      .from(doctorCalendarFeeds)
      .where(eq(doctorCalendarFeeds.doctorId, b.doctor.id));
    expect(row!.tokenHash).toBe(sha256Hex(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row!.lastAccessedAt?.toISOString()).toBe('2027-03-01T12:00:00.000Z');
    const status = await h.call('GET', `/api/doctors/${b.doctor.id}/calendar-feed`, {
      token: b.doctor.token,
    });
    expect(status.body).toEqual({
      active: true,
      issuedAt: '2027-03-01T12:00:00.000Z',
      lastAccessedAt: '2027-03-01T12:00:00.000Z',
    });
    const audit = await h.identity.audit.query({ action: 'doctor.calendar_feed.read', limit: 10 });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      outcome: 'allowed',
      resourceType: 'doctor',
      resourceId: b.doctor.id,
      actorId: null,
      ip: '198.51.100.9',
    });
    const everything =
      JSON.stringify(await h.identity.audit.query({ limit: 1000 })) + h.logs.lines.join('\n');
    expect(everything).not.toContain(secret);
    expect(
      h.logs.lines.some(
        (l) => l.includes('"route":"/api/calendar-feeds/:file"') && l.includes('"status":200'),
      ),
    ).toBe(true);
  });

  it('answers a conditional poll with 304 while nothing changed, 200 after a change', async () => {
    const { url } = await issue();
    const first = await fetchFeed(feedPath(url));
    const etag = first.headers.get('etag')!;
    h.clock.now = new Date('2027-03-01T13:00:00Z'); // DTSTAMP moves; the tag must not.
    const again = await fetchFeed(feedPath(url), { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const moved = await h.call('POST', `/api/appointments/${appointmentId}/reschedule`, {
      token: b.patient.token,
      body: { startsAt: '2027-03-15T10:00:00-04:00', reason: 'clash at work' },
    });
    expect(moved.status).toBe(200);
    const changed = await fetchFeed(feedPath(url), { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toContain('DTSTART:20270315T140000Z');
  });

  it('rotating invalidates the old URL; revoking invalidates the current one; unknown and malformed secrets look alike', async () => {
    const first = await issue();
    const second = await issue();
    expect(second.secret).not.toBe(first.secret);
    const gone = await fetchFeed(feedPath(first.url));
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toBe('application/problem+json');
    // Each answer carries its own request id; everything else must be identical.
    const withoutRequestId = ({ requestId: _id, ...rest }: Record<string, unknown>) => rest;
    const goneBody = withoutRequestId(await gone.json());
    expect((await fetchFeed(feedPath(second.url))).status).toBe(200);

    expect(
      (await h.call('DELETE', `/api/doctors/${b.doctor.id}/calendar-feed`, { token: b.doctor.token })).status,
    ).toBe(204);
    expect((await fetchFeed(feedPath(second.url))).status).toBe(404);
    expect(
      (await h.call('DELETE', `/api/doctors/${b.doctor.id}/calendar-feed`, { token: b.doctor.token })).status,
    ).toBe(204);
    expect(
      (await h.call('GET', `/api/doctors/${b.doctor.id}/calendar-feed`, { token: b.doctor.token })).body,
    ).toEqual({ active: false, issuedAt: null, lastAccessedAt: null });

    // No oracle: revoked, unknown, malformed and no-such-path all answer the same problem.
    const unknownPath = await fetchFeed('/api/no-such-thing');
    expect(withoutRequestId(await unknownPath.json())).toEqual(goneBody);
    for (const path of [
      `/api/calendar-feeds/${'A'.repeat(43)}.ics`,
      `/api/calendar-feeds/${second.secret}`,
      '/api/calendar-feeds/short.ics',
      `/api/calendar-feeds/${second.secret}.ics.ics`,
    ]) {
      const r = await fetchFeed(path);
      expect(r.status, path).toBe(404);
      expect(withoutRequestId(await r.json()), path).toEqual(goneBody);
    }
  });

  it('a disabled doctor account takes its feed down with it', async () => {
    const { url } = await issue();
    await h.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, b.doctor.id));
    try {
      expect((await fetchFeed(feedPath(url))).status).toBe(404);
    } finally {
      await h.db.update(users).set({ disabledAt: null }).where(eq(users.id, b.doctor.id));
    }
    expect((await fetchFeed(feedPath(url))).status).toBe(200);
  });

  it('bad input: a doctor id that is not a UUID is a 400 with field errors; an unknown doctor is 404', async () => {
    const r = await h.call('POST', '/api/doctors/not-a-uuid/calendar-feed', { token: b.doctor.token });
    expect(r.status).toBe(400);
    expect(r.contentType).toBe('application/problem+json');
    expect(r.body.errors).toEqual([{ field: 'doctorId', message: 'must be a UUID' }]);
    const unknown = await h.call('POST', '/api/doctors/00000000-0000-4000-8000-000000000000/calendar-feed', {
      token: b.doctor.token,
    });
    expect(unknown.status).toBe(404);
  });

  it('only the doctor themself manages their feed: other doctors, staff and patients get 403, other clinics 404, no token 401', async () => {
    const { url } = await issue();
    const outsiders = {
      'other doctor, same clinic': otherDoctorSameClinic,
      operator: b.operator.token,
      'clinic admin': b.admin.token,
      patient: b.patient.token,
      guardian: b.guardian.token,
      "other clinic's doctor": other.doctor.token,
    };
    for (const [who, token] of Object.entries(outsiders)) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const r = await h.call(method, `/api/doctors/${b.doctor.id}/calendar-feed`, { token });
        expect(r.status, `${who} ${method}`).toBe(token === other.doctor.token ? 404 : 403);
        expect(r.contentType).toBe('application/problem+json');
      }
    }
    expect((await h.call('POST', `/api/doctors/${b.doctor.id}/calendar-feed`, {})).status).toBe(401);
    // None of that touched the doctor's URL, and every refusal is in the audit log.
    expect((await fetchFeed(feedPath(url))).status).toBe(200);
    const denied = (
      await h.identity.audit.query({ action: 'doctor.calendar_feed.manage', limit: 100 })
    ).filter((e) => e.outcome === 'denied');
    expect(denied.length).toBe(Object.keys(outsiders).length * 3);
    // The policy rule itself: the doctor, not acting for anyone else.
    const self = { userId: b.doctor.id, role: 'doctor' as const, sessionId: 's', clinicIds: [b.clinicId] };
    const resource = { type: 'doctor' as const, doctorId: b.doctor.id, clinicIds: [b.clinicId] };
    expect(may(self, 'doctor.calendar_feed.manage', resource).allow).toBe(true);
    expect(may({ ...self, role: 'clinic_admin' }, 'doctor.calendar_feed.manage', resource).allow).toBe(false);
    expect(may({ ...self, onBehalfOf: b.patient.id }, 'doctor.calendar_feed.manage', resource).allow).toBe(
      false,
    );
  });
});
