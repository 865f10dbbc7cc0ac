import { addDays, isoWeekday, zonedToInstant } from './zoned-time.ts';

export type WeeklyRule = {
  weekday: number;
  startMinute: number;
  endMinute: number;
  validFrom: string | null;
  validUntil: string | null;
};
export type AvailabilityException = {
  date: string;
  kind: 'unavailable' | 'available';
  startMinute: number | null;
  endMinute: number | null;
};
export type Interval = { start: Date; end: Date };

/**
 * The doctor's open windows on one local date, as local minute ranges: the weekly rules for that
 * weekday, plus 'available' exceptions, minus 'unavailable' ones (a null range = the whole day).
 */
export function localWindows(
  date: string,
  rules: readonly WeeklyRule[],
  exceptions: readonly AvailabilityException[],
): [number, number][] {
  const weekday = isoWeekday(date);
  let windows: [number, number][] = rules
    .filter(
      (r) =>
        r.weekday === weekday &&
        (!r.validFrom || r.validFrom <= date) &&
        (!r.validUntil || date <= r.validUntil),
    )
    .map((r) => [r.startMinute, r.endMinute]);
  const today = exceptions.filter((e) => e.date === date);
  for (const e of today)
    if (e.kind === 'available' && e.startMinute !== null && e.endMinute !== null)
      windows.push([e.startMinute, e.endMinute]);
  windows = merge(windows);
  for (const e of today) {
    if (e.kind !== 'unavailable') continue;
    windows = subtract(windows, [e.startMinute ?? 0, e.endMinute ?? 1440]);
  }
  return windows;
}

/**
 * Bookable slots of `durationMinutes` for local dates [fromDate, toDate] (inclusive) in `timeZone`.
 * Windows are converted to instants first and slots stepped in real elapsed time, so a window that
 * spans a DST change yields exactly as many slots as fit in the hours that really pass.
 */
export function computeSlots(input: {
  timeZone: string;
  fromDate: string;
  toDate: string;
  durationMinutes: number;
  rules: readonly WeeklyRule[];
  exceptions: readonly AvailabilityException[];
  busy: readonly Interval[];
  notBefore?: Date;
}): Interval[] {
  const step = input.durationMinutes * 60_000;
  const out: Interval[] = [];
  for (let date = input.fromDate; date <= input.toDate; date = addDays(date, 1)) {
    for (const [s, e] of localWindows(date, input.rules, input.exceptions)) {
      const windowEnd = zonedToInstant(input.timeZone, date, e).getTime();
      for (let t = zonedToInstant(input.timeZone, date, s).getTime(); t + step <= windowEnd; t += step) {
        const slot = { start: new Date(t), end: new Date(t + step) };
        if (input.notBefore && slot.start < input.notBefore) continue;
        if (input.busy.some((b) => b.start < slot.end && slot.start < b.end)) continue;
        out.push(slot);
      }
    }
  }
  return out;
}

/**
 * Where [start, end) falls: inside one open window of the local date(s) it touches and starting on
 * that window's slot grid (window start + k x `stepMinutes` in elapsed time, exactly the starts
 * computeSlots lists), inside a window but between grid points, or outside every window.
 */
export function slotPlacement(
  timeZone: string,
  start: Date,
  end: Date,
  dates: readonly string[],
  rules: readonly WeeklyRule[],
  exceptions: readonly AvailabilityException[],
  stepMinutes: number,
): 'on_grid' | 'off_grid' | 'outside' {
  let inside = false;
  for (const date of dates) {
    for (const [s, e] of localWindows(date, rules, exceptions)) {
      const windowStart = zonedToInstant(timeZone, date, s).getTime();
      if (windowStart > start.getTime() || end.getTime() > zonedToInstant(timeZone, date, e).getTime())
        continue;
      if ((start.getTime() - windowStart) % (stepMinutes * 60_000) === 0) return 'on_grid';
      inside = true;
    }
  }
  return inside ? 'off_grid' : 'outside';
}

/** True when [start, end) lies entirely inside one open window of the local date(s) it touches. */
export function withinAvailability(
  timeZone: string,
  start: Date,
  end: Date,
  dates: readonly string[],
  rules: readonly WeeklyRule[],
  exceptions: readonly AvailabilityException[],
): boolean {
  return dates.some((date) =>
    localWindows(date, rules, exceptions).some(
      ([s, e]) => zonedToInstant(timeZone, date, s) <= start && end <= zonedToInstant(timeZone, date, e),
    ),
  );
}

function merge(ws: [number, number][]): [number, number][] {
  const sorted = [...ws].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else out.push([w[0], w[1]]);
  }
  return out;
}

function subtract(ws: [number, number][], [bs, be]: [number, number]): [number, number][] {
  return ws.flatMap(([s, e]): [number, number][] => {
    if (be <= s || e <= bs) return [[s, e]];
    const parts: [number, number][] = [];
    if (s < bs) parts.push([s, bs]);
    if (be < e) parts.push([be, e]);
    return parts;
  });
}
