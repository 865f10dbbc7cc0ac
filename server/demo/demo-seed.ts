import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import {
  careRelationships,
  clinicMembers,
  clinics,
  consultTypes,
  users,
  type UserRole,
} from '../../db/schema/index.ts';
import type { PasswordHasher } from '../identity/passwords.ts';

// Fixed ids so seeding twice (or on every start of a persistent PGlite dir) finds what it made.
export const DEMO_CLINIC_ID = '00000000-0000-4000-8000-00000000c11c';
export const DEMO_CONSULT_TYPE_ID = '00000000-0000-4000-8000-0000000000e1';
export const DEMO_ACCOUNTS = [
  {
    id: '00000000-0000-4000-8000-0000000000a1',
    role: 'clinic_admin',
    email: 'admin@demo.carecall.test',
    password: 'demo-admin-password',
    displayName: 'Demo Clinic Admin',
  },
  {
    id: '00000000-0000-4000-8000-0000000000d1',
    role: 'doctor',
    email: 'doctor@demo.carecall.test',
    password: 'demo-doctor-password',
    displayName: 'Dr. Demo',
  },
  {
    id: '00000000-0000-4000-8000-0000000000b1',
    role: 'patient',
    email: 'patient@demo.carecall.test',
    password: 'demo-patient-password',
    displayName: 'Demo Patient',
  },
] as const satisfies readonly {
  id: string;
  role: UserRole;
  email: string;
  password: string;
  displayName: string;
}[];

/**
 * Demo mode: one clinic with an admin, a doctor and their patient, and the video consult type the
 * demo consultation is booked as (server/demo/demo-consultation.ts). Idempotent.
 */
export async function seedDemo(db: Db, passwords: PasswordHasher): Promise<{ created: boolean }> {
  const [existing] = await db.select({ id: clinics.id }).from(clinics).where(eq(clinics.id, DEMO_CLINIC_ID));
  // A data directory seeded before the demo consultation existed gets its consult type too.
  if (existing) return (await seedConsultType(db), { created: false });
  await db.transaction(async (tx) => {
    await tx
      .insert(clinics)
      .values({ id: DEMO_CLINIC_ID, name: 'CareCall Demo Clinic' })
      .onConflictDoNothing();
    for (const a of DEMO_ACCOUNTS) {
      await tx
        .insert(users)
        .values({
          id: a.id,
          role: a.role,
          email: a.email,
          displayName: a.displayName,
          passwordHash: await passwords.hash(a.password),
        })
        .onConflictDoNothing();
      await tx.insert(clinicMembers).values({ clinicId: DEMO_CLINIC_ID, userId: a.id }).onConflictDoNothing();
    }
    const [, doctor, patient] = DEMO_ACCOUNTS;
    await tx
      .insert(careRelationships)
      .values({
        clinicId: DEMO_CLINIC_ID,
        doctorId: doctor.id,
        patientId: patient.id,
        createdBy: DEMO_ACCOUNTS[0].id,
      })
      .onConflictDoNothing();
  });
  await seedConsultType(db);
  return { created: true };
}

async function seedConsultType(db: Db) {
  await db
    .insert(consultTypes)
    .values({
      id: DEMO_CONSULT_TYPE_ID,
      clinicId: DEMO_CLINIC_ID,
      name: 'Demo video consultation',
      kind: 'video',
      durationMinutes: 240,
      priceMinor: 0,
      currency: 'EUR',
    })
    .onConflictDoNothing();
}
