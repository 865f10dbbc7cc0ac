import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, webhookEndpoints } from '../../db/schema/index.ts';
import { ENGINES } from '../../test/helpers/engines.ts';
import { startWebhookHarness, type WebhookHarness } from './test-support/webhook-harness.ts';

const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

describe.each(ENGINES)('webhook endpoint API on %s', (engine) => {
  let h: WebhookHarness;
  const tok: Record<string, string> = {};
  const base = () => `/api/webhooks/clinics/${h.seed.clinicId}/endpoints`;

  beforeAll(async () => {
    // As in production: no loopback or private targets.
    h = await startWebhookHarness(engine, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'off' });
    tok.admin = await h.tokenFor(h.adminId, 'clinic_admin');
    tok.otherAdmin = await h.tokenFor(h.otherAdminId, 'clinic_admin');
    tok.doctor = await h.tokenFor(h.seed.doctorId, 'doctor');
    tok.operator = await h.tokenFor(h.seed.operatorId, 'operator');
    tok.patient = await h.tokenFor(h.seed.patientId, 'patient');
  }, 60_000);
  afterAll(() => h?.close());

  const create = (body: unknown, token = tok.admin) => h.call('POST', base(), { token, body });
  const audited = async (action: string, resourceId: string) =>
    h.db
      .select({ action: auditLog.action, reason: auditLog.reason, actorId: auditLog.actorId })
      .from(auditLog)
      .where(and(eq(auditLog.action, action), eq(auditLog.resourceId, resourceId)));

  it('a clinic admin registers an endpoint: the whsec_ secret is shown once, sealed at rest, and the change audited', async () => {
    const made = await create({
      url: 'https://hooks.example.com/carecall',
      events: ['appointment.*', 'record.finalised'],
      description: 'EHR bridge',
    });
    expect(made.status).toBe(201);
    expect(made.headers.get('cache-control')).toBe('no-store');
    expect(made.body).toMatchObject({
      url: 'https://hooks.example.com/carecall',
      events: ['appointment.*', 'record.finalised'],
      enabled: true,
      includePhi: false,
      disabledReason: null,
    });
    expect(made.body.secret).toMatch(SECRET);
    const [row] = await h.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, made.body.id));
    expect(row!.sealedSecret).not.toContain(made.body.secret.slice(6, 20));

    const read = await h.call('GET', `${base()}/${made.body.id}`, { token: tok.admin });
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    const list = await h.call('GET', base(), { token: tok.admin });
    expect(list.body.endpoints.map((e: { id: string }) => e.id)).toContain(made.body.id);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
    expect(await audited('webhook.endpoint.created', made.body.id)).toEqual([
      { action: 'webhook.endpoint.created', reason: null, actorId: h.adminId },
    ]);
  });

  it('bad URLs and unknown events are typed errors; nothing is stored', async () => {
    const before = (await h.db.select().from(webhookEndpoints)).length;
    for (const url of [
      'https://127.0.0.1/hook',
      'https://10.0.0.8/hook',
      'https://169.254.169.254/latest',
      'https://[::1]/hook',
      'https://localhost:8443/hook',
      'https://ehr.internal/hook',
      'ftp://hooks.example.com/x',
      'not a url',
    ]) {
      const r = await create({ url, events: ['record.finalised'] });
      expect(r.status, url).toBe(422);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.code).toBe('invalid_webhook_url');
      expect(r.body.errors[0].field).toBe('url');
    }
    const unknown = await create({
      url: 'https://hooks.example.com/x',
      events: ['record.finalised', 'chat.*'],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('invalid_webhook_event');
    expect(unknown.body.detail).toContain('chat.*');
    const none = await create({ url: 'https://hooks.example.com/x', events: [] });
    expect(none.status).toBe(400);
    expect(none.body.code).toBe('invalid_body');
    const extra = await create({
      url: 'https://hooks.example.com/x',
      events: ['record.finalised'],
      secret: 'x',
    });
    expect(extra.status).toBe(400);
    expect((await h.db.select().from(webhookEndpoints)).length).toBe(before);
  });

  it("another clinic's admin, a doctor, an operator and a patient cannot manage endpoints", async () => {
    const made = await create({ url: 'https://hooks.example.com/a', events: ['appointment.booked'] });
    const id = made.body.id;
    const paths: [string, string, unknown?][] = [
      ['GET', base()],
      ['POST', base(), { url: 'https://hooks.example.com/b', events: ['appointment.booked'] }],
      ['GET', `${base()}/${id}`],
      ['PATCH', `${base()}/${id}`, { enabled: false }],
      ['DELETE', `${base()}/${id}`],
      ['POST', `${base()}/${id}/secret`],
      ['GET', `${base()}/${id}/deliveries`],
    ];
    for (const [method, path, body] of paths) {
      // Not a member: the clinic's endpoints do not exist for them.
      const stranger = await h.call(method, path, { token: tok.otherAdmin, body });
      expect(stranger.status, `${method} ${path}`).toBe(404);
      for (const role of ['doctor', 'operator', 'patient']) {
        const r = await h.call(method, path, { token: tok[role], body });
        expect(r.status, `${role} ${method} ${path}`).toBe(403);
        expect(r.body.code).toBe('forbidden');
      }
      expect((await h.call(method, path, { body })).status).toBe(401);
    }
    // The other clinic's admin cannot reach it through their own clinic either.
    const viaOwn = await h.call('GET', `/api/webhooks/clinics/${h.other.clinicId}/endpoints/${id}`, {
      token: tok.otherAdmin,
    });
    expect(viaOwn.status).toBe(404);
    const [still] = await h.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    expect(still).toMatchObject({ enabled: true, url: 'https://hooks.example.com/a' });
  });

  it('switches off and on, opts into PHI (audited by setting name), rotates the secret and deletes', async () => {
    const made = await create({ url: 'https://hooks.example.com/c', events: ['consultation.*'] });
    const path = `${base()}/${made.body.id}`;
    const off = await h.call('PATCH', path, { token: tok.admin, body: { enabled: false } });
    expect(off.body).toMatchObject({ enabled: false, disabledReason: 'admin' });
    const on = await h.call('PATCH', path, { token: tok.admin, body: { enabled: true, includePhi: true } });
    expect(on.body).toMatchObject({ enabled: true, disabledReason: null, includePhi: true });
    expect((await audited('webhook.endpoint.updated', made.body.id)).map((e) => e.reason)).toEqual([
      'enabled',
      'enabled,includePhi',
    ]);
    const badPatch = await h.call('PATCH', path, { token: tok.admin, body: { url: 'https://192.168.0.2/' } });
    expect(badPatch.body.code).toBe('invalid_webhook_url');
    expect((await h.call('PATCH', path, { token: tok.admin, body: {} })).status).toBe(400);

    const rotated = await h.call('POST', `${path}/secret`, { token: tok.admin });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(SECRET);
    expect(rotated.body.secret).not.toBe(made.body.secret);
    const grace = new Date(rotated.body.previousSecretUntil).getTime() - Date.now();
    expect(grace).toBeGreaterThan(23 * 3_600_000);
    expect(await audited('webhook.secret.rotated', made.body.id)).toHaveLength(1);

    expect((await h.call('DELETE', path, { token: tok.admin })).status).toBe(204);
    expect((await h.call('GET', path, { token: tok.admin })).status).toBe(404);
    expect(await audited('webhook.endpoint.deleted', made.body.id)).toHaveLength(1);
  });

  it('lists the event catalogue', async () => {
    const r = await h.call('GET', '/api/webhooks/events', { token: tok.admin });
    expect(r.body.events).toEqual(
      expect.arrayContaining([
        'appointment.booked',
        'appointment.cancelled',
        'appointment.rescheduled',
        'appointment.completed',
        'consultation.started',
        'consultation.ended',
        'record.finalised',
        'appointment.*',
      ]),
    );
  });
});
