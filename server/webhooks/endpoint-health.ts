import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { clinicMembers, users, webhookEndpoints } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { NotificationProvider } from '../notifications/types.ts';

export type DisableRules = { disableAfterFailures: number; disableAfterMs: number };

export type DisabledEndpoint = {
  id: string;
  clinicId: string;
  url: string;
  failures: number;
  failingSince: Date;
  disabledAt: Date;
};

/**
 * Counts an attempt against its endpoint, inside the transaction that settles the delivery. A
 * success ends the failure streak; a failure extends it, and once the streak is both long enough
 * (N attempts in a row) and old enough (spanning the period), the endpoint is switched off with an
 * audit entry. Returns the endpoint if this attempt switched it off (the caller tells the admins).
 */
export async function countAttempt(
  tx: Tx,
  audit: AuditLog,
  endpointId: string,
  ok: boolean,
  now: Date,
  rules: DisableRules,
): Promise<DisabledEndpoint | undefined> {
  if (ok) {
    await tx
      .update(webhookEndpoints)
      .set({ consecutiveFailures: 0, failingSince: null })
      .where(and(eq(webhookEndpoints.id, endpointId), sql`${webhookEndpoints.consecutiveFailures} > 0`));
    return undefined;
  }
  const [streak] = await tx
    .update(webhookEndpoints)
    .set({
      consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1`,
      failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now.toISOString()}::timestamptz)`,
    })
    .where(eq(webhookEndpoints.id, endpointId))
    .returning({
      clinicId: webhookEndpoints.clinicId,
      url: webhookEndpoints.url,
      enabled: webhookEndpoints.enabled,
      failures: webhookEndpoints.consecutiveFailures,
      failingSince: webhookEndpoints.failingSince,
    });
  if (!streak || !streak.enabled || !streak.failingSince) return undefined;
  const longEnough = streak.failures >= rules.disableAfterFailures;
  const oldEnough = now.getTime() - streak.failingSince.getTime() >= rules.disableAfterMs;
  if (!longEnough || !oldEnough) return undefined;
  await tx
    .update(webhookEndpoints)
    .set({ enabled: false, disabledReason: 'failing', disabledAt: now, updatedAt: now })
    .where(eq(webhookEndpoints.id, endpointId));
  await audit.appendWithin(tx, [
    audit.entry({
      action: 'webhook.endpoint.auto_disabled',
      outcome: 'allowed',
      resourceType: 'webhook_endpoint',
      resourceId: endpointId,
      clinicId: streak.clinicId,
      reason: `${streak.failures}_consecutive_failures`,
    }),
  ]);
  return {
    id: endpointId,
    clinicId: streak.clinicId,
    url: streak.url,
    failures: streak.failures,
    failingSince: streak.failingSince,
    disabledAt: now,
  };
}

/**
 * Tells each of the clinic's admins by e-mail that an endpoint was switched off. Names the
 * endpoint by its host and the failure streak only: no event, no patient, nothing clinical.
 */
export async function notifyDisabled(
  db: Db,
  notifier: NotificationProvider,
  endpoint: DisabledEndpoint,
): Promise<number> {
  const admins = await db
    .select({ id: users.id, email: users.email })
    .from(users)
    .innerJoin(clinicMembers, eq(clinicMembers.userId, users.id))
    .where(
      and(
        eq(clinicMembers.clinicId, endpoint.clinicId),
        eq(users.role, 'clinic_admin'),
        sql`${users.disabledAt} is null`,
      ),
    );
  const host = new URL(endpoint.url).host;
  let sent = 0;
  for (const admin of admins) {
    if (!admin.email) continue;
    await notifier.send({
      channel: 'email',
      recipient: admin.email,
      template: 'webhook_endpoint_disabled',
      subject: 'A CareCall webhook endpoint was switched off',
      body:
        `The webhook endpoint at ${host} (id ${endpoint.id}) failed ${endpoint.failures} deliveries in a row ` +
        `since ${endpoint.failingSince.toISOString()} and was switched off at ${endpoint.disabledAt.toISOString()}. ` +
        `No further events are sent to it. Check the receiver, then switch the endpoint on again in the clinic's webhook settings; ` +
        `its delivery log shows each attempt.`,
      idempotencyKey: `webhook-disabled:${endpoint.id}:${endpoint.disabledAt.getTime()}:${admin.id}`,
    });
    sent++;
  }
  return sent;
}
