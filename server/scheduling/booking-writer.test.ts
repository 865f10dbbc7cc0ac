import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { appointmentEvents, appointments, auditLog, reminderJobs } from '../../db/schema/index.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { runWithContext } from '../request-context.ts';
import { BookingWriter, type NewBooking } from './booking-writer.ts';

type Seed = Awaited<ReturnType<typeof seedSchedulingServices>>;
const BASE = Date.parse('2031-03-03T09:00:00Z');

let nextPatient = 0;

/** A booking as BookingService builds it (appointment, two events, one reminder, its audit entry), for the next patient. */
function booking(
  s: Seed,
  doctorId: string,
  startMinute: number,
  over: Partial<NewBooking['appointment']> = {},
): NewBooking {
  const id = randomUUID();
  const startsAt = new Date(BASE + startMinute * 60_000);
  const now = new Date();
  return {
    appointment: {
      id,
      clinicId: s.clinicId,
      doctorId,
      patientId: s.patientIds[nextPatient++ % s.patientIds.length]!,
      consultTypeId: s.consultTypeId,
      kind: 'video',
      status: 'confirmed',
      startsAt,
      endsAt: new Date(startsAt.getTime() + 30 * 60_000),
      patientJurisdiction: 'DE',
      priceMinor: 3000,
      currency: 'EUR',
      questionnaire: [{ questionId: 'q1', answer: 'a "quoted" answer' }],
      bookedBy: s.operator.userId,
      createdAt: now,
      updatedAt: now,
      ...over,
    },
    events: [
      {
        appointmentId: id,
        fromStatus: null,
        toStatus: 'requested',
        actorId: s.operator.userId,
        actorRole: 'operator',
        event: 'booked',
        reason: null,
      },
      { appointmentId: id, fromStatus: 'requested', toStatus: 'confirmed', event: 'auto_confirmed' },
    ],
    reminders: [
      {
        id: randomUUID(),
        appointmentId: id,
        offsetMinutes: 60,
        dueAt: new Date(startsAt.getTime() - 3_600_000),
      },
    ],
    audit: s.audit.entry({
      action: 'appointment.book',
      outcome: 'allowed',
      resourceType: 'appointment',
      resourceId: id,
    }),
  };
}

/** Submits `later` while `first` is being written, so `later` goes into one batch together. */
async function inOneBatch(writer: BookingWriter, first: NewBooking, later: NewBooking[]) {
  const head = writer.write(first);
  const rest = later.map((b) => writer.write(b));
  return { head: await head, rest: await Promise.all(rest) };
}

function suite(name: string, open: () => Promise<{ handle: DbHandle; cleanup: () => Promise<void> }>) {
  describe(`BookingWriter (${name})`, () => {
    let handle: DbHandle;
    let cleanup: () => Promise<void>;
    let s: Seed;
    let writer: BookingWriter;
    beforeAll(async () => {
      ({ handle, cleanup } = await open());
      s = await seedSchedulingServices(handle.db, { doctors: 2, patients: 40 });
      writer = new BookingWriter(handle.db, s.audit);
    });
    afterAll(() => cleanup());

    const ids = (bs: NewBooking[]) => bs.map((b) => b.appointment.id);

    it('in one batch the first of two overlapping bookings wins; the loser leaves no events, reminders or appointment', async () => {
      const [d0, d1] = [s.doctorIds[0]!, s.doctorIds[1]!];
      const later = [booking(s, d0, 0), booking(s, d0, 15), booking(s, d1, 15), booking(s, d0, 30)];
      const { head, rest } = await inOneBatch(writer, booking(s, d0, 600), later);
      expect(head, 'the batch leader (its own slot)').toMatchObject({ ok: true });
      expect(rest.map((o) => (o.ok ? 'ok' : o.taken || 'error'))).toEqual(['ok', 'doctor', 'ok', 'ok']);
      const stored = await handle.db
        .select({ id: appointments.id, questionnaire: appointments.questionnaire })
        .from(appointments)
        .where(inArray(appointments.id, ids(later)));
      expect(stored.map((r) => r.id).sort()).toEqual(
        [later[0]!, later[2]!, later[3]!].map((b) => b.appointment.id).sort(),
      );
      expect(stored[0]!.questionnaire).toEqual([{ questionId: 'q1', answer: 'a "quoted" answer' }]);
      const events = await handle.db
        .select({ id: appointmentEvents.appointmentId })
        .from(appointmentEvents)
        .where(inArray(appointmentEvents.appointmentId, ids(later)));
      expect(events.map((e) => e.id).sort(), 'created + confirmed events of the three winners').toEqual(
        [later[0]!, later[0]!, later[2]!, later[2]!, later[3]!, later[3]!]
          .map((b) => b.appointment.id)
          .sort(),
      );
      expect(
        events.map((e) => e.id),
        'events of the refused booking',
      ).not.toContain(later[1]!.appointment.id);
      const jobs = await handle.db
        .select({ id: reminderJobs.appointmentId })
        .from(reminderJobs)
        .where(inArray(reminderJobs.appointmentId, ids(later)));
      expect(jobs.map((j) => j.id).sort(), 'one reminder job per winner').toEqual(
        [later[0]!, later[2]!, later[3]!].map((b) => b.appointment.id).sort(),
      );
      // The returned row is the stored row.
      const [row] = await handle.db
        .select()
        .from(appointments)
        .where(eq(appointments.id, later[0]!.appointment.id));
      expect(rest[0], 'the returned row').toEqual({ ok: true, row });
    });

    it("a patient's overlapping bookings with two doctors: the first wins, the other is refused as the patient's clash", async () => {
      const [d0, d1] = [s.doctorIds[0]!, s.doctorIds[1]!];
      const patientId = s.patientIds[39]!;
      const first = booking(s, d0, 3000, { patientId });
      const second = booking(s, d1, 3010, { patientId });
      const both = booking(s, d0, 3020, { patientId });
      const { rest } = await inOneBatch(writer, booking(s, d1, 5000), [first, second, both]);
      // Clashing with the doctor too is reported as the doctor's (slot_taken), whoever else is busy.
      expect(rest.map((o) => (o.ok ? 'ok' : o.taken || 'error'))).toEqual(['ok', 'patient', 'doctor']);
      // Back to back is fine.
      expect(
        await writer.write(booking(s, d1, 3030, { patientId })),
        'a back-to-back booking of the same patient',
      ).toMatchObject({ ok: true });
    });

    it('audits in the same commit: every decision, in one valid chain', async () => {
      const d = s.doctorIds[1]!;
      // Entries take who/where from the request context current when they are made.
      const later = runWithContext({ requestId: 'r2', ip: '127.0.0.1', userAgent: 't' }, () => [
        booking(s, d, 120),
        booking(s, d, 130),
      ]);
      await inOneBatch(writer, booking(s, d, 900), later);
      const entries = await handle.db
        .select()
        .from(auditLog)
        .where(inArray(auditLog.resourceId, ids(later)));
      const of = (b: NewBooking) =>
        entries
          .filter((e) => e.resourceId === b.appointment.id)
          .map((e) => e.outcome)
          .sort();
      expect(of(later[0]!)).toEqual(['allowed']);
      expect(of(later[1]!)).toEqual(['allowed']);
      expect(
        entries.map((e) => e.requestId),
        'request id of each entry',
      ).toEqual(entries.map(() => 'r2'));
      expect(await s.audit.verify(), 'the audit chain').toMatchObject({ ok: true });
    });

    it('a row that fails for another reason fails alone: the rest of its batch is written', async () => {
      const d = s.doctorIds[0]!;
      const bad = booking(s, d, 200, { consultTypeId: 'no-such-type' });
      const good = booking(s, d, 240);
      const { rest } = await inOneBatch(writer, booking(s, d, 1200), [bad, good]);
      expect(rest[0], 'the row naming an unknown consult type').toMatchObject({
        ok: false,
        taken: false,
        error: expect.anything(),
      });
      expect(rest[1], 'the good row of the same batch').toMatchObject({ ok: true });
      const n = rowsOf<{ n: number }>(
        await handle.db.execute(
          sql`select count(*)::int as n from ${appointments} where ${appointments.id} = ${bad.appointment.id}`,
        ),
      )[0]!.n;
      expect(n, 'appointments stored for the failed row').toBe(0);
      // Nothing of the failed row reached the audit log either (its transaction rolled back).
      expect(
        await handle.db.select().from(auditLog).where(eq(auditLog.resourceId, bad.appointment.id)),
        'audit entries of the failed row',
      ).toEqual([]);
      expect(await s.audit.verify(), 'the audit chain').toMatchObject({ ok: true });
    });
  });
}

suite('PostgreSQL', async () => {
  const pg = await createTestDatabase();
  const handle = await openDb({ databaseUrl: pg.url, maxConnections: 4 });
  return { handle, cleanup: async () => (await handle.close(), await pg.drop()) };
});

suite('PGlite', async () => {
  const handle = await openDb({ pgliteDir: 'memory://' });
  return { handle, cleanup: () => handle.close() };
});
