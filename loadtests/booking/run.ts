// Booking load test: bookings/s through the real service layer (policy + audit + availability +
// licence checks + the exclusion-constrained insert) against real PostgreSQL: closed loop (a fixed
// number in flight) and open loop (a fixed arrival rate, stepped up until the backlog grows), then
// a contention round proving 0 double bookings. Prints JSON and tables. Usage: npm run loadtest:booking
// Env: SUSTAIN_RATES (1000,1500,2000,2250,...,4000), SUSTAIN_SECONDS (5), BOOKINGS (default 6000), HTTP_BOOKINGS (2000), CONCURRENCY (64), CONTENTION_ATTEMPTS (2000), CONTENTION_SLOTS (20),
// DOCTORS (100), POOL (20), TEST_PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres).
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { openDb } from '../../db/client.ts';
import { ProblemError } from '../../server/api/errors.ts';
import { runWithContext } from '../../server/request-context.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { seedSchedulingServices } from '../../test/helpers/scheduling-seed.ts';
import { httpBookingApp } from './http-app.ts';
import { latencySummary } from '../stats.ts';
import { phaseTimer } from './phase-timer.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const BOOKINGS = env('BOOKINGS', 6000);
const CONCURRENCY = env('CONCURRENCY', 64);
const CONTENTION_ATTEMPTS = env('CONTENTION_ATTEMPTS', 2000);
const CONTENTION_SLOTS = env('CONTENTION_SLOTS', 20);
const DOCTORS = env('DOCTORS', 100);
const POOL = env('POOL', 20);
const HTTP_BOOKINGS = env('HTTP_BOOKINGS', 2000);
const SUSTAIN_RATES = (process.env.SUSTAIN_RATES ?? '1000,1500,2000,2250,2500,2750,3000,3500,4000')
  .split(',')
  .map(Number);
const SUSTAIN_SECONDS = env('SUSTAIN_SECONDS', 5);
const HTTP_SUSTAIN_RATES = (process.env.HTTP_SUSTAIN_RATES ?? '1000,1500,2000,2500,3000')
  .split(',')
  .map(Number);
const BASE = Date.parse('2031-01-06T00:00:00Z');
const SLOT_MS = 30 * 60_000;

const database = await createTestDatabase();
const handle = await openDb({ databaseUrl: database.url, maxConnections: POOL });
try {
  const timer = phaseTimer();
  // A 20-minute type beside the 30-minute one: bookings start on their type's slot grid, so only
  // types of different lengths can overlap partly (the contention round).
  const seed = await seedSchedulingServices(handle.db, {
    doctors: DOCTORS,
    patients: 200,
    otherConsultMinutes: [20],
    observeBooking: timer.observe,
  });
  const book = (i: number, doctorId: string, startsAt: Date, consultMinutes = 30) =>
    // Each call runs in its own request context, as an API request would (the audit log reads it).
    runWithContext(
      {
        requestId: randomUUID(),
        ip: '127.0.0.1',
        userAgent: 'loadtest',
        actorId: seed.operator.userId,
        actorRole: 'operator',
      },
      () =>
        seed.scheduling.booking.book(seed.operator, {
          clinicId: seed.clinicId,
          doctorId,
          patientId: seed.patientIds[i % seed.patientIds.length]!,
          consultTypeId: seed.consultTypeIds[consultMinutes]!,
          startsAt,
          patientJurisdiction: 'DE',
        }),
    );

  /** A refused booking (slot_taken) is an expected outcome under contention; anything else is an error, the first few printed. */
  function countFailure(outcomes: { slotTaken: number; otherErrors: number }, err: unknown) {
    if (err instanceof ProblemError && err.code === 'slot_taken') return void outcomes.slotTaken++;
    if (++outcomes.otherErrors <= 3)
      console.error('unexpected error:', (err as Error).name, (err as { code?: string }).code);
  }

  /** Runs `total` jobs with at most `concurrency` in flight; returns per-call latencies (ms) and outcomes. */
  async function drive(total: number, concurrency: number, job: (i: number) => Promise<unknown>) {
    const latencies: number[] = [];
    const outcomes = { ok: 0, slotTaken: 0, otherErrors: 0 };
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < total; i = next++) {
          const t = performance.now();
          try {
            await job(i);
            outcomes.ok++;
          } catch (err) {
            countFailure(outcomes, err);
          }
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      total,
      concurrency,
      seconds: Math.round(seconds * 100) / 100,
      perSecond: Math.round(total / seconds),
      ...latencySummary(latencies),
      ...outcomes,
    };
  }

  /**
   * Open loop: `rate` bookings/s arrive on schedule whether or not earlier ones are done, for
   * `seconds`. Latency counts from the scheduled arrival (queueing included). The rate is sustained
   * when the backlog does not grow: p99 under 500 ms and completions keeping pace with arrivals.
   */
  async function sustain(rate: number, seconds: number, job: (i: number) => Promise<unknown>) {
    const total = Math.round(rate * seconds);
    const latencies: number[] = [];
    const outcomes = { ok: 0, slotTaken: 0, otherErrors: 0 };
    const running: Promise<void>[] = [];
    const started = performance.now();
    for (let launched = 0; launched < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      for (; launched < due; launched++) {
        const scheduled = started + (launched / rate) * 1000;
        running.push(
          job(launched)
            .then(
              () => void outcomes.ok++,
              (err) => countFailure(outcomes, err),
            )
            .finally(() => latencies.push(performance.now() - scheduled)),
        );
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(running);
    const elapsed = (performance.now() - started) / 1000;
    const achieved = Math.round(total / elapsed);
    const latency = latencySummary(latencies);
    return {
      offered: rate,
      achieved,
      ...latency,
      ...outcomes,
      sustained: latency.p99 < 500 && achieved >= rate * 0.97 && outcomes.otherErrors === 0,
    };
  }

  /**
   * Between phases: flush dirty pages and refresh statistics, so a phase does not pay for the
   * checkpoint and autovacuum the previous one's tens of thousands of rows set off.
   */
  async function settle() {
    await handle.db.execute(sql`checkpoint`);
    await handle.db.execute(sql`vacuum analyze`);
  }

  // Warm-up (JIT, connection pool, prepared statements) on a separate day, not measured.
  await drive(200, CONCURRENCY, (i) =>
    book(i, seed.doctorIds[i % DOCTORS]!, new Date(BASE - 86_400_000 + Math.floor(i / DOCTORS) * SLOT_MS)),
  );
  timer.reset();

  // Each phase books in its own range of days after BASE: `count` bookings spread as doctor i mod D,
  // slot i div D, so every booking of a throughput phase is a distinct free slot.
  let day = 0;
  const nextRange = (count: number) => {
    const base = BASE + day * 86_400_000;
    day += Math.ceil((Math.ceil(count / DOCTORS) * SLOT_MS) / 86_400_000) + 1;
    return base;
  };
  const slotOf = (base: number, i: number) => new Date(base + Math.floor(i / DOCTORS) * SLOT_MS);

  // 1. Throughput, closed loop.
  const tBase = nextRange(BOOKINGS);
  const throughput = await drive(BOOKINGS, CONCURRENCY, (i) =>
    book(i, seed.doctorIds[i % DOCTORS]!, slotOf(tBase, i)),
  );
  const phases = timer.report(throughput.total);

  await settle();
  // 1b. Sustained rate (open loop): step the offered rate up until the backlog grows. Each step books
  //     free slots in its own range of days.
  const sustainedSteps: Awaited<ReturnType<typeof sustain>>[] = [];
  for (const rate of SUSTAIN_RATES) {
    await settle();
    const sBase = nextRange(rate * SUSTAIN_SECONDS);
    const r = await sustain(rate, SUSTAIN_SECONDS, (i) =>
      book(i, seed.doctorIds[i % DOCTORS]!, slotOf(sBase, i)),
    );
    sustainedSteps.push(r);
    if (!r.sustained) break;
  }
  const maxSustained = Math.max(0, ...sustainedSteps.filter((r) => r.sustained).map((r) => r.offered));

  await settle();
  // 2. Contention: many attempts on few slots of one doctor, at overlapping times: 30- and 20-minute
  //    consults, each on its own slot grid, over CONTENTION_SLOTS half hours.
  const contended = seed.doctorIds[0]!;
  const cBase = nextRange(CONTENTION_SLOTS * 3 * DOCTORS);
  const contentionTry = (i: number) => {
    const minutes = i % 2 ? 20 : 30;
    const starts = Math.floor((CONTENTION_SLOTS * 30) / minutes);
    return { minutes, startsAt: new Date(cBase + (Math.floor(i / 2) % starts) * minutes * 60_000) };
  };
  const contentionStarts = new Set(
    Array.from(
      { length: CONTENTION_ATTEMPTS },
      (_, i) => `${contentionTry(i).minutes}@${contentionTry(i).startsAt.getTime()}`,
    ),
  ).size;
  const contention = await drive(CONTENTION_ATTEMPTS, CONCURRENCY, (i) =>
    book(i, contended, contentionTry(i).startsAt, contentionTry(i).minutes),
  );

  await settle();
  // 3. The same through the HTTP API (in-process app.request: auth middleware, zod, JSON).
  const http = await httpBookingApp(handle.db, seed.operator, seed.chainKey);
  const hBase = nextRange(HTTP_BOOKINGS);
  const bookOverHttp = async (base: number, i: number) => {
    const r = await http.book({
      clinicId: seed.clinicId,
      doctorId: seed.doctorIds[i % DOCTORS],
      patientId: seed.patientIds[i % seed.patientIds.length],
      consultTypeId: seed.consultTypeId,
      startsAt: slotOf(base, i).toISOString(),
      patientJurisdiction: 'DE',
    });
    if (r.status === 409 && r.code === 'slot_taken') throw new ProblemError(409, 'slot_taken', 'taken');
    if (r.status !== 201) throw new Error(`HTTP ${r.status} ${r.code}`);
  };
  const viaHttp = await drive(HTTP_BOOKINGS, CONCURRENCY, (i) => bookOverHttp(hBase, i));

  // 3b. The HTTP API in open loop, stepped like 1b.
  const httpSteps: Awaited<ReturnType<typeof sustain>>[] = [];
  for (const rate of HTTP_SUSTAIN_RATES) {
    await settle();
    const base = nextRange(rate * SUSTAIN_SECONDS);
    const r = await sustain(rate, SUSTAIN_SECONDS, (i) => bookOverHttp(base, i));
    httpSteps.push(r);
    if (!r.sustained) break;
  }
  const httpMaxSustained = Math.max(0, ...httpSteps.filter((r) => r.sustained).map((r) => r.offered));

  // 4. The serial ceiling: every booking appends at least one entry to the hash-chained audit log,
  //    and appends are serialised (advisory lock + commit per entry). Measured here on its own.
  const auditOnly = await drive(2000, CONCURRENCY, () =>
    runWithContext({ requestId: randomUUID(), ip: '127.0.0.1', userAgent: 'loadtest' }, () =>
      seed.audit.record({ action: 'loadtest.audit_ceiling', outcome: 'allowed', resourceType: 'loadtest' }),
    ),
  );

  const overlapRows = await handle.db.execute(sql`
    select count(*)::int as n from appointments a join appointments b
      on a.doctor_id = b.doctor_id and a.id < b.id
     and tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')
     and a.status not in ('cancelled','no_show') and b.status not in ('cancelled','no_show')`);
  const doubleBookings = (overlapRows as unknown as { n: number }[])[0]!.n;
  // Every booking above appended to the hash chain inside its batch transaction: it must verify.
  const chain = await seed.audit.verify();
  const cores = (await import('node:os')).cpus().length;
  const result = {
    test: 'booking',
    engine: 'postgresql',
    layer: 'service (policy + audit + validation + exclusion-constrained insert)',
    machine: { cores, node: process.version },
    settings: { bookings: BOOKINGS, concurrency: CONCURRENCY, pool: POOL, doctors: DOCTORS },
    throughput,
    sustained: { maxBookingsPerSecond: maxSustained, secondsPerStep: SUSTAIN_SECONDS, steps: sustainedSteps },
    timePerBookingMs: phases,
    http: {
      total: viaHttp.total,
      perSecond: viaHttp.perSecond,
      p50: viaHttp.p50,
      p95: viaHttp.p95,
      p99: viaHttp.p99,
      ok: viaHttp.ok,
      errors: viaHttp.otherErrors,
    },
    httpSustained: {
      maxBookingsPerSecond: httpMaxSustained,
      secondsPerStep: SUSTAIN_SECONDS,
      steps: httpSteps,
    },
    contention: {
      attempts: CONTENTION_ATTEMPTS,
      distinctStartTimes: contentionStarts,
      won: contention.ok,
      slotTaken: contention.slotTaken,
      otherErrors: contention.otherErrors,
      perSecond: contention.perSecond,
    },
    auditAppendsPerSecond: auditOnly.perSecond,
    doubleBookings,
    auditChain: chain.ok
      ? { ok: true, entries: chain.checked, seqGaps: chain.warnings.seqGaps }
      : { ok: false, brokenAt: chain.brokenAt },
    // The target is a capacity: the highest arrival rate served without a growing backlog.
    target: { bookingsPerSecond: 2000, met: maxSustained >= 2000 && doubleBookings === 0 },
  };
  console.log(JSON.stringify(result, null, 2));
  console.table({
    throughput: {
      'bookings/s': throughput.perSecond,
      ok: throughput.ok,
      slot_taken: throughput.slotTaken,
      errors: throughput.otherErrors,
      'p50 ms': throughput.p50,
      'p95 ms': throughput.p95,
      'p99 ms': throughput.p99,
    },
    'http (in-process)': {
      'bookings/s': viaHttp.perSecond,
      ok: viaHttp.ok,
      slot_taken: viaHttp.slotTaken,
      errors: viaHttp.otherErrors,
      'p50 ms': viaHttp.p50,
      'p95 ms': viaHttp.p95,
      'p99 ms': viaHttp.p99,
    },
    'audit append only': {
      'bookings/s': auditOnly.perSecond,
      ok: auditOnly.ok,
      slot_taken: 0,
      errors: auditOnly.otherErrors,
      'p50 ms': auditOnly.p50,
      'p95 ms': auditOnly.p95,
      'p99 ms': auditOnly.p99,
    },
    contention: {
      'bookings/s': contention.perSecond,
      ok: contention.ok,
      slot_taken: contention.slotTaken,
      errors: contention.otherErrors,
      'p50 ms': contention.p50,
      'p95 ms': contention.p95,
      'p99 ms': contention.p99,
    },
  });
  console.table(
    Object.fromEntries(
      [
        ...sustainedSteps.map((r) => ['service', r] as const),
        ...httpSteps.map((r) => ['http', r] as const),
      ].map(([layer, r]) => [
        `${layer} open loop ${r.offered}/s`,
        {
          'achieved/s': r.achieved,
          ok: r.ok,
          slot_taken: r.slotTaken,
          errors: r.otherErrors,
          'p50 ms': r.p50,
          'p95 ms': r.p95,
          'p99 ms': r.p99,
          sustained: r.sustained,
        },
      ]),
    ),
  );
  console.log(
    `sustained: ${maxSustained} bookings/s (HTTP API: ${httpMaxSustained}/s); closed loop (${CONCURRENCY} in flight): ${throughput.perSecond}/s; double bookings: ${doubleBookings}; audit chain: ${chain.ok ? `valid (${chain.checked} entries)` : 'BROKEN'}; target >= 2000 bookings/s sustained: ${result.target.met ? 'met' : 'NOT met'}`,
  );
  if (doubleBookings !== 0 || !chain.ok) process.exitCode = 1;
} finally {
  await handle.close();
  await database.drop();
}
