import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { jsonRows, jsonTextList } from '../../db/json-rows.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import {
  appointmentEvents,
  appointments,
  doctorSchedules,
  reminderJobs,
  webhookOutbox,
} from '../../db/schema/index.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { Batcher } from '../batcher.ts';
import type { OutboxRow } from '../webhooks/catalogue.ts';
import type { AppointmentRow } from './appointment-facts.ts';
import { retryOnDeadlock } from './sql-state.ts';

export type NewBooking = {
  /** Complete, as it will be stored (timestamps included): it is the row returned on success. */
  appointment: AppointmentRow;
  events: (typeof appointmentEvents.$inferInsert)[];
  reminders: (typeof reminderJobs.$inferInsert)[];
  /** Webhook events announcing the booking, committed with it (only if the appointment is kept). */
  outbox?: OutboxRow[];
  /** The policy's allowed decision (if audited), appended to the audit log in the same transaction. */
  audit: AuditEntry | undefined;
};

export type BookingOutcome =
  | { ok: true; row: AppointmentRow }
  /** The doctor has an active appointment overlapping it, or else the patient has. */
  | { ok: false; taken: 'doctor' | 'patient' }
  | { ok: false; taken: false; error: unknown };

/** How many bookings one transaction writes at most. */
const MAX_BATCH = 128;

/**
 * Writes new appointments with group commit: bookings that arrive while a batch is being written
 * go together into the next transaction. The exclusion constraint stays the judge of overlap:
 * `ON CONFLICT DO NOTHING` (which covers exclusion constraints: the doctor's and the patient's calendar) skips a clashing row instead of
 * aborting the batch, also against an earlier row of the same batch, so the first to arrive wins
 * and every other booking learns its own outcome. The doctors' schedule rows are locked in sorted
 * order first, so batches of different nodes never wait on each other's uncommitted rows in a cycle.
 * The batch's audit entries commit in the same transaction: no booking without its entry.
 */
export class BookingWriter {
  readonly #group = new Batcher<NewBooking, BookingOutcome>((batch) => this.#writeOrSplit(batch), {
    maxBatch: MAX_BATCH,
  });

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {}

  write(booking: NewBooking): Promise<BookingOutcome> {
    return this.#group.submit(booking);
  }

  async #writeOrSplit(batch: NewBooking[]): Promise<BookingOutcome[]> {
    try {
      return await retryOnDeadlock(() => this.#writeBatch(batch));
    } catch (error) {
      if (batch.length === 1) return [{ ok: false, taken: false, error }];
      // One bad row (say, a consult type deleted meanwhile) must not fail the others: alone, each
      // booking gets its own outcome.
      return Promise.all(batch.map(async (b) => (await this.#writeOrSplit([b]))[0]!));
    }
  }

  #writeBatch(batch: NewBooking[]): Promise<BookingOutcome[]> {
    const doctorIds = [...new Set(batch.map((b) => b.appointment.doctorId))].sort();
    const booked = jsonRows(
      appointments,
      batch.map((b) => b.appointment),
    );
    const events = jsonRows(
      appointmentEvents,
      batch.flatMap((b) => b.events),
    );
    const reminders = batch.flatMap((b) => b.reminders);
    const jobs = reminders.length ? jsonRows(reminderJobs, reminders) : undefined;
    const announcements = batch.flatMap((b) => b.outbox ?? []);
    const announced = announcements.length ? jsonRows(webhookOutbox, announcements) : undefined;
    return this.db.transaction(async (tx) => {
      // One round trip, run by the server in the order sent: the doctors' locks, the inserts (the
      // activity log, reminders and webhook events only for the appointments kept), then the audit chain's lock
      // and entries, so that global lock is taken last and held briefly.
      const lock = sendQuery(
        tx.execute(
          sql`select 1 from ${doctorSchedules} where ${doctorSchedules.doctorId} in ${jsonTextList(doctorIds)} order by ${doctorSchedules.doctorId} for update`,
        ),
      );
      const inserted = sendQuery(
        tx.execute(
          sql`insert into ${appointments} ${booked.columns} ${booked.select} on conflict do nothing returning ${appointments.id}`,
        ),
      );
      const logged = sendQuery(
        tx.execute(
          sql`insert into ${appointmentEvents} ${events.columns} select * from (${events.select}) r where exists (select 1 from ${appointments} a where a.id = r.appointment_id)`,
        ),
      );
      const planned = jobs
        ? sendQuery(
            tx.execute(
              sql`insert into ${reminderJobs} ${jobs.columns} select * from (${jobs.select}) r where exists (select 1 from ${appointments} a where a.id = r.appointment_id)`,
            ),
          )
        : undefined;
      const outboxed = announced
        ? sendQuery(
            tx.execute(
              sql`insert into ${webhookOutbox} ${announced.columns} select * from (${announced.select}) r where exists (select 1 from ${appointments} a where a.id = r.payload->>'appointmentId')`,
            ),
          )
        : undefined;
      const audited = this.audit.appendWithin(
        tx,
        batch.flatMap((b) => (b.audit ? [b.audit] : [])),
      );
      const [, rows] = await Promise.all([lock, inserted, logged, planned, outboxed, audited]);
      const won = new Set(rowsOf<{ id: string }>(rows).map((r) => r.id));
      const doctorBusy = await this.#doctorBusy(
        tx,
        batch.filter((b) => !won.has(b.appointment.id)),
      );
      return batch.map((b): BookingOutcome => {
        if (won.has(b.appointment.id)) return { ok: true, row: b.appointment };
        return { ok: false, taken: doctorBusy.has(b.appointment.id) ? 'doctor' : 'patient' };
      });
    });
  }

  /**
   * Which of the skipped bookings clash with the doctor's calendar (the others clashed with the
   * patient's). Asked only when some were skipped, after the inserts, so rows of this batch count.
   */
  async #doctorBusy(tx: Tx, skipped: NewBooking[]): Promise<Set<string>> {
    if (!skipped.length) return new Set();
    const wanted = JSON.stringify(
      skipped.map((b) => ({
        id: b.appointment.id,
        doctor_id: b.appointment.doctorId,
        starts_at: b.appointment.startsAt,
        ends_at: b.appointment.endsAt,
      })),
    );
    const busy = await tx.execute(sql`
      select w.id from json_to_recordset(${wanted}::json) as w(id text, doctor_id text, starts_at timestamptz, ends_at timestamptz)
       where exists (select 1 from ${appointments} a where a.doctor_id = w.doctor_id and a.status not in ('cancelled', 'no_show')
                        and tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(w.starts_at, w.ends_at, '[)'))`);
    return new Set(rowsOf<{ id: string }>(busy).map((r) => r.id));
  }
}
