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
  const calendars = scheduling.doctorCalendars;
  const schedule = (c: Context<ApiEnv>) => scheduling.doctorSchedules.forActor(c.var.actor);
  const doctorIdOf = (c: Context) => parseParams(c, doctorParam).doctorId;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .put('/:doctorId/schedule', async (c) => {
      const weekly = async () => {
        const body = await parseBody(c, weeklyBody);
        const rules = body.rules.map((r) => ({
          weekday: r.weekday,
          startMinute: r.start,
          endMinute: r.end,
          validFrom: r.validFrom ?? null,
          validUntil: r.validUntil ?? null,
        }));
        return { timeZone: body.timeZone, rules };
      };
      return c.json(await schedule(c).setWeekly(doctorIdOf(c), weekly), 200);
    })
    .get('/:doctorId/schedule', async (c) =>
      c.json(await schedule(c).published(doctorIdOf(c), () => parseQuery(c, scheduleQuery)), 200),
    )
    .post('/:doctorId/exceptions', async (c) => {
      const exception = async () => {
        const b = await parseBody(c, exceptionBody);
        return { date: b.date, kind: b.kind, startMinute: b.start ?? null, endMinute: b.end ?? null };
      };
      return c.json(await schedule(c).addException(doctorIdOf(c), exception), 201);
    })
    .delete('/:doctorId/exceptions/:exceptionId', async (c) => {
      const { exceptionId } = parseParams(c, exceptionParam);
      await schedule(c).removeException(doctorIdOf(c), exceptionId);
      return c.body(null, 204);
    })
    .get('/:doctorId/slots', async (c) => {
      const open = await schedule(c).slots(doctorIdOf(c), () => parseQuery(c, slotsQuery));
      const { timeZone, consultType: type } = open;
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
          slots: open.slots.map((s) => ({
            startsAt: s.start.toISOString(),
            endsAt: s.end.toISOString(),
            local: formatZoned(timeZone, s.start),
          })),
        },
        200,
      );
    })
    .get('/:doctorId/licences', async (c) =>
      c.json({ licences: await schedule(c).licences(doctorIdOf(c)) }, 200),
    )
    .post('/:doctorId/licences', async (c) =>
      c.json(await schedule(c).addLicence(doctorIdOf(c), () => parseBody(c, licenceBody)), 201),
    )
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
