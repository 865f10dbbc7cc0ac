import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import {
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  webhookOutbox,
} from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { WebhookConfig } from '../config.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { countAttempt, notifyDisabled, type DisabledEndpoint } from './endpoint-health.ts';
import type { WebhookEndpoints } from './endpoints.ts';
import { fanOut } from './fan-out.ts';
import { eventBody, readPhiFields, signatureHeaders } from './payloads.ts';
import { errorLabel, verdict, type AttemptResult } from './retry-policy.ts';
import { sendSigned } from './sender.ts';

export type DeliveryDeps = {
  db: Db;
  audit: AuditLog;
  endpoints: WebhookEndpoints;
  notifier: NotificationProvider;
  logger: Logger;
  config: WebhookConfig;
  now?: () => Date;
};

type Claimed = {
  id: string;
  outboxId: string;
  endpointId: string;
  /** This attempt's number over the delivery's life (the attempt log's key). */
  attempt: number;
  /** Its number since the last resend (what the retry budget counts). */
  budgetAttempt: number;
  leaseToken: string;
};

/** Events fanned out per pass, and deliveries claimed per pass. */
const FAN_OUT_BATCH = 200;
const CLAIM_BATCH = 32;
/** Deliveries in flight at once per worker. */
const CONCURRENCY = 8;
/** A claim outlives the attempt's time limit by this much: a worker still sending keeps its claim. */
const LEASE_MARGIN_MS = 30_000;

/**
 * Delivers webhook events: fans the outbox out into deliveries, claims due deliveries with
 * FOR UPDATE SKIP LOCKED and a lease (like the reminder outbox), POSTs each signed, and settles it
 * (succeeded, retry later, or failed) only while still holding the lease, so workers on several
 * nodes send each attempt once; a worker that dies mid-send loses the lease and the attempt is
 * made again (at least once, with the same webhook-id for the receiver to drop the repeat).
 */
export class WebhookDelivery {
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<unknown> | undefined;
  #stopped = true;
  readonly #now: () => Date;

  constructor(private readonly deps: DeliveryDeps) {
    this.#now = deps.now ?? (() => new Date());
  }

  start() {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass;
  }

  /** One pass: fan out new events, then claim and send what is due. Exposed for tests. */
  async runOnce(): Promise<{ fannedOut: number; attempted: number; succeeded: number }> {
    const fanned = await fanOut(this.deps.db, this.#now(), FAN_OUT_BATCH);
    const claimed = await this.claim(CLAIM_BATCH);
    let succeeded = 0;
    for (let i = 0; i < claimed.length; i += CONCURRENCY) {
      const results = await Promise.all(claimed.slice(i, i + CONCURRENCY).map((d) => this.#attempt(d)));
      succeeded += results.filter((ok) => ok).length;
    }
    return { fannedOut: fanned.deliveries, attempted: claimed.length, succeeded };
  }

  /** Due deliveries of enabled endpoints, each taken by one worker until its lease runs out. */
  async claim(limit: number): Promise<Claimed[]> {
    const now = this.#now();
    const leaseToken = randomUUID();
    const leaseUntil = new Date(now.getTime() + this.deps.config.timeoutMs + LEASE_MARGIN_MS);
    const d = webhookDeliveries;
    const rows = rowsOf<{
      id: string;
      outbox_id: string;
      endpoint_id: string;
      attempts: number;
      retry_from: number;
    }>(
      await this.deps.db.execute(sql`
        with due as (
          select ${d.id} as id from ${d}
            join ${webhookEndpoints} on ${webhookEndpoints.id} = ${d.endpointId} and ${webhookEndpoints.enabled}
           where ${d.status} = 'pending' and ${d.nextAttemptAt} <= ${now.toISOString()}::timestamptz
             and (${d.leaseUntil} is null or ${d.leaseUntil} < ${now.toISOString()}::timestamptz)
           order by ${d.nextAttemptAt}
           limit ${limit}
             for update of ${d} skip locked)
        update ${d} set lease_token = ${leaseToken}, lease_until = ${leaseUntil.toISOString()}::timestamptz,
               attempts = ${d.attempts} + 1
          from due where ${d.id} = due.id
        returning ${d.id} as id, ${d.outboxId} as outbox_id, ${d.endpointId} as endpoint_id, ${d.attempts} as attempts,
                  ${d.retryFrom} as retry_from`),
    );
    return rows.map((r) => ({
      id: r.id,
      outboxId: r.outbox_id,
      endpointId: r.endpoint_id,
      attempt: r.attempts,
      budgetAttempt: r.attempts - r.retry_from,
      leaseToken,
    }));
  }

  /** One attempt of one claimed delivery; true if it was delivered. */
  async #attempt(claimed: Claimed): Promise<boolean> {
    const { db } = this.deps;
    try {
      const [[event], [endpoint]] = await Promise.all([
        db.select().from(webhookOutbox).where(eq(webhookOutbox.id, claimed.outboxId)),
        db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, claimed.endpointId)),
      ]);
      if (!event || !endpoint) return false;
      const phi = endpoint.includePhi
        ? await readPhiFields(db, this.deps.audit, event, claimed.id)
        : undefined;
      const body = eventBody(event, phi);
      const at = this.#now();
      const secrets = await this.deps.endpoints.signingSecrets(endpoint, at);
      const result = await sendSigned(
        { url: endpoint.url, headers: signatureHeaders(claimed.id, at, body, secrets), body },
        { timeoutMs: this.deps.config.timeoutMs, allowPrivate: this.deps.config.allowPrivateTargets },
      );
      return await this.#settle(claimed, result);
    } catch (err) {
      // The lease runs out and another pass tries again; log ids and the error's kind only.
      this.deps.logger.error(
        { deliveryId: claimed.id, error: (err as Error).name },
        'webhook delivery attempt failed',
      );
      return false;
    }
  }

  async #settle(claimed: Claimed, result: AttemptResult): Promise<boolean> {
    const now = this.#now();
    const v = verdict(result, claimed.budgetAttempt, this.deps.config);
    const statusCode = result.kind === 'response' ? result.status : null;
    let disabled: DisabledEndpoint | undefined;
    const settled = await this.deps.db.transaction(async (tx) => {
      const [row] = await tx
        .update(webhookDeliveries)
        .set({
          status: v.outcome === 'retry' ? 'pending' : v.outcome,
          nextAttemptAt: v.outcome === 'retry' ? new Date(now.getTime() + v.delayMs) : now,
          completedAt: v.outcome === 'retry' ? null : now,
          leaseToken: null,
          leaseUntil: null,
          lastStatusCode: statusCode,
          lastError: errorLabel(result),
          lastLatencyMs: result.latencyMs,
        })
        // Only the holder of the current lease settles; a worker whose lease ran out just stops.
        .where(
          and(eq(webhookDeliveries.id, claimed.id), eq(webhookDeliveries.leaseToken, claimed.leaseToken)),
        )
        .returning({ id: webhookDeliveries.id });
      if (!row) return false;
      await tx
        .insert(webhookAttempts)
        .values({
          deliveryId: claimed.id,
          attempt: claimed.attempt,
          at: now,
          statusCode,
          error: errorLabel(result),
          latencyMs: result.latencyMs,
        })
        .onConflictDoNothing();
      disabled = await countAttempt(
        tx,
        this.deps.audit,
        claimed.endpointId,
        v.outcome === 'succeeded',
        now,
        this.deps.config,
      );
      return true;
    });
    if (disabled) await this.#tellAdmins(disabled);
    return settled && v.outcome === 'succeeded';
  }

  async #tellAdmins(endpoint: DisabledEndpoint) {
    this.deps.logger.warn(
      { endpointId: endpoint.id, failures: endpoint.failures },
      'webhook endpoint switched off',
    );
    await notifyDisabled(this.deps.db, this.deps.notifier, endpoint).catch((err: Error) =>
      this.deps.logger.error(
        { endpointId: endpoint.id, error: err.name },
        'webhook switch-off notice not sent',
      ),
    );
  }

  #schedule(delay: number) {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.runOnce()
        .catch((err: Error) => this.deps.logger.error({ error: err.name }, 'webhook delivery pass failed'))
        .finally(() => {
          this.#pass = undefined;
          this.#schedule(this.deps.config.tickMs);
        });
    }, delay);
    this.#timer.unref();
  }
}
