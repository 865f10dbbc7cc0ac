import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';
import { clinics, users } from './identity.ts';

// Scheduling. The no-double-booking exclusion constraint on appointments cannot be
// expressed in drizzle: it is hand-appended to the generated migration (0002_scheduling.sql).

const ts = (name: string) => timestamp(name, { withTimezone: true });

export const CONSULT_KINDS = ['video', 'chat', 'on_site'] as const;
/** Room capacity of a consult type: the default is a consultation's; a group session or talk goes up to the maximum. */
export const DEFAULT_ROOM_CAPACITY = 8;
export const MIN_ROOM_CAPACITY = 2;
export const MAX_ROOM_CAPACITY = 200;
export type ConsultKind = (typeof CONSULT_KINDS)[number];
export const APPOINTMENT_STATUSES = [
  'requested',
  'confirmed',
  'checked_in',
  'in_call',
  'completed',
  'cancelled',
  'no_show',
] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** Per-clinic scheduling behaviour; a clinic without a row uses the defaults below. */
export const clinicSchedulingSettings = pgTable('clinic_scheduling_settings', {
  clinicId: text('clinic_id')
    .primaryKey()
    .references(() => clinics.id),
  /** On: bookings wait in 'requested' until an operator confirms. Off: auto-confirmed. */
  requiresApproval: boolean('requires_approval').notNull().default(false),
  reminderOffsetsMinutes: integer('reminder_offsets_minutes')
    .array()
    .notNull()
    .default(sql`'{1440,60}'::integer[]`),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const consultTypes = pgTable(
  'consult_types',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    name: text('name').notNull(),
    kind: text('kind', { enum: CONSULT_KINDS }).notNull(),
    durationMinutes: integer('duration_minutes').notNull(),
    /** Integer minor units (cents) so no rounding ever happens on money. */
    priceMinor: integer('price_minor').notNull(),
    currency: text('currency').notNull(),
    active: boolean('active').notNull().default(true),
    /** Participants one call of this type admits: 8 for a consultation, up to 200 for a group or a talk. */
    roomCapacity: integer('room_capacity').notNull().default(DEFAULT_ROOM_CAPACITY),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('consult_types_clinic_idx').on(t.clinicId),
    check(
      'consult_types_room_capacity_check',
      sql`${t.roomCapacity} between ${sql.raw(String(MIN_ROOM_CAPACITY))} and ${sql.raw(String(MAX_ROOM_CAPACITY))}`,
    ),
    check('consult_types_duration_check', sql`${t.durationMinutes} between 5 and 480`),
    check('consult_types_price_check', sql`${t.priceMinor} >= 0`),
    check('consult_types_currency_check', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);

/** The doctor's IANA time zone: weekly rules and exceptions are wall-clock times in it. */
export const doctorSchedules = pgTable('doctor_schedules', {
  doctorId: text('doctor_id')
    .primaryKey()
    .references(() => users.id),
  timeZone: text('time_zone').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const availabilityRules = pgTable(
  'availability_rules',
  {
    id: text('id').primaryKey(),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    /** ISO weekday: 1 = Monday ... 7 = Sunday. */
    weekday: smallint('weekday').notNull(),
    /** Minutes after local midnight. */
    startMinute: integer('start_minute').notNull(),
    endMinute: integer('end_minute').notNull(),
    validFrom: date('valid_from'),
    validUntil: date('valid_until'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('availability_rules_doctor_idx').on(t.doctorId),
    check('availability_rules_weekday_check', sql`${t.weekday} between 1 and 7`),
    check(
      'availability_rules_window_check',
      sql`${t.startMinute} >= 0 and ${t.endMinute} <= 1440 and ${t.startMinute} < ${t.endMinute}`,
    ),
  ],
);

/** A local date on which the weekly rules do not apply as usual: time off, or extra hours. */
export const availabilityExceptions = pgTable(
  'availability_exceptions',
  {
    id: text('id').primaryKey(),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    date: date('date').notNull(),
    kind: text('kind', { enum: ['unavailable', 'available'] }).notNull(),
    /** Null start/end on 'unavailable' = the whole day. */
    startMinute: integer('start_minute'),
    endMinute: integer('end_minute'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('availability_exceptions_doctor_idx').on(t.doctorId, t.date)],
);

export const doctorLicences = pgTable(
  'doctor_licences',
  {
    id: text('id').primaryKey(),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    /** ISO 3166-1 alpha-2, optionally with a subdivision: 'DE', 'US-NY'. */
    jurisdiction: text('jurisdiction').notNull(),
    number: text('number').notNull(),
    validFrom: ts('valid_from').notNull(),
    expiresAt: ts('expires_at').notNull(),
    createdBy: text('created_by')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('doctor_licences_doctor_idx').on(t.doctorId, t.jurisdiction),
    index('doctor_licences_expiry_idx').on(t.expiresAt),
  ],
);

/** One row per licence per threshold (180/90/30 days): the notice is sent once, retried until sent. */
export const licenceNotices = pgTable(
  'licence_notices',
  {
    licenceId: text('licence_id')
      .notNull()
      .references(() => doctorLicences.id),
    thresholdDays: integer('threshold_days').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    sentAt: ts('sent_at'),
  },
  (t) => [primaryKey({ columns: [t.licenceId, t.thresholdDays] })],
);

export const appointments = pgTable(
  'appointments',
  {
    id: text('id').primaryKey(),
    clinicId: text('clinic_id')
      .notNull()
      .references(() => clinics.id),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    patientId: text('patient_id')
      .notNull()
      .references(() => users.id),
    consultTypeId: text('consult_type_id')
      .notNull()
      .references(() => consultTypes.id),
    kind: text('kind', { enum: CONSULT_KINDS }).notNull(),
    status: text('status', { enum: APPOINTMENT_STATUSES }).notNull(),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at').notNull(),
    patientJurisdiction: text('patient_jurisdiction').notNull(),
    priceMinor: integer('price_minor').notNull(),
    currency: text('currency').notNull(),
    /** Pre-screening answers (PHI): returned only to the patient side and the treating doctor. */
    questionnaire: jsonb('questionnaire'),
    bookedBy: text('booked_by')
      .notNull()
      .references(() => users.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('appointments_doctor_idx').on(t.doctorId, t.startsAt),
    index('appointments_patient_idx').on(t.patientId, t.startsAt),
    check('appointments_range_check', sql`${t.endsAt} > ${t.startsAt}`),
  ],
);

/** Every status change: who, when, why, on whose behalf. Append-only by convention of the service. */
export const appointmentEvents = pgTable(
  'appointment_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    appointmentId: text('appointment_id')
      .notNull()
      .references(() => appointments.id),
    fromStatus: text('from_status', { enum: APPOINTMENT_STATUSES }),
    toStatus: text('to_status', { enum: APPOINTMENT_STATUSES }).notNull(),
    /** Null = the system (auto-confirm). */
    actorId: text('actor_id'),
    actorRole: text('actor_role'),
    onBehalfOf: text('on_behalf_of'),
    /** 'booked', 'rescheduled', 'cancelled' ... plus the free-text reason the person gave. */
    event: text('event').notNull(),
    reason: text('reason'),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [index('appointment_events_appointment_idx').on(t.appointmentId, t.seq)],
);

/** Reminder outbox: claimed with FOR UPDATE SKIP LOCKED under a lease, delivered at least once. */
export const reminderJobs = pgTable(
  'reminder_jobs',
  {
    id: text('id').primaryKey(),
    appointmentId: text('appointment_id')
      .notNull()
      .references(() => appointments.id),
    offsetMinutes: integer('offset_minutes').notNull(),
    dueAt: ts('due_at').notNull(),
    status: text('status', { enum: ['pending', 'sent', 'skipped'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    leaseToken: text('lease_token'),
    leaseUntil: ts('lease_until'),
    sentAt: ts('sent_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('reminder_jobs_due_idx').on(t.status, t.dueAt),
    index('reminder_jobs_appointment_idx').on(t.appointmentId),
  ],
);

export const dispatchRequests = pgTable('dispatch_requests', {
  id: text('id').primaryKey(),
  clinicId: text('clinic_id')
    .notNull()
    .references(() => clinics.id),
  patientId: text('patient_id')
    .notNull()
    .references(() => users.id),
  consultTypeId: text('consult_type_id')
    .notNull()
    .references(() => consultTypes.id),
  patientJurisdiction: text('patient_jurisdiction').notNull(),
  /** 'exhausted': every doctor declined before anyone accepted (the operator has to act). */
  status: text('status', { enum: ['open', 'accepted', 'expired', 'cancelled', 'exhausted'] }).notNull(),
  intervalSeconds: integer('interval_seconds').notNull(),
  startedAt: ts('started_at').notNull(),
  /** startedAt + (number of doctors) x interval, earlier by what declines skipped: after this nobody can accept. */
  expiresAt: ts('expires_at').notNull(),
  acceptedBy: text('accepted_by').references(() => users.id),
  appointmentId: text('appointment_id').references(() => appointments.id),
  createdBy: text('created_by')
    .notNull()
    .references(() => users.id),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const dispatchOffers = pgTable(
  'dispatch_offers',
  {
    requestId: text('request_id')
      .notNull()
      .references(() => dispatchRequests.id),
    doctorId: text('doctor_id')
      .notNull()
      .references(() => users.id),
    position: integer('position').notNull(),
    /** When this doctor gets the offer: startedAt + position x interval, earlier when someone before declined. */
    offeredAt: ts('offered_at').notNull(),
    /** A plain text column (no CHECK), so new values need no migration. */
    status: text('status', { enum: ['pending', 'accepted', 'withdrawn', 'expired', 'declined'] })
      .notNull()
      .default('pending'),
    notifiedAt: ts('notified_at'),
    respondedAt: ts('responded_at'),
  },
  (t) => [
    primaryKey({ columns: [t.requestId, t.doctorId] }),
    unique('dispatch_offers_position_unique').on(t.requestId, t.position),
    index('dispatch_offers_doctor_idx').on(t.doctorId),
  ],
);
