// FHIR search load test: Appointment searches through the real app (bearer auth, search parsing,
// policy per row, audit entries in the read's transaction, Bundle JSON) on real PostgreSQL with
// 1,000 patients x 20 appointments. Closed loop, in-process app.request() (the API's cost, not the
// kernel's). Prints JSON, writes it to results/, then a table. Target: p99 <= 50 ms.
// Usage: npx tsx loadtests/records/fhir-search.ts
// Env: PATIENTS (1000), PER_PATIENT (20), DOCTORS (20), REQUESTS (2000 per scenario and level), CONCURRENCY (1,4: requests in flight), POOL (10).
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { openDb } from '../../db/client.ts';
import { appointments, careRelationships, clinicMembers, clinics, users } from '../../db/schema/index.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createServices } from '../../server/services.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { latencySummary } from '../stats.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const PATIENTS = env('PATIENTS', 1000);
const PER_PATIENT = env('PER_PATIENT', 20);
const DOCTORS = env('DOCTORS', 20);
const REQUESTS = env('REQUESTS', 2000);
const CONCURRENCY = (process.env.CONCURRENCY ?? '1,4').split(',').map(Number);
const POOL = env('POOL', 10);
const BASE = Date.parse('2031-01-06T00:00:00Z');
const SLOT_MS = 30 * 60_000;

const database = await createTestDatabase();
const handle = await openDb({ databaseUrl: database.url, maxConnections: POOL });
try {
  const { db } = handle;
  const config = loadConfig({
    NODE_ENV: 'test',
    DEMO: 'off',
    PASSWORD_HASH_STRENGTH: 'minimum',
    LOG_LEVEL: 'silent',
  });
  const logger = createLogger('silent');
  const services = await createServices(config, { db, logger }, { publicUrl: () => 'http://loadtest' });
  const app = createApp(services, {
    logger,
    turn: undefined,
    demo: undefined,
    registry: new Registry(),
    checks: {},
  });

  // Seed: one clinic, doctors, patients each treated by one doctor, PER_PATIENT appointments each,
  // inserted in bulk (the booking path has its own load test); no two overlap for a doctor or a patient.
  const seedStarted = performance.now();
  const clinicId = randomUUID();
  await db.insert(clinics).values({ id: clinicId, name: 'Load clinic' });
  const person = (role: 'doctor' | 'patient', i: number) => ({
    id: randomUUID(),
    role,
    displayName: `${role} ${i}`,
    email: `${role}-${i}-${randomUUID()}@example.test`,
  });
  const doctors = Array.from({ length: DOCTORS }, (_, i) => person('doctor', i));
  const patients = Array.from({ length: PATIENTS }, (_, i) => person('patient', i));
  for (let i = 0; i < patients.length + doctors.length; i += 500) {
    const chunk = [...doctors, ...patients].slice(i, i + 500);
    await db.insert(users).values(chunk);
    await db.insert(clinicMembers).values(chunk.map((u) => ({ clinicId, userId: u.id })));
  }
  const doctorOf = (i: number) => doctors[i % DOCTORS]!;
  await db.insert(careRelationships).values(
    patients.map((p, i) => ({
      clinicId,
      doctorId: doctorOf(i).id,
      patientId: p.id,
      createdBy: doctorOf(i).id,
    })),
  );
  const type = await services.scheduling.clinics.createConsultType(clinicId, {
    name: 'Video',
    kind: 'video',
    durationMinutes: 30,
    priceMinor: 3000,
    currency: 'EUR',
  });
  const rows = patients.flatMap((p, i) =>
    Array.from({ length: PER_PATIENT }, (_, k) => {
      const startsAt = new Date(BASE + (Math.floor(i / DOCTORS) * PER_PATIENT + k) * SLOT_MS);
      return {
        id: randomUUID(),
        clinicId,
        doctorId: doctorOf(i).id,
        patientId: p.id,
        consultTypeId: type.id,
        kind: 'video' as const,
        status: 'confirmed' as const,
        startsAt,
        endsAt: new Date(startsAt.getTime() + SLOT_MS),
        patientJurisdiction: 'DE',
        priceMinor: 3000,
        currency: 'EUR',
        bookedBy: p.id,
      };
    }),
  );
  for (let i = 0; i < rows.length; i += 1000) await db.insert(appointments).values(rows.slice(i, i + 1000));
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  const token = async (u: { id: string; role: 'doctor' | 'patient' }) =>
    (
      await services.identity.sessions.create(
        { id: u.id, role: u.role },
        { ip: '127.0.0.1', userAgent: 'loadtest' },
      )
    ).accessToken;
  const patientTokens = await Promise.all(patients.slice(0, 100).map(token));
  const doctorTokens = await Promise.all(doctors.map(token));

  const get = async (path: string, bearer: string, expectEntries: number) => {
    const res = await app.request(
      `/fhir/R4/${path}`,
      { headers: { authorization: `Bearer ${bearer}`, accept: 'application/fhir+json' } },
      { remoteAddress: '127.0.0.1' },
    );
    const body = (await res.json()) as { entry?: unknown[] };
    if (res.status !== 200 || (body.entry?.length ?? 0) !== expectEntries)
      throw new Error(
        `${path}: ${res.status}, ${body.entry?.length ?? 0} entries (expected ${expectEntries})`,
      );
  };
  const scenarios = [
    {
      name: 'patient: own appointments (date range)',
      entries: PER_PATIENT,
      request: (n: number) => {
        const i = n % patientTokens.length;
        return get(
          `Appointment?patient=Patient/${patients[i]!.id}&date=ge2031-01-01&_count=${PER_PATIENT}`,
          patientTokens[i]!,
          PER_PATIENT,
        );
      },
    },
    {
      name: 'doctor: a treated patient, _include patient',
      entries: PER_PATIENT + 1,
      request: (n: number) => {
        const i = n % PATIENTS;
        return get(
          `Appointment?patient=Patient/${patients[i]!.id}&_include=Appointment:patient&_count=${PER_PATIENT}`,
          doctorTokens[i % DOCTORS]!,
          PER_PATIENT + 1,
        );
      },
    },
    {
      name: 'doctor: own calendar, one day (status=booked)',
      entries: 48,
      request: (n: number) => {
        const d = n % DOCTORS;
        const day = new Date(BASE + (n % 10) * 86_400_000).toISOString().slice(0, 10);
        return get(
          `Appointment?practitioner=Practitioner/${doctors[d]!.id}&date=${day}&status=booked&_count=100`,
          doctorTokens[d]!,
          48,
        );
      },
    },
  ];

  const results = [];
  for (const s of scenarios) for (let n = 0; n < 100; n++) await s.request(n); // warm-up
  for (const concurrency of CONCURRENCY)
    for (const s of scenarios) {
      const latencies: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < REQUESTS) {
            const n = next++;
            const t = performance.now();
            await s.request(n);
            latencies.push(performance.now() - t);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const ms = latencySummary(latencies);
      results.push({
        scenario: s.name,
        entriesPerBundle: s.entries,
        requests: REQUESTS,
        concurrency,
        perSecond: Math.round(REQUESTS / seconds),
        ms,
        p99TargetMet: ms.p99 <= 50,
      });
    }
  const report = {
    test: 'fhir-search',
    at: new Date().toISOString(),
    data: {
      patients: PATIENTS,
      appointmentsPerPatient: PER_PATIENT,
      appointments: rows.length,
      doctors: DOCTORS,
      seedSeconds: Math.round(seedSeconds * 10) / 10,
    },
    pool: POOL,
    results,
  };
  const json = JSON.stringify(report, null, 2);
  console.log(json);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`./results/fhir-search-${report.at.slice(0, 10)}.json`, import.meta.url),
    `${json}\n`,
  );
  console.log(
    '\nscenario                                       | in flight | entries | req/s | p50 ms | p95 ms | p99 ms | p99<=50',
  );
  for (const r of results)
    console.log(
      `${r.scenario.padEnd(46)} | ${String(r.concurrency).padStart(9)} | ${String(r.entriesPerBundle).padStart(7)} | ${String(r.perSecond).padStart(5)} | ${String(r.ms.p50).padStart(6)} | ${String(r.ms.p95).padStart(6)} | ${String(r.ms.p99).padStart(6)} | ${r.p99TargetMet ? 'yes' : 'NO'}`,
    );
  for (const stop of [...services.stops].reverse()) await stop.stop();
} finally {
  await handle.close();
  await database.drop();
}
