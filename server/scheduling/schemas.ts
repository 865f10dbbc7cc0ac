import { z } from 'zod';
import {
  CONSULT_KINDS,
  DEFAULT_ROOM_CAPACITY,
  MAX_ROOM_CAPACITY,
  MIN_ROOM_CAPACITY,
} from '../../db/schema/index.ts';
import { isValidTimeZone } from './zoned-time.ts';
import { daysBetween, dateTime, idSchema, localDate, text } from '../api/validation.ts';

// Request shapes for the scheduling API. Wall-clock times are 'HH:MM' in the doctor's zone.

export const jurisdictionSchema = z
  .string()
  .regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, "must be an ISO 3166 code such as 'DE' or 'US-NY'");
export const localDateSchema = localDate();
export const instantSchema = dateTime();
export const timeZoneSchema = z
  .string()
  .max(64, 'too long')
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Berlin' });
export const reasonSchema = text({
  min: 3,
  max: 500,
  multiline: true,
  tooShort: 'give a reason of at least 3 characters',
  tooLong: 'too long',
});
/** An optional free-text note with a status change or booking. */
const optionalReason = text({ max: 500, multiline: true, tooLong: 'too long' }).optional();
/** Cross-field checks only make sense once every field parsed; otherwise they only repeat the error. */
const fieldsValid = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

const wallTime = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be HH:MM (00:00-24:00)')
  .transform((t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3)));

export const weeklyBody = z.object({
  timeZone: timeZoneSchema,
  rules: z
    .array(
      z
        .object({
          weekday: z.number().int().min(1, '1 = Monday').max(7, '7 = Sunday'),
          start: wallTime,
          end: wallTime,
          validFrom: localDateSchema.optional(),
          validUntil: localDateSchema.optional(),
        })
        .refine((r) => r.start < r.end, {
          message: 'start must be before end',
          path: ['end'],
          ...fieldsValid,
        }),
    )
    .max(100),
});

export const exceptionBody = z
  .object({
    date: localDateSchema,
    kind: z.enum(['unavailable', 'available']),
    start: wallTime.optional(),
    end: wallTime.optional(),
  })
  .refine((e) => (e.start === undefined) === (e.end === undefined), {
    message: 'give both start and end, or neither',
    path: ['end'],
    ...fieldsValid,
  })
  .refine((e) => e.start === undefined || e.end === undefined || e.start < e.end, {
    message: 'start must be before end',
    path: ['end'],
    ...fieldsValid,
  })
  .refine((e) => e.kind === 'unavailable' || e.start !== undefined, {
    message: 'extra availability needs start and end',
    path: ['start'],
    ...fieldsValid,
  });

export const slotsQuery = z
  .object({ from: localDateSchema, to: localDateSchema, consultTypeId: idSchema })
  .refine((q) => q.from <= q.to, { message: 'must not be before from', path: ['to'], ...fieldsValid })
  .refine((q) => daysBetween(q.from, q.to) <= 62, {
    message: 'at most 62 days at a time',
    path: ['to'],
    ...fieldsValid,
  });

/** Exceptions are sparse (a few a month), so a year at a time is cheap and covers a schedule editor. */
export const scheduleQuery = z
  .object({ from: localDateSchema, to: localDateSchema })
  .refine((q) => q.from <= q.to, { message: 'must not be before from', path: ['to'], ...fieldsValid })
  .refine((q) => daysBetween(q.from, q.to) <= 366, {
    message: 'at most 366 days at a time',
    path: ['to'],
    ...fieldsValid,
  });

export const licenceBody = z
  .object({
    jurisdiction: jurisdictionSchema,
    number: text({ min: 1, max: 64 }),
    validFrom: instantSchema,
    expiresAt: instantSchema,
  })
  .refine((l) => l.validFrom < l.expiresAt, {
    message: 'must be after validFrom',
    path: ['expiresAt'],
    ...fieldsValid,
  });

export const settingsBody = z
  .object({
    requiresApproval: z.boolean().optional(),
    reminderOffsetsMinutes: z
      .array(
        z
          .number()
          .int()
          .min(5, 'at least 5 minutes')
          .max(14 * 1440, 'at most 14 days'),
      )
      .max(5, 'at most 5 reminders')
      .optional(),
  })
  .refine((b) => b.requiresApproval !== undefined || b.reminderOffsetsMinutes !== undefined, {
    message: 'nothing to change',
  });

const consultTypeFields = {
  name: text({ min: 1, max: 120 }),
  kind: z.enum(CONSULT_KINDS),
  durationMinutes: z.number().int().min(5, 'at least 5 minutes').max(480, 'at most 480 minutes'),
  priceMinor: z.number().int('integer minor units (e.g. cents)').min(0).max(10_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  /** Participants one call of this type admits (a group session or a talk: more than a consultation's 8). */
  roomCapacity: z
    .number()
    .int('a whole number of participants')
    .min(MIN_ROOM_CAPACITY, `at least ${MIN_ROOM_CAPACITY} participants`)
    .max(MAX_ROOM_CAPACITY, `at most ${MAX_ROOM_CAPACITY} participants`),
};
export const consultTypeBody = z.object({
  ...consultTypeFields,
  roomCapacity: consultTypeFields.roomCapacity.default(DEFAULT_ROOM_CAPACITY),
});

/**
 * Same field rules as creation. The kind stays fixed (a video consult does not become an on-site
 * one under the same id); saying so beats silently dropping the field.
 */
export const consultTypePatchBody = z
  .object({
    name: consultTypeFields.name.optional(),
    durationMinutes: consultTypeFields.durationMinutes.optional(),
    priceMinor: consultTypeFields.priceMinor.optional(),
    currency: consultTypeFields.currency.optional(),
    roomCapacity: consultTypeFields.roomCapacity.optional(),
    active: z.boolean().optional(),
    kind: z.never({ message: 'cannot be changed; create a new consult type instead' }).optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message: 'nothing to change',
    ...fieldsValid,
  });
export const consultTypesQuery = z.object({
  includeInactive: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
});

export const questionnaireSchema = z
  .array(
    z.object({
      questionId: text({ min: 1, max: 64, trim: false }),
      answer: z.union([text({ max: 2000, multiline: true, trim: false }), z.number(), z.boolean()]),
    }),
  )
  .max(50, 'at most 50 answers');

export const bookBody = z.object({
  clinicId: idSchema,
  doctorId: idSchema,
  patientId: idSchema,
  consultTypeId: idSchema,
  startsAt: instantSchema,
  patientJurisdiction: jurisdictionSchema,
  questionnaire: questionnaireSchema.optional(),
  reason: optionalReason,
});

export const rescheduleBody = z.object({ startsAt: instantSchema, reason: reasonSchema });
export const cancelBody = z.object({ reason: reasonSchema });
export const declineBody = z.object({
  reason: text({
    min: 1,
    max: 500,
    multiline: true,
    tooShort: 'must not be empty',
    tooLong: 'too long',
  }).optional(),
});
export const transitionBody = z.object({
  to: z.enum(['confirmed', 'checked_in', 'in_call', 'completed', 'no_show']),
  reason: optionalReason,
});

export const dispatchBody = z.object({
  clinicId: idSchema,
  patientId: idSchema,
  consultTypeId: idSchema,
  patientJurisdiction: jurisdictionSchema,
  doctorIds: z
    .array(idSchema)
    .min(1, 'at least one doctor')
    .max(20)
    .refine((ids) => new Set(ids).size === ids.length, { message: 'each doctor once' }),
  intervalSeconds: z.number().int().min(10, 'at least 10 seconds').max(3600),
});
