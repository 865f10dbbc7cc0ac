import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { appointments } from './scheduling.ts';
import { users } from './identity.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true });

/** The video room of an appointment: an opaque random id, never derived from the appointment. */
export const consultationRooms = pgTable('consultation_rooms', {
  appointmentId: text('appointment_id')
    .primaryKey()
    .references(() => appointments.id),
  roomId: text('room_id').notNull().unique(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const GUEST_KINDS = ['interpreter', 'family'] as const;

/** People without an account the doctor invites into one consultation (interpreter, family). */
export const consultationGuests = pgTable(
  'consultation_guests',
  {
    id: text('id').primaryKey(),
    appointmentId: text('appointment_id')
      .notNull()
      .references(() => appointments.id),
    invitedBy: text('invited_by')
      .notNull()
      .references(() => users.id),
    kind: text('kind', { enum: GUEST_KINDS }).notNull(),
    displayName: text('display_name').notNull(),
    /** sha256 of the link key: the key itself is only ever in the link. */
    keyHash: text('key_hash').notNull().unique(),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('consultation_guests_appointment_idx').on(t.appointmentId)],
);
