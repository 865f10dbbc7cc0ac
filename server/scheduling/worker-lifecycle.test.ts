import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { notificationOutbox, reminderJobs } from '../../db/schema/index.ts';
import { startTestNode } from '../../test/helpers/node.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';

describe('scheduling worker inside a node', () => {
  it('starts after the database, delivers due reminders, and stops before the database closes', async () => {
    const { node, logs } = await startTestNode({ SCHEDULING_WORKER_TICK_MS: '100' });
    try {
      expect(logs.lines.some((l) => l.includes('scheduling worker started'))).toBe(true);
      const s = await seedSchedulingServices(node.db.db, { doctors: 1, patients: 1 });
      // The last half-hour slot at most 3 hours away (bookings start on the slot grid).
      const startsAt = new Date(Math.floor((Date.now() + 3 * 3_600_000) / 1_800_000) * 1_800_000);
      const appt = await s.scheduling.booking.book(s.operator, {
        clinicId: s.clinicId,
        doctorId: s.doctorIds[0]!,
        patientId: s.patientIds[0]!,
        consultTypeId: s.consultTypeId,
        startsAt,
        patientJurisdiction: 'DE',
      });
      // A clinic offset of 3 hours: this reminder is due right away; the node's own worker must send it.
      const due = {
        id: randomUUID(),
        appointmentId: appt.id,
        offsetMinutes: 180,
        dueAt: new Date(appt.startsAt.getTime() - 180 * 60_000),
      };
      await node.db.db.insert(reminderJobs).values(due);
      const deadline = Date.now() + 10_000;
      let status = 'pending';
      while (status === 'pending' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await node.db.db.select().from(reminderJobs).where(eq(reminderJobs.id, due.id)))[0]!.status;
      }
      expect(status).toBe('sent');
      const sent = await node.db.db
        .select()
        .from(notificationOutbox)
        .where(eq(notificationOutbox.template, 'appointment_reminder'));
      expect(sent.map((m) => m.idempotencyKey)).toEqual([`reminder:${due.id}:${s.patientIds[0]}`]);
    } finally {
      await node.stop();
    }
    const stopped = logs.lines.filter((l) => l.includes('"msg":"stopped"')).map((l) => JSON.parse(l).part);
    expect(stopped.indexOf('scheduling worker')).toBeGreaterThanOrEqual(0);
    expect(stopped.indexOf('scheduling worker')).toBeLessThan(stopped.indexOf('database'));
  });
});
