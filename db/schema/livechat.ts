import { sql } from 'drizzle-orm';
import { index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { clinics, users } from './identity.ts';
import { conversations } from './messaging.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const LIVE_CHAT_STATUSES = ['queued', 'assigned', 'closed', 'offline'] as const;
export type LiveChatStatus = (typeof LIVE_CHAT_STATUSES)[number];
export const ROUTING_MODES = ['auto', 'manual'] as const;
export type RoutingMode = (typeof ROUTING_MODES)[number];
export const OPERATOR_STATUSES = ['available', 'away', 'offline'] as const;
export type OperatorStatus = (typeof OPERATOR_STATUSES)[number];

/** Per-clinic live chat behaviour; a clinic without a row routes automatically with a 120 s no-answer time. */
export const liveChatSettings = pgTable('live_chat_settings', {
  clinicId: text('clinic_id')
    .primaryKey()
    .references(() => clinics.id),
  routingMode: text('routing_mode', { enum: ROUTING_MODES }).notNull().default('auto'),
  noAnswerSeconds: integer('no_answer_seconds').notNull().default(120),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/**
 * The routing state of a live chat (its messages are the conversation's). queued_at is the FIFO
 * key: it is kept when a chat goes back to the queue unanswered, so it returns to its place.
 * 'offline': left while nobody was online; staff pick it up by hand.
 */
export const liveChats = pgTable(
  'live_chats',
  {
    conversationId: text('conversation_id')
      .primaryKey()
      .references(() => conversations.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    department: text('department'),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    status: text('status', { enum: LIVE_CHAT_STATUSES }).notNull(),
    queuedAt: ts('queued_at').notNull(),
    assigneeId: text('assignee_id').references(() => users.id),
    assignedAt: ts('assigned_at'),
    firstResponseAt: ts('first_response_at'),
    closedAt: ts('closed_at'),
    resolution: text('resolution'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('live_chats_queue_idx')
      .on(t.clinicId, t.queuedAt, t.conversationId)
      .where(sql`${t.status} = 'queued'`),
    index('live_chats_assignee_idx')
      .on(t.assigneeId)
      .where(sql`${t.status} = 'assigned'`),
    index('live_chats_recent_idx')
      .on(t.clinicId, t.assignedAt)
      .where(sql`${t.assignedAt} is not null`),
    index('live_chats_patient_idx').on(t.patientId),
  ],
);

/**
 * An operator's presence in one clinic. The lease is renewed by heartbeats; a node that dies stops
 * renewing, and routing treats an expired lease as offline (the sweeper then writes 'offline').
 */
export const operatorPresence = pgTable(
  'operator_presence',
  {
    operatorId: text('operator_id')
      .notNull()
      .references(() => users.id),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    status: text('status', { enum: OPERATOR_STATUSES }).notNull().default('offline'),
    capacity: integer('capacity').notNull().default(3),
    /** Only this department's chats (null: every chat of the clinic). */
    department: text('department'),
    leaseExpiresAt: ts('lease_expires_at').notNull().defaultNow(),
    /** Ties between operators with as many open chats go to the one idle longest. */
    lastAssignedAt: ts('last_assigned_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'operator_presence_pk', columns: [t.clinicId, t.operatorId] })],
);

export const liveChatCannedReplies = pgTable(
  'live_chat_canned_replies',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    shortcut: text('shortcut').notNull(),
    body: text('body').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('live_chat_canned_replies_shortcut').on(t.clinicId, t.shortcut)],
);
