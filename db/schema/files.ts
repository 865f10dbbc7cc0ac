import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { bytea } from './data-keys.ts';
import { clinics } from './identity.ts';
import { conversations } from './messaging.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
const bytes = (name: string) => bigint(name, { mode: 'number' });

export const FILE_STATUSES = ['uploading', 'complete'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

/**
 * A file sent in a conversation, from its tus upload on. `received` is the tus Upload-Offset: the
 * plaintext bytes held, encrypted, in the file's parts. The name is sealed (it can say what a
 * patient has); the declared type is checked against the bytes before the first part is kept.
 */
export const files = pgTable(
  'files',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    patientId: text('patient_id').notNull(),
    uploaderId: text('uploader_id').notNull(),
    sealedName: bytea('sealed_name').notNull(),
    declaredType: text('declared_type').notNull(),
    size: bytes('size').notNull(),
    received: bytes('received').notNull().default(0),
    partCount: integer('part_count').notNull().default(0),
    status: text('status', { enum: FILE_STATUSES }).notNull().default('uploading'),
    /** Sent in a consultation's room conversation: the patient's record lists it. */
    forPatientRecord: boolean('for_patient_record').notNull().default(false),
    /** The encrypted thumbnail's blob (images only), made when the upload completes. */
    thumbnailBlobId: text('thumbnail_blob_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
    completedAt: ts('completed_at'),
  },
  (t) => [
    index('files_conversation_idx').on(t.conversationId),
    index('files_patient_record_idx').on(t.patientId, t.forPatientRecord),
  ],
);

/**
 * One part per PATCH request that delivered bytes: its own secretstream (own header, final tag),
 * stored as one blob. Parts follow each other without gaps: part i starts where part i-1 ended.
 */
export const fileParts = pgTable(
  'file_parts',
  {
    fileId: text('file_id')
      .notNull()
      .references(() => files.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    plainOffset: bytes('plain_offset').notNull(),
    plainSize: bytes('plain_size').notNull(),
    blobId: text('blob_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.fileId, t.idx] })],
);

/** A clinic's own file limits; a clinic without a row (or a null column) uses FILE_MAX_BYTES / FILE_ALLOWED_TYPES. */
export const clinicFileSettings = pgTable('clinic_file_settings', {
  clinicId: text('clinic_id')
    .primaryKey()
    .references(() => clinics.id),
  maxBytes: bytes('max_bytes'),
  /** Comma-separated media types. */
  allowedTypes: text('allowed_types'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * One admission of a room participant as its room file grants (and the links asked for with them)
 * name it. The room tier opens it with the first grant and ends it when the participant's room
 * session ends (left, removed, denied, the room closed); every use of a grant or link checks it,
 * on whichever node serves the request, so files end with the admission rather than with the
 * grant's expiry. A node that dies leaves its admissions open: their grants still expire.
 */
export const roomFileAdmissions = pgTable(
  'room_file_admissions',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id),
    /** fileActorId of the participant (a guest's is prefixed). */
    speakerId: text('speaker_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    endedAt: ts('ended_at'),
  },
  (t) => [index('room_file_admissions_conversation_idx').on(t.conversationId)],
);
