import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../db/client.ts';
import { appointments, users, webhookOutbox } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';

type OutboxRow = typeof webhookOutbox.$inferSelect;

/** What an endpoint that opted into PHI gets besides the ids: whose appointment, and when. */
type PhiFields = { patient: { displayName: string }; appointment: { startsAt: string; endsAt: string } };

/**
 * The body per the Standard Webhooks payload structure: `type`, `timestamp` (when the event
 * happened, not when this attempt was made) and `data` (the outbox's ids, plus the PHI fields for
 * an endpoint that opted in).
 */
export function eventBody(event: OutboxRow, phi?: PhiFields): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: event.event,
      timestamp: event.createdAt.toISOString(),
      data: { ...event.payload, ...(phi ?? {}) },
    }),
  );
}

/**
 * The PHI fields of an event, read and audited in one transaction (a disclosure to the endpoint
 * the clinic opted in): no send without its audit entry. Undefined when the appointment is gone.
 */
export async function readPhiFields(
  db: Db,
  audit: AuditLog,
  event: OutboxRow,
  deliveryId: string,
): Promise<PhiFields | undefined> {
  const appointmentId = String(event.payload.appointmentId ?? '');
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({
        patientId: appointments.patientId,
        startsAt: appointments.startsAt,
        endsAt: appointments.endsAt,
        displayName: users.displayName,
      })
      .from(appointments)
      .innerJoin(users, eq(users.id, appointments.patientId))
      .where(eq(appointments.id, appointmentId));
    if (!row) return undefined;
    await audit.appendWithin(tx, [
      audit.entry({
        action: 'webhook.phi.disclosed',
        outcome: 'allowed',
        resourceType: 'webhook_delivery',
        resourceId: deliveryId,
        patientId: row.patientId,
        clinicId: event.clinicId,
      }),
    ]);
    return {
      patient: { displayName: row.displayName },
      appointment: { startsAt: row.startsAt.toISOString(), endsAt: row.endsAt.toISOString() },
    };
  });
}

/**
 * The three Standard Webhooks headers. The id is the delivery's (the same on every attempt, so a
 * receiver drops repeats); the timestamp is this attempt's; one signature per secret, space
 * separated, so a receiver holding either the new or the previous secret verifies after a rotation.
 */
export function signatureHeaders(
  deliveryId: string,
  at: Date,
  body: Buffer,
  secrets: readonly string[],
): Record<string, string> {
  return {
    'webhook-id': deliveryId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(deliveryId, at, body)).join(' '),
  };
}
