import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { notificationOutbox, reminderJobs } from '../../db/schema/index.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { OutboxNotificationProvider } from '../notifications/outbox-provider.ts';
import { ReminderOutbox } from './reminder-outbox.ts';

const LEASE_MS = 60_000;
const CHILD = new URL('./reminder-outbox.child.ts', import.meta.url).pathname;

/** Runs the child until it reports, then kills it with SIGKILL (no cleanup, no settle). */
async function claimInChildThenKill(databaseUrl: string, now: Date, mode: 'claim' | 'send') {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, databaseUrl, now.toISOString(), String(LEASE_MS), mode],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  while (!out.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`child exited early with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  const [, signal] = await once(child, 'exit');
  expect(signal).toBe('SIGKILL');
  return JSON.parse(out) as { claimed: string[]; sends: number };
}

describe('reminder outbox: at-least-once through a process kill, idempotent delivery', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  let s: Awaited<ReturnType<typeof seedSchedulingServices>>;
  const clock = { now: new Date('2029-12-01T00:00:00Z') };
  const reminders = () =>
    new ReminderOutbox(handle.db, new OutboxNotificationProvider(handle.db), {
      leaseMs: LEASE_MS,
      batchSize: 50,
      now: () => clock.now,
    });
  const sentTo = async (patientId: string) =>
    (
      await handle.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.template, 'appointment_reminder'))
    ).filter((m) => m.recipient.includes(patientId));

  beforeAll(async () => {
    pg = await createTestDatabase();
    handle = await openDb({ databaseUrl: pg.url, maxConnections: 5 });
    s = await seedSchedulingServices(handle.db, { doctors: 2, patients: 3, now: () => clock.now });
  });
  afterAll(async () => {
    await handle.close();
    await pg.drop();
  });

  const book = (doctor: number, patient: number, startsAt: string) =>
    s.scheduling.booking.book(s.operator, {
      clinicId: s.clinicId,
      doctorId: s.doctorIds[doctor]!,
      patientId: s.patientIds[patient]!,
      consultTypeId: s.consultTypeId,
      startsAt: new Date(startsAt),
      patientJurisdiction: 'DE',
    });

  it('a job claimed by a process killed before sending is re-delivered exactly once after the lease expires', async () => {
    clock.now = new Date('2029-12-01T00:00:00Z');
    const a = await book(0, 0, '2030-01-07T09:00:00Z');
    clock.now = new Date('2030-01-07T08:30:00Z'); // both the 24h and the 1h reminders are due
    const child = await claimInChildThenKill(pg.url, clock.now, 'claim');
    expect(child.claimed).toHaveLength(2);
    const jobs = await handle.db.select().from(reminderJobs).where(eq(reminderJobs.appointmentId, a.id));
    expect(jobs.every((j) => j.status === 'pending' && j.leaseToken && j.attempts === 1)).toBe(true);
    expect(await sentTo(s.patientIds[0]!)).toHaveLength(0);

    // A fresh worker while the dead one's lease is still running: the job stays invisible.
    expect((await reminders().runOnce()).claimed).toBe(0);
    clock.now = new Date(clock.now.getTime() + LEASE_MS + 1);
    expect(await reminders().runOnce()).toEqual({ claimed: 2, sent: 2, skipped: 0, failed: 0 });
    expect(await sentTo(s.patientIds[0]!)).toHaveLength(2);
    const after = await handle.db.select().from(reminderJobs).where(eq(reminderJobs.appointmentId, a.id));
    expect(after.map((j) => [j.status, j.attempts])).toEqual([
      ['sent', 2],
      ['sent', 2],
    ]);
    // And never again.
    clock.now = new Date(clock.now.getTime() + 10 * LEASE_MS);
    expect((await reminders().runOnce()).claimed).toBe(0);
    expect(await sentTo(s.patientIds[0]!)).toHaveLength(2);
  });

  it('a process killed after the provider accepted the message but before settling: re-delivery is a duplicate, not a second message', async () => {
    clock.now = new Date('2029-12-01T00:00:00Z');
    await book(1, 1, '2030-01-08T09:00:00Z');
    clock.now = new Date('2030-01-08T08:30:00Z');
    const child = await claimInChildThenKill(pg.url, clock.now, 'send');
    expect([child.claimed.length, child.sends]).toEqual([2, 2]);
    expect(await sentTo(s.patientIds[1]!)).toHaveLength(2);
    clock.now = new Date(clock.now.getTime() + LEASE_MS + 1);
    expect(await reminders().runOnce()).toEqual({ claimed: 2, sent: 2, skipped: 0, failed: 0 });
    // The provider's idempotency key absorbed the repeat: still one message per reminder.
    expect(await sentTo(s.patientIds[1]!)).toHaveLength(2);
  });

  it('two workers racing for the same due jobs never claim the same job (SKIP LOCKED)', async () => {
    clock.now = new Date('2029-12-01T00:00:00Z');
    for (let i = 0; i < 10; i++)
      await book(0, 2, new Date(Date.parse('2030-02-04T09:00:00Z') + i * 30 * 60_000).toISOString());
    clock.now = new Date('2030-02-04T08:30:00Z');
    const [x, y] = await Promise.all([reminders().claim(15), reminders().claim(15)]);
    const ids = [...x, ...y].map((j) => j.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a cancelled or moved appointment gets no stale reminder', async () => {
    // Drain what the previous test left claimed (its leases have run out by then).
    clock.now = new Date('2030-02-06T00:00:00Z');
    expect((await reminders().runOnce()).sent).toBe(20);
    clock.now = new Date('2029-12-01T00:00:00Z');
    const cancelled = await book(1, 2, '2030-03-04T09:00:00Z');
    await s.scheduling.booking.transition(s.operator, cancelled.id, 'cancelled', 'patient called');
    // A job already claimed when the cancellation happened is skipped at delivery.
    const moved = await book(1, 2, '2030-03-05T09:00:00Z');
    clock.now = new Date('2030-03-04T09:01:00Z'); // the 24h reminders of both are due
    const claimed = await reminders().claim(50);
    expect(claimed.map((j) => j.appointmentId)).toEqual([moved.id]);
    clock.now = new Date('2029-12-02T00:00:00Z');
    await s.scheduling.booking.reschedule(s.operator, moved.id, {
      startsAt: new Date('2030-03-06T09:00:00Z'),
      reason: 'doctor asked',
    });
    const worker = reminders();
    expect(await worker.deliver(claimed[0]!)).toBe('skipped');
  });
});
