import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { WebhookConfig } from '../config.ts';
import type { SecretSealer } from '../identity/secret-sealer.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import { WebhookDeliveryLog } from './delivery-log.ts';
import { WebhookDelivery } from './delivery-worker.ts';
import { WebhookEndpoints, type EndpointDeps } from './endpoints.ts';

export type WebhookDeps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  secrets: SecretSealer;
  notifier: NotificationProvider;
  config: WebhookConfig;
  now?: () => Date;
};

/**
 * The webhooks feature: clinic admins manage endpoints and read their delivery log (forActor);
 * the node runs a delivery worker (createWorker) on every node, claims keeping each send single.
 */
export class Webhooks {
  readonly endpoints: WebhookEndpoints;
  readonly #endpointDeps: EndpointDeps;

  constructor(private readonly deps: WebhookDeps) {
    this.#endpointDeps = {
      db: deps.db,
      policy: deps.policy,
      audit: deps.audit,
      secrets: deps.secrets,
      rules: { allowHttp: deps.config.allowHttp, allowPrivate: deps.config.allowPrivateTargets },
      now: deps.now ?? (() => new Date()),
    };
    this.endpoints = new WebhookEndpoints(this.#endpointDeps);
  }

  forActor(actor: Actor) {
    const admin = this.endpoints.forActor(actor);
    return { endpoints: admin, deliveries: new WebhookDeliveryLog(this.#endpointDeps, admin) };
  }

  createWorker(logger: Logger, overrides: { config?: Partial<WebhookConfig>; now?: () => Date } = {}) {
    return new WebhookDelivery({
      db: this.deps.db,
      audit: this.deps.audit,
      endpoints: this.endpoints,
      notifier: this.deps.notifier,
      logger,
      config: { ...this.deps.config, ...overrides.config },
      ...((overrides.now ?? this.deps.now) ? { now: overrides.now ?? this.deps.now } : {}),
    });
  }
}
