import { z } from 'zod';
import { parseTrustedProxies } from './api/client-ip.ts';
import { DEFAULT_METRICS_ALLOW } from './ops/metrics-access.ts';
import type { TurnConfig } from './media/turn-credentials.ts';

// The only module that reads process.env (passed in, so tests can hand it any environment).
const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(p)), {
      message: `must start with ${protocols.join(' or ')}`,
    });

/** An optional PEM block of the given label; literal "\\n" (one-line environment values) become newlines. */
const pemOf = (label: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.replace(/\\n/g, '\n').trim()))
    .refine(
      (v) =>
        v === undefined || (v.startsWith(`-----BEGIN ${label}-----`) && v.endsWith(`-----END ${label}-----`)),
      {
        message: `must be a PEM block (-----BEGIN ${label}-----)`,
      },
    );

const ipv4OrHost = z
  .string()
  .trim()
  .min(1)
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be an IP address or host name');

/** Exactly 32 bytes in standard or URL-safe base64 (`openssl rand -base64 32`). */
const isBase64Key32 = (k: string) => /^[A-Za-z0-9+/_-]+=*$/.test(k) && Buffer.from(k, 'base64').length === 32;
const base64Key32 = z
  .string()
  .trim()
  .refine(isBase64Key32, { message: 'must be exactly 32 bytes, base64-encoded (openssl rand -base64 32)' })
  .transform((k) => Buffer.from(k, 'base64'));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: ipv4OrHost.default('0.0.0.0'),
  PORT: port.default(3000),
  PUBLIC_URL: z.url().optional(),
  RTC_LISTEN_IP: ipv4OrHost.default('127.0.0.1'),
  RTC_ANNOUNCED_IP: ipv4OrHost.optional(),
  RTC_PORT: port.default(0),
  SFU_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  RTC_SOCKETS_PER_WORKER: z.coerce.number().int().min(1).max(16).default(4),
  DATABASE_URL: optionalUrl(['postgres://', 'postgresql://']),
  PGLITE_DIR: z.string().default('.data/pglite'),
  // PostgreSQL only: bounded waits when the database is slow or gone (then requests answer 503).
  DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(120).default(5),
  DB_QUERY_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  REDIS_URL: optionalUrl(['redis://', 'rediss://']),
  // Key and channel prefix: the nodes of one deployment share it; another deployment on the same Redis does not.
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('carecall:'),
  // A room's lease in the directory: a dead node's rooms are free again after this long.
  CLUSTER_LEASE_MS: z.coerce.number().int().min(500).max(60_000).default(4000),
  // How often a node renews its leases and announces its load (well under the lease).
  // SIGTERM with Redis: rooms here may run this long before their participants are moved (0 = move at once).
  DRAIN_DEADLINE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  CLUSTER_HEARTBEAT_MS: z.coerce.number().int().min(100).max(20_000).default(1000),
  JOIN_TOKEN_PRIVATE_KEY: z.string().optional(),
  JOIN_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  // Signaling sockets one identity (one join token) may hold open at once; more are refused.
  JOIN_TOKEN_MAX_SOCKETS: z.coerce.number().int().min(1).max(20).default(3),
  // A signaling socket that has not sent its join by then is closed (close code 4010 join_timeout).
  JOIN_DEADLINE_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  TURN_URLS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean)
        : [],
    )
    .refine((urls) => urls.every((u) => /^turns?:[^\s]+$/.test(u)), {
      message: 'must be comma-separated turn: or turns: URIs',
    }),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  TURN_CREDENTIAL_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  DEMO: z.enum(['auto', 'on', 'off']).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SOCKET_SERVER: z.enum(['auto', 'uws', 'ws']).default('auto'),
  // Several processes on one port (SO_REUSEPORT) only when asked: otherwise a taken port is an error.
  PORT_SHARING: z.enum(['on', 'off']).default('off'),
  // Reverse proxies whose X-Forwarded-For is believed (IPs or CIDR ranges); nobody's by default.
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : [],
    )
    .superRefine((entries, ctx) => {
      try {
        parseTrustedProxies(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  // Strict-Transport-Security max-age for nodes served over HTTPS (by a TLS proxy); 0 = not sent.
  HSTS_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 * 365 * 86_400)
    .default(0),
  // Who may scrape /metrics on the public port: these addresses, or anyone with the bearer token.
  METRICS_ALLOW: z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? [...DEFAULT_METRICS_ALLOW]
        : v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
    )
    .superRefine((entries, ctx) => {
      try {
        parseTrustedProxies(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  METRICS_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
  // Identity. Access tokens are short-lived; sessions are server-side so revocation is immediate.
  AUTH_TOKEN_PRIVATE_KEY: z.string().optional(),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(600),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .max(90 * 86_400)
    .default(14 * 86_400),
  SESSION_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(60).max(86_400).default(1800),
  LOGIN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(20),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  LOGIN_LOCKOUT_SECONDS: z.coerce.number().int().min(10).max(86_400).default(900),
  // Sign-in challenges (each one a code message, or a TOTP prompt) per account per lockout window.
  LOGIN_CODES_PER_WINDOW: z.coerce.number().int().min(1).max(1000).default(5),
  // Invitation e-mails one account, or one address, may have sent per hour.
  INVITATION_MAILS_PER_HOUR: z.coerce.number().int().min(1).max(100_000).default(100),
  // Jobs that may wait for the hashing threads per lane (known devices, everyone else), and for how long.
  // Unauthenticated sign-in and invitation requests in progress at once per lane (known browsers, others).
  SIGN_IN_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(16),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(1).max(10_000).default(32),
  PASSWORD_HASH_MAX_WAIT_MS: z.coerce.number().int().min(50).max(60_000).default(3000),
  // How long a browser that completed a sign-in stays a known device of that account without signing in again.
  KNOWN_DEVICE_DAYS: z.coerce.number().int().min(1).max(400).default(90),
  OTP_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  INVITATION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .max(30 * 86_400)
    .default(7 * 86_400),
  BREAK_GLASS_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  // E-mail (codes, invitations, reminders) over SMTP; without it messages go to the outbox table (development).
  SMTP_URL: optionalUrl(['smtp://', 'smtps://']),
  MAIL_FROM: z.email().optional(),
  // How often the audit chain's head is signed into the log (an anchor outside the database).
  AUDIT_CHECKPOINT_SECONDS: z.coerce.number().int().min(5).max(86_400).default(300),
  // The audit chain's HMAC key (base64, at least 32 bytes); unset = derived from AUTH_TOKEN_PRIVATE_KEY.
  AUDIT_CHAIN_KEY: z
    .string()
    .refine((k) => /^[A-Za-z0-9+/_-]+=*$/.test(k) && Buffer.from(k, 'base64').length >= 32, {
      message: 'must be at least 32 bytes, base64-encoded (openssl rand -base64 32)',
    })
    .transform((k) => Buffer.from(k, 'base64'))
    .optional(),
  // 'minimum' exists so test suites that log in hundreds of times stay fast; refused outside NODE_ENV=test.
  PASSWORD_HASH_STRENGTH: z.enum(['interactive', 'moderate', 'minimum']).default('interactive'),
  // Scheduling: the background worker (reminders, dispatch expiry, licence notices).
  SCHEDULING_WORKER: z.enum(['on', 'off']).default('on'),
  SCHEDULING_WORKER_TICK_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  REMINDER_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  LICENCE_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3600),
  // Signed PDF summaries: the deployment's own CA (both PEMs, or neither: then a development CA is
  // generated into RECORDS_CA_DIR, refused in production) and the TrueType fonts the PDFs embed.
  RECORDS_CA_CERTIFICATE: pemOf('CERTIFICATE'),
  RECORDS_CA_PRIVATE_KEY: pemOf('PRIVATE KEY'),
  RECORDS_CA_DIR: z.string().trim().min(1).default('.data/records-ca'),
  RECORDS_PDF_FONT_DIR: z.string().trim().min(1).default('/usr/share/fonts/truetype/dejavu'),
  // Encryption at rest: the key-encryption key that wraps every data key, its version, and earlier
  // versions kept for reading until their data keys are re-wrapped (server/crypto/).
  DATA_KEK: base64Key32.optional(),
  DATA_KEK_VERSION: z.coerce.number().int().min(1).max(2_147_483_647).default(1),
  DATA_KEK_PREVIOUS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const keys: { version: number; key: Buffer }[] = [];
      for (const entry of (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        const m = /^(\d{1,10}):(.+)$/.exec(entry);
        const version = m ? Number(m[1]) : NaN;
        const key = m && isBase64Key32(m[2]!) ? Buffer.from(m[2]!, 'base64') : undefined;
        if (!key || !(version >= 1 && version <= 2_147_483_647)) {
          ctx.addIssue({
            code: 'custom',
            message:
              'must be comma-separated version:base64 pairs (a version from 1, a key of exactly 32 bytes)',
          });
          return z.NEVER;
        }
        keys.push({ version, key });
      }
      return keys;
    }),
  DATA_KEY_CACHE_SIZE: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  BLOB_STORE_DIR: z.string().trim().min(1).default('.data/blobs'),
  // Files (server/files/): the largest upload and the media types a clinic accepts unless it sets
  // its own, and how long a download link lives.
  FILE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 40)
    .default(2 * 1024 ** 3),
  FILE_ALLOWED_TYPES: z
    .string()
    .default('application/pdf,image/jpeg,image/png,image/webp,image/gif,text/plain,video/mp4,audio/mpeg')
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    ),
  FILE_LINK_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  // Chat (server/messaging/): message size in UTF-8 bytes, sends per member per second (and burst),
  // and how long a message stays unread before its members get an e-mail (no message text in it).
  MESSAGE_MAX_BYTES: z.coerce.number().int().min(1).max(65_536).default(8192),
  MESSAGE_RATE_PER_SECOND: z.coerce.number().min(0.1).max(1_000_000).default(5),
  MESSAGE_RATE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  MESSAGE_UNREAD_NOTIFY_SECONDS: z.coerce.number().int().min(1).max(604_800).default(900),
  MESSAGE_NOTIFY_WORKER: z.enum(['on', 'off']).default('on'),
  MESSAGE_NOTIFY_TICK_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
});

export type Config = Readonly<{
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  publicUrl: string | undefined;
  rtc: {
    listenIp: string;
    announcedIp: string | undefined;
    port: number;
    workers: number | undefined;
    socketsPerWorker: number;
  };
  databaseUrl: string | undefined;
  pgliteDir: string;
  /** PostgreSQL waits: opening a connection; a query, BEGIN or COMMIT (0 = unlimited). */
  database: { connectTimeoutSeconds: number; queryTimeoutMs: number };
  redisUrl: string | undefined;
  redisPrefix: string;
  cluster: { leaseMs: number; heartbeatMs: number; drainDeadlineMs: number };
  joinToken: {
    privateKeyPem: string | undefined;
    ttlSeconds: number;
    maxSockets: number;
    joinDeadlineMs: number;
  };
  demo: boolean;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  socketServer: 'auto' | 'uws' | 'ws';
  /** Listen with SO_REUSEPORT so several nodes can share the port; off = EADDRINUSE on a taken port. */
  portSharing: boolean;
  /** IPs or CIDR ranges of reverse proxies whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** Strict-Transport-Security max-age; 0 = off (plain HTTP, or TLS not yet settled). */
  hstsMaxAgeSeconds: number;
  /** /metrics: addresses or CIDR ranges allowed without a token, and the optional bearer token. */
  metrics: { allow: string[]; token: string | undefined };
  /** E-mail delivery; undefined = the development outbox. */
  smtp: { url: string; from: string } | undefined;
  /** Relay for participants whose network blocks direct media; coturn REST-API credentials. */
  turn: TurnConfig | undefined;
  auth: AuthConfig;
  scheduling: SchedulingConfig;
  records: RecordsConfig;
  dataEncryption: DataEncryptionConfig;
  messaging: MessagingConfig;
  /** Local-disk blob store root (encrypted file contents). */
  blobStoreDir: string;
  files: FilesConfig;
}>;

export type RecordsConfig = {
  /** PEM of the deployment CA's certificate and PKCS#8 key; both undefined = development CA in caDir. */
  caCertificatePem: string | undefined;
  caPrivateKeyPem: string | undefined;
  caDir: string;
  /** Holds DejaVuSans.ttf and DejaVuSans-Bold.ttf (Debian fonts-dejavu-core). */
  pdfFontDir: string;
};

export type DataEncryptionConfig = {
  /** The KEK that wraps new data keys; undefined = a per-process key (refused in production). */
  kek: { version: number; key: Buffer } | undefined;
  /** Earlier (or not yet current) KEK versions, for unwrapping only. */
  previousKeks: { version: number; key: Buffer }[];
  /** How many unwrapped data keys each process keeps in memory. */
  cacheSize: number;
};

export type FilesConfig = {
  maxBytes: number;
  allowedTypes: readonly string[];
  linkTtlSeconds: number;
};

export type MessagingConfig = {
  maxBytes: number;
  ratePerSecond: number;
  rateBurst: number;
  /** A message unread this long gets its members one e-mail (per batch of unread messages). */
  unreadNotifyMs: number;
  notifyWorkerEnabled: boolean;
  notifyTickMs: number;
};

export type SchedulingConfig = {
  workerEnabled: boolean;
  workerTickMs: number;
  /** How long a claimed reminder stays invisible to other workers before it is re-delivered. */
  reminderLeaseMs: number;
  licenceCheckIntervalMs: number;
};

export type AuthConfig = {
  privateKeyPem: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  defaultIdleTimeoutSeconds: number;
  loginRateLimitPerMinute: number;
  loginMaxFailures: number;
  loginLockoutSeconds: number;
  loginCodesPerWindow: number;
  invitationMailsPerHour: number;
  /** Bounded waiting for the hashing threads: per-lane queue length and longest wait before a 503. */
  hashQueue: { limit: number; maxWaitMs: number };
  signInConcurrency: number;
  knownDeviceTtlSeconds: number;
  otpTtlSeconds: number;
  invitationTtlSeconds: number;
  breakGlassTtlSeconds: number;
  auditCheckpointSeconds: number;
  /** Set: the audit chain's HMAC key; else one is derived from the auth signing key. */
  auditChainKey: Buffer | undefined;
  passwordHashStrength: 'interactive' | 'moderate' | 'minimum';
};

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  if (e.TURN_URLS.length > 0 && !e.TURN_SECRET) {
    throw new ConfigError([
      { variable: 'TURN_SECRET', message: 'required when TURN_URLS is set (coturn static-auth-secret)' },
    ]);
  }
  if (e.NODE_ENV === 'production' && !e.JOIN_TOKEN_PRIVATE_KEY) {
    throw new ConfigError([
      {
        variable: 'JOIN_TOKEN_PRIVATE_KEY',
        message: 'required in production (PKCS#8 PEM of an Ed25519 key)',
      },
    ]);
  }
  if (e.NODE_ENV === 'production' && !e.AUTH_TOKEN_PRIVATE_KEY) {
    throw new ConfigError([
      {
        variable: 'AUTH_TOKEN_PRIVATE_KEY',
        message: 'required in production (PKCS#8 PEM of an Ed25519 key)',
      },
    ]);
  }
  if (e.NODE_ENV === 'production' && !e.DATA_KEK) {
    throw new ConfigError([
      { variable: 'DATA_KEK', message: 'required in production (32 bytes, base64: openssl rand -base64 32)' },
    ]);
  }
  const kekVersions = [
    ...(e.DATA_KEK ? [e.DATA_KEK_VERSION] : []),
    ...e.DATA_KEK_PREVIOUS.map((k) => k.version),
  ];
  if (new Set(kekVersions).size !== kekVersions.length) {
    throw new ConfigError([
      {
        variable: 'DATA_KEK_PREVIOUS',
        message: 'each key version may appear once (and not repeat DATA_KEK_VERSION)',
      },
    ]);
  }
  if (e.SMTP_URL && !e.MAIL_FROM) {
    throw new ConfigError([
      { variable: 'MAIL_FROM', message: 'required when SMTP_URL is set (the sender address)' },
    ]);
  }
  if ((e.RECORDS_CA_CERTIFICATE === undefined) !== (e.RECORDS_CA_PRIVATE_KEY === undefined)) {
    const missing =
      e.RECORDS_CA_CERTIFICATE === undefined ? 'RECORDS_CA_CERTIFICATE' : 'RECORDS_CA_PRIVATE_KEY';
    throw new ConfigError([
      {
        variable: missing,
        message: 'RECORDS_CA_CERTIFICATE and RECORDS_CA_PRIVATE_KEY are set together or not at all',
      },
    ]);
  }
  if (e.PASSWORD_HASH_STRENGTH === 'minimum' && e.NODE_ENV !== 'test') {
    throw new ConfigError([
      { variable: 'PASSWORD_HASH_STRENGTH', message: "'minimum' is only allowed with NODE_ENV=test" },
    ]);
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL,
    rtc: {
      listenIp: e.RTC_LISTEN_IP,
      announcedIp: e.RTC_ANNOUNCED_IP,
      port: e.RTC_PORT,
      workers: e.SFU_WORKERS,
      socketsPerWorker: e.RTC_SOCKETS_PER_WORKER,
    },
    databaseUrl: e.DATABASE_URL,
    pgliteDir: e.PGLITE_DIR,
    database: {
      connectTimeoutSeconds: e.DB_CONNECT_TIMEOUT_SECONDS,
      queryTimeoutMs: e.DB_QUERY_TIMEOUT_SECONDS * 1000,
    },
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    cluster: {
      leaseMs: e.CLUSTER_LEASE_MS,
      heartbeatMs: Math.min(e.CLUSTER_HEARTBEAT_MS, e.CLUSTER_LEASE_MS / 3),
      drainDeadlineMs: e.DRAIN_DEADLINE_SECONDS * 1000,
    },
    joinToken: {
      privateKeyPem: e.JOIN_TOKEN_PRIVATE_KEY?.replace(/\\n/g, '\n'),
      ttlSeconds: e.JOIN_TOKEN_TTL_SECONDS,
      maxSockets: e.JOIN_TOKEN_MAX_SOCKETS,
      joinDeadlineMs: e.JOIN_DEADLINE_SECONDS * 1000,
    },
    demo: e.DEMO === 'on' || (e.DEMO === 'auto' && !e.DATABASE_URL && e.NODE_ENV !== 'production'),
    logLevel: e.LOG_LEVEL,
    socketServer: e.SOCKET_SERVER,
    portSharing: e.PORT_SHARING === 'on',
    trustedProxies: e.TRUSTED_PROXIES,
    metrics: { allow: e.METRICS_ALLOW, token: e.METRICS_TOKEN },
    hstsMaxAgeSeconds: e.HSTS_MAX_AGE_SECONDS,
    smtp: e.SMTP_URL && e.MAIL_FROM ? { url: e.SMTP_URL, from: e.MAIL_FROM } : undefined,
    turn:
      e.TURN_URLS.length > 0 && e.TURN_SECRET
        ? { urls: e.TURN_URLS, secret: e.TURN_SECRET, ttlSeconds: e.TURN_CREDENTIAL_TTL_SECONDS }
        : undefined,
    auth: {
      privateKeyPem: e.AUTH_TOKEN_PRIVATE_KEY?.replace(/\\n/g, '\n'),
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
      defaultIdleTimeoutSeconds: e.SESSION_IDLE_TIMEOUT_SECONDS,
      loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
      loginMaxFailures: e.LOGIN_MAX_FAILURES,
      loginLockoutSeconds: e.LOGIN_LOCKOUT_SECONDS,
      loginCodesPerWindow: e.LOGIN_CODES_PER_WINDOW,
      invitationMailsPerHour: e.INVITATION_MAILS_PER_HOUR,
      hashQueue: { limit: e.PASSWORD_HASH_QUEUE, maxWaitMs: e.PASSWORD_HASH_MAX_WAIT_MS },
      signInConcurrency: e.SIGN_IN_CONCURRENCY,
      knownDeviceTtlSeconds: e.KNOWN_DEVICE_DAYS * 86_400,
      otpTtlSeconds: e.OTP_TTL_SECONDS,
      invitationTtlSeconds: e.INVITATION_TTL_SECONDS,
      breakGlassTtlSeconds: e.BREAK_GLASS_TTL_SECONDS,
      auditCheckpointSeconds: e.AUDIT_CHECKPOINT_SECONDS,
      auditChainKey: e.AUDIT_CHAIN_KEY,
      passwordHashStrength: e.PASSWORD_HASH_STRENGTH,
    },
    scheduling: {
      workerEnabled: e.SCHEDULING_WORKER === 'on',
      workerTickMs: e.SCHEDULING_WORKER_TICK_MS,
      reminderLeaseMs: e.REMINDER_LEASE_SECONDS * 1000,
      licenceCheckIntervalMs: e.LICENCE_CHECK_INTERVAL_SECONDS * 1000,
    },
    records: {
      caCertificatePem: e.RECORDS_CA_CERTIFICATE,
      caPrivateKeyPem: e.RECORDS_CA_PRIVATE_KEY,
      caDir: e.RECORDS_CA_DIR,
      pdfFontDir: e.RECORDS_PDF_FONT_DIR,
    },
    dataEncryption: {
      kek: e.DATA_KEK ? { version: e.DATA_KEK_VERSION, key: e.DATA_KEK } : undefined,
      previousKeks: e.DATA_KEK_PREVIOUS,
      cacheSize: e.DATA_KEY_CACHE_SIZE,
    },
    messaging: {
      maxBytes: e.MESSAGE_MAX_BYTES,
      ratePerSecond: e.MESSAGE_RATE_PER_SECOND,
      rateBurst: e.MESSAGE_RATE_BURST,
      unreadNotifyMs: e.MESSAGE_UNREAD_NOTIFY_SECONDS * 1000,
      notifyWorkerEnabled: e.MESSAGE_NOTIFY_WORKER === 'on',
      notifyTickMs: e.MESSAGE_NOTIFY_TICK_MS,
    },
    blobStoreDir: e.BLOB_STORE_DIR,
    files: {
      maxBytes: e.FILE_MAX_BYTES,
      allowedTypes: e.FILE_ALLOWED_TYPES,
      linkTtlSeconds: e.FILE_LINK_TTL_SECONDS,
    },
  };
}
