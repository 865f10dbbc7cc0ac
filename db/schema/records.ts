import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { clinics, users } from './identity.ts';

/** Minimal clinical record (PHI): enough for access control and audit to guard something real. */
export const patientNotes = pgTable(
  'patient_notes',
  {
    id: text('id').primaryKey(),
    patientId: text('patient_id').notNull().references(() => users.id),
    clinicId: text('clinic_id').notNull().references(() => clinics.id),
    authorId: text('author_id').notNull().references(() => users.id),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('patient_notes_patient_idx').on(t.patientId)],
);
