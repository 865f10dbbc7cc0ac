import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Db } from '../../../db/client.ts';
import { clinicMembers, users, type UserRole } from '../../../db/schema/index.ts';
import { openTestEngine, type Engine } from '../../../test/helpers/engines.ts';
import { createApp } from '../../app.ts';
import { loadConfig, type WebhookConfig } from '../../config.ts';
import { seedClinic } from '../../messaging/test-support/chat-fixture.ts';
import type { NotificationProvider, OutboundMessage } from '../../notifications/types.ts';
import { createServices } from '../../services.ts';
import { announce, type OutboxPayload, type WebhookEvent } from '../catalogue.ts';

/** A notifier that keeps what it is asked to send (the auto-disable notice is read from here). */
export function capturingNotifier() {
  const sent: OutboundMessage[] = [];
  const notifier: NotificationProvider = {
    kind: 'capture',
    send: async (m) => {
      sent.push(m);
      return { id: randomUUID(), duplicate: false };
    },
  };
  return { notifier, sent };
}

/**
 * The real services and app on a fresh database, webhooks allowed to reach loopback (the
 * documented development/test option), a seeded clinic with a clinic admin, and another clinic
 * with its own admin.
 */
export async function startWebhookHarness(engine: Engine, env: Record<string, string> = {}) {
  const t = await openTestEngine(engine);
  const db = t.handle.db;
  const blobDir = await mkdtemp(join(tmpdir(), 'carecall-webhooks-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DEMO: 'off',
    PASSWORD_HASH_STRENGTH: 'minimum',
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
    DATA_KEK: randomBytes(32).toString('base64'),
    BLOB_STORE_DIR: blobDir,
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'on',
    ...env,
  });
  const logger = pino({ level: 'silent' });
  const mail = capturingNotifier();
  const services = await createServices(config, { db, logger }, { notifier: mail.notifier });
  const app = createApp(services, {
    logger,
    turn: undefined,
    demo: undefined,
    registry: new Registry(),
    checks: {},
  });

  const user = async (role: UserRole, clinicId?: string) => {
    const id = randomUUID();
    await db
      .insert(users)
      .values({ id, role, email: `${id}@example.test`, displayName: `${role} ${id.slice(0, 4)}` });
    if (clinicId) await db.insert(clinicMembers).values({ clinicId, userId: id });
    return id;
  };
  const seed = await seedClinic(db);
  const adminId = await user('clinic_admin', seed.clinicId);
  const other = await seedClinic(db);
  const otherAdminId = await user('clinic_admin', other.clinicId);
  const tokenFor = async (id: string, role: UserRole) =>
    (await services.identity.sessions.create({ id, role }, { ip: '127.0.0.1', userAgent: 'test' }))
      .accessToken;

  const call = async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(
      path,
      { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
      { remoteAddress: '203.0.113.7' },
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };

  /** An event in the outbox as a write point puts it there (in its own transaction here). */
  const emit = async (
    event: WebhookEvent,
    payload: Partial<OutboxPayload> = {},
    clinicId = seed.clinicId,
  ) => {
    await db.transaction((tx) =>
      announce(tx, clinicId, event, {
        appointmentId: seed.appointmentId,
        patientId: seed.patientId,
        ...payload,
      }),
    );
  };

  /** A worker of this node, with delivery settings changed for the test (short timeouts and back-off). */
  const worker = (overrides: Partial<WebhookConfig> = {}, now?: () => Date) =>
    services.webhooks.createWorker(logger, { config: overrides, ...(now ? { now } : {}) });

  return {
    db: db as Db,
    url: t.url,
    config,
    services,
    app,
    call,
    seed,
    other,
    adminId,
    otherAdminId,
    user,
    tokenFor,
    emit,
    worker,
    mail: mail.sent,
    logger,
    close: async () => {
      await t.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

export type WebhookHarness = Awaited<ReturnType<typeof startWebhookHarness>>;
