import { and, desc, eq, gt, inArray, lt, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { appointments } from '../../db/schema/index.ts';
import type { ConsultationService, JoinTicket } from '../consultations/consultation-service.ts';
import {
  JOIN_CLOSES_AFTER_MS,
  JOIN_OPENS_BEFORE_MS,
  JOINABLE_STATUSES,
} from '../consultations/join-window.ts';
import type { Actor } from '../policy/types.ts';
import { DEMO_ACCOUNTS, DEMO_CLINIC_ID, DEMO_CONSULT_TYPE_ID } from './demo-seed.ts';

const [, DOCTOR, PATIENT] = DEMO_ACCOUNTS;
/** Long enough for an afternoon of trying things; the next visit after it books the next one. */
const DEMO_CONSULTATION_MS = 4 * 3_600_000;

const actorOf = (account: typeof DOCTOR | typeof PATIENT): Actor => ({
  userId: account.id,
  role: account.role,
  sessionId: 'demo-link',
  clinicIds: [DEMO_CLINIC_ID],
});

/**
 * The consultation behind the demo links: a real appointment of the demo doctor with the demo
 * patient, open now, so the links join it the way a booked consultation's links do (policy, audit,
 * the room conversation for chat and files). When none is open (first start, the last one ended or
 * ran out), the next visit books one starting now; one ended early is cut short first so the two
 * never overlap (the no-double-booking constraints would refuse it).
 */
export class DemoConsultation {
  #booking: Promise<string> | undefined;

  constructor(private readonly deps: { db: Db; consultations: ConsultationService; now: () => Date }) {}

  /** A join ticket of the demo doctor or patient for the consultation open now. */
  async ticket(who: 'doctor' | 'patient'): Promise<JoinTicket> {
    const appointmentId = await this.current();
    return this.deps.consultations.joinToken(actorOf(who === 'doctor' ? DOCTOR : PATIENT), appointmentId);
  }

  /** The open demo appointment's id; two links opened at once share one booking. */
  current(): Promise<string> {
    const booking = (this.#booking ??= this.#findOrBook().finally(() => (this.#booking = undefined)));
    return booking;
  }

  async #findOrBook(): Promise<string> {
    const now = this.deps.now();
    const [open] = await this.deps.db
      .select({ id: appointments.id })
      .from(appointments)
      .where(
        and(
          eq(appointments.doctorId, DOCTOR.id),
          eq(appointments.patientId, PATIENT.id),
          inArray(appointments.status, [...JOINABLE_STATUSES] as never[]),
          lt(appointments.startsAt, new Date(now.getTime() + JOIN_OPENS_BEFORE_MS)),
          gt(appointments.endsAt, new Date(now.getTime() - JOIN_CLOSES_AFTER_MS + 60_000)),
        ),
      )
      .orderBy(desc(appointments.startsAt))
      .limit(1);
    if (open) return open.id;
    const startsAt = new Date(now.getTime() - 60_000);
    return this.deps.db.transaction(async (tx) => {
      // An ended (or no longer joinable) demo consultation still holds its slot until its end: cut it at the new start.
      await tx
        .update(appointments)
        .set({ endsAt: sql`greatest(${appointments.startsAt} + interval '1 minute', ${startsAt})` })
        .where(
          and(
            eq(appointments.doctorId, DOCTOR.id),
            notInArray(appointments.status, ['cancelled', 'no_show']),
            gt(appointments.endsAt, startsAt),
            lt(appointments.startsAt, startsAt),
          ),
        );
      const id = crypto.randomUUID();
      await tx.insert(appointments).values({
        id,
        clinicId: DEMO_CLINIC_ID,
        doctorId: DOCTOR.id,
        patientId: PATIENT.id,
        consultTypeId: DEMO_CONSULT_TYPE_ID,
        kind: 'video',
        status: 'confirmed',
        startsAt,
        endsAt: new Date(startsAt.getTime() + DEMO_CONSULTATION_MS),
        patientJurisdiction: 'DE',
        priceMinor: 0,
        currency: 'EUR',
        bookedBy: PATIENT.id,
      });
      return id;
    });
  }
}
