import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { ProblemError } from '../errors.ts';

const BASE = Date.parse('2030-01-07T09:00:00Z');
const minutes = (m: number) => new Date(BASE + m * 60_000);

type Seed = Awaited<ReturnType<typeof seedSchedulingServices>>;

async function attempt(s: Seed, doctorId: string, i: number, startsAt: Date) {
  try {
    const row = await s.scheduling.booking.book(s.operator, { clinicId: s.clinicId, doctorId, patientId: s.patientIds[i % s.patientIds.length]!, consultTypeId: s.consultTypeId, startsAt, patientJurisdiction: 'DE' });
    return { ok: true as const, startsAt, id: row.id };
  } catch (err) {
    if (err instanceof ProblemError && err.code === 'slot_taken') return { ok: false as const, startsAt };
    throw err;
  }
}

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
    s = await seedSchedulingServices(handle.db, { doctors: 2, patients: 20 });
  });
  afterAll(async () => {
    await handle.close();
    await pg.drop();
  });

  it('500 concurrent attempts on 10 slots (50 each): exactly one wins per slot, 490 get slot_taken', async () => {
    const doctorId = s.doctorIds[0]!;
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => attempt(s, doctorId, i, minutes((i % 10) * 30))));
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

  it('500 concurrent attempts at overlapping times (5-minute grid, 30-minute consults): no overlap lands, every refusal really overlapped a winner', async () => {
    const doctorId = s.doctorIds[1]!;
    // The next day: the same patients hold the first test's appointments, and a patient cannot be in two at once.
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => attempt(s, doctorId, i, minutes(24 * 60 + ((i * 7) % 36) * 5))));
    const wins = results.filter((r) => r.ok);
    const losses = results.filter((r) => !r.ok);
    // Each winner blocks the 11 grid starts within 25 minutes of it, so 36 starts need at least 4 winners.
    expect(wins.length).toBeGreaterThanOrEqual(4);
    expect(wins.length + losses.length).toBe(500);
    const overlapsWinner = (t: Date) => wins.some((w) => Math.abs(w.startsAt.getTime() - t.getTime()) < 30 * 60_000);
    expect(losses.every((l) => overlapsWinner(l.startsAt))).toBe(true);
    for (const a of wins) for (const b of wins) if (a !== b) expect(Math.abs(a.startsAt.getTime() - b.startsAt.getTime())).toBeGreaterThanOrEqual(30 * 60_000);
    expect(await overlaps(handle)).toBe(0);
  });
});

describe('no double booking under concurrency: PGlite', () => {
  let handle: DbHandle;
  let s: Seed;
  beforeAll(async () => {
    handle = await openDb({ pgliteDir: 'memory://' });
    s = await seedSchedulingServices(handle.db, { doctors: 1, patients: 5 });
  });
  afterAll(() => handle.close());

  it('100 concurrent attempts on 4 overlapping-by-design times: exactly one per slot, 0 overlaps', async () => {
    const doctorId = s.doctorIds[0]!;
    // Starts at 0, 15, 30, 45 ... minutes: 0 and 30 can both win, 15 and 45 only if their neighbours lost.
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => attempt(s, doctorId, i, minutes((i % 4) * 15))));
    const wins = results.filter((r) => r.ok);
    expect(wins.length).toBeGreaterThanOrEqual(1);
    expect(wins.length).toBeLessThanOrEqual(3);
    expect(results.filter((r) => !r.ok)).toHaveLength(100 - wins.length);
    const starts = wins.map((w) => w.startsAt.getTime()).sort();
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(30 * 60_000);
    expect(await overlaps(handle)).toBe(0);
    expect(await count(handle)).toBe(wins.length);
  });
});
