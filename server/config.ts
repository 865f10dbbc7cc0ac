import { z } from 'zod';
import { authConfig, authEnv, type AuthConfig } from './config/auth-config.ts';
import { clusterConfig, clusterEnv, type ClusterConfig } from './config/cluster-config.ts';
import { dataConfig, dataEnv, type DataConfig } from './config/data-config.ts';
import { ConfigError, optionalUrl, refuse } from './config/env-fields.ts';
import { networkConfig, networkEnv, type NetworkConfig } from './config/network-config.ts';
import { webhookConfig, webhookEnv, type WebhookConfig } from './config/webhook-config.ts';

// The only module that reads process.env (passed in, so tests can hand it any environment). Each
// feature's variables live in its own section under config/; this file joins them.
export { ConfigError };
export type { AuthConfig } from './config/auth-config.ts';
export type {
  DataEncryptionConfig,
  FilesConfig,
  MessagingConfig,
  RecordsConfig,
} from './config/data-config.ts';
export type { WebhookConfig } from './config/webhook-config.ts';

const coreEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  JOIN_TOKEN_PRIVATE_KEY: z.string().optional(),
  JOIN_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  // Signaling sockets one identity (one join token) may hold open at once; more are refused.
  JOIN_TOKEN_MAX_SOCKETS: z.coerce.number().int().min(1).max(20).default(3),
  // A signaling socket that has not sent its join by then is closed (close code 4010 join_timeout).
  JOIN_DEADLINE_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  DEMO: z.enum(['auto', 'on', 'off']).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // E-mail (codes, invitations, reminders) over SMTP; without it messages go to the outbox table (development).
  SMTP_URL: optionalUrl(['smtp://', 'smtps://']),
  MAIL_FROM: z.email().optional(),
  // Scheduling: the background worker (reminders, dispatch expiry, licence notices).
  SCHEDULING_WORKER: z.enum(['on', 'off']).default('on'),
  SCHEDULING_WORKER_TICK_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  REMINDER_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  LICENCE_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3600),
});

const schema = coreEnv
  .extend(networkEnv.shape)
  .extend(clusterEnv.shape)
  .extend(authEnv.shape)
  .extend(dataEnv.shape)
  .extend(webhookEnv.shape);

export type SchedulingConfig = {
  workerEnabled: boolean;
  workerTickMs: number;
  /** How long a claimed reminder stays invisible to other workers before it is re-delivered. */
  reminderLeaseMs: number;
  licenceCheckIntervalMs: number;
};

export type Config = Readonly<
  {
    env: 'development' | 'production' | 'test';
    joinToken: {
      privateKeyPem: string | undefined;
      ttlSeconds: number;
      maxSockets: number;
      joinDeadlineMs: number;
    };
    demo: boolean;
    logLevel: z.infer<typeof schema>['LOG_LEVEL'];
    /** E-mail delivery; undefined = the development outbox. */
    smtp: { url: string; from: string } | undefined;
    auth: AuthConfig;
    scheduling: SchedulingConfig;
  } & NetworkConfig &
    ClusterConfig &
    DataConfig & { webhooks: WebhookConfig }
>;

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  const network = networkConfig(e);
  if (e.NODE_ENV === 'production' && !e.JOIN_TOKEN_PRIVATE_KEY) {
    refuse('JOIN_TOKEN_PRIVATE_KEY', 'required in production (PKCS#8 PEM of an Ed25519 key)');
  }
  const auth = authConfig(e, e.NODE_ENV);
  const data = dataConfig(e, e.NODE_ENV);
  if (e.SMTP_URL && !e.MAIL_FROM) {
    refuse('MAIL_FROM', 'required when SMTP_URL is set (the sender address)');
  }
  return {
    env: e.NODE_ENV,
    ...network,
    ...clusterConfig(e, e.NODE_ENV),
    joinToken: {
      privateKeyPem: e.JOIN_TOKEN_PRIVATE_KEY?.replace(/\\n/g, '\n'),
      ttlSeconds: e.JOIN_TOKEN_TTL_SECONDS,
      maxSockets: e.JOIN_TOKEN_MAX_SOCKETS,
      joinDeadlineMs: e.JOIN_DEADLINE_SECONDS * 1000,
    },
    demo: e.DEMO === 'on' || (e.DEMO === 'auto' && !e.DATABASE_URL && e.NODE_ENV !== 'production'),
    logLevel: e.LOG_LEVEL,
    smtp: e.SMTP_URL && e.MAIL_FROM ? { url: e.SMTP_URL, from: e.MAIL_FROM } : undefined,
    auth,
    scheduling: {
      workerEnabled: e.SCHEDULING_WORKER === 'on',
      workerTickMs: e.SCHEDULING_WORKER_TICK_MS,
      reminderLeaseMs: e.REMINDER_LEASE_SECONDS * 1000,
      licenceCheckIntervalMs: e.LICENCE_CHECK_INTERVAL_SECONDS * 1000,
    },
    ...data,
    ...webhookConfig(e, e.NODE_ENV),
  };
}
