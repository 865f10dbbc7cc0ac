import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { doctorSchedules, reminderJobs } from '../../db/schema/index.ts';

/**
 * Serialises writes to one doctor's calendar by locking their schedule row for the transaction.
 * Without it, two overlapping inserts can each wait for the other's uncommitted row inside the
 * exclusion check and PostgreSQL resolves that only after deadlock_timeout (1 s) by aborting one:
 * under contention that made bookings take seconds. Bookings for different doctors do not wait.
 * The exclusion constraint stays the judge of overlap; this lock only makes it decide quickly.
 */
export async function lockDoctorCalendar(tx: Tx, doctorId: string) {
  await tx
    .select({ doctorId: doctorSchedules.doctorId })
    .from(doctorSchedules)
    .where(eq(doctorSchedules.doctorId, doctorId))
    .for('update');
}

/** Reminder jobs for an appointment at `startsAt`: one per offset whose time is still ahead. */
export function reminderRows(
  appointmentId: string,
  startsAt: Date,
  offsetsMinutes: readonly number[],
  now: Date,
) {
  return offsetsMinutes
    .map((offsetMinutes) => ({
      id: randomUUID(),
      appointmentId,
      offsetMinutes,
      dueAt: new Date(startsAt.getTime() - offsetMinutes * 60_000),
    }))
    .filter((r) => r.dueAt > now);
}

/** After a reschedule: drop the pending jobs (a claimed one re-checks the appointment) and plan anew. */
export async function replanReminders(
  tx: Tx,
  appointmentId: string,
  startsAt: Date,
  offsetsMinutes: readonly number[],
  now: Date,
) {
  await tx
    .update(reminderJobs)
    .set({ status: 'skipped' })
    .where(and(eq(reminderJobs.appointmentId, appointmentId), eq(reminderJobs.status, 'pending')));
  const rows = reminderRows(appointmentId, startsAt, offsetsMinutes, now);
  if (rows.length) await tx.insert(reminderJobs).values(rows);
}
