import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  appointmentEvents,
  appointments,
  reminderJobs,
  type AppointmentStatus,
} from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { ProblemError } from '../api/errors.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { BookingContextLoader } from './booking-context.ts';
import { BookingWriter, type NewBooking } from './booking-writer.ts';
import { checkBookableTime, checkClinicParts } from './booking-validation.ts';
import { appointmentResource, type AppointmentResource, type AppointmentRow } from './appointment-facts.ts';
import { lockDoctorCalendar, reminderRows, replanReminders } from './reminder-plan.ts';
import {
  EXCLUSION_VIOLATION,
  PATIENT_OVERLAP_CONSTRAINT,
  retryOnDeadlock,
  sqlConstraint,
  sqlState,
} from './sql-state.ts';
import { ACTION_FOR_TARGET, RESCHEDULABLE, canTransition, type TargetStatus } from './state-machine.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { announce, outboxRow, type WebhookEvent } from '../webhooks/catalogue.ts';

export type QuestionnaireAnswer = { questionId: string; answer: string | number | boolean };
export type BookInput = {
  clinicId: string;
  doctorId: string;
  patientId: string;
  consultTypeId: string;
  startsAt: Date;
  patientJurisdiction: string;
  questionnaire?: QuestionnaireAnswer[] | undefined;
  reason?: string | undefined;
};

export type BookingDeps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  now: () => Date;
  /** Optional phase timings (load test): 'authorize', 'validate', 'write'. */
  observe?: ((phase: string, ms: number) => void) | undefined;
  /** After a status change committed (a cancelled consultation's room is closed). */
  onStatusChange?: ((appointmentId: string, to: AppointmentStatus) => Promise<void>) | undefined;
};

const slotTaken = () =>
  new ProblemError(409, PROBLEM.slotTaken, 'the doctor already has an appointment overlapping this time');
const patientBusy = () =>
  new ProblemError(409, PROBLEM.patientBusy, 'the patient already has an appointment overlapping this time');

/** Who acted for whom, as the activity log records it: guardians and operators act on behalf of the patient. */
function onBehalfOf(actor: Actor, patientId: string) {
  if (actor.onBehalfOf) return actor.onBehalfOf;
  return actor.userId !== patientId && actor.role === 'operator' ? patientId : null;
}

/**
 * Booking, rescheduling, cancelling and every other status change. Each method asks the policy
 * first (which audits the PHI decision), then writes the change and its activity-log row in one
 * transaction. Double bookings are refused by the database (exclusion constraint), not by a read.
 */
export class BookingService {
  private readonly contexts: BookingContextLoader;
  private readonly writer: BookingWriter;

  constructor(private readonly deps: BookingDeps) {
    this.contexts = new BookingContextLoader(deps.db);
    this.writer = new BookingWriter(deps.db, deps.audit);
  }

  async book(actor: Actor, input: BookInput): Promise<AppointmentRow> {
    const { policy } = this.deps;
    const id = randomUUID();
    let t = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      this.deps.observe?.(name, now - t);
      t = now;
    };
    const ctx = await this.contexts.load({
      patientId: input.patientId,
      clinicId: input.clinicId,
      doctorId: input.doctorId,
      consultTypeId: input.consultTypeId,
      jurisdiction: input.patientJurisdiction,
      around: input.startsAt,
    });
    // The same 404 the policy gives for a patient the actor may not know of (see visibility.ts).
    if (!ctx.patient) throw new ProblemError(404, PROBLEM.notFound, 'no such patient');
    const resource: AppointmentResource = {
      type: 'appointment',
      appointmentId: id,
      clinicId: input.clinicId,
      doctorId: input.doctorId,
      patient: ctx.patient,
    };
    phase('context');
    const { entry: decision } = await policy.requireDeferred(actor, 'appointment.book', resource);
    phase('policy');
    const consultType = checkClinicParts(ctx);
    const settings = ctx.settings;
    const now = this.deps.now();
    const endsAt = new Date(input.startsAt.getTime() + consultType.durationMinutes * 60_000);
    checkBookableTime(ctx, {
      startsAt: input.startsAt,
      endsAt,
      slotMinutes: consultType.durationMinutes,
      now,
    });
    phase('validate');

    const status: AppointmentStatus = settings.requiresApproval ? 'requested' : 'confirmed';
    const failed = (reason: string) =>
      this.deps.audit.entry({
        action: 'appointment.book',
        outcome: 'failed',
        resourceType: 'appointment',
        resourceId: id,
        patientId: input.patientId,
        clinicId: input.clinicId,
        reason,
      });
    const who = {
      actorId: actor.userId,
      actorRole: actor.role,
      onBehalfOf: onBehalfOf(actor, input.patientId),
    };
    const events: NewBooking['events'] = [
      {
        appointmentId: id,
        fromStatus: null,
        toStatus: 'requested',
        ...who,
        event: 'booked',
        reason: input.reason ?? null,
      },
    ];
    // Approval off: the system confirms at once (actor null = system), and the log says so.
    if (status === 'confirmed')
      events.push({
        appointmentId: id,
        fromStatus: 'requested',
        toStatus: 'confirmed',
        event: 'auto_confirmed',
      });
    const outcome = await this.writer.write({
      appointment: {
        id,
        clinicId: input.clinicId,
        doctorId: input.doctorId,
        patientId: input.patientId,
        consultTypeId: consultType.id,
        kind: consultType.kind,
        status,
        startsAt: input.startsAt,
        endsAt,
        patientJurisdiction: input.patientJurisdiction,
        priceMinor: consultType.priceMinor,
        currency: consultType.currency,
        questionnaire: input.questionnaire ?? null,
        bookedBy: actor.userId,
        createdAt: now,
        updatedAt: now,
      },
      events,
      reminders: reminderRows(id, input.startsAt, settings.reminderOffsetsMinutes, now),
      outbox: [
        outboxRow(
          input.clinicId,
          'appointment.booked',
          { appointmentId: id, patientId: input.patientId, doctorId: input.doctorId, status },
          now,
        ),
      ],
      audit: decision,
    });
    phase('write + audit');
    if (outcome.ok) return outcome.row;
    if (outcome.taken) {
      await this.deps.audit.append(failed(outcome.taken === 'doctor' ? 'slot_taken' : 'patient_busy'));
      throw outcome.taken === 'doctor' ? slotTaken() : patientBusy();
    }
    // The write and its audit entry rolled back together; the decision and the failure are still recorded.
    await Promise.all([
      decision && this.deps.audit.append(decision),
      this.deps.audit.append(failed('error')),
    ]);
    throw outcome.error;
  }

  async reschedule(
    actor: Actor,
    appointmentId: string,
    input: { startsAt: Date; reason: string },
  ): Promise<AppointmentRow> {
    const { db, policy } = this.deps;
    const { row, resource } = await appointmentResource(db, appointmentId);
    const { entry: decision } = await policy.requireDeferred(actor, 'appointment.reschedule', resource, {
      reason: 'reschedule',
    });
    if (!RESCHEDULABLE.includes(row.status))
      throw new ProblemError(
        409,
        PROBLEM.invalidTransition,
        `an appointment that is ${row.status} cannot be rescheduled`,
      );
    const now = this.deps.now();
    const endsAt = new Date(input.startsAt.getTime() + (row.endsAt.getTime() - row.startsAt.getTime()));
    const ctx = await this.contexts.load({
      patientId: row.patientId,
      clinicId: row.clinicId,
      doctorId: row.doctorId,
      consultTypeId: row.consultTypeId,
      jurisdiction: row.patientJurisdiction,
      around: input.startsAt,
    });
    // The grid GET /slots shows for the type now; a retired type keeps the appointment's own length.
    const slotMinutes =
      ctx.consultType?.durationMinutes ?? (row.endsAt.getTime() - row.startsAt.getTime()) / 60_000;
    checkBookableTime(ctx, { startsAt: input.startsAt, endsAt, slotMinutes, now });
    const settings = ctx.settings;
    // With approval on, a moved appointment needs approving again.
    const status: AppointmentStatus = settings.requiresApproval ? 'requested' : row.status;
    try {
      return await retryOnDeadlock(() =>
        db.transaction(async (tx) => {
          await lockDoctorCalendar(tx, row.doctorId);
          const [updated] = await tx
            .update(appointments)
            .set({ startsAt: input.startsAt, endsAt, status, updatedAt: now })
            .where(and(eq(appointments.id, appointmentId), eq(appointments.status, row.status)))
            .returning();
          if (!updated)
            throw new ProblemError(
              409,
              PROBLEM.conflict,
              'the appointment changed meanwhile; reload and retry',
            );
          await tx.insert(appointmentEvents).values({
            appointmentId,
            fromStatus: row.status,
            toStatus: status,
            actorId: actor.userId,
            actorRole: actor.role,
            onBehalfOf: onBehalfOf(actor, row.patientId),
            event: 'rescheduled',
            reason: input.reason,
          });
          await replanReminders(tx, appointmentId, input.startsAt, settings.reminderOffsetsMinutes, now);
          await announce(tx, row.clinicId, 'appointment.rescheduled', eventIds(updated), now);
          // The decision's audit entry commits with the change it allowed, or not at all.
          if (decision) await this.deps.audit.appendWithin(tx, [decision]);
          return updated;
        }),
      );
    } catch (err) {
      if (sqlState(err) === EXCLUSION_VIOLATION)
        throw sqlConstraint(err) === PATIENT_OVERLAP_CONSTRAINT ? patientBusy() : slotTaken();
      throw err;
    }
  }

  /** Any status change along the state machine; invalid ones are 409 problem+json. */
  async transition(
    actor: Actor,
    appointmentId: string,
    to: TargetStatus,
    reason: string | null,
  ): Promise<AppointmentRow> {
    const { db, policy } = this.deps;
    const { row, resource } = await appointmentResource(db, appointmentId);
    const { entry: decision } = await policy.requireDeferred(actor, ACTION_FOR_TARGET[to], resource);
    if (!canTransition(row.status, to))
      throw new ProblemError(409, PROBLEM.invalidTransition, `cannot go from ${row.status} to ${to}`);
    const now = this.deps.now();
    const updated = await db.transaction(async (tx) => {
      // Conditional on the status we checked: two racing changes cannot both apply.
      const [updated] = await tx
        .update(appointments)
        .set({ status: to, updatedAt: now })
        .where(and(eq(appointments.id, appointmentId), eq(appointments.status, row.status)))
        .returning();
      if (!updated)
        throw new ProblemError(
          409,
          PROBLEM.invalidTransition,
          'the appointment changed meanwhile; reload and retry',
        );
      await tx.insert(appointmentEvents).values({
        appointmentId,
        fromStatus: row.status,
        toStatus: to,
        actorId: actor.userId,
        actorRole: actor.role,
        onBehalfOf: onBehalfOf(actor, row.patientId),
        event: to,
        reason,
      });
      if (to === 'cancelled' || to === 'no_show')
        await tx
          .update(reminderJobs)
          .set({ status: 'skipped' })
          .where(and(eq(reminderJobs.appointmentId, appointmentId), eq(reminderJobs.status, 'pending')));
      const event = WEBHOOK_EVENT_FOR_TARGET[to];
      if (event) await announce(tx, row.clinicId, event, eventIds(updated), now);
      if (decision) await this.deps.audit.appendWithin(tx, [decision]);
      return updated;
    });
    await this.deps.onStatusChange?.(appointmentId, to);
    return updated;
  }

  /** The appointment as the actor may see it: questionnaire answers only for the patient side and the doctor. */
  async view(actor: Actor, appointmentId: string) {
    const { row, resource } = await appointmentResource(this.deps.db, appointmentId);
    await this.deps.policy.require(actor, 'appointment.read', resource);
    const answers = await this.deps.policy.allows(actor, 'appointment.questionnaire.read', resource);
    const events = await this.deps.db
      .select({
        fromStatus: appointmentEvents.fromStatus,
        toStatus: appointmentEvents.toStatus,
        event: appointmentEvents.event,
        actorId: appointmentEvents.actorId,
        actorRole: appointmentEvents.actorRole,
        onBehalfOf: appointmentEvents.onBehalfOf,
        reason: appointmentEvents.reason,
        at: appointmentEvents.at,
      })
      .from(appointmentEvents)
      .where(eq(appointmentEvents.appointmentId, appointmentId))
      .orderBy(asc(appointmentEvents.seq));
    return { ...publicFields(row), ...(answers ? { questionnaire: row.questionnaire } : {}), events };
  }

  async listForPatient(actor: Actor, patientId: string) {
    await this.deps.policy.require(
      actor,
      'patient.appointments.list',
      await this.deps.policy.patient(patientId),
    );
    return this.deps.db
      .select()
      .from(appointments)
      .where(eq(appointments.patientId, patientId))
      .orderBy(asc(appointments.startsAt))
      .then((rows) => rows.map(publicFields));
  }

  listForDoctor(doctorId: string, statuses?: AppointmentStatus[]) {
    const where = statuses
      ? and(eq(appointments.doctorId, doctorId), inArray(appointments.status, statuses))
      : eq(appointments.doctorId, doctorId);
    return this.deps.db
      .select()
      .from(appointments)
      .where(where)
      .orderBy(asc(appointments.startsAt))
      .then((rows) => rows.map(publicFields));
  }
}

/** The status changes clinics can subscribe to (moving into in_call is the consultation starting). */
const WEBHOOK_EVENT_FOR_TARGET: Partial<Record<TargetStatus, WebhookEvent>> = {
  cancelled: 'appointment.cancelled',
  completed: 'appointment.completed',
  in_call: 'consultation.started',
};

/** What an appointment's webhook events carry: ids and the status, nothing about the patient. */
export const eventIds = (row: AppointmentRow) => ({
  appointmentId: row.id,
  patientId: row.patientId,
  doctorId: row.doctorId,
  status: row.status,
});

/** Everything but the questionnaire (PHI shown only to some). */
export function publicFields(row: AppointmentRow) {
  const { questionnaire: _omit, ...rest } = row;
  return rest;
}
