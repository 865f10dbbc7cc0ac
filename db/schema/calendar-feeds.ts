import { timestamp, pgTable, text } from 'drizzle-orm/pg-core';
import { users } from './identity.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true });

/**
 * A doctor's secret calendar-subscription URL. One row per doctor: issuing a new secret overwrites
 * the hash in place (an atomic upsert), so a rotation can never leave two live URLs behind. Only
 * the sha256 of the secret is stored; the URL itself is shown once, when it is issued.
 */
export const doctorCalendarFeeds = pgTable('doctor_calendar_feeds', {
  doctorId: text('doctor_id')
    .primaryKey()
    .references(() => users.id),
  tokenHash: text('token_hash').notNull().unique(),
  /** When the current secret was issued (a rotation resets it). */
  issuedAt: ts('issued_at').notNull().defaultNow(),
  /** Set by revoke; a revoked feed answers 404 like an unknown one. */
  revokedAt: ts('revoked_at'),
  /** Last successful fetch by a calendar app, so the doctor can tell whether the URL is in use. */
  lastAccessedAt: ts('last_accessed_at'),
});
