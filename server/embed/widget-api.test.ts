import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clinicApiKeys, widgetPatientLinks } from '../../db/schema/index.ts';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

// Wednesday 3 March 2027, 10:00 Berlin = 09:00Z; 30-minute video consult.
const START = '2027-03-03T10:00:00+01:00';
const START_Z = Date.parse('2027-03-03T09:00:00Z');
const HOST = 'https://clinic-a.example';
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

describe('clinic API keys and widget sessions', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let other: SchedulingClinic;
  let appointmentId: string;
  let otherAppointmentId: string;
  let key: string;
  let otherKey: string;

  const newKey = async (clinic: SchedulingClinic, label = 'Website backend') => {
    const r = await h.call('POST', `/api/clinics/${clinic.clinicId}/api-keys`, {
      token: clinic.admin.token,
      body: { label, scopes: ['widget:sessions'] },
    });
    expect(r.status).toBe(201);
    return r.body as { id: string; prefix: string; key: string };
  };
  const session = (apiKey: string | undefined, body: unknown) =>
    h.call('POST', '/api/widget/sessions', {
      body,
      ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
    });
  const exchange = (token: string, headers: Record<string, string> = {}) =>
    h.call('POST', '/api/widget/join', { body: { token }, headers });

  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
    other = await schedulingClinic(h, { name: 'Other clinic' });
    const a = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, START),
    });
    expect(a.status).toBe(201);
    appointmentId = a.body.id;
    const o = await h.call('POST', '/api/appointments', {
      token: other.patient.token,
      body: booking(other, other.patient.id, START),
    });
    otherAppointmentId = o.body.id;
    h.clock.now = new Date(START_Z - 5 * 60_000);
    key = (await newKey(c)).key;
    otherKey = (await newKey(other)).key;
  });
  afterAll(() => h.close());

  describe('API keys (clinic admin)', () => {
    it('are shown once, listed by prefix without their secret, stored only as sha256, and audited', async () => {
      const made = await newKey(c, 'Booking site');
      expect(made.key).toMatch(/^cck_[a-z2-7]{10}_[A-Za-z0-9_-]{43}$/);
      expect(made.key.split('_')[1]).toBe(made.prefix);
      const list = await h.call('GET', `/api/clinics/${c.clinicId}/api-keys`, { token: c.admin.token });
      expect(list.status).toBe(200);
      const listed = list.body.keys.find((k: { id: string }) => k.id === made.id);
      expect(listed).toMatchObject({
        prefix: made.prefix,
        label: 'Booking site',
        scopes: ['widget:sessions'],
      });
      const secret = made.key.slice('cck_'.length + 11);
      expect(JSON.stringify(list.body)).not.toContain(secret);
      const [row] = await h.db.select().from(clinicApiKeys).where(eq(clinicApiKeys.id, made.id));
      expect(row!.secretHash).toBe(createHash('sha256').update(secret).digest('hex'));
      expect(JSON.stringify(row)).not.toContain(secret);
      const audit = await h.identity.audit.query({
        clinicId: c.clinicId,
        action: 'api_key.created',
        limit: 10,
      });
      expect(audit.some((e) => e.resourceId === made.id && e.actorId === c.admin.id)).toBe(true);
    });

    it('only the clinic admin of that clinic manages them', async () => {
      for (const [who, token] of [
        ['doctor', c.doctor.token],
        ['operator', c.operator.token],
        ['patient', c.patient.token],
        ['other clinic admin', other.admin.token],
      ] as const) {
        const r = await h.call('GET', `/api/clinics/${c.clinicId}/api-keys`, { token });
        expect([403, 404], who).toContain(r.status);
        expect(r.contentType, who).toContain('application/problem+json');
        const p = await h.call('POST', `/api/clinics/${c.clinicId}/api-keys`, {
          token,
          body: { label: 'x' },
        });
        expect([403, 404], who).toContain(p.status);
      }
      const bad = await h.call('POST', `/api/clinics/${c.clinicId}/api-keys`, {
        token: c.admin.token,
        body: { label: '', scopes: ['everything'] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['label', 'scopes.0']);
    });

    it('a revoked key stops working at once, and so do the widget sessions it minted', async () => {
      const made = await newKey(c, 'Soon revoked');
      const minted = await session(made.key, { externalPatientId: 'MRN-2002', appointmentId });
      expect(minted.status).toBe(201);
      const gone = await h.call('DELETE', `/api/clinics/${c.clinicId}/api-keys/${made.id}`, {
        token: c.admin.token,
      });
      expect(gone.status).toBe(204);
      const r = await session(made.key, { externalPatientId: 'MRN-2002', appointmentId });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ code: 'api_key_revoked' });
      expect((await exchange(minted.body.token)).body).toMatchObject({
        status: 401,
        code: 'widget_token_invalid',
      });
      // Repeating the DELETE answers the same and records nothing more.
      await h.call('DELETE', `/api/clinics/${c.clinicId}/api-keys/${made.id}`, { token: c.admin.token });
      const audit = await h.identity.audit.query({
        clinicId: c.clinicId,
        action: 'api_key.revoked',
        limit: 10,
      });
      expect(audit.filter((e) => e.resourceId === made.id)).toHaveLength(1);
      const listed = await h.call('GET', `/api/clinics/${c.clinicId}/api-keys`, { token: c.admin.token });
      expect(listed.body.keys.find((k: { id: string }) => k.id === made.id).revokedAt).not.toBeNull();
      // Another clinic's admin cannot revoke this clinic's keys.
      const theirs = await h.call('DELETE', `/api/clinics/${c.clinicId}/api-keys/${made.id}`, {
        token: other.admin.token,
      });
      expect([403, 404]).toContain(theirs.status);
    });
  });

  describe('widget sessions (server to server)', () => {
    it('refuse missing, malformed and unknown keys, and a known prefix with the wrong secret', async () => {
      const prefix = key.slice(4, 14);
      for (const [label, apiKey] of [
        ['no key', undefined],
        ['not ours', 'sk_live_abc'],
        ['unknown prefix', `cck_aaaaaaaaaa_${'A'.repeat(43)}`],
        ['wrong secret', `cck_${prefix}_${'B'.repeat(43)}`],
      ] as const) {
        const r = await session(apiKey, { externalPatientId: 'MRN-1', appointmentId });
        expect(r.status, label).toBe(401);
        expect(r.body.code, label).toBe('api_key_invalid');
        expect(r.contentType, label).toContain('application/problem+json');
      }
      // A user's access token is not an API key.
      const user = await session(c.admin.token, { externalPatientId: 'MRN-1', appointmentId });
      expect(user.body.code).toBe('api_key_invalid');
    });

    it("mint a 10-minute token for the appointment's patient, which the frame trades for a join token", async () => {
      const r = await session(key, { externalPatientId: 'MRN-2002', appointmentId });
      expect(r.status).toBe(201);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
      const claims = claimsOf(r.body.token);
      expect(claims).toMatchObject({ sub: c.patient.id, cid: c.clinicId, apt: appointmentId });
      expect(claims.exp - claims.iat).toBe(600);
      expect(JSON.stringify(claims)).not.toContain('MRN-2002');
      const joined = await exchange(r.body.token);
      expect(joined.status).toBe(201);
      const join = claimsOf(joined.body.joinToken);
      expect(join).toMatchObject({ sub: c.patient.id, role: 'patient', perms: ['publish', 'subscribe'] });
      const doctor = await h.call('POST', `/api/appointments/${appointmentId}/join-token`, {
        token: c.doctor.token,
      });
      expect(join.room).toBe(claimsOf(doctor.body.token).room);
      // The link is stored as an HMAC only; the join went through the policy and the audit log.
      const links = await h.db
        .select()
        .from(widgetPatientLinks)
        .where(eq(widgetPatientLinks.patientId, c.patient.id));
      expect(links).toHaveLength(1);
      expect(JSON.stringify(links)).not.toContain('MRN-2002');
      const audit = await h.identity.audit.query({ patientId: c.patient.id, limit: 50 });
      const actions = audit.map((e) => `${e.action}:${e.outcome}`);
      expect(actions).toEqual(
        expect.arrayContaining([
          'widget.patient_linked:allowed',
          'widget.session_created:allowed',
          'consultation.join:allowed',
        ]),
      );
      const created = audit.find((e) => e.action === 'widget.session_created')!;
      expect(created.actorId).toMatch(/^api_key:/);
      const joinEntry = audit.find(
        (e) => e.action === 'consultation.join' && e.sessionId === `widget:${claims.jti}`,
      );
      expect(joinEntry).toMatchObject({ actorId: c.patient.id, actorRole: 'patient', outcome: 'allowed' });
      // Later sessions may leave the appointment out: the patient's open consultation is chosen.
      const again = await session(key, { externalPatientId: 'MRN-2002' });
      expect(again.status).toBe(201);
      expect((await exchange(again.body.token)).body.appointmentId).toBe(appointmentId);
      expect(h.logs.lines.join('\n')).not.toContain('MRN-2002');
    });

    it("refuse another clinic's appointment (as unknown), audited against the key's clinic", async () => {
      const r = await session(key, { externalPatientId: 'MRN-3003', appointmentId: otherAppointmentId });
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('not_found');
      const theirs = await session(otherKey, { externalPatientId: 'MRN-3003', appointmentId });
      expect(theirs.status).toBe(404);
      const audit = await h.identity.audit.query({
        clinicId: c.clinicId,
        action: 'widget.session_refused',
        limit: 20,
      });
      expect(
        audit.some((e) => e.reason === 'appointment_not_in_clinic' && e.resourceId === otherAppointmentId),
      ).toBe(true);
    });

    it('one clinic patient id, one patient: re-pointing either side is a conflict; unknown ids need an appointment', async () => {
      const d = await h.call('POST', '/api/appointments', {
        token: c.guardian.token,
        headers: { 'x-on-behalf-of': c.dependent.id },
        body: booking(c, c.dependent.id, '2027-03-03T11:00:00+01:00'),
      });
      expect(d.status).toBe(201);
      const mismatch = await session(key, { externalPatientId: 'MRN-2002', appointmentId: d.body.id });
      expect(mismatch.status).toBe(409);
      expect(mismatch.body.code).toBe('external_patient_mismatch');
      const renamed = await session(key, { externalPatientId: 'MRN-9999', appointmentId });
      expect(renamed.body.code).toBe('external_patient_mismatch');
      const unknown = await session(key, { externalPatientId: 'MRN-unknown' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('external_patient_unknown');
      const invalid = await session(key, { externalPatientId: 'has spaces', appointmentId: 'nope' });
      expect(invalid.status).toBe(400);
      expect(invalid.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'appointmentId',
        'externalPatientId',
      ]);
    });

    it('an expired widget token is refused by the exchange and the page; a tampered one too', async () => {
      const r = await session(key, { externalPatientId: 'MRN-2002', appointmentId });
      h.clock.now = new Date(START_Z + 6 * 60_000);
      const expired = await exchange(r.body.token);
      expect(expired.status).toBe(401);
      expect(expired.body.code).toBe('widget_token_expired');
      const [head, body, sig] = r.body.token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...claimsOf(r.body.token), sub: c.guardian.id })).toString(
        'base64url',
      );
      h.clock.now = new Date(START_Z - 5 * 60_000);
      expect((await exchange(`${head}.${forged}.${sig}`)).body.code).toBe('widget_token_invalid');
      expect(body).toBeTruthy();
      // The exchange is for the CareCall frame: a cross-origin caller is refused.
      const cross = await exchange(r.body.token, { origin: HOST });
      expect(cross.status).toBe(403);
      expect(cross.body.code).toBe('origin_not_allowed');
    });

    it('the exchange checks the consultation as a join-token request does: too early is not joinable', async () => {
      h.clock.now = new Date(START_Z - 60 * 60_000);
      const s = await session(key, { externalPatientId: 'MRN-2002', appointmentId });
      const early = await exchange(s.body.token);
      h.clock.now = new Date(START_Z - 5 * 60_000);
      expect(early.body).toMatchObject({ status: 409, code: 'not_joinable' });
    });

    it('are rate-limited per key: a burst of 30, then 429 with Retry-After; other keys are unaffected', async () => {
      const burst = (await newKey(c, 'Burst')).key;
      const codes: number[] = [];
      for (let i = 0; i < 31; i++)
        codes.push((await session(burst, { externalPatientId: 'MRN-2002' })).status);
      expect(codes.slice(0, 30).every((s) => s === 201)).toBe(true);
      const limited = await session(burst, { externalPatientId: 'MRN-2002' });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await session(key, { externalPatientId: 'MRN-2002' })).status).toBe(201);
    });
  });

  describe('widget settings, the page and its frame-ancestors', () => {
    const page = (token: string, origin?: string, field?: string) =>
      h.app.request('/embed/consult.html', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
        body: new URLSearchParams({ session: token, origin: field ?? origin ?? '', clinic: '' }).toString(),
      });
    const ancestors = (res: Response) =>
      /frame-ancestors ([^;]+)/.exec(res.headers.get('content-security-policy')!)![1];

    it('allowed origins are exact origins: wildcards, paths and other schemes are refused field by field', async () => {
      const bad = await h.call('PUT', `/api/clinics/${c.clinicId}/widget-settings`, {
        token: c.admin.token,
        body: {
          allowedOrigins: ['https://*.example', 'https://a.example/path', 'ftp://a.example', HOST],
          accentColor: 'green',
        },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'accentColor',
        'allowedOrigins.0',
        'allowedOrigins.1',
        'allowedOrigins.2',
      ]);
      const doctor = await h.call('PUT', `/api/clinics/${c.clinicId}/widget-settings`, {
        token: c.doctor.token,
        body: { allowedOrigins: [HOST] },
      });
      expect(doctor.status).toBe(403);
      const ok = await h.call('PUT', `/api/clinics/${c.clinicId}/widget-settings`, {
        token: c.admin.token,
        body: {
          allowedOrigins: [HOST, 'http://127.0.0.1:8443/'],
          accentColor: '#0a7d5c',
          logoText: 'Clinic A',
        },
      });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({
        allowedOrigins: [HOST, 'http://127.0.0.1:8443'],
        accentColor: '#0a7d5c',
        logoText: 'Clinic A',
      });
      await h.call('PUT', `/api/clinics/${other.clinicId}/widget-settings`, {
        token: other.admin.token,
        body: { allowedOrigins: ['https://clinic-b.example'] },
      });
      const audit = await h.identity.audit.query({
        clinicId: c.clinicId,
        action: 'widget.settings_updated',
        limit: 5,
      });
      expect(audit).toHaveLength(1);
    });

    it("the page may be framed by the token's clinic's origins only, decided per request", async () => {
      const mine = (await session(key, { externalPatientId: 'MRN-2002', appointmentId })).body.token;
      const res = await page(mine, HOST);
      expect(res.status).toBe(200);
      expect(ancestors(res)).toBe(`${HOST} http://127.0.0.1:8443`);
      expect(res.headers.get('x-frame-options')).toBeNull();
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toContain('name="carecall-widget"');
      expect(html).toContain('&quot;hostOrigin&quot;:&quot;https://clinic-a.example&quot;');
      // The other clinic's page answers its own origins.
      const theirs = (
        await session(otherKey, { externalPatientId: 'B-1', appointmentId: otherAppointmentId })
      ).body.token;
      expect(ancestors(await page(theirs, 'https://clinic-b.example'))).toBe('https://clinic-b.example');
      // A site the clinic does not allow gets the refusal, framable by it alone so its visitor sees why.
      const refused = await page(mine, 'https://clinic-b.example');
      expect(refused.status).toBe(403);
      expect(ancestors(refused)).toBe('https://clinic-b.example');
      const refusal = await refused.text();
      expect(refusal).toContain('&quot;refused&quot;:&quot;origin&quot;');
      expect(refusal).not.toContain(mine);
      // The browser's Origin header wins over what the form claims.
      expect((await page(mine, 'https://evil.example', HOST)).status).toBe(403);
      // No session, an expired one: refusals, and a GET is never framable.
      const get = await h.app.request('/embed/consult.html');
      expect(get.status).toBe(400);
      expect(ancestors(get)).toBe("'none'");
      h.clock.now = new Date(START_Z + 10 * 60_000);
      const late = await page(mine, HOST);
      h.clock.now = new Date(START_Z - 5 * 60_000);
      expect(late.status).toBe(401);
      expect(await late.text()).toContain('&quot;refused&quot;:&quot;expired&quot;');
    });

    it("the button's look is served with CORS to the clinic's allowed origins only", async () => {
      const path = `/api/widget/clinics/${c.clinicId}/appearance`;
      const allowed = await h.call('GET', path, { headers: { origin: HOST } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(HOST);
      expect(allowed.body).toEqual({ accentColor: '#0a7d5c', logoText: 'Clinic A' });
      const denied = await h.call('GET', path, { headers: { origin: 'https://clinic-b.example' } });
      expect(denied.status).toBe(403);
      expect(denied.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await h.app.request('/api/widget/sessions', {
        method: 'OPTIONS',
        headers: { origin: HOST, 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
