import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../db/rows.ts';
import { consultationRooms, rooms, webhookOutbox } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { LocalBus } from '../bus/local-bus.ts';
import { ClusterBus } from '../cluster/cluster-bus.ts';
import { RoomDirectory } from '../cluster/room-directory.ts';
import { createRoomLifecycle } from '../media/room-lifecycle-service.ts';

type Seed = Awaited<ReturnType<typeof seedSchedulingServices>>;

describe.each(ENGINES)('webhook events written with the changes they announce, on %s', (engine) => {
  let t: Awaited<ReturnType<typeof openTestEngine>>;
  let s: Seed;
  // A weekday slot well ahead, on the 30-minute grid.
  let at = Date.parse('2031-03-03T08:00:00Z');
  const nextSlot = () => new Date((at += 3_600_000));

  beforeAll(async () => {
    t = await openTestEngine(engine);
    s = await seedSchedulingServices(t.handle.db, { doctors: 1, patients: 2 });
  }, 60_000);
  afterAll(() => t?.close());

  const eventsOf = async (appointmentId: string) =>
    (await t.handle.db.select().from(webhookOutbox).orderBy(webhookOutbox.createdAt))
      .filter((r) => r.payload.appointmentId === appointmentId)
      .map((r) => ({ event: r.event, clinicId: r.clinicId, payload: r.payload }));
  const book = (patient = 0, startsAt = nextSlot()) =>
    s.scheduling.booking.book(s.operator, {
      clinicId: s.clinicId,
      doctorId: s.doctorIds[0]!,
      patientId: s.patientIds[patient]!,
      consultTypeId: s.consultTypeId,
      startsAt,
      patientJurisdiction: 'DE',
    });

  it('booking, rescheduling and cancelling each announce themselves, with ids only', async () => {
    const a = await book();
    const ids = { appointmentId: a.id, patientId: a.patientId, doctorId: a.doctorId };
    expect(await eventsOf(a.id)).toEqual([
      { event: 'appointment.booked', clinicId: s.clinicId, payload: { ...ids, status: 'confirmed' } },
    ]);
    await s.scheduling.booking.reschedule(s.operator, a.id, {
      startsAt: nextSlot(),
      reason: 'patient asked',
    });
    await s.scheduling.booking.transition(s.operator, a.id, 'cancelled', 'no longer needed');
    const events = await eventsOf(a.id);
    expect(events.map((e) => e.event)).toEqual([
      'appointment.booked',
      'appointment.rescheduled',
      'appointment.cancelled',
    ]);
    expect(events[2]!.payload).toEqual({ ...ids, status: 'cancelled' });
    // No reason, questionnaire or name travels: the payload is the ids and the status.
    for (const e of events)
      expect(Object.keys(e.payload).sort()).toEqual(['appointmentId', 'doctorId', 'patientId', 'status']);
  });

  it('a booking refused for a taken slot announces nothing', async () => {
    const startsAt = nextSlot();
    const first = await book(0, startsAt);
    await expect(book(1, startsAt)).rejects.toMatchObject({ code: 'slot_taken' });
    const booked = (await t.handle.db.select().from(webhookOutbox)).filter(
      (r) => r.event === 'appointment.booked' && r.payload.patientId === s.patientIds[1],
    );
    expect(booked).toEqual([]);
    expect((await eventsOf(first.id)).map((e) => e.event)).toEqual(['appointment.booked']);
  });

  it('the call starting is consultation.started, completing it appointment.completed', async () => {
    const a = await book();
    const doctor = {
      userId: s.doctorIds[0]!,
      role: 'doctor' as const,
      sessionId: 'x',
      clinicIds: [s.clinicId],
    };
    await s.scheduling.booking.transition(doctor, a.id, 'checked_in', null);
    await s.scheduling.booking.transition(doctor, a.id, 'in_call', null);
    await s.scheduling.booking.transition(doctor, a.id, 'completed', null);
    expect((await eventsOf(a.id)).map((e) => [e.event, e.payload.status])).toEqual([
      ['appointment.booked', 'confirmed'],
      ['consultation.started', 'in_call'],
      ['appointment.completed', 'completed'],
    ]);
  });

  it("the room's end is consultation.ended once (not when a node shuts down and hands it on)", async () => {
    const a = await book();
    const roomId = randomUUID();
    await t.handle.db.insert(consultationRooms).values({ appointmentId: a.id, roomId });
    const bus = new LocalBus();
    const lifecycle = createRoomLifecycle(
      t.handle.db,
      new ClusterBus(bus, () => {}),
      new RoomDirectory(bus, 'node-a', 5000),
      pino({ level: 'silent' }),
    );
    await lifecycle.started(roomId, 0);
    await lifecycle.ended(roomId, 'shutdown');
    expect((await eventsOf(a.id)).map((e) => e.event)).toEqual(['appointment.booked']);
    await lifecycle.started(roomId, 0);
    await lifecycle.ended(roomId, 'ended_by_host');
    await lifecycle.ended(roomId, 'empty');
    const events = await eventsOf(a.id);
    expect(events.map((e) => e.event)).toEqual(['appointment.booked', 'consultation.ended']);
    expect(events[1]!.payload).toEqual({
      appointmentId: a.id,
      patientId: a.patientId,
      doctorId: a.doctorId,
      reason: 'ended_by_host',
    });
    const [room] = await t.handle.db.select().from(rooms).where(eq(rooms.id, roomId));
    expect(room!.endReason).toBe('ended_by_host');
    // A room of no appointment (tests, tools) announces nothing.
    const count = async () =>
      rowsOf<{ n: number }>(await t.handle.db.execute(sql`select count(*)::int as n from webhook_outbox`))[0]!
        .n;
    const before = await count();
    const stray = randomUUID();
    await lifecycle.started(stray, 0);
    await lifecycle.ended(stray, 'empty');
    expect(await count()).toBe(before);
    await bus.close();
  });
});
