import { index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { clinics } from './identity.ts';

export const WEBHOOK_EVENTS = ['record.finalised', 'record.amended'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * Transactional outbox of webhook events: a row commits with the change it announces, or not at
 * all. The payload carries ids only, never PHI (delivery, signing and the clinic's endpoints are
 * a later step that reads this table).
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    event: text('event', { enum: WEBHOOK_EVENTS }).notNull(),
    payload: jsonb('payload').$type<Record<string, string | number>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [index('webhook_outbox_pending_idx').on(t.createdAt)],
);
