import { randomBytes, randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { webhookEndpoints } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditAction } from '../audit/audit-actions.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretSealer } from '../identity/secret-sealer.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { isSubscription, WEBHOOK_SUBSCRIPTIONS } from './catalogue.ts';
import { checkEndpointUrl, type TargetRules } from './url-guard.ts';

/** How long the previous secret keeps signing beside the new one after a rotation. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3_600_000;
export const MAX_ENDPOINTS_PER_CLINIC = 20;

export type EndpointDeps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  secrets: SecretSealer;
  rules: TargetRules;
  now: () => Date;
};

export type EndpointInput = {
  url: string;
  events: string[];
  description?: string | undefined;
  enabled?: boolean | undefined;
  includePhi?: boolean | undefined;
};
export type EndpointPatch = Partial<EndpointInput>;

type EndpointRow = typeof webhookEndpoints.$inferSelect;

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** What the admin sees of an endpoint: never the secret (it is shown once, when made). */
export function endpointView(row: EndpointRow) {
  return {
    id: row.id,
    clinicId: row.clinicId,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt,
    includePhi: row.includePhi,
    consecutiveFailures: row.consecutiveFailures,
    failingSince: row.failingSince,
    previousSecretUntil: row.previousSecretUntil,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export const noSuchEndpoint = () => new ProblemError(404, PROBLEM.notFound, 'no such webhook endpoint');

function checkEvents(events: readonly string[]): string[] {
  const unknown = events.filter((e) => !isSubscription(e));
  if (unknown.length)
    throw new ProblemError(
      422,
      PROBLEM.invalidWebhookEvent,
      `unknown events: ${unknown.join(', ')} (known: ${WEBHOOK_SUBSCRIPTIONS.join(', ')})`,
      unknown.map((e) => ({ field: 'events', message: `${e} is not in the catalogue` })),
    );
  return [...new Set(events)];
}

/**
 * A clinic's webhook endpoints, managed by its clinic admins: each change is decided by the policy
 * and audited (webhook.* events) in the transaction that makes it.
 */
export class WebhookEndpoints {
  constructor(private readonly deps: EndpointDeps) {}

  forActor(actor: Actor) {
    return new ClinicWebhookAdmin(this.deps, actor);
  }

  /** The endpoint's secrets to sign with: the current one, and the previous one during its grace period. */
  async signingSecrets(row: EndpointRow, now: Date): Promise<string[]> {
    const current = this.deps.secrets.open(row.sealedSecret);
    if (row.sealedPreviousSecret && row.previousSecretUntil && row.previousSecretUntil > now)
      return [current, this.deps.secrets.open(row.sealedPreviousSecret)];
    return [current];
  }
}

export class ClinicWebhookAdmin {
  constructor(
    private readonly deps: EndpointDeps,
    readonly actor: Actor,
  ) {}

  /** Decides for the clinic; everything below runs only for its clinic admins. */
  async require(clinicId: string): Promise<void> {
    await this.deps.policy.require(this.actor, 'clinic.webhooks.manage', { type: 'clinic', clinicId });
  }

  async list(clinicId: string) {
    await this.require(clinicId);
    const rows = await this.deps.db
      .select()
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.clinicId, clinicId))
      .orderBy(asc(webhookEndpoints.createdAt));
    return rows.map(endpointView);
  }

  async get(clinicId: string, endpointId: string) {
    await this.require(clinicId);
    return endpointView(await this.row(this.deps.db, clinicId, endpointId));
  }

  /** A new endpoint and its signing secret, which is shown this once. */
  async create(clinicId: string, input: EndpointInput) {
    await this.require(clinicId);
    const url = checkEndpointUrl(input.url, this.deps.rules);
    const events = checkEvents(input.events);
    const secret = newSigningSecret();
    const now = this.deps.now();
    const enabled = input.enabled ?? true;
    const row = await this.#audited('webhook.endpoint.created', clinicId, async (tx) => {
      const existing = await tx
        .select({ id: webhookEndpoints.id })
        .from(webhookEndpoints)
        .where(eq(webhookEndpoints.clinicId, clinicId));
      if (existing.length >= MAX_ENDPOINTS_PER_CLINIC)
        throw new ProblemError(
          409,
          PROBLEM.conflict,
          `a clinic has at most ${MAX_ENDPOINTS_PER_CLINIC} webhook endpoints`,
        );
      const [created] = await tx
        .insert(webhookEndpoints)
        .values({
          id: randomUUID(),
          clinicId,
          url,
          description: input.description ?? '',
          events,
          sealedSecret: this.deps.secrets.seal(secret),
          enabled,
          disabledReason: enabled ? null : 'admin',
          disabledAt: enabled ? null : now,
          includePhi: input.includePhi ?? false,
          createdBy: this.actor.userId,
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      return created!;
    });
    return { ...endpointView(row), secret };
  }

  async update(clinicId: string, endpointId: string, patch: EndpointPatch) {
    await this.require(clinicId);
    const url = patch.url === undefined ? undefined : checkEndpointUrl(patch.url, this.deps.rules);
    const events = patch.events === undefined ? undefined : checkEvents(patch.events);
    const now = this.deps.now();
    const row = await this.#audited(
      'webhook.endpoint.updated',
      clinicId,
      async (tx) => {
        const before = await this.row(tx, clinicId, endpointId, true);
        const enabled = patch.enabled ?? before.enabled;
        const switched = enabled !== before.enabled;
        const [updated] = await tx
          .update(webhookEndpoints)
          .set({
            ...(url !== undefined ? { url } : {}),
            ...(events !== undefined ? { events } : {}),
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            ...(patch.includePhi !== undefined ? { includePhi: patch.includePhi } : {}),
            ...(switched
              ? enabled
                ? // Switched on again: the failure streak starts afresh.
                  {
                    enabled,
                    disabledReason: null,
                    disabledAt: null,
                    consecutiveFailures: 0,
                    failingSince: null,
                  }
                : { enabled, disabledReason: 'admin' as const, disabledAt: now }
              : {}),
            updatedAt: now,
          })
          .where(eq(webhookEndpoints.id, endpointId))
          .returning();
        return updated!;
      },
      endpointId,
      // Which settings changed, by name (never their values): PHI opt-in changes stand out.
      Object.keys(patch)
        .filter((k) => patch[k as keyof EndpointPatch] !== undefined)
        .sort()
        .join(','),
    );
    return endpointView(row);
  }

  async remove(clinicId: string, endpointId: string): Promise<void> {
    await this.require(clinicId);
    await this.#audited(
      'webhook.endpoint.deleted',
      clinicId,
      async (tx) => {
        await this.row(tx, clinicId, endpointId, true);
        await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId));
      },
      endpointId,
    );
  }

  /** A new secret, shown once; the previous one keeps signing beside it for PREVIOUS_SECRET_GRACE_MS. */
  async rotateSecret(clinicId: string, endpointId: string) {
    await this.require(clinicId);
    const secret = newSigningSecret();
    const now = this.deps.now();
    const until = new Date(now.getTime() + PREVIOUS_SECRET_GRACE_MS);
    await this.#audited(
      'webhook.secret.rotated',
      clinicId,
      async (tx) => {
        const before = await this.row(tx, clinicId, endpointId, true);
        await tx
          .update(webhookEndpoints)
          .set({
            sealedSecret: this.deps.secrets.seal(secret),
            sealedPreviousSecret: before.sealedSecret,
            previousSecretUntil: until,
            updatedAt: now,
          })
          .where(eq(webhookEndpoints.id, endpointId));
      },
      endpointId,
    );
    return { secret, previousSecretUntil: until };
  }

  /** The clinic's endpoint, or 404 (an id of another clinic looks like an unknown one). */
  async row(db: Db | Tx, clinicId: string, endpointId: string, forUpdate = false): Promise<EndpointRow> {
    const q = db
      .select()
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.clinicId, clinicId)));
    const [row] = forUpdate ? await q.for('update') : await q;
    if (!row) throw noSuchEndpoint();
    return row;
  }

  /** The change and its audit entry in one transaction. */
  async #audited<T>(
    action: AuditAction,
    clinicId: string,
    work: (tx: Tx) => Promise<T>,
    endpointId?: string,
    reason?: string,
  ): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const result = await work(tx);
      const id = endpointId ?? (result as { id?: string } | undefined)?.id ?? null;
      await this.deps.audit.appendWithin(tx, [
        this.deps.audit.entry({
          action,
          outcome: 'allowed',
          resourceType: 'webhook_endpoint',
          resourceId: id,
          clinicId,
          reason: reason || null,
        }),
      ]);
      return result;
    });
  }
}
