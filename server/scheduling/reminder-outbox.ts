import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { appointments, doctorSchedules, reminderJobs } from '../../db/schema/index.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { patientContacts } from './contacts.ts';
import { formatZoned } from './zoned-time.ts';

/**
 * The appointment time as the recipient reads it: in their own zone when their profile has one (a
 * patient abroad, or a guardian receiving a dependent's reminder), else in the doctor's zone as
 * before, else UTC. The zone is named because the two sides of a video consult often differ.
 */
export function reminderTime(
  startsAt: Date,
  recipientZone: string | null,
  doctorZone: string | null,
): string {
  const zone = recipientZone ?? doctorZone;
  return zone ? `${formatZoned(zone, startsAt)} (${zone})` : startsAt.toISOString();
}

export type ClaimedReminder = {
  id: string;
  appointmentId: string;
  offsetMinutes: number;
  dueAt: Date;
  leaseToken: string;
};
export type ReminderOutboxOptions = { leaseMs: number; batchSize: number; now: () => Date };

/**
 * The reminder outbox. A worker claims due jobs with FOR UPDATE SKIP LOCKED (so workers on many
 * nodes never take the same job at once) and stamps a lease. If the process dies between claim and
 * send, the lease runs out and another worker claims the job again: delivery is at least once, and
 * the provider's idempotency key (one per job and recipient) makes a repeated send a no-op.
 */
export class ReminderOutbox {
  constructor(
    private readonly db: Db,
    private readonly provider: NotificationProvider,
    private readonly opts: ReminderOutboxOptions,
  ) {}

  async claim(limit = this.opts.batchSize): Promise<ClaimedReminder[]> {
    const now = this.opts.now();
    const leaseToken = randomUUID();
    const due = this.db
      .select({ id: reminderJobs.id })
      .from(reminderJobs)
      .where(
        and(
          eq(reminderJobs.status, 'pending'),
          lte(reminderJobs.dueAt, now),
          or(isNull(reminderJobs.leaseUntil), lt(reminderJobs.leaseUntil, now)),
        ),
      )
      .orderBy(asc(reminderJobs.dueAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    const rows = await this.db
      .update(reminderJobs)
      .set({
        leaseToken,
        leaseUntil: new Date(now.getTime() + this.opts.leaseMs),
        attempts: sql`${reminderJobs.attempts} + 1`,
      })
      .where(inArray(reminderJobs.id, due))
      .returning({
        id: reminderJobs.id,
        appointmentId: reminderJobs.appointmentId,
        offsetMinutes: reminderJobs.offsetMinutes,
        dueAt: reminderJobs.dueAt,
      });
    return rows.map((r) => ({ ...r, leaseToken }));
  }

  /** Sends one claimed job (or skips it if the appointment was cancelled or moved) and settles it. */
  async deliver(job: ClaimedReminder): Promise<'sent' | 'skipped'> {
    const [a] = await this.db
      .select({
        status: appointments.status,
        startsAt: appointments.startsAt,
        patientId: appointments.patientId,
        kind: appointments.kind,
        timeZone: doctorSchedules.timeZone,
      })
      .from(appointments)
      .leftJoin(doctorSchedules, eq(doctorSchedules.doctorId, appointments.doctorId))
      .where(eq(appointments.id, job.appointmentId));
    const stillDue =
      a &&
      (a.status === 'requested' || a.status === 'confirmed') &&
      a.startsAt.getTime() - job.offsetMinutes * 60_000 === job.dueAt.getTime();
    if (!stillDue) return this.settle(job, 'skipped');
    for (const to of await patientContacts(this.db, a.patientId)) {
      const when = reminderTime(a.startsAt, to.timeZone, a.timeZone);
      await this.provider.send({
        channel: to.channel,
        recipient: to.recipient,
        template: 'appointment_reminder',
        ...(to.channel === 'email' ? { subject: 'Your CareCall appointment' } : {}),
        // Time and kind only: no doctor, no reason, nothing clinical travels in a reminder.
        body: `Reminder: you have a ${a.kind.replace('_', '-')} appointment on CareCall at ${when}. Reference ${job.appointmentId.slice(0, 8)}.`,
        idempotencyKey: `reminder:${job.id}:${to.userId}`,
      });
    }
    return this.settle(job, 'sent');
  }

  /** One pass: claim a batch and deliver it. A failed send leaves the job to be re-claimed after its lease. */
  async runOnce(): Promise<{ claimed: number; sent: number; skipped: number; failed: number }> {
    const jobs = await this.claim();
    const r = { claimed: jobs.length, sent: 0, skipped: 0, failed: 0 };
    for (const job of jobs) {
      try {
        r[await this.deliver(job)]++;
      } catch {
        r.failed++;
      }
    }
    return r;
  }

  private async settle(job: ClaimedReminder, status: 'sent' | 'skipped') {
    // Only the holder of the current lease settles; a worker whose lease expired just stops.
    await this.db
      .update(reminderJobs)
      .set({ status, sentAt: status === 'sent' ? this.opts.now() : null, leaseToken: null, leaseUntil: null })
      .where(and(eq(reminderJobs.id, job.id), eq(reminderJobs.leaseToken, job.leaseToken)));
    return status;
  }
}
