import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './data-keys.ts';
import { clinics, users } from './identity.ts';

/**
 * Minimal clinical record (PHI). The body is sealed (MessageSealer, the patient's data key, the
 * note id as associated data); `plaintext_body` only holds notes written before sealing until the
 * start-up step seals them (PatientRecords.sealPlaintextNotes), so every row has exactly one.
 */
export const patientNotes = pgTable(
  'patient_notes',
  {
    id: text('id').primaryKey(),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    sealedBody: bytea('sealed_body'),
    plaintextBody: text('plaintext_body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('patient_notes_patient_idx').on(t.patientId),
    check('patient_notes_one_body', sql`(${t.sealedBody} is null) <> (${t.plaintextBody} is null)`),
  ],
);
