import { randomUUID } from 'node:crypto';
import { and, asc, eq, gt, gte, lt, lte, notInArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  appointments,
  availabilityExceptions,
  availabilityRules,
  doctorSchedules,
} from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { computeSlots, type AvailabilityException, type Interval, type WeeklyRule } from './slots.ts';
import { addDays } from './zoned-time.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export const INACTIVE_STATUSES = ['cancelled', 'no_show'] as const;

export type Schedule = { timeZone: string; rules: WeeklyRule[]; exceptions: AvailabilityException[] };

/** A doctor's time zone, weekly rules and exceptions, and the slots they leave open. */
export class AvailabilityService {
  constructor(private readonly db: Db) {}

  /** Replaces the time zone and the whole weekly rule set in one step (what a schedule editor saves). */
  async setWeekly(
    doctorId: string,
    timeZone: string,
    rules: (Omit<WeeklyRule, 'validFrom' | 'validUntil'> &
      Partial<Pick<WeeklyRule, 'validFrom' | 'validUntil'>>)[],
  ) {
    await this.db.transaction(async (tx) => {
      await tx
        .insert(doctorSchedules)
        .values({ doctorId, timeZone })
        .onConflictDoUpdate({ target: doctorSchedules.doctorId, set: { timeZone, updatedAt: new Date() } });
      await tx.delete(availabilityRules).where(eq(availabilityRules.doctorId, doctorId));
      if (rules.length) {
        await tx.insert(availabilityRules).values(
          rules.map((r) => ({
            id: randomUUID(),
            doctorId,
            weekday: r.weekday,
            startMinute: r.startMinute,
            endMinute: r.endMinute,
            validFrom: r.validFrom ?? null,
            validUntil: r.validUntil ?? null,
          })),
        );
      }
    });
  }

  async addException(doctorId: string, e: AvailabilityException) {
    const [row] = await this.db
      .insert(availabilityExceptions)
      .values({ id: randomUUID(), doctorId, ...e })
      .returning();
    return row!;
  }

  async removeException(doctorId: string, exceptionId: string) {
    const rows = await this.db
      .delete(availabilityExceptions)
      .where(and(eq(availabilityExceptions.id, exceptionId), eq(availabilityExceptions.doctorId, doctorId)))
      .returning({ id: availabilityExceptions.id });
    if (!rows.length) throw new ProblemError(404, PROBLEM.notFound, 'no such exception');
  }

  /** Rules plus the exceptions on local dates [fromDate, toDate]; 422 when the doctor has no schedule yet. */
  async schedule(doctorId: string, fromDate: string, toDate: string): Promise<Schedule> {
    const [tz] = await this.db
      .select({ timeZone: doctorSchedules.timeZone })
      .from(doctorSchedules)
      .where(eq(doctorSchedules.doctorId, doctorId));
    if (!tz)
      throw new ProblemError(422, PROBLEM.noSchedule, 'this doctor has not published a schedule', [
        { field: 'doctorId', message: 'no schedule' },
      ]);
    const [rules, exceptions] = await Promise.all([
      this.db
        .select({
          weekday: availabilityRules.weekday,
          startMinute: availabilityRules.startMinute,
          endMinute: availabilityRules.endMinute,
          validFrom: availabilityRules.validFrom,
          validUntil: availabilityRules.validUntil,
        })
        .from(availabilityRules)
        .where(eq(availabilityRules.doctorId, doctorId)),
      this.db
        .select({
          id: availabilityExceptions.id,
          date: availabilityExceptions.date,
          kind: availabilityExceptions.kind,
          startMinute: availabilityExceptions.startMinute,
          endMinute: availabilityExceptions.endMinute,
        })
        .from(availabilityExceptions)
        .where(
          and(
            eq(availabilityExceptions.doctorId, doctorId),
            gte(availabilityExceptions.date, fromDate),
            lte(availabilityExceptions.date, toDate),
          ),
        ),
    ]);
    return { timeZone: tz.timeZone, rules, exceptions };
  }

  /**
   * What the doctor published, in the shape PUT /schedule takes (wall times 'HH:MM') so an editor
   * can read, change and save it back: every weekly rule (PUT replaces them as a set), and the
   * exceptions on local dates [fromDate, toDate]. No schedule yet: timeZone null, no rules (an
   * empty editor, not an error).
   */
  async published(doctorId: string, fromDate: string, toDate: string) {
    const [[tz], rules, exceptions] = await Promise.all([
      this.db
        .select({ timeZone: doctorSchedules.timeZone })
        .from(doctorSchedules)
        .where(eq(doctorSchedules.doctorId, doctorId)),
      this.db
        .select()
        .from(availabilityRules)
        .where(eq(availabilityRules.doctorId, doctorId))
        .orderBy(asc(availabilityRules.weekday), asc(availabilityRules.startMinute)),
      this.db
        .select()
        .from(availabilityExceptions)
        .where(
          and(
            eq(availabilityExceptions.doctorId, doctorId),
            gte(availabilityExceptions.date, fromDate),
            lte(availabilityExceptions.date, toDate),
          ),
        )
        .orderBy(asc(availabilityExceptions.date), asc(availabilityExceptions.startMinute)),
    ]);
    return {
      timeZone: tz?.timeZone ?? null,
      // Absent, not null, where the PUT/POST bodies leave a field out: what comes out can go back in.
      rules: rules.map((r) => ({
        weekday: r.weekday,
        start: wallTime(r.startMinute),
        end: wallTime(r.endMinute),
        ...(r.validFrom ? { validFrom: r.validFrom } : {}),
        ...(r.validUntil ? { validUntil: r.validUntil } : {}),
      })),
      exceptions: exceptions.map((e) => ({
        id: e.id,
        date: e.date,
        kind: e.kind,
        ...(e.startMinute !== null && e.endMinute !== null
          ? { start: wallTime(e.startMinute), end: wallTime(e.endMinute) }
          : {}),
      })),
    };
  }

  /** Active appointments of the doctor overlapping [from, to). */
  async busy(doctorId: string, from: Date, to: Date): Promise<Interval[]> {
    const rows = await this.db
      .select({ start: appointments.startsAt, end: appointments.endsAt })
      .from(appointments)
      .where(
        and(
          eq(appointments.doctorId, doctorId),
          lt(appointments.startsAt, to),
          gt(appointments.endsAt, from),
          notInArray(appointments.status, [...INACTIVE_STATUSES]),
        ),
      );
    return rows;
  }

  async slots(doctorId: string, q: { fromDate: string; toDate: string; durationMinutes: number; now: Date }) {
    const schedule = await this.schedule(doctorId, q.fromDate, q.toDate);
    // Busy times: generous UTC bounds around the local dates (zones are at most +-14h from UTC).
    const busy = await this.busy(
      doctorId,
      new Date(`${addDays(q.fromDate, -1)}T00:00:00Z`),
      new Date(`${addDays(q.toDate, 2)}T00:00:00Z`),
    );
    const slots = computeSlots({
      ...schedule,
      fromDate: q.fromDate,
      toDate: q.toDate,
      durationMinutes: q.durationMinutes,
      busy,
      notBefore: q.now,
    });
    return { timeZone: schedule.timeZone, slots };
  }
}

/** Minutes after local midnight as 'HH:MM' (1440 = '24:00', the end of the day). */
const wallTime = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
