import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import { clinicMembers, clinics, users, type UserRole } from '../../db/schema/index.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import type { Actor } from '../../server/policy/types.ts';
import { createServices } from '../../server/services.ts';

/**
 * Service-level fixture (no HTTP, no sign-in): a clinic, `doctors` doctors with Mon-Sun 00:00-24:00
 * availability in UTC and a DE licence, an operator, `patients` patients, a 30-minute consult type
 * (and one more per length in `otherConsultMinutes`: bookings start on their type's slot grid, so
 * overlapping bookings need types of different lengths).
 * Used by the race tests and the booking load test, on PostgreSQL or PGlite.
 */
export async function seedSchedulingServices(
  db: Db,
  opts: {
    doctors: number;
    patients: number;
    otherConsultMinutes?: number[];
    now?: () => Date;
    observeBooking?: (phase: string, ms: number) => void;
  },
) {
  const clinicId = randomUUID();
  await db.insert(clinics).values({ id: clinicId, name: 'Load clinic' });
  const addUser = async (role: UserRole) => {
    const id = randomUUID();
    await db
      .insert(users)
      .values({ id, role, displayName: `${role} ${id.slice(0, 4)}`, email: `${role}-${id}@example.test` });
    await db.insert(clinicMembers).values({ clinicId, userId: id });
    return id;
  };
  const operatorId = await addUser('operator');
  const doctorIds: string[] = [];
  for (let i = 0; i < opts.doctors; i++) doctorIds.push(await addUser('doctor'));
  const patientIds: string[] = [];
  for (let i = 0; i < opts.patients; i++) patientIds.push(await addUser('patient'));
  // Shared with any app built on the same database (the load test's HTTP phase), as nodes share it.
  const chainKey = randomBytes(32);
  const config = loadConfig({
    NODE_ENV: 'test',
    PASSWORD_HASH_STRENGTH: 'minimum',
    AUDIT_CHAIN_KEY: chainKey.toString('base64'),
  });
  const services = await createServices(
    config,
    { db, logger: createLogger('silent') },
    {
      ...(opts.now ? { schedulingClock: opts.now } : {}),
      ...(opts.observeBooking ? { observeBooking: opts.observeBooking } : {}),
    },
  );
  const { scheduling } = services;
  const audit = services.identity.audit;
  const type = await scheduling.clinics.createConsultType(clinicId, {
    name: 'Video',
    kind: 'video',
    durationMinutes: 30,
    priceMinor: 3000,
    currency: 'EUR',
  });
  const consultTypeIds: Record<number, string> = { 30: type.id };
  for (const minutes of opts.otherConsultMinutes ?? []) {
    consultTypeIds[minutes] = (
      await scheduling.clinics.createConsultType(clinicId, {
        name: `Video ${minutes}`,
        kind: 'video',
        durationMinutes: minutes,
        priceMinor: 3000,
        currency: 'EUR',
      })
    ).id;
  }
  for (const doctorId of doctorIds) {
    await scheduling.availability.setWeekly(
      doctorId,
      'UTC',
      [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, startMinute: 0, endMinute: 1440 })),
    );
    await scheduling.licences.add(
      doctorId,
      {
        jurisdiction: 'DE',
        number: `L-${doctorId.slice(0, 6)}`,
        validFrom: new Date('2020-01-01Z'),
        expiresAt: new Date('2040-01-01Z'),
      },
      operatorId,
    );
  }
  const operator: Actor = { userId: operatorId, role: 'operator', sessionId: 'load', clinicIds: [clinicId] };
  return {
    clinicId,
    operator,
    doctorIds,
    patientIds,
    consultTypeId: type.id,
    consultTypeIds,
    scheduling,
    audit,
    chainKey,
  };
}
