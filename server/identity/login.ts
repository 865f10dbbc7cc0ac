import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { mfaChallenges, users, type MfaMethod } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../errors.ts';
import { loginCodeMessage } from '../notifications/templates.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { currentContext } from '../request-context.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './passwords.ts';
import type { Sealer } from './seal.ts';
import type { SessionService, TokenPair } from './sessions.ts';
import { constantTimeEqualHex, hmacHex, numericCode } from './secrets.ts';
import { verifyTotp } from './totp.ts';

const MAX_CODE_ATTEMPTS = 5;

export type MfaChallenge = { mfaRequired: true; challengeId: string; method: MfaMethod; destination: string | null; expiresIn: number };
type Meta = { ip: string; userAgent: string | undefined };

/** Password, then always a second factor (e-mail or SMS code, or TOTP), then a session. */
export class LoginService {
  constructor(
    private readonly deps: {
      db: Db;
      config: AuthConfig;
      passwords: PasswordHasher;
      throttle: LoginThrottle;
      sessions: SessionService;
      notifier: NotificationProvider;
      audit: AuditLog;
      sealer: Sealer;
      codeKey: Buffer;
    },
  ) {}

  async start(input: { email: string; password: string; method?: MfaMethod | undefined }, meta: Meta): Promise<MfaChallenge> {
    const { db, throttle, passwords, config } = this.deps;
    const idHash = throttle.identifier(input.email);
    await throttle.check(meta.ip, idHash);
    const [user] = await db.select().from(users).where(eq(users.email, input.email.toLowerCase()));
    const ok = (await passwords.verify(user?.passwordHash, input.password)) && user !== undefined && !user.disabledAt;
    if (!ok || !user) {
      await throttle.record(meta.ip, idHash, false);
      await this.#audit('auth.login', 'denied', user?.id ?? null, 'bad_credentials');
      throw new ProblemError(401, 'invalid_credentials', 'e-mail or password is wrong');
    }
    if (user.passwordHash && passwords.needsRehash(user.passwordHash)) {
      await db.update(users).set({ passwordHash: await passwords.hash(input.password) }).where(eq(users.id, user.id));
    }
    const method = input.method ?? user.mfaMethod;
    if (method === 'sms' && !user.phone) throw new ProblemError(422, 'mfa_unavailable', 'no phone number on this account', [{ field: 'method', message: 'no phone number on this account' }]);
    if (method === 'totp' && !user.totpSecretSealed) throw new ProblemError(422, 'mfa_unavailable', 'no authenticator app set up', [{ field: 'method', message: 'no authenticator app set up' }]);

    const challengeId = randomUUID();
    const expiresAt = new Date(Date.now() + config.otpTtlSeconds * 1000);
    let codeHash: string | null = null;
    let destination: string | null = null;
    if (method !== 'totp') {
      const code = numericCode();
      codeHash = hmacHex(this.deps.codeKey, `${challengeId}:${code}`);
      const recipient = method === 'sms' ? user.phone! : user.email!;
      destination = mask(recipient, method);
      await db.insert(mfaChallenges).values({ id: challengeId, userId: user.id, method, codeHash, expiresAt, ip: meta.ip });
      await this.deps.notifier.send(loginCodeMessage(method, recipient, code, challengeId, Math.round(config.otpTtlSeconds / 60)));
    } else {
      await db.insert(mfaChallenges).values({ id: challengeId, userId: user.id, method, codeHash, expiresAt, ip: meta.ip });
    }
    // Old, never-finished challenges are of no use to anyone; keep the table small.
    await db.delete(mfaChallenges).where(lt(mfaChallenges.expiresAt, new Date(Date.now() - 86_400_000)));
    return { mfaRequired: true, challengeId, method, destination, expiresIn: config.otpTtlSeconds };
  }

  async verify(input: { challengeId: string; code: string }, meta: Meta): Promise<TokenPair> {
    const { db, throttle } = this.deps;
    // Count the attempt before checking the code, atomically, so parallel guesses cannot exceed the limit.
    const [ch] = await db
      .update(mfaChallenges)
      .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
      .where(
        and(
          eq(mfaChallenges.id, input.challengeId),
          isNull(mfaChallenges.consumedAt),
          gt(mfaChallenges.expiresAt, new Date()),
          lt(mfaChallenges.attempts, MAX_CODE_ATTEMPTS),
        ),
      )
      .returning();
    if (!ch) throw new ProblemError(401, 'challenge_invalid', 'sign-in code expired or used up; sign in again');
    const [user] = await db.select().from(users).where(eq(users.id, ch.userId));
    if (!user || user.disabledAt || !user.email) throw new ProblemError(401, 'challenge_invalid', 'sign-in code expired or used up; sign in again');
    const idHash = throttle.identifier(user.email);

    let good = false;
    if (ch.method === 'totp') {
      const counter = user.totpSecretSealed ? verifyTotp(this.deps.sealer.open(user.totpSecretSealed), input.code) : null;
      if (counter !== null && (user.totpLastCounter === null || counter > user.totpLastCounter)) {
        // Conditional: the same TOTP code cannot be spent twice, even by two racing requests.
        const upd = await db
          .update(users)
          .set({ totpLastCounter: counter })
          .where(and(eq(users.id, user.id), user.totpLastCounter === null ? isNull(users.totpLastCounter) : eq(users.totpLastCounter, user.totpLastCounter)))
          .returning({ id: users.id });
        good = upd.length === 1;
      }
    } else {
      good = !!ch.codeHash && constantTimeEqualHex(ch.codeHash, hmacHex(this.deps.codeKey, `${ch.id}:${input.code}`));
    }
    if (!good) {
      await throttle.record(meta.ip, idHash, false);
      await this.#audit('auth.mfa', 'denied', user.id, 'bad_code');
      throw new ProblemError(401, 'invalid_code', 'the code is wrong', [{ field: 'code', message: 'wrong code' }]);
    }
    const consumed = await db
      .update(mfaChallenges)
      .set({ consumedAt: new Date() })
      .where(and(eq(mfaChallenges.id, ch.id), isNull(mfaChallenges.consumedAt)))
      .returning({ id: mfaChallenges.id });
    if (!consumed.length) throw new ProblemError(401, 'challenge_invalid', 'sign-in code expired or used up; sign in again');
    await throttle.record(meta.ip, idHash, true);
    const pair = await this.deps.sessions.create(user, meta);
    await this.#audit('auth.login', 'allowed', user.id, null, pair.sessionId);
    return pair;
  }

  async #audit(action: string, outcome: 'allowed' | 'denied', userId: string | null, reason: string | null, sessionId?: string) {
    const ctx = currentContext();
    if (ctx && userId) {
      ctx.actorId = userId;
      if (sessionId) ctx.sessionId = sessionId;
    }
    await this.deps.audit.record({ action, outcome, resourceType: 'user', resourceId: userId, reason });
  }
}

/** Enough to recognise where the code went, not enough to learn the address. */
function mask(recipient: string, method: MfaMethod): string {
  if (method === 'sms') return `••••${recipient.slice(-2)}`;
  const [local = '', domain = ''] = recipient.split('@');
  return `${local.slice(0, 1)}•••@${domain}`;
}
