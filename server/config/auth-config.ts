import { z } from 'zod';
import { refuse } from './env-fields.ts';

// Identity. Access tokens are short-lived; sessions are server-side so revocation is immediate.
export const authEnv = z.object({
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
  // Unauthenticated sign-in and invitation requests in progress at once per lane (known browsers, others).
  SIGN_IN_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(16),
  // Jobs that may wait for the hashing threads per lane (known devices, everyone else), and for how long.
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
  // User connections (/ws/user) one account may hold at once on a node (phones, tablets, browser tabs).
  USER_SOCKET_MAX_PER_USER: z.coerce.number().int().min(1).max(100).default(5),
  // How often open user connections check their session and account again (heals a lost revocation message).
  USER_SOCKET_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  // 'minimum' exists so test suites that log in hundreds of times stay fast; refused outside NODE_ENV=test.
  PASSWORD_HASH_STRENGTH: z.enum(['interactive', 'moderate', 'minimum']).default('interactive'),
});

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
  userSocketMaxPerUser: number;
  userSocketRecheckSeconds: number;
};

export function authConfig(e: z.infer<typeof authEnv>, nodeEnv: string): AuthConfig {
  if (nodeEnv === 'production' && !e.AUTH_TOKEN_PRIVATE_KEY) {
    refuse('AUTH_TOKEN_PRIVATE_KEY', 'required in production (PKCS#8 PEM of an Ed25519 key)');
  }
  if (e.PASSWORD_HASH_STRENGTH === 'minimum' && nodeEnv !== 'test') {
    refuse('PASSWORD_HASH_STRENGTH', "'minimum' is only allowed with NODE_ENV=test");
  }
  return {
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
    userSocketMaxPerUser: e.USER_SOCKET_MAX_PER_USER,
    userSocketRecheckSeconds: e.USER_SOCKET_RECHECK_SECONDS,
  };
}
