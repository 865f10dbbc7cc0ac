import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The development "outbox" notification provider's store: e-mails and SMS that would have been
 * sent. Tests and the demo read codes and links from here. Idempotency key makes retries harmless.
 */
export const notificationOutbox = pgTable('notification_outbox', {
  id: text('id').primaryKey(),
  channel: text('channel', { enum: ['email', 'sms'] }).notNull(),
  recipient: text('recipient').notNull(),
  template: text('template').notNull(),
  subject: text('subject'),
  body: text('body').notNull(),
  idempotencyKey: text('idempotency_key').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
