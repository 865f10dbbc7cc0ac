import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, inArray, isNull, lte } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  appointmentEvents,
  appointments,
  dispatchOffers,
  dispatchRequests,
  users,
} from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { ClinicSchedulingService } from './clinic-settings.ts';
import { contactsOf } from './contacts.ts';
import { declineOffer } from './dispatch-decline.ts';
import { isDoctorOfClinic } from './appointment-facts.ts';
import { lockDoctorCalendar } from './reminder-plan.ts';
import type { LicenceService } from './licences.ts';
import {
  EXCLUSION_VIOLATION,
  PATIENT_OVERLAP_CONSTRAINT,
  retryOnDeadlock,
  sqlConstraint,
  sqlState,
} from './sql-state.ts';
import { announce } from '../webhooks/catalogue.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type DispatchInput = {
  clinicId: string;
  patientId: string;
  consultTypeId: string;
  patientJurisdiction: string;
  doctorIds: string[];
  intervalSeconds: number;
};
export type DispatchDeps = {
  db: Db;
  policy: Policy;
  clinics: ClinicSchedulingService;
  licences: LicenceService;
  provider: NotificationProvider;
  now: () => Date;
};

/**
 * Urgent dispatch: an operator offers a consult to doctors one after another. Doctor i gets the
 * offer at start + i x interval (earlier doctors keep it); the request expires at start + n x
 * interval. The first doctor to accept wins through a conditional UPDATE on the request (status
 * still 'open' and not expired), and in the same transaction the consult becomes a confirmed
 * appointment starting now and every other offer is withdrawn: all or nothing.
 */
export class DispatchService {
  constructor(private readonly deps: DispatchDeps) {}

  async create(actor: Actor, input: DispatchInput) {
    const { db, policy } = this.deps;
    const id = randomUUID();
    const patient = await policy.patient(input.patientId);
    await policy.require(
      actor,
      'dispatch.create',
      { type: 'appointment', appointmentId: null, clinicId: input.clinicId, doctorId: null, patient },
      { resourceId: id },
    );
    const consultType = await this.deps.clinics.consultType(input.clinicId, input.consultTypeId);
    const now = this.deps.now();
    const end = new Date(now.getTime() + consultType.durationMinutes * 60_000);
    const errors = [];
    for (const [i, doctorId] of input.doctorIds.entries()) {
      if (!(await isDoctorOfClinic(db, doctorId, input.clinicId)))
        errors.push({ field: `doctorIds.${i}`, message: 'not a doctor of this clinic' });
      else if (!(await this.deps.licences.covers(doctorId, input.patientJurisdiction, now, end)))
        errors.push({ field: `doctorIds.${i}`, message: "no valid licence for the patient's jurisdiction" });
    }
    if (errors.length)
      throw new ProblemError(422, PROBLEM.invalidDoctors, 'some doctors cannot take this consult', errors);
    const step = input.intervalSeconds * 1000;
    await db.transaction(async (tx) => {
      await tx.insert(dispatchRequests).values({
        id,
        clinicId: input.clinicId,
        patientId: input.patientId,
        consultTypeId: input.consultTypeId,
        patientJurisdiction: input.patientJurisdiction,
        status: 'open',
        intervalSeconds: input.intervalSeconds,
        startedAt: now,
        expiresAt: new Date(now.getTime() + input.doctorIds.length * step),
        createdBy: actor.userId,
      });
      await tx.insert(dispatchOffers).values(
        input.doctorIds.map((doctorId, position) => ({
          requestId: id,
          doctorId,
          position,
          offeredAt: new Date(now.getTime() + position * step),
        })),
      );
    });
    return this.status(id);
  }

  async accept(actor: Actor, requestId: string) {
    const { db, policy } = this.deps;
    const request = await this.request(requestId);
    const now = this.deps.now();
    const offers = await db.select().from(dispatchOffers).where(eq(dispatchOffers.requestId, requestId));
    // Only doctors whose turn has come may accept.
    const offeredDoctorIds = offers.filter((o) => o.offeredAt <= now).map((o) => o.doctorId);
    await policy.require(actor, 'dispatch.respond', {
      type: 'dispatch_offer',
      requestId,
      clinicId: request.clinicId,
      patientId: request.patientId,
      offeredDoctorIds,
    });
    if (offers.find((o) => o.doctorId === actor.userId)?.status === 'declined') throw declinedAlready();
    // The type may have been retired since the operator started this: the consult still goes ahead.
    const consultType = await this.deps.clinics.consultType(request.clinicId, request.consultTypeId, {
      includeInactive: true,
    });
    const appointmentId = randomUUID();
    try {
      await retryOnDeadlock(() =>
        db.transaction(async (tx) => {
          const [won] = await tx
            .update(dispatchRequests)
            .set({ status: 'accepted', acceptedBy: actor.userId })
            .where(
              and(
                eq(dispatchRequests.id, requestId),
                eq(dispatchRequests.status, 'open'),
                gt(dispatchRequests.expiresAt, now),
              ),
            )
            .returning({ id: dispatchRequests.id });
          if (!won)
            throw new ProblemError(
              409,
              PROBLEM.dispatchClosed,
              'this consult was already taken or has expired',
            );
          // Conditional too: a decline that committed after the check above must still win.
          const [mine] = await tx
            .update(dispatchOffers)
            .set({ status: 'accepted', respondedAt: now })
            .where(
              and(
                eq(dispatchOffers.requestId, requestId),
                eq(dispatchOffers.doctorId, actor.userId),
                eq(dispatchOffers.status, 'pending'),
              ),
            )
            .returning({ doctorId: dispatchOffers.doctorId });
          if (!mine) throw declinedAlready();
          await lockDoctorCalendar(tx, actor.userId);
          await tx.insert(appointments).values({
            id: appointmentId,
            clinicId: request.clinicId,
            doctorId: actor.userId,
            patientId: request.patientId,
            consultTypeId: consultType.id,
            kind: consultType.kind,
            status: 'confirmed',
            startsAt: now,
            endsAt: new Date(now.getTime() + consultType.durationMinutes * 60_000),
            patientJurisdiction: request.patientJurisdiction,
            priceMinor: consultType.priceMinor,
            currency: consultType.currency,
            bookedBy: request.createdBy,
          });
          await tx.insert(appointmentEvents).values([
            {
              appointmentId,
              fromStatus: null,
              toStatus: 'requested',
              actorId: request.createdBy,
              actorRole: 'operator',
              onBehalfOf: request.patientId,
              event: 'dispatched',
            },
            {
              appointmentId,
              fromStatus: 'requested',
              toStatus: 'confirmed',
              actorId: actor.userId,
              actorRole: actor.role,
              event: 'dispatch_accepted',
            },
          ]);
          await tx.update(dispatchRequests).set({ appointmentId }).where(eq(dispatchRequests.id, requestId));
          await announce(tx, request.clinicId, 'appointment.booked', {
            appointmentId,
            patientId: request.patientId,
            doctorId: actor.userId,
            status: 'confirmed',
          });
          await tx
            .update(dispatchOffers)
            .set({ status: 'withdrawn', respondedAt: now })
            .where(and(eq(dispatchOffers.requestId, requestId), eq(dispatchOffers.status, 'pending')));
        }),
      );
    } catch (err) {
      // The doctor is busy right now (another appointment overlaps): the request stays open for the others.
      if (sqlState(err) === EXCLUSION_VIOLATION) {
        if (sqlConstraint(err) === PATIENT_OVERLAP_CONSTRAINT)
          throw new ProblemError(
            409,
            PROBLEM.patientBusy,
            'the patient has another appointment overlapping this consult',
          );
        throw new ProblemError(409, PROBLEM.slotTaken, 'you have an appointment overlapping this consult');
      }
      throw err;
    }
    return this.status(requestId);
  }

  /** The doctor turns the offer down; the next doctor gets it at once (see dispatch-decline.ts). */
  decline(actor: Actor, requestId: string, reason: string | undefined) {
    return declineOffer(this.deps, actor, requestId, reason);
  }

  /** Worker pass: expire what nobody took in time, and tell doctors whose turn has come. */
  async tick(): Promise<{ expired: number; notified: number }> {
    const { db } = this.deps;
    const now = this.deps.now();
    const expired = await db.transaction(async (tx) => {
      const rows = await tx
        .update(dispatchRequests)
        .set({ status: 'expired' })
        .where(and(eq(dispatchRequests.status, 'open'), lte(dispatchRequests.expiresAt, now)))
        .returning({ id: dispatchRequests.id });
      if (rows.length)
        await tx
          .update(dispatchOffers)
          .set({ status: 'expired' })
          .where(
            and(
              inArray(
                dispatchOffers.requestId,
                rows.map((r) => r.id),
              ),
              eq(dispatchOffers.status, 'pending'),
            ),
          );
      return rows.length;
    });
    const due = await db
      .select({ requestId: dispatchOffers.requestId, doctorId: dispatchOffers.doctorId })
      .from(dispatchOffers)
      .innerJoin(dispatchRequests, eq(dispatchRequests.id, dispatchOffers.requestId))
      .where(
        and(
          eq(dispatchRequests.status, 'open'),
          eq(dispatchOffers.status, 'pending'),
          isNull(dispatchOffers.notifiedAt),
          lte(dispatchOffers.offeredAt, now),
        ),
      );
    for (const o of due) {
      for (const to of await contactsOf(db, [o.doctorId])) {
        await this.deps.provider.send({
          channel: to.channel,
          recipient: to.recipient,
          template: 'dispatch_offer',
          ...(to.channel === 'email' ? { subject: 'Urgent consult offered to you' } : {}),
          body: `An urgent consult is waiting for a doctor on CareCall. Open the app to accept it (reference ${o.requestId.slice(0, 8)}).`,
          idempotencyKey: `dispatch_offer:${o.requestId}:${o.doctorId}`,
        });
      }
      await db
        .update(dispatchOffers)
        .set({ notifiedAt: now })
        .where(and(eq(dispatchOffers.requestId, o.requestId), eq(dispatchOffers.doctorId, o.doctorId)));
    }
    return { expired, notified: due.length };
  }

  /** For the operator's screen: status and offers (no patient data beyond the id). */
  async statusFor(actor: Actor, requestId: string) {
    const request = await this.request(requestId);
    await this.deps.policy.require(actor, 'clinic.dispatch.list', {
      type: 'clinic',
      clinicId: request.clinicId,
    });
    return this.status(requestId);
  }

  /** Offers currently open to this doctor. */
  /** The offers open to the calling doctor now. */
  async openOffersFor(actor: Actor) {
    await this.deps.policy.require(actor, 'doctor.dispatch_offers.list', {
      type: 'doctor',
      doctorId: actor.userId,
      clinicIds: actor.clinicIds,
    });
    const doctorId = actor.userId;
    const now = this.deps.now();
    return this.deps.db
      .select({
        requestId: dispatchRequests.id,
        consultTypeId: dispatchRequests.consultTypeId,
        offeredAt: dispatchOffers.offeredAt,
        expiresAt: dispatchRequests.expiresAt,
      })
      .from(dispatchOffers)
      .innerJoin(dispatchRequests, eq(dispatchRequests.id, dispatchOffers.requestId))
      .where(
        and(
          eq(dispatchOffers.doctorId, doctorId),
          eq(dispatchOffers.status, 'pending'),
          eq(dispatchRequests.status, 'open'),
          lte(dispatchOffers.offeredAt, now),
          gt(dispatchRequests.expiresAt, now),
        ),
      );
  }

  private async request(requestId: string) {
    const [request] = await this.deps.db
      .select()
      .from(dispatchRequests)
      .where(eq(dispatchRequests.id, requestId));
    if (!request) throw new ProblemError(404, PROBLEM.notFound, 'no such dispatch request');
    return request;
  }

  private async status(requestId: string) {
    const request = await this.request(requestId);
    const offers = await this.deps.db
      .select({
        doctorId: dispatchOffers.doctorId,
        position: dispatchOffers.position,
        offeredAt: dispatchOffers.offeredAt,
        status: dispatchOffers.status,
        doctorName: users.displayName,
      })
      .from(dispatchOffers)
      .innerJoin(users, eq(users.id, dispatchOffers.doctorId))
      .where(eq(dispatchOffers.requestId, requestId))
      .orderBy(asc(dispatchOffers.position));
    const { patientId: _p, ...rest } = request;
    return { ...rest, offers };
  }
}

const declinedAlready = () => new ProblemError(409, PROBLEM.offerDeclined, 'you declined this consult');
