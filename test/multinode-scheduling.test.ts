import { randomBytes, randomUUID } from 'node:crypto';
import { and, eq, inArray, like } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../db/client.ts';
import {
  dispatchOffers,
  dispatchRequests,
  licenceNotices,
  notificationOutbox,
  reminderJobs,
} from '../db/schema/index.ts';
import { TEST_REDIS_URL } from './helpers/env.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from './helpers/node-process.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { seedSchedulingServices } from './helpers/scheduling-seed.ts';

/**
 * Three real node processes, each running the scheduling worker every 100 ms against one
 * PostgreSQL database: reminders, dispatch offers and expiry, and licence notices each happen once.
 */
const DAY = 86_400_000;
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let handle: DbHandle;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  pg = await createTestDatabase();
  const env = {
    DATABASE_URL: pg.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `test:${randomBytes(4).toString('hex')}:`,
    JOIN_TOKEN_PRIVATE_KEY: ed25519Pem(),
    SCHEDULING_WORKER_TICK_MS: '100',
    LICENCE_CHECK_INTERVAL_SECONDS: '1',
  };
  // One after the other: the first one runs the migrations.
  for (let i = 0; i < 3; i++) nodes.push(await startNodeProcess(env));
  handle = await openDb({ databaseUrl: pg.url, pgliteDir: '' });
}, 240_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await handle?.close();
  await pg?.drop();
});

const outbox = (template: string) =>
  handle.db.select().from(notificationOutbox).where(eq(notificationOutbox.template, template));
async function until(cond: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('the work was not done in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

it(
  'with three nodes running the worker, every reminder, dispatch offer, dispatch expiry and licence notice happens once',
  { timeout: 120_000 },
  async () => {
    const db = handle.db;
    const s = await seedSchedulingServices(db, { doctors: 3, patients: 12 });
    // Twelve appointments a few hours ahead, each with a reminder due now.
    const slot = Math.floor((Date.now() + 3 * 3_600_000) / 1_800_000) * 1_800_000;
    const jobIds: string[] = [];
    for (const [i, patientId] of s.patientIds.entries()) {
      const appt = await s.scheduling.booking.book(s.operator, {
        clinicId: s.clinicId,
        doctorId: s.doctorIds[i % 3]!,
        patientId,
        consultTypeId: s.consultTypeId,
        startsAt: new Date(slot + Math.floor(i / 3) * 1_800_000),
        patientJurisdiction: 'DE',
      });
      // An offset reaching back before now: due at once, and still matching the appointment (else it is skipped).
      const offsetMinutes = Math.ceil((appt.startsAt.getTime() - Date.now()) / 60_000) + 1;
      const id = randomUUID();
      jobIds.push(id);
      await db.insert(reminderJobs).values({
        id,
        appointmentId: appt.id,
        offsetMinutes,
        dueAt: new Date(appt.startsAt.getTime() - offsetMinutes * 60_000),
      });
    }
    // Four urgent consults offered to the three doctors one second apart: nobody takes them, they expire.
    const requestIds: string[] = [];
    for (const patientId of s.patientIds.slice(0, 4)) {
      const request = await s.scheduling.dispatch.create(s.operator, {
        clinicId: s.clinicId,
        patientId,
        consultTypeId: s.consultTypeId,
        patientJurisdiction: 'DE',
        doctorIds: s.doctorIds,
        intervalSeconds: 1,
      });
      requestIds.push(request.id);
    }
    // A licence per doctor expiring in 100 days: the 180-day notice is due (doctor; no clinic admin seeded).
    const licenceIds: string[] = [];
    for (const doctorId of s.doctorIds)
      licenceIds.push(
        (
          await s.scheduling.licences.add(
            doctorId,
            {
              jurisdiction: 'AT',
              number: `AT-${doctorId.slice(0, 4)}`,
              validFrom: new Date('2020-01-01Z'),
              expiresAt: new Date(Date.now() + 100 * DAY),
            },
            s.operator.userId,
          )
        ).id,
      );

    await until(async () => {
      const jobs = await db.select().from(reminderJobs).where(inArray(reminderJobs.id, jobIds));
      const requests = await db
        .select()
        .from(dispatchRequests)
        .where(inArray(dispatchRequests.id, requestIds));
      const notices = await db
        .select()
        .from(licenceNotices)
        .where(inArray(licenceNotices.licenceId, licenceIds));
      return (
        jobs.every((j) => j.status === 'sent') &&
        requests.every((r) => r.status === 'expired') &&
        notices.length === 3 &&
        notices.every((n) => n.sentAt)
      );
    });
    // Let every node run a few more passes over what is already done.
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      nodes.every((n) => n.alive()),
      'all three ran throughout',
    ).toBe(true);

    const jobs = await db.select().from(reminderJobs).where(inArray(reminderJobs.id, jobIds));
    expect(
      jobs.map((j) => j.attempts),
      'each reminder claimed once',
    ).toEqual(jobIds.map(() => 1));
    const reminders = (await outbox('appointment_reminder')).filter((m) =>
      jobIds.some((id) => m.idempotencyKey.startsWith(`reminder:${id}:`)),
    );
    expect(reminders).toHaveLength(12);

    const offers = (await outbox('dispatch_offer')).map((m) => m.idempotencyKey);
    expect(offers.sort()).toEqual(
      requestIds.flatMap((r) => s.doctorIds.map((d) => `dispatch_offer:${r}:${d}`)).sort(),
    );
    const offerRows = await db
      .select()
      .from(dispatchOffers)
      .where(inArray(dispatchOffers.requestId, requestIds));
    expect(offerRows.every((o) => o.status === 'expired' && o.notifiedAt)).toBe(true);

    const licenceMail = await db
      .select()
      .from(notificationOutbox)
      .where(
        and(
          eq(notificationOutbox.template, 'licence_expiry'),
          like(notificationOutbox.body, '% AT licence %'),
        ),
      );
    expect(licenceMail.map((m) => m.idempotencyKey.split(':').slice(1, 3).join(':')).sort()).toEqual(
      licenceIds.map((id) => `${id}:180`).sort(),
    );
  },
);
