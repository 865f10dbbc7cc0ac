import { generateKeyPairSync } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { auditLog, webhookDeliveries, webhookEndpoints, webhookOutbox } from '../../db/schema/index.ts';
import { createServices } from '../services.ts';
import type { WebhookDelivery } from './delivery-worker.ts';
import { startReceiver, type Receiver } from './test-support/receiver.ts';
import { startWebhookHarness, type WebhookHarness } from './test-support/webhook-harness.ts';

// One signing key for both "nodes" of the two-worker test, as a deployment shares it.
const authKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const fast = { retryBaseMs: 1, retryMaxMs: 5, timeoutMs: 2000 };

describe('webhook delivery on PostgreSQL, to a real receiver on loopback', () => {
  let h: WebhookHarness;
  let receiver: Receiver;
  let adminToken: string;

  beforeAll(async () => {
    h = await startWebhookHarness('postgres', { AUTH_TOKEN_PRIVATE_KEY: authKey });
    receiver = await startReceiver();
    adminToken = await h.tokenFor(h.adminId, 'clinic_admin');
  }, 60_000);
  afterEach(async () => {
    await h.db.execute(sql`delete from webhook_endpoints`);
    await h.db.execute(sql`update webhook_outbox set delivered_at = now() where delivered_at is null`);
    receiver.reset();
  });
  afterAll(async () => {
    await receiver?.close();
    await h?.close();
  });

  const endpoint = async (body: Record<string, unknown> = {}) => {
    const r = await h.call('POST', `/api/webhooks/clinics/${h.seed.clinicId}/endpoints`, {
      token: adminToken,
      body: { url: receiver.url(), events: ['appointment.*', 'record.finalised'], ...body },
    });
    expect(r.status).toBe(201);
    return r.body as { id: string; secret: string };
  };
  const log = async (endpointId: string) =>
    (
      await h.call('GET', `/api/webhooks/clinics/${h.seed.clinicId}/endpoints/${endpointId}/deliveries`, {
        token: adminToken,
      })
    ).body.deliveries;
  const detail = async (endpointId: string, deliveryId: string) =>
    (
      await h.call(
        'GET',
        `/api/webhooks/clinics/${h.seed.clinicId}/endpoints/${endpointId}/deliveries/${deliveryId}`,
        { token: adminToken },
      )
    ).body;
  /** Passes until nothing is due (retries due within milliseconds with the fast back-off). */
  const drain = async (w: WebhookDelivery, passes = 10) => {
    for (let i = 0; i < passes; i++) {
      await w.runOnce();
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const verify = (secret: string, i = 0) => {
    const got = receiver.received[i]!;
    return new Webhook(secret).verify(got.body, got.headers as Record<string, string>) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
  };

  it("signs per Standard Webhooks: the reference library's Webhook.verify accepts it; ids only in the body", async () => {
    const ep = await endpoint();
    await h.emit('record.finalised', { encounterId: 'e-1', documentId: 'd-1', version: 1 });
    await h.worker(fast).runOnce();
    expect(receiver.received).toHaveLength(1);
    const payload = verify(ep.secret);
    expect(payload).toMatchObject({
      type: 'record.finalised',
      data: {
        appointmentId: h.seed.appointmentId,
        patientId: h.seed.patientId,
        encounterId: 'e-1',
        version: 1,
      },
    });
    expect(Date.parse(payload.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(payload.data).not.toHaveProperty('patient');
    const headers = receiver.received[0]!.headers;
    expect(headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Number(headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1);
    // A tampered body, or another secret, does not verify.
    expect(() =>
      new Webhook(ep.secret).verify(receiver.received[0]!.body.replace('e-1', 'e-2'), headers as never),
    ).toThrow();
    const [delivery] = await log(ep.id);
    expect(delivery).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      lastStatusCode: 200,
      lastError: null,
    });
    expect(typeof delivery.lastLatencyMs).toBe('number');
    expect(Object.keys(delivery)).not.toContain('body');
  });

  it('retries on 500 and on a timeout, then succeeds, with the same webhook-id every time', async () => {
    const ep = await endpoint();
    receiver.reply({ status: 500 }, 'hang');
    await h.emit('appointment.booked');
    const started = Date.now();
    await drain(h.worker({ ...fast, timeoutMs: 300 }), 5);
    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (let i = 0; i < 3; i++) expect(verify(ep.secret, i).type).toBe('appointment.booked');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const [delivery] = await log(ep.id);
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
    const d = await detail(ep.id, delivery.id);
    expect(
      d.attemptLog.map((a: { statusCode: number | null; error: string | null }) => [a.statusCode, a.error]),
    ).toEqual([
      [500, 'http_500'],
      [null, 'timeout'],
      [200, null],
    ]);
  });

  it('does not retry a 400; retries 429 no sooner than its Retry-After', async () => {
    const ep = await endpoint();
    receiver.reply({ status: 400 });
    await h.emit('appointment.cancelled');
    await drain(h.worker(fast), 4);
    expect(receiver.received).toHaveLength(1);
    const [refused] = await log(ep.id);
    expect(refused).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastStatusCode: 400,
      lastError: 'http_400',
    });

    receiver.reply({ status: 429, headers: { 'retry-after': '30' } });
    await h.emit('appointment.rescheduled');
    const before = Date.now();
    await drain(h.worker(fast), 3);
    expect(receiver.received).toHaveLength(2);
    const [busy] = await h.db
      .select()
      .from(webhookDeliveries)
      .where(
        and(eq(webhookDeliveries.endpointId, ep.id), eq(webhookDeliveries.event, 'appointment.rescheduled')),
      );
    expect(busy).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 429 });
    expect(busy!.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(before + 29_000);
  });

  it('resends a delivery with its webhook-id; a pending one is refused with a typed 409', async () => {
    const ep = await endpoint();
    await h.emit('appointment.completed');
    await h.worker(fast).runOnce();
    const [done] = await log(ep.id);
    const path = `/api/webhooks/clinics/${h.seed.clinicId}/endpoints/${ep.id}/deliveries/${done.id}/resend`;
    const resent = await h.call('POST', path, { token: adminToken });
    expect(resent.status).toBe(202);
    expect(resent.body.status).toBe('pending');
    const again = await h.call('POST', path, { token: adminToken });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('delivery_not_resendable');
    await h.worker(fast).runOnce();
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([done.id, done.id]);
    const otherAdmin = await h.tokenFor(h.otherAdminId, 'clinic_admin');
    expect((await h.call('POST', path, { token: otherAdmin })).status).toBe(404);
  });

  it('switches an endpoint off after N failures in a row spanning the period, tells the admins without PHI, then sends nothing', async () => {
    const ep = await endpoint();
    receiver.always({ status: 503 });
    let clock = Date.now();
    const w = h.worker(
      { ...fast, maxAttempts: 1, disableAfterFailures: 3, disableAfterMs: 60_000 },
      () => new Date(clock),
    );
    for (let i = 0; i < 3; i++) await h.emit('appointment.booked');
    await w.runOnce();
    expect(receiver.received).toHaveLength(3);
    // Three in a row, but within a second: not yet.
    let [row] = await h.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id));
    expect(row).toMatchObject({ enabled: true, consecutiveFailures: 3 });
    expect(h.mail).toHaveLength(0);

    clock += 61_000;
    await h.emit('appointment.booked');
    await w.runOnce();
    [row] = await h.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, ep.id));
    expect(row).toMatchObject({ enabled: false, disabledReason: 'failing', consecutiveFailures: 4 });
    const notices = h.mail.filter((m) => m.template === 'webhook_endpoint_disabled');
    expect(notices.map((m) => m.recipient)).toEqual([`${h.adminId}@example.test`]);
    expect(notices[0]!.body).toContain('127.0.0.1');
    expect(notices[0]!.body).not.toContain(h.seed.patientId);
    expect(notices[0]!.body).not.toContain(h.seed.appointmentId);
    const entries = await h.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'webhook.endpoint.auto_disabled'), eq(auditLog.resourceId, ep.id)));
    expect(entries).toHaveLength(1);

    receiver.always({ status: 200 });
    await h.emit('appointment.booked');
    await w.runOnce();
    expect(receiver.received).toHaveLength(4);
    const view = await h.call('GET', `/api/webhooks/clinics/${h.seed.clinicId}/endpoints/${ep.id}`, {
      token: adminToken,
    });
    expect(view.body).toMatchObject({ enabled: false, disabledReason: 'failing' });
  });

  it('a disabled endpoint, or one not subscribed to the event, gets nothing', async () => {
    const off = await endpoint({ enabled: false });
    const other = await endpoint({ events: ['consultation.started'] });
    const on = await endpoint();
    await h.emit('appointment.booked');
    await h.emit('appointment.booked', {}, h.other.clinicId);
    await drain(h.worker(fast), 2);
    expect(receiver.received).toHaveLength(1);
    expect(await log(off.id)).toEqual([]);
    expect(await log(other.id)).toEqual([]);
    expect(await log(on.id)).toHaveLength(1);
  });

  it('an endpoint that opted into PHI gets the patient and time, and the disclosure is audited', async () => {
    const ep = await endpoint({ includePhi: true });
    await h.emit('appointment.booked');
    await h.worker(fast).runOnce();
    const payload = verify(ep.secret);
    expect(payload.data).toMatchObject({
      appointmentId: h.seed.appointmentId,
      patient: { displayName: expect.any(String) },
    });
    const [delivery] = await log(ep.id);
    const disclosed = await h.db
      .select({ patientId: auditLog.patientId })
      .from(auditLog)
      .where(and(eq(auditLog.action, 'webhook.phi.disclosed'), eq(auditLog.resourceId, delivery.id)));
    expect(disclosed).toEqual([{ patientId: h.seed.patientId }]);
  });

  it('after a rotation both secrets sign during the grace period', async () => {
    const ep = await endpoint();
    const rotated = await h.call(
      'POST',
      `/api/webhooks/clinics/${h.seed.clinicId}/endpoints/${ep.id}/secret`,
      {
        token: adminToken,
      },
    );
    await h.emit('appointment.booked');
    await h.worker(fast).runOnce();
    expect(verify(ep.secret).type).toBe('appointment.booked');
    expect(verify(rotated.body.secret).type).toBe('appointment.booked');
    expect(String(receiver.received[0]!.headers['webhook-signature']).split(' ')).toHaveLength(2);
  });

  it('two workers on two connections deliver each event exactly once', async () => {
    await endpoint();
    const second: DbHandle = await openDb({ databaseUrl: h.url!, maxConnections: 4 });
    try {
      const node2 = await createServices(h.config, { db: second.db, logger: h.logger });
      const w1 = h.worker(fast);
      const w2 = node2.webhooks.createWorker(h.logger, { config: fast });
      // A slow receiver, so that both workers' claims overlap in time.
      receiver.always({ status: 200, delayMs: 15 });
      const events = 40;
      for (let i = 0; i < events; i++) await h.emit('appointment.booked', { n: i });
      for (let i = 0; i < 6; i++) await Promise.all([w1.runOnce(), w2.runOnce()]);
      const ids = receiver.received.map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(events);
      expect(new Set(ids).size).toBe(events);
      const rows = await h.db
        .select()
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.event, 'appointment.booked'));
      expect(rows).toHaveLength(events);
      expect(rows.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
      const unfanned = await h.db
        .select()
        .from(webhookOutbox)
        .where(sql`${webhookOutbox.deliveredAt} is null`);
      expect(unfanned).toEqual([]);
      await node2.identity.passwords.close();
    } finally {
      await second.close();
    }
  });
});
