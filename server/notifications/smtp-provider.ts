import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { ProblemError } from '../api/errors.ts';
import { notificationOutbox } from '../../db/schema/index.ts';
import type { NotificationProvider, OutboundMessage } from './types.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/**
 * E-mail over SMTP (SMTP_URL, MAIL_FROM); SMS still goes to `sms` (there is no SMS gateway yet).
 *
 * Idempotency: a key already recorded in notification_outbox is not sent again. A message is
 * recorded after the SMTP server accepted it, with its body replaced (codes and appointment times
 * stay out of the database); if the process dies between the two, a retry sends again, so the
 * Message-ID is derived from the key and mail clients can drop the copy. At least once, never lost.
 */
export class SmtpNotificationProvider implements NotificationProvider {
  readonly kind = 'smtp';
  readonly #transport: Transporter;

  constructor(
    private readonly db: Db,
    opts: { url: string; from: string },
    private readonly sms: NotificationProvider,
  ) {
    this.#transport = nodemailer.createTransport(opts.url, { from: opts.from });
  }

  async send(m: OutboundMessage) {
    if (m.channel === 'sms') return this.sms.send(m);
    const [known] = await this.db
      .select({ id: notificationOutbox.id })
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, m.idempotencyKey));
    if (known) return { id: known.id, duplicate: true };
    const id = createHash('sha256').update(m.idempotencyKey).digest('hex').slice(0, 32);
    try {
      await this.#transport.sendMail({
        to: m.recipient,
        subject: m.subject ?? 'CareCall',
        text: m.body,
        messageId: `<${id}@carecall>`,
      });
    } catch {
      // A sign-in or an invitation waiting on this message gets a clear, retryable answer, not a 500.
      // The SMTP error text can carry the address, so it is not passed on.
      throw new ProblemError(503, PROBLEM.deliveryFailed, 'the message could not be sent; try again shortly');
    }
    const inserted = await this.db
      .insert(notificationOutbox)
      .values({
        id,
        channel: 'email',
        recipient: m.recipient,
        template: m.template,
        subject: m.subject ?? null,
        body: '(sent by SMTP; body not stored)',
        idempotencyKey: m.idempotencyKey,
      })
      .onConflictDoNothing()
      .returning({ id: notificationOutbox.id });
    return { id, duplicate: inserted.length === 0 };
  }

  close() {
    this.#transport.close();
  }
}
