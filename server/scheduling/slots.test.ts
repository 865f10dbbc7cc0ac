import { describe, expect, it } from 'vitest';
import { computeSlots, localWindows, withinAvailability, type WeeklyRule } from './slots.ts';
import { formatZoned, instantToZoned, isValidTimeZone, isoWeekday, zonedToInstant } from './zoned-time.ts';

const rule = (weekday: number, start: string, end: string, extra: Partial<WeeklyRule> = {}): WeeklyRule => ({
  weekday,
  startMinute: toMin(start),
  endMinute: toMin(end),
  validFrom: null,
  validUntil: null,
  ...extra,
});
const toMin = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const iso = (d: Date) => d.toISOString();

describe('zoned time (Intl, Temporal "compatible" semantics)', () => {
  it('converts wall time to UTC on both sides of the Berlin and New York DST changes', () => {
    // Berlin: CET (+1) before 29 Mar 2026 02:00, CEST (+2) after; back on 25 Oct 2026 03:00.
    expect(iso(zonedToInstant('Europe/Berlin', '2026-03-28', toMin('09:00')))).toBe(
      '2026-03-28T08:00:00.000Z',
    );
    expect(iso(zonedToInstant('Europe/Berlin', '2026-03-30', toMin('09:00')))).toBe(
      '2026-03-30T07:00:00.000Z',
    );
    expect(iso(zonedToInstant('Europe/Berlin', '2026-10-26', toMin('09:00')))).toBe(
      '2026-10-26T08:00:00.000Z',
    );
    // New York: EST (-5) -> EDT (-4) on 8 Mar 2026; back on 1 Nov 2026.
    expect(iso(zonedToInstant('America/New_York', '2026-03-07', toMin('09:00')))).toBe(
      '2026-03-07T14:00:00.000Z',
    );
    expect(iso(zonedToInstant('America/New_York', '2026-03-09', toMin('09:00')))).toBe(
      '2026-03-09T13:00:00.000Z',
    );
    expect(iso(zonedToInstant('America/New_York', '2026-11-02', toMin('09:00')))).toBe(
      '2026-11-02T14:00:00.000Z',
    );
  });

  it('a wall time in the spring-forward gap moves forward; an ambiguous fall-back time takes the earlier instant', () => {
    // 02:30 does not exist in Berlin on 29 Mar 2026: becomes 03:30 CEST = 01:30Z.
    expect(iso(zonedToInstant('Europe/Berlin', '2026-03-29', toMin('02:30')))).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    // 02:30 happens twice in Berlin on 25 Oct 2026: first (CEST) = 00:30Z.
    expect(iso(zonedToInstant('Europe/Berlin', '2026-10-25', toMin('02:30')))).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    // 01:30 happens twice in New York on 1 Nov 2026: first (EDT) = 05:30Z.
    expect(iso(zonedToInstant('America/New_York', '2026-11-01', toMin('01:30')))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
    // Midnight of the next day (end-of-day 1440) is the next date's 00:00.
    expect(iso(zonedToInstant('Europe/Berlin', '2026-03-29', 1440))).toBe('2026-03-29T22:00:00.000Z');
  });

  it('formats local time with the offset in force and knows zones and weekdays', () => {
    expect(formatZoned('Europe/Berlin', new Date('2026-03-29T07:00:00Z'))).toBe('2026-03-29T09:00:00+02:00');
    expect(formatZoned('America/New_York', new Date('2026-11-01T14:00:00Z'))).toBe(
      '2026-11-01T09:00:00-05:00',
    );
    expect(formatZoned('Asia/Kolkata', new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-01T05:30:00+05:30');
    expect(instantToZoned('Pacific/Auckland', new Date('2026-06-30T23:00:00Z'))).toEqual({
      date: '2026-07-01',
      minute: 11 * 60,
      offsetMinutes: 720,
    });
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isoWeekday('2026-03-29')).toBe(7);
    expect(isoWeekday('2026-03-30')).toBe(1);
  });
});

describe('slots', () => {
  it('keeps 09:00 local across the Berlin spring-forward week (UTC shifts by an hour)', () => {
    const slots = computeSlots({
      timeZone: 'Europe/Berlin',
      fromDate: '2026-03-27',
      toDate: '2026-03-30',
      durationMinutes: 60,
      rules: [rule(5, '09:00', '11:00'), rule(1, '09:00', '11:00')],
      exceptions: [],
      busy: [],
    });
    expect(slots.map((s) => iso(s.start))).toEqual([
      '2026-03-27T08:00:00.000Z',
      '2026-03-27T09:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-30T08:00:00.000Z',
    ]);
    expect(slots.map((s) => formatZoned('Europe/Berlin', s.start))).toEqual([
      '2026-03-27T09:00:00+01:00',
      '2026-03-27T10:00:00+01:00',
      '2026-03-30T09:00:00+02:00',
      '2026-03-30T10:00:00+02:00',
    ]);
  });

  it('a night window across a DST change yields the hours that really pass (3 in spring, 5 in autumn)', () => {
    const night = (tz: string, date: string) =>
      computeSlots({
        timeZone: tz,
        fromDate: date,
        toDate: date,
        durationMinutes: 60,
        rules: [rule(isoWeekday(date), '00:00', '04:00')],
        exceptions: [],
        busy: [],
      });
    expect(night('Europe/Berlin', '2026-03-29')).toHaveLength(3);
    expect(night('Europe/Berlin', '2026-10-25')).toHaveLength(5);
    expect(night('America/New_York', '2026-03-08')).toHaveLength(3);
    const fallBack = night('America/New_York', '2026-11-01');
    expect(fallBack).toHaveLength(5);
    // Each slot is a distinct instant, one hour apart, even where the wall clock repeats 01:00.
    expect(fallBack.map((s) => formatZoned('America/New_York', s.start))).toEqual([
      '2026-11-01T00:00:00-04:00',
      '2026-11-01T01:00:00-04:00',
      '2026-11-01T01:00:00-05:00',
      '2026-11-01T02:00:00-05:00',
      '2026-11-01T03:00:00-05:00',
    ]);
  });

  it('the same rule in New York and Berlin gives different UTC times in the weeks when only one has changed', () => {
    // 9-23 Mar 2026: New York already on EDT, Berlin still on CET: the offset between them is 5h, not 6h.
    const at = (tz: string) =>
      computeSlots({
        timeZone: tz,
        fromDate: '2026-03-16',
        toDate: '2026-03-16',
        durationMinutes: 30,
        rules: [rule(1, '09:00', '09:30')],
        exceptions: [],
        busy: [],
      })[0]!;
    expect(at('America/New_York').start.getTime() - at('Europe/Berlin').start.getTime()).toBe(5 * 3_600_000);
  });

  it('applies exceptions: whole day off, a blocked window, extra hours; validity dates; busy times; notBefore', () => {
    const rules = [rule(1, '09:00', '12:00'), rule(2, '09:00', '12:00', { validUntil: '2026-06-09' })];
    const exceptions = [
      { date: '2026-06-01', kind: 'unavailable' as const, startMinute: null, endMinute: null },
      {
        date: '2026-06-08',
        kind: 'unavailable' as const,
        startMinute: toMin('10:00'),
        endMinute: toMin('11:00'),
      },
      {
        date: '2026-06-13',
        kind: 'available' as const,
        startMinute: toMin('08:00'),
        endMinute: toMin('09:00'),
      },
    ];
    expect(localWindows('2026-06-01', rules, exceptions)).toEqual([]);
    expect(localWindows('2026-06-08', rules, exceptions)).toEqual([
      [540, 600],
      [660, 720],
    ]);
    expect(localWindows('2026-06-09', rules, exceptions)).toEqual([[540, 720]]);
    expect(localWindows('2026-06-16', rules, exceptions)).toEqual([]);
    expect(localWindows('2026-06-13', rules, exceptions)).toEqual([[480, 540]]);
    const slots = computeSlots({
      timeZone: 'UTC',
      fromDate: '2026-06-08',
      toDate: '2026-06-08',
      durationMinutes: 30,
      rules,
      exceptions,
      busy: [{ start: new Date('2026-06-08T09:15:00Z'), end: new Date('2026-06-08T09:45:00Z') }],
      notBefore: new Date('2026-06-08T09:00:00Z'),
    });
    // 09:00 and 09:30 overlap the busy 09:15-09:45; 10:00-11:00 blocked; 11:00, 11:30 remain.
    expect(slots.map((s) => iso(s.start).slice(11, 16))).toEqual(['11:00', '11:30']);
  });

  it('withinAvailability accepts a slot inside a window and refuses one sticking out', () => {
    const rules = [rule(1, '09:00', '10:00')];
    const inside = withinAvailability(
      'Europe/Berlin',
      new Date('2026-03-30T07:00:00Z'),
      new Date('2026-03-30T07:30:00Z'),
      ['2026-03-30'],
      rules,
      [],
    );
    const outside = withinAvailability(
      'Europe/Berlin',
      new Date('2026-03-30T07:45:00Z'),
      new Date('2026-03-30T08:15:00Z'),
      ['2026-03-30'],
      rules,
      [],
    );
    expect([inside, outside]).toEqual([true, false]);
  });
});
