import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { bytea } from './data-keys.ts';
import { clinics, users } from './identity.ts';
import { appointments } from './scheduling.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
const seqCol = (name: string) => bigint(name, { mode: 'number' });

export const CONVERSATION_KINDS = ['room', 'care', 'livechat'] as const;
export type ConversationKind = (typeof CONVERSATION_KINDS)[number];
/**
 * 'hosts': written from the waiting room, read by the doctor (and its sender) only.
 * 'staff': a live chat's internal note, read by the clinic's staff, never by the patient.
 */
export const MESSAGE_AUDIENCES = ['all', 'hosts', 'staff'] as const;
export type MessageAudience = (typeof MESSAGE_AUDIENCES)[number];

/**
 * A room conversation belongs to one appointment; a care thread to one doctor–patient pair of a
 * clinic. `last_seq` is the conversation's sequence counter: a send batch locks the row, takes the
 * next numbers and commits, so numbers are gap-free and follow commit order.
 */
export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: CONVERSATION_KINDS }).notNull(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    appointmentId: text('appointment_id').references(() => appointments.id),
    /** A live chat's current staff holder (operator or doctor), null while it is queued; required for the other kinds. */
    doctorId: text('doctor_id').references(() => users.id),
    /** The patient (a dependent when a guardian acts for them). */
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    lastSeq: seqCol('last_seq').notNull().default(0),
    /**
     * The counter of changes to stored messages (edits, deletes), gap-free like last_seq: catch-up
     * returns the messages changed after a client's change watermark.
     */
    lastChange: seqCol('last_change').notNull().default(0),
    createdBy: text('created_by'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('conversations_room_unique')
      .on(t.appointmentId)
      .where(sql`${t.kind} = 'room'`),
    uniqueIndex('conversations_care_unique')
      .on(t.clinicId, t.doctorId, t.patientId)
      .where(sql`${t.kind} = 'care'`),
    index('conversations_patient_idx').on(t.patientId),
    index('conversations_doctor_idx').on(t.doctorId),
  ],
);

/**
 * One row per message; the body sealed under the conversation's data key (the message id is the
 * associated data). The id is the sender's: a retried send finds its row and gets the same seq.
 * Edits move the previous body to message_revisions; a delete keeps the body for the record.
 */
export const messages = pgTable(
  'messages',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id),
    seq: seqCol('seq').notNull(),
    id: text('id').notNull(),
    /** A user id, or a consultation guest id (senderKind 'guest'). */
    senderId: text('sender_id').notNull(),
    senderKind: text('sender_kind', { enum: ['user', 'guest'] }).notNull(),
    audience: text('audience', { enum: MESSAGE_AUDIENCES }).notNull().default('all'),
    sealedBody: bytea('sealed_body').notNull(),
    revision: integer('revision').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    editedAt: ts('edited_at'),
    deletedAt: ts('deleted_at'),
    /** The conversation's change number of this message's latest edit or delete; null while unchanged. */
    changeSeq: seqCol('change_seq'),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.seq] }),
    uniqueIndex('messages_id_unique').on(t.conversationId, t.id),
    index('messages_change_idx')
      .on(t.conversationId, t.changeSeq)
      .where(sql`${t.changeSeq} is not null`),
  ],
);

/** Earlier bodies of an edited message, sealed as the message was: kept for the record and the audit trail. */
export const messageRevisions = pgTable(
  'message_revisions',
  {
    conversationId: text('conversation_id').notNull(),
    messageId: text('message_id').notNull(),
    revision: integer('revision').notNull(),
    sealedBody: bytea('sealed_body').notNull(),
    replacedAt: ts('replaced_at').notNull().defaultNow(),
    replacedBy: text('replaced_by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.messageId, t.revision] })],
);

/**
 * A member's receipts as watermarks (messages are ordered, so "read up to seq n" says it all) and
 * the unread notification's progress: notified_seq is the last seq an e-mail was sent for.
 */
export const conversationMembers = pgTable(
  'conversation_members',
  {
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id),
    memberId: text('member_id').notNull(),
    memberKind: text('member_kind', { enum: ['user', 'guest'] }).notNull(),
    deliveredSeq: seqCol('delivered_seq').notNull().default(0),
    readSeq: seqCol('read_seq').notNull().default(0),
    notifiedSeq: seqCol('notified_seq').notNull().default(0),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.memberId] }),
    index('conversation_members_member_idx').on(t.memberId),
  ],
);

/** Per-clinic messaging behaviour; a clinic without a row uses the defaults. */
export const clinicMessagingSettings = pgTable('clinic_messaging_settings', {
  clinicId: text('clinic_id')
    .primaryKey()
    .references(() => clinics.id),
  /** Off: only doctors open care threads; patients reply in them. */
  patientsMayOpenThreads: boolean('patients_may_open_threads').notNull().default(true),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});
