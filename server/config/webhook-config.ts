import { z } from 'zod';
import { refuse } from './env-fields.ts';

// Webhook delivery (server/webhooks/): the worker, timeouts, retries and when a failing endpoint is switched off.
export const webhookEnv = z.object({
  WEBHOOK_WORKER: z.enum(['on', 'off']).default('on'),
  WEBHOOK_WORKER_TICK_MS: z.coerce.number().int().min(50).max(600_000).default(1000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(10),
  // Back-off before attempt n+1: base · 2^(n-1), capped, with full jitter (a Retry-After asking longer wins).
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(5000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86_400_000).default(3_600_000),
  // An endpoint is switched off after this many failed attempts in a row spanning at least this long.
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(10_000).default(20),
  WEBHOOK_DISABLE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
  // Development and test only: endpoints on loopback and private networks (refused in production).
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z.enum(['on', 'off']).default('off'),
});

export type WebhookConfig = {
  workerEnabled: boolean;
  tickMs: number;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  disableAfterFailures: number;
  disableAfterMs: number;
  /** http:// endpoints (development and test only; production requires https). */
  allowHttp: boolean;
  allowPrivateTargets: boolean;
};

export function webhookConfig(e: z.infer<typeof webhookEnv>, nodeEnv: string): { webhooks: WebhookConfig } {
  if (nodeEnv === 'production' && e.WEBHOOK_ALLOW_PRIVATE_TARGETS === 'on')
    refuse(
      'WEBHOOK_ALLOW_PRIVATE_TARGETS',
      'must be off in production (webhooks must not reach internal networks)',
    );
  return {
    webhooks: {
      workerEnabled: e.WEBHOOK_WORKER === 'on',
      tickMs: e.WEBHOOK_WORKER_TICK_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: Math.max(e.WEBHOOK_RETRY_MAX_MS, e.WEBHOOK_RETRY_BASE_MS),
      disableAfterFailures: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_SECONDS * 1000,
      allowHttp: nodeEnv !== 'production',
      allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS === 'on',
    },
  };
}
