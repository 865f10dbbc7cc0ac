import { randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { notificationOutbox } from '../../db/schema/index.ts';
import type { Channel, NotificationProvider, OutboundMessage } from './types.ts';

/**
 * Development provider: "sends" by storing the message in notification_outbox, where tests and the
 * demo read codes and links. Shared by all nodes because it lives in the database.
 */
export class OutboxNotificationProvider implements NotificationProvider {
  readonly kind = 'outbox';
  constructor(private readonly db: Db) {}

  async send(m: OutboundMessage) {
    const id = randomUUID();
    const inserted = await this.db
      .insert(notificationOutbox)
      .values({
        id,
        channel: m.channel,
        recipient: m.recipient,
        template: m.template,
        subject: m.subject ?? null,
        body: m.body,
        idempotencyKey: m.idempotencyKey,
      })
      .onConflictDoNothing({ target: notificationOutbox.idempotencyKey })
      .returning({ id: notificationOutbox.id });
    if (inserted[0]) return { id: inserted[0].id, duplicate: false };
    const [existing] = await this.db
      .select({ id: notificationOutbox.id })
      .from(notificationOutbox)
      .where(eq(notificationOutbox.idempotencyKey, m.idempotencyKey));
    return { id: existing!.id, duplicate: true };
  }

  /** Newest first. */
  list(filter: { recipient?: string; channel?: Channel; limit?: number } = {}) {
    const conds = [];
    if (filter.recipient) conds.push(eq(notificationOutbox.recipient, filter.recipient));
    if (filter.channel) conds.push(eq(notificationOutbox.channel, filter.channel));
    return this.db
      .select()
      .from(notificationOutbox)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(notificationOutbox.createdAt), desc(notificationOutbox.id))
      .limit(filter.limit ?? 50);
  }
}
