import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { bytea } from './data-keys.ts';
import { files } from './files.ts';
import { clinics, users } from './identity.ts';
import { appointments } from './scheduling.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const ENCOUNTER_STATUSES = ['draft', 'finalised'] as const;
export type EncounterStatus = (typeof ENCOUNTER_STATUSES)[number];

/**
 * One version of the clinical record of an appointment. Version 1 starts as the doctor's draft
 * (saved as they type; `revision` is its ETag) and is finalised in place; every amendment is a new
 * finalised version pointing at the one it replaces. A trigger (migration 0018) refuses any change
 * to a finalised row: history is never rewritten. Everything clinical (reason, findings, notes,
 * recommendations, follow-up, the amendment's reason) is sealed under the patient's data key with
 * the row id as associated data; the columns in the clear are ids, numbers and times.
 */
export const encounters = pgTable(
  'encounters',
  {
    id: text('id').primaryKey(),
    appointmentId: text('appointment_id')
      .notNull()
      .references(() => appointments.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    /** Who wrote this version (the appointment's doctor for version 1, the amending doctor after). */
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    version: integer('version').notNull(),
    /** The version this one amends (a foreign key to encounters.id, added in migration 0018's SQL). */
    previousId: text('previous_id'),
    status: text('status', { enum: ENCOUNTER_STATUSES }).notNull(),
    /** The draft's autosave counter (its ETag); frozen once finalised. */
    revision: integer('revision').notNull().default(1),
    sealedContent: bytea('sealed_content').notNull(),
    sealedAmendmentReason: bytea('sealed_amendment_reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    finalisedAt: ts('finalised_at'),
  },
  (t) => [
    uniqueIndex('encounters_appointment_version_unique').on(t.appointmentId, t.version),
    // A version is amended at most once: the history is a chain, never a tree.
    uniqueIndex('encounters_previous_unique').on(t.previousId),
    index('encounters_patient_idx').on(t.patientId, t.createdAt),
    check(
      'encounters_version_chain',
      sql`(${t.version} = 1) = (${t.previousId} is null) and (${t.version} = 1 or ${t.status} = 'finalised')`,
    ),
    check('encounters_finalised_at', sql`(${t.status} = 'finalised') = (${t.finalisedAt} is not null)`),
  ],
);

export const CONDITION_STATUSES = ['active', 'resolved'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** A diagnosis of one finalised encounter version; code and display text sealed (a diagnosis is PHI). */
export const conditions = pgTable(
  'conditions',
  {
    id: text('id').primaryKey(),
    encounterId: text('encounter_id')
      .notNull()
      .references(() => encounters.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    position: integer('position').notNull(),
    clinicalStatus: text('clinical_status', { enum: CONDITION_STATUSES }).notNull(),
    sealedCoding: bytea('sealed_coding').notNull(),
    recordedAt: ts('recorded_at').notNull(),
  },
  (t) => [
    uniqueIndex('conditions_encounter_position_unique').on(t.encounterId, t.position),
    index('conditions_patient_idx').on(t.patientId),
  ],
);

export const RECORD_DOCUMENT_KINDS = ['summary_pdf', 'chat_file'] as const;
export type RecordDocumentKind = (typeof RECORD_DOCUMENT_KINDS)[number];

/**
 * A document of the patient's record: the signed summary of an encounter version (its encrypted
 * bytes in the blob store, `blob_id`), or a file of the consultation's chat linked at finalisation
 * (`file_id`; its bytes stay where the chat stored them). `sha256` is the summary's, as signed:
 * the public verification finds a document by it without reading the PDF's content.
 */
export const recordDocuments = pgTable(
  'record_documents',
  {
    id: text('id').primaryKey(),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    encounterId: text('encounter_id')
      .notNull()
      .references(() => encounters.id),
    kind: text('kind', { enum: RECORD_DOCUMENT_KINDS }).notNull(),
    blobId: text('blob_id'),
    fileId: text('file_id').references(() => files.id),
    mediaType: text('media_type').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256'),
    signedAt: ts('signed_at'),
    certificateSerial: text('certificate_serial'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('record_documents_patient_idx').on(t.patientId, t.createdAt),
    index('record_documents_encounter_idx').on(t.encounterId),
    index('record_documents_sha256_idx').on(t.sha256),
    uniqueIndex('record_documents_file_unique').on(t.fileId),
    check(
      'record_documents_kind_source',
      sql`(${t.kind} = 'summary_pdf' and ${t.blobId} is not null and ${t.fileId} is null and ${t.sha256} is not null)
        or (${t.kind} = 'chat_file' and ${t.fileId} is not null and ${t.blobId} is null)`,
    ),
  ],
);
