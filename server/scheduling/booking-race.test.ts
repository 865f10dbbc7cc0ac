import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { ProblemError } from '../api/errors.ts';

const BASE = Date.parse('2030-01-07T09:00:00Z');
const minutes = (m: number) => new Date(BASE + m * 60_000);

type Seed = Awaited<ReturnType<typeof seedSchedulingServices>>;

async function attempt(s: Seed, doctorId: string, i: number, startsAt: Date, minutes = 30) {
  const endsAt = new Date(startsAt.getTime() + minutes * 60_000);
  try {
    const row = await s.scheduling.booking.book(s.operator, {
      clinicId: s.clinicId,
      doctorId,
      patientId: s.patientIds[i % s.patientIds.length]!,
      consultTypeId: s.consultTypeIds[minutes]!,
      startsAt,
      patientJurisdiction: 'DE',
    });
    return { ok: true as const, startsAt, endsAt, id: row.id };
  } catch (err) {
    if (err instanceof ProblemError && err.code === 'slot_taken')
      return { ok: false as const, startsAt, endsAt };
    throw err;
  }
}

const overlap = (a: { startsAt: Date; endsAt: Date }, b: { startsAt: Date; endsAt: Date }) =>
  a.startsAt < b.endsAt && b.startsAt < a.endsAt;

/** Pairs of active appointments of one doctor that overlap: must always be empty. */
async function overlaps(handle: DbHandle) {
  const r = await handle.db.execute(sql`
    select a.id from appointments a join appointments b
      on a.doctor_id = b.doctor_id and a.id < b.id
     and tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')
     and a.status not in ('cancelled','no_show') and b.status not in ('cancelled','no_show')`);
  return Array.isArray(r) ? r.length : (r as { rows: unknown[] }).rows.length;
}

async function count(handle: DbHandle) {
  const r = await handle.db.execute(sql`select count(*)::int as n from appointments`);
  return ((Array.isArray(r) ? r[0] : (r as { rows: unknown[] }).rows[0]) as { n: number }).n;
}

describe('no double booking under concurrency: real PostgreSQL', () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  let s: Seed;
  beforeAll(async () => {
    pg = await createTestDatabase();
    handle = await openDb({ databaseUrl: pg.url, maxConnections: 20 });
    s = await seedSchedulingServices(handle.db, { doctors: 2, patients: 20, otherConsultMinutes: [20, 45] });
  });
  afterAll(async () => {
    await handle.close();
    await pg.drop();
  });

  it('500 concurrent attempts on 10 slots (50 each): exactly one wins per slot, 490 get slot_taken', async () => {
    const doctorId = s.doctorIds[0]!;
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => attempt(s, doctorId, i, minutes((i % 10) * 30))),
    );
    const wins = results.filter((r) => r.ok);
    expect(wins).toHaveLength(10);
    expect(new Set(wins.map((w) => w.startsAt.getTime())).size).toBe(10);
    expect(results.filter((r) => !r.ok)).toHaveLength(490);
    expect(await overlaps(handle)).toBe(0);
    expect(await count(handle)).toBe(10);
    // Every refusal was audited as a failed booking.
    const failed = await s.audit.query({ action: 'appointment.book', limit: 1000 });
    expect(failed.filter((e) => e.outcome === 'failed' && e.reason === 'slot_taken')).toHaveLength(490);
  });

  it('500 concurrent attempts at overlapping times (20-, 30- and 45-minute consults, each on its slot grid): no overlap lands, every refusal really overlapped a winner', async () => {
    const doctorId = s.doctorIds[1]!;
    // The next day: the same patients hold the first test's appointments, and a patient cannot be in two at once.
    // Within 09:00-12:00: 9 starts of 20 minutes, 6 of 30, 4 of 45, partly overlapping each other.
    const lengths = [20, 30, 45];
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => {
        const len = lengths[i % 3]!;
        return attempt(
          s,
          doctorId,
          i,
          minutes(24 * 60 + ((Math.floor(i / 3) * 7) % Math.floor(180 / len)) * len),
          len,
        );
      }),
    );
    const wins = results.filter((r) => r.ok);
    const losses = results.filter((r) => !r.ok);
    // The first and the last 30-minute slots cannot be covered by one winner.
    expect(wins.length).toBeGreaterThanOrEqual(2);
    expect(wins.length + losses.length).toBe(500);
    expect(losses.every((l) => wins.some((w) => overlap(w, l)))).toBe(true);
    for (const a of wins) for (const b of wins) if (a !== b) expect(overlap(a, b)).toBe(false);
    expect(await overlaps(handle)).toBe(0);
  });
});

describe('no double booking under concurrency: PGlite', () => {
  let handle: DbHandle;
  let s: Seed;
  beforeAll(async () => {
    handle = await openDb({ pgliteDir: 'memory://' });
    s = await seedSchedulingServices(handle.db, { doctors: 1, patients: 5, otherConsultMinutes: [20] });
  });
  afterAll(() => handle.close());

  it('100 concurrent attempts on 4 overlapping-by-design times: exactly one per slot, 0 overlaps', async () => {
    const doctorId = s.doctorIds[0]!;
    // [0,30) [20,40) [30,60) [40,60) minutes (30- and 20-minute consults on their grids): each overlaps
    // its neighbours, so at most two can win, and whichever arrives first, two do.
    const tries = [
      [0, 30],
      [20, 20],
      [30, 30],
      [40, 20],
    ] as const;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        attempt(s, doctorId, i, minutes(tries[i % 4]![0]), tries[i % 4]![1]),
      ),
    );
    const wins = results.filter((r) => r.ok);
    expect(wins.length).toBeGreaterThanOrEqual(1);
    expect(wins.length).toBeLessThanOrEqual(2);
    expect(results.filter((r) => !r.ok)).toHaveLength(100 - wins.length);
    for (const a of wins) for (const b of wins) if (a !== b) expect(overlap(a, b)).toBe(false);
    expect(await overlaps(handle)).toBe(0);
    expect(await count(handle)).toBe(wins.length);
  });
});
