import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { clinics, users } from './identity.ts';

/** Every event a clinic can subscribe to; `record.amended` follows a finalisation that was amended. */
export const WEBHOOK_EVENTS = [
  'appointment.booked',
  'appointment.cancelled',
  'appointment.rescheduled',
  'appointment.completed',
  'consultation.started',
  'consultation.ended',
  'record.finalised',
  'record.amended',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/**
 * Transactional outbox of webhook events: a row commits with the change it announces, or not at
 * all. The payload carries ids only, never PHI. `delivered_at` is when the delivery worker fanned
 * the event out to the clinic's subscribed endpoints (in the transaction that wrote the deliveries).
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
    createdAt: ts('created_at').notNull().defaultNow(),
    deliveredAt: ts('delivered_at'),
  },
  (t) => [
    index('webhook_outbox_pending_idx').on(t.createdAt),
    index('webhook_outbox_unfanned_idx')
      .on(t.createdAt)
      .where(sql`${t.deliveredAt} is null`),
  ],
);

/**
 * A clinic's webhook endpoint. The signing secret is sealed (the server signs with it, so it is
 * not a hash); after a rotation the previous one keeps signing beside the new one until
 * `previous_secret_until`, so a receiver can switch over without dropping deliveries.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event names or `family.*` patterns. */
    events: jsonb('events').$type<string[]>().notNull(),
    sealedSecret: text('sealed_secret').notNull(),
    sealedPreviousSecret: text('sealed_previous_secret'),
    previousSecretUntil: ts('previous_secret_until'),
    enabled: boolean('enabled').notNull().default(true),
    /** Why it is off: 'admin' (switched off) or 'failing' (auto-disabled). */
    disabledReason: text('disabled_reason', { enum: ['admin', 'failing'] }),
    disabledAt: ts('disabled_at'),
    /** Opt-in: payloads carry the patient's name and the appointment's time besides the ids. */
    includePhi: boolean('include_phi').notNull().default(false),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    failingSince: ts('failing_since'),
    createdBy: text('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('webhook_endpoints_clinic_idx').on(t.clinicId),
    check('webhook_endpoints_disabled', sql`${t.enabled} = (${t.disabledReason} is null)`),
  ],
);

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * One event for one endpoint. Its id is the `webhook-id` header, the same on every attempt (and on
 * a resend), so receivers can drop repeats. Claimed by a worker with a lease, like the reminder
 * outbox: a worker that dies mid-send loses the lease and another sends again (at least once).
 * Holds no payload: the body is built from the outbox row at send time, so no PHI stays here.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    outboxId: text('outbox_id')
      .notNull()
      .references(() => webhookOutbox.id),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    event: text('event', { enum: WEBHOOK_EVENTS }).notNull(),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** `attempts` when it was last resent: a resend starts a fresh budget of retries. */
    retryFrom: integer('retry_from').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    leaseToken: text('lease_token'),
    leaseUntil: ts('lease_until'),
    lastStatusCode: integer('last_status_code'),
    /** A short machine reason: 'timeout', 'network', 'http_500', 'refused_address'. */
    lastError: text('last_error'),
    lastLatencyMs: integer('last_latency_ms'),
    createdAt: ts('created_at').notNull().defaultNow(),
    completedAt: ts('completed_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_endpoint_unique').on(t.outboxId, t.endpointId),
    index('webhook_deliveries_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
  ],
);

/** Each attempt of a delivery: when, what came back, how long it took (never a body). */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    at: ts('at').notNull().defaultNow(),
    statusCode: integer('status_code'),
    error: text('error'),
    latencyMs: integer('latency_ms').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
