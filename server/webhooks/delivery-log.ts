import { and, asc, desc, eq, lt } from 'drizzle-orm';
import { webhookAttempts, webhookDeliveries, type WebhookDeliveryStatus } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { ClinicWebhookAdmin, EndpointDeps } from './endpoints.ts';

export type DeliveryQuery = {
  status?: WebhookDeliveryStatus | undefined;
  before?: Date | undefined;
  limit: number;
};

type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** A delivery as the log shows it: what, when, how it went. No body: nothing of the payload is kept. */
const deliveryView = (d: DeliveryRow) => ({
  id: d.id,
  event: d.event,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  lastLatencyMs: d.lastLatencyMs,
  nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
  createdAt: d.createdAt,
  completedAt: d.completedAt,
});

const noSuchDelivery = () => new ProblemError(404, PROBLEM.notFound, 'no such webhook delivery');

/** An endpoint's delivery log and the resend action, for the clinic's admins (decided by `admin`). */
export class WebhookDeliveryLog {
  constructor(
    private readonly deps: EndpointDeps,
    private readonly admin: ClinicWebhookAdmin,
  ) {}

  /** Newest first; `before` (a createdAt) pages back. */
  async list(clinicId: string, endpointId: string, q: DeliveryQuery) {
    await this.admin.require(clinicId);
    await this.admin.row(this.deps.db, clinicId, endpointId);
    const d = webhookDeliveries;
    const rows = await this.deps.db
      .select()
      .from(d)
      .where(
        and(
          eq(d.endpointId, endpointId),
          q.status ? eq(d.status, q.status) : undefined,
          q.before ? lt(d.createdAt, q.before) : undefined,
        ),
      )
      .orderBy(desc(d.createdAt), desc(d.id))
      .limit(q.limit);
    return rows.map(deliveryView);
  }

  /** One delivery with each of its attempts (time, response code, error, latency). */
  async get(clinicId: string, endpointId: string, deliveryId: string) {
    await this.admin.require(clinicId);
    const row = await this.#delivery(clinicId, endpointId, deliveryId);
    const attempts = await this.deps.db
      .select({
        attempt: webhookAttempts.attempt,
        at: webhookAttempts.at,
        statusCode: webhookAttempts.statusCode,
        error: webhookAttempts.error,
        latencyMs: webhookAttempts.latencyMs,
      })
      .from(webhookAttempts)
      .where(eq(webhookAttempts.deliveryId, deliveryId))
      .orderBy(asc(webhookAttempts.attempt));
    return { ...deliveryView(row), attemptLog: attempts };
  }

  /**
   * Sends a finished delivery (failed, or delivered and lost by the receiver) again, soon, with
   * the same webhook-id: a receiver that has it already drops the repeat. Audited with the change.
   */
  async resend(clinicId: string, endpointId: string, deliveryId: string) {
    await this.admin.require(clinicId);
    const now = this.deps.now();
    const row = await this.deps.db.transaction(async (tx) => {
      const before = await this.#delivery(clinicId, endpointId, deliveryId);
      if (before.status === 'pending')
        throw new ProblemError(
          409,
          PROBLEM.deliveryNotResendable,
          'the delivery is still pending: it is sent (or retried) anyway',
        );
      const [updated] = await tx
        .update(webhookDeliveries)
        .set({
          status: 'pending',
          nextAttemptAt: now,
          completedAt: null,
          leaseToken: null,
          leaseUntil: null,
          retryFrom: before.attempts,
        })
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, before.status)))
        .returning();
      if (!updated)
        throw new ProblemError(409, PROBLEM.conflict, 'the delivery changed meanwhile; reload it');
      await this.deps.audit.appendWithin(tx, [
        this.deps.audit.entry({
          action: 'webhook.delivery.resent',
          outcome: 'allowed',
          resourceType: 'webhook_delivery',
          resourceId: deliveryId,
          clinicId,
        }),
      ]);
      return updated;
    });
    return deliveryView(row);
  }

  async #delivery(clinicId: string, endpointId: string, deliveryId: string): Promise<DeliveryRow> {
    const [row] = await this.deps.db
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.id, deliveryId),
          eq(webhookDeliveries.endpointId, endpointId),
          eq(webhookDeliveries.clinicId, clinicId),
        ),
      );
    if (!row) throw noSuchDelivery();
    return row;
  }
}
