// Wall-clock <-> instant conversion for IANA zones with Intl only (Node 20 has no Temporal), so
// no time-zone dependency is needed. Semantics follow Temporal's 'compatible' disambiguation:
// a wall time inside a spring-forward gap moves forward by the gap; an ambiguous fall-back wall
// time resolves to the earlier instant.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * The zone's proper spelling ('america/new_york' -> 'America/New_York'); call only on valid zones.
 * Case only: ICU would also swap aliases for other names ('EST' -> 'America/Panama'), which would
 * surprise the person who typed them.
 */
export function canonicalTimeZone(timeZone: string): string {
  const resolved = formatter(timeZone).resolvedOptions().timeZone;
  return resolved.toLowerCase() === timeZone.toLowerCase() ? resolved : timeZone;
}

// formatToParts is the costly step of every conversion (it is on each booking's path), and the
// same zone and second recur (slot grids, rule boundaries): the answers are kept, up to a bound.
const offsets = new Map<string, number>();
const MAX_CACHED_OFFSETS = 50_000;

/** The zone's UTC offset (ms) at an instant. */
export function offsetAt(timeZone: string, epochMs: number): number {
  const whole = Math.floor(epochMs / 1000) * 1000;
  const key = `${timeZone} ${whole}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  if (offsets.size >= MAX_CACHED_OFFSETS) offsets.clear();
  const offset = computeOffset(timeZone, whole);
  offsets.set(key, offset);
  return offset;
}

function computeOffset(timeZone: string, whole: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(whole)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return asUtc - whole;
}

/** A local calendar date 'YYYY-MM-DD' plus minutes after midnight -> the instant in the zone. */
export function zonedToInstant(timeZone: string, localDate: string, minuteOfDay: number): Date {
  const [y, m, d] = localDate.split('-').map(Number) as [number, number, number];
  // Date.UTC normalises minute 1440 to the next day's midnight, which is what an end of day means.
  const naive = Date.UTC(y, m - 1, d, 0, minuteOfDay);
  const before = offsetAt(timeZone, naive - 86_400_000);
  const after = offsetAt(timeZone, naive + 86_400_000);
  const candidates = [...new Set([naive - before, naive - after])].filter(
    (t) => t + offsetAt(timeZone, t) === naive,
  );
  if (candidates.length) return new Date(Math.min(...candidates));
  // In a gap: keep the offset in force before the change, i.e. push forward by the gap's length.
  return new Date(naive - before);
}

/** The local date and minute-of-day of an instant, for display and for finding which day's rules apply. */
export function instantToZoned(
  timeZone: string,
  at: Date,
): { date: string; minute: number; offsetMinutes: number } {
  const offset = offsetAt(timeZone, at.getTime());
  const local = new Date(at.getTime() + offset);
  return {
    date: local.toISOString().slice(0, 10),
    minute: local.getUTCHours() * 60 + local.getUTCMinutes(),
    offsetMinutes: Math.round(offset / 60_000),
  };
}

/** ISO-8601 local time with its offset, e.g. 2026-03-29T09:00:00+02:00. */
export function formatZoned(timeZone: string, at: Date): string {
  const { date, minute, offsetMinutes } = instantToZoned(timeZone, at);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date}T${pad(Math.floor(minute / 60))}:${pad(minute % 60)}:${pad(at.getUTCSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** ISO weekday (1 = Monday) of a calendar date; a calendar date has no zone. */
export function isoWeekday(localDate: string): number {
  const day = new Date(`${localDate}T00:00:00Z`).getUTCDay();
  return day === 0 ? 7 : day;
}

export function addDays(localDate: string, days: number): string {
  const t = new Date(`${localDate}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + days);
  return t.toISOString().slice(0, 10);
}
