import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { notificationOutbox } from '../../db/schema/index.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { OutboxNotificationProvider } from './outbox-provider.ts';
import { SmtpNotificationProvider } from './smtp-provider.ts';

type Received = { to: string[]; raw: string };

describe('e-mail over SMTP (a real SMTP server in the test)', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  let server: SMTPServer;
  let provider: SmtpNotificationProvider;
  const received: Received[] = [];
  beforeAll(async () => {
    pg = await createTestDatabase();
    handle = await openDb({ databaseUrl: pg.url, maxConnections: 2 });
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onRcptTo(address, _session, cb) {
        cb(address.address.endsWith('@refused.test') ? new Error('mailbox unavailable') : undefined);
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString(),
          });
          cb();
        });
      },
    });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    const { port } = server.server.address() as AddressInfo;
    provider = new SmtpNotificationProvider(
      handle.db,
      { url: `smtp://127.0.0.1:${port}`, from: 'CareCall <no-reply@carecall.test>' },
      new OutboxNotificationProvider(handle.db),
    );
  });
  afterAll(async () => {
    provider.close();
    await new Promise<void>((r) => server.close(() => r()));
    await handle.close();
    await pg.drop();
  });

  const message = (over: Partial<Parameters<SmtpNotificationProvider['send']>[0]> = {}) => ({
    channel: 'email' as const,
    recipient: 'pat@example.test',
    template: 'login_code',
    subject: 'Your code',
    body: 'Your CareCall code is 123456',
    idempotencyKey: 'login:abc',
    ...over,
  });

  it('delivers once per idempotency key, with a Message-ID derived from the key, and keeps the body out of the database', async () => {
    const first = await provider.send(message());
    expect(first.duplicate).toBe(false);
    expect(received).toHaveLength(1);
    expect(received[0]!.to).toEqual(['pat@example.test']);
    expect(received[0]!.raw).toContain('Your CareCall code is 123456');
    expect(received[0]!.raw).toMatch(new RegExp(`Message-ID: <${first.id}@carecall>`, 'i'));
    expect(received[0]!.raw).toContain('no-reply@carecall.test');
    const again = await provider.send(message());
    expect(again).toEqual({ id: first.id, duplicate: true });
    expect(received).toHaveLength(1);
    const [row] = await handle.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, 'login:abc'));
    expect(row!.body).not.toContain('123456');
  });

  it('a refused delivery throws and records nothing, so a retry sends again', async () => {
    await expect(
      provider.send(message({ recipient: 'x@refused.test', idempotencyKey: 'login:refused' })),
    ).rejects.toMatchObject({ status: 503, code: 'delivery_failed' });
    expect(
      await handle.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.idempotencyKey, 'login:refused')),
    ).toHaveLength(0);
  });

  it('SMS still goes to the outbox (no SMS gateway yet)', async () => {
    const before = received.length;
    await provider.send(message({ channel: 'sms', recipient: '+441632960001', idempotencyKey: 'login:sms' }));
    expect(received).toHaveLength(before);
    const [row] = await handle.db
      .select()
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, 'login:sms'));
    expect(row!.channel).toBe('sms');
  });

  it('configuration: SMTP_URL needs MAIL_FROM and an smtp(s) URL', () => {
    expect(
      loadConfig({ SMTP_URL: 'smtp://mail.example:587', MAIL_FROM: 'no-reply@example.org' }).smtp,
    ).toEqual({ url: 'smtp://mail.example:587', from: 'no-reply@example.org' });
    expect(loadConfig({}).smtp).toBeUndefined();
    const missing = (() => {
      try {
        loadConfig({ SMTP_URL: 'smtp://mail.example' });
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.variable);
      }
    })();
    expect(missing).toEqual(['MAIL_FROM']);
    const scheme = (() => {
      try {
        loadConfig({ SMTP_URL: 'http://mail.example', MAIL_FROM: 'a@b.example' });
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.variable);
      }
    })();
    expect(scheme).toEqual(['SMTP_URL']);
  });
});
