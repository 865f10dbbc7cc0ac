// Records benchmark: encounter finalisations per second through the real service layer on real
// PostgreSQL, each one the whole pipeline (draft read and decrypt, policy, PDF summary rendered and
// signed with the clinic's certificate, encrypted blob written, then ONE transaction: encounter,
// conditions, document, appointment completed, outbox events, audit entries). Closed loop at
// several concurrencies (a fixed number in flight). Target: >= 50 finalisations/s. Prints JSON and
// a table. Usage: npm run loadtest:records
// Env: FINALISATIONS (300 per concurrency), WARMUP (20), CONCURRENCIES (1,4,8,16), POOL (16 connections),
// TEST_PG_ADMIN_URL.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rowsOf } from '../../db/rows.ts';
import type { Actor } from '../../server/policy/types.ts';
import { runWithContext } from '../../server/request-context.ts';
import { sampleDraft, startRecordsHarness } from '../../server/records/test-support/records-harness.ts';
import { latencySummary } from '../stats.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const FINALISATIONS = env('FINALISATIONS', 300);
const WARMUP = env('WARMUP', 20);
const CONCURRENCIES = (process.env.CONCURRENCIES ?? '1,4,8,16').split(',').map(Number);
const POOL = env('POOL', 16);
const TARGET_PER_SECOND = 50;

const h = await startRecordsHarness('postgres', { maxConnections: POOL });
try {
  const doctor: Actor = {
    userId: h.seed.doctorId,
    role: 'doctor',
    sessionId: randomUUID(),
    clinicIds: [h.seed.clinicId],
  };
  const token = await h.tokenFor(h.seed.doctorId, 'doctor');
  const records = h.services.clinicalRecords.forActor(doctor);
  // Loads the CA and fonts, and issues the clinic's certificate, before anything is timed.
  await h.services.clinicalRecords.signing();

  /** In-call appointments, each with a saved draft (two diagnoses, recommendations, follow-up). */
  const drafts = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = await h.appointment('in_call');
      const saved = await h.call('PUT', `/api/records/appointments/${id}/encounter`, {
        token,
        body: sampleDraft({ findings: `Findings of visit ${i}.` }),
      });
      if (saved.status !== 201) throw new Error(`draft not saved: ${saved.status}`);
      ids.push(id);
    }
    return ids;
  };

  const finalise = (appointmentId: string) =>
    // Each in its own request context, as an API request would be (the audit log reads it).
    runWithContext(
      {
        requestId: randomUUID(),
        ip: '127.0.0.1',
        userAgent: 'loadtest',
        actorId: doctor.userId,
        actorRole: 'doctor',
      },
      () => records.finalise(appointmentId),
    );

  async function closedLoop(ids: string[], concurrency: number) {
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < ids.length; i = next++) {
          const t = performance.now();
          await finalise(ids[i]!);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      concurrency,
      finalisations: ids.length,
      perSecond: Math.round((ids.length / seconds) * 10) / 10,
      ...latencySummary(latencies),
    };
  }

  await closedLoop(await drafts(WARMUP), 2);
  const rounds = [];
  for (const c of CONCURRENCIES) rounds.push(await closedLoop(await drafts(FINALISATIONS), c));

  // Every finalisation committed whole: one finalised encounter, a signed PDF and the webhook events.
  const [check] = rowsOf<{ encounters: number; pdfs: number; outbox: number; completed: number }>(
    await h.db.execute(sql`select
      (select count(*)::int from encounters where status = 'finalised') as encounters,
      (select count(*)::int from record_documents where kind = 'summary_pdf') as pdfs,
      (select count(*)::int from webhook_outbox where event = 'record.finalised') as outbox,
      (select count(*)::int from appointments where status = 'completed') as completed`),
  );
  const expected = WARMUP + FINALISATIONS * CONCURRENCIES.length;
  const consistent =
    check!.encounters === expected &&
    check!.pdfs === expected &&
    check!.outbox === expected &&
    check!.completed === expected;
  const best = Math.max(...rounds.map((r) => r.perSecond));
  const result = {
    benchmark: 'records',
    at: new Date().toISOString(),
    node: process.version,
    database: 'postgres',
    pool: POOL,
    finalisationsPerRound: FINALISATIONS,
    warmup: WARMUP,
    rounds,
    committed: { ...check, expected, consistent },
    target: { finalisationsPerSecond: TARGET_PER_SECOND, best, met: best >= TARGET_PER_SECOND },
  };
  console.log(JSON.stringify(result, null, 2));
  console.table(
    Object.fromEntries(
      rounds.map((r) => [
        `${r.concurrency} in flight`,
        { 'finalisations/s': r.perSecond, 'p50 ms': r.p50, 'p95 ms': r.p95, 'p99 ms': r.p99 },
      ]),
    ),
  );
  console.log(
    `finalisations (PDF generated, signed, stored, one transaction): best ${best}/s (target >= ${TARGET_PER_SECOND}/s: ${result.target.met ? 'met' : 'NOT met'}); all committed whole: ${consistent}`,
  );
  process.exitCode = result.target.met && consistent ? 0 : 1;
} finally {
  await h.close();
}
