import { bigserial, boolean, index, pgTable, smallint, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Append-only (a trigger refuses UPDATE and DELETE) and hash-chained: hash = HMAC-SHA256 with a key
 * kept outside the database (plain sha256 before the chain was keyed) of the canonical JSON of the
 * entry including prev_hash. Order of the chain is seq order. No PHI values here, only ids.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    id: text('id').notNull().unique(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    actorId: text('actor_id'),
    actorRole: text('actor_role'),
    onBehalfOf: text('on_behalf_of'),
    sessionId: text('session_id'),
    ip: text('ip'),
    requestId: text('request_id'),
    action: text('action').notNull(),
    outcome: text('outcome', { enum: ['allowed', 'denied', 'failed'] }).notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    patientId: text('patient_id'),
    clinicId: text('clinic_id'),
    breakGlass: boolean('break_glass').notNull().default(false),
    reason: text('reason'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    /** How `hash` was made: 1 = plain sha256 (entries written before the chain was keyed), 2 = HMAC-SHA256 with the chain key. */
    hashVersion: smallint('hash_version').notNull(),
  },
  (t) => [
    index('audit_log_clinic_idx').on(t.clinicId, t.seq),
    index('audit_log_patient_idx').on(t.patientId, t.seq),
    index('audit_log_actor_idx').on(t.actorId, t.seq),
  ],
);
