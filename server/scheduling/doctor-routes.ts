import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import type { Scheduling } from './create-scheduling.ts';
import { formatZoned } from './zoned-time.ts';
import { idSchema, parseBody, parseParams, parseQuery } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { exceptionBody, licenceBody, scheduleQuery, slotsQuery, weeklyBody } from './schemas.ts';

const doctorParam = z.object({ doctorId: idSchema });
const exceptionParam = z.object({ doctorId: idSchema, exceptionId: idSchema });

/** /api/doctors/:doctorId: weekly availability, exceptions, slots, licences, appointments, .ics. */
export function doctorRoutes(identity: Identity, scheduling: Scheduling, appUrl: () => string) {
  const { policy } = identity;
  const calendars = scheduling.doctorCalendars;
  const doctorOf = (c: Context) => calendars.doctor(parseParams(c, doctorParam).doctorId);
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .put('/:doctorId/schedule', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.schedule.manage', doctor);
      const body = await parseBody(c, weeklyBody);
      await scheduling.availability.setWeekly(
        doctor.doctorId,
        body.timeZone,
        body.rules.map((r) => ({
          weekday: r.weekday,
          startMinute: r.start,
          endMinute: r.end,
          validFrom: r.validFrom ?? null,
          validUntil: r.validUntil ?? null,
        })),
      );
      return c.json({ timeZone: body.timeZone, rules: body.rules.length }, 200);
    })
    .get('/:doctorId/schedule', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.schedule.read', doctor);
      const q = parseQuery(c, scheduleQuery);
      return c.json(await scheduling.availability.published(doctor.doctorId, q.from, q.to), 200);
    })
    .post('/:doctorId/exceptions', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.schedule.manage', doctor);
      const b = await parseBody(c, exceptionBody);
      const row = await scheduling.availability.addException(doctor.doctorId, {
        date: b.date,
        kind: b.kind,
        startMinute: b.start ?? null,
        endMinute: b.end ?? null,
      });
      return c.json(row, 201);
    })
    .delete('/:doctorId/exceptions/:exceptionId', async (c) => {
      const { exceptionId } = parseParams(c, exceptionParam);
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.schedule.manage', doctor);
      await scheduling.availability.removeException(doctor.doctorId, exceptionId);
      return c.body(null, 204);
    })
    .get('/:doctorId/slots', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.schedule.read', doctor);
      const q = parseQuery(c, slotsQuery);
      const shared = doctor.clinicIds.filter((id) => c.var.actor.clinicIds.includes(id));
      const type = await scheduling.clinics.consultTypeIn(shared, q.consultTypeId);
      const { timeZone, slots } = await scheduling.availability.slots(doctor.doctorId, {
        fromDate: q.from,
        toDate: q.to,
        durationMinutes: type.durationMinutes,
        now: scheduling.now(),
      });
      return c.json(
        {
          timeZone,
          consultType: {
            id: type.id,
            kind: type.kind,
            durationMinutes: type.durationMinutes,
            priceMinor: type.priceMinor,
            currency: type.currency,
          },
          slots: slots.map((s) => ({
            startsAt: s.start.toISOString(),
            endsAt: s.end.toISOString(),
            local: formatZoned(timeZone, s.start),
          })),
        },
        200,
      );
    })
    .get('/:doctorId/licences', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.licence.read', doctor);
      return c.json({ licences: await scheduling.licences.list(doctor.doctorId) }, 200);
    })
    .post('/:doctorId/licences', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.licence.manage', doctor);
      const body = await parseBody(c, licenceBody);
      return c.json(await scheduling.licences.add(doctor.doctorId, body, c.var.actor.userId), 201);
    })
    .get('/:doctorId/appointments', async (c) => {
      const { doctorId } = parseParams(c, doctorParam);
      return c.json({ appointments: await calendars.appointments(c.var.actor, doctorId) }, 200);
    })
    .get('/:doctorId/calendar.ics', async (c) => {
      const { doctorId } = parseParams(c, doctorParam);
      const body = await calendars.export(c.var.actor, doctorId, appUrl());
      return c.body(body, 200, {
        'content-type': 'text/calendar; charset=utf-8',
        'content-disposition': 'attachment; filename="carecall.ics"',
        'cache-control': 'no-store',
      });
    });
}
