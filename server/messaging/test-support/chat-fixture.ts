import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Db } from '../../../db/client.ts';
import {
  appointments,
  clinicMembers,
  clinics,
  consultationGuests,
  consultTypes,
  guardianships,
  users,
  type UserRole,
} from '../../../db/schema/index.ts';
import { AuditLog } from '../../audit/audit-log.ts';
import type { ClusterBus } from '../../cluster/cluster-bus.ts';
import type { MessagingConfig } from '../../config.ts';
import { createDataEncryption, type DataEncryption } from '../../crypto/index.ts';
import { OutboxNotificationProvider } from '../../notifications/outbox-provider.ts';
import type { NotificationProvider } from '../../notifications/types.ts';
import type { Actor } from '../../policy/types.ts';
import { Messaging } from '../messaging.ts';
import type { ChatActor, RoomPresence } from '../types.ts';

export const TEST_MESSAGING: MessagingConfig = {
  maxBytes: 1000,
  ratePerSecond: 1000,
  rateBurst: 1000,
  unreadNotifyMs: 60_000,
  notifyWorkerEnabled: false,
  notifyTickMs: 1000,
};

/** One node's chat on a database: its own audit log and key store (sharing the chain key and KEK, as nodes do). */
export async function chatNode(
  db: Db,
  keys: { chainKey: Buffer; kek: Buffer },
  opts: { bus?: ClusterBus; config?: Partial<MessagingConfig>; notifier?: NotificationProvider } = {},
): Promise<{ messaging: Messaging; audit: AuditLog; encryption: DataEncryption }> {
  const audit = new AuditLog(db, keys.chainKey);
  const encryption = await createDataEncryption(
    db,
    { kek: { version: 1, key: keys.kek }, previousKeks: [], cacheSize: 1000 },
    () => {},
  );
  const messaging = new Messaging({
    db,
    audit,
    sealer: encryption.messages,
    bus: opts.bus,
    logger: pino({ level: 'silent' }),
    config: { ...TEST_MESSAGING, ...opts.config },
    notifier: opts.notifier ?? new OutboxNotificationProvider(db),
    publicUrl: () => 'http://carecall.test',
  });
  return { messaging, audit, encryption };
}

export const nodeKeys = () => ({ chainKey: randomBytes(32), kek: randomBytes(32) });

async function user(db: Db, role: UserRole, clinicId?: string) {
  const id = randomUUID();
  await db
    .insert(users)
    .values({ id, role, email: `${id}@example.test`, displayName: `${role} ${id.slice(0, 4)}` });
  if (clinicId) await db.insert(clinicMembers).values({ clinicId, userId: id });
  return id;
}

/**
 * A clinic with a doctor, a patient (with a guardian-less record), an appointment between them, and a guest invited to it.
 * `appointmentStartsInHours` 0 makes the appointment joinable now (for tests with real nodes and join grants).
 */
export async function seedClinic(db: Db, opts: { appointmentStartsInHours?: number } = {}) {
  const clinicId = randomUUID();
  await db.insert(clinics).values({ id: clinicId, name: 'Clinic' });
  const doctorId = await user(db, 'doctor', clinicId);
  const patientId = await user(db, 'patient', clinicId);
  const operatorId = await user(db, 'operator', clinicId);
  const otherDoctorId = await user(db, 'doctor', clinicId);
  const guardianId = await user(db, 'guardian');
  const dependentId = await user(db, 'patient', clinicId);
  await db.insert(guardianships).values({ guardianId, dependentId });
  const consultTypeId = randomUUID();
  await db.insert(consultTypes).values({
    id: consultTypeId,
    clinicId,
    name: 'Video',
    kind: 'video',
    durationMinutes: 30,
    priceMinor: 0,
    currency: 'EUR',
  });
  const appointment = async (patient: string, startsInHours: number) => {
    const id = randomUUID();
    const startsAt = new Date(Date.now() + startsInHours * 3_600_000);
    await db.insert(appointments).values({
      id,
      clinicId,
      doctorId,
      patientId: patient,
      consultTypeId,
      kind: 'video',
      status: 'confirmed',
      startsAt,
      endsAt: new Date(startsAt.getTime() + 1_800_000),
      patientJurisdiction: 'DE',
      priceMinor: 0,
      currency: 'EUR',
      bookedBy: patient,
    });
    return id;
  };
  const appointmentId = await appointment(patientId, opts.appointmentStartsInHours ?? 1);
  const dependentAppointmentId = await appointment(dependentId, 3);
  const guest = async (expiresInMs: number) => {
    const id = randomUUID();
    await db.insert(consultationGuests).values({
      id,
      appointmentId,
      invitedBy: doctorId,
      kind: 'interpreter',
      displayName: 'Interpreter',
      keyHash: randomBytes(16).toString('hex'),
      expiresAt: new Date(Date.now() + expiresInMs),
    });
    return id;
  };
  return {
    clinicId,
    doctorId,
    patientId,
    operatorId,
    otherDoctorId,
    guardianId,
    dependentId,
    appointmentId,
    dependentAppointmentId,
    guestId: await guest(3_600_000),
    expiredGuestId: await guest(-1000),
    /** Another valid guest of the appointment. */
    invite: () => guest(3_600_000),
  };
}

export type Seed = Awaited<ReturnType<typeof seedClinic>>;

export const userActor = (
  userId: string,
  role: UserRole,
  clinicIds: string[],
  presence: RoomPresence = 'absent',
  onBehalfOf?: string,
): ChatActor => {
  const actor: Actor = {
    userId,
    role,
    sessionId: randomUUID(),
    clinicIds,
    ...(onBehalfOf ? { onBehalfOf } : {}),
  };
  return { kind: 'user', actor, presence };
};

export const guestActor = (
  guestId: string,
  appointmentId: string,
  presence: RoomPresence = 'admitted',
): ChatActor => ({
  kind: 'guest',
  guestId,
  appointmentId,
  presence,
});
