import { randomUUID } from 'node:crypto';
import { and, count, eq, gt, isNull, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { mfaChallenges, users, type MfaMethod } from '../../db/schema/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../api/errors.ts';
import { loginCodeMessage } from '../notifications/templates.ts';
import type { NotificationProvider } from '../notifications/types.ts';
import { currentContext } from '../request-context.ts';
import type { Attempt, AttemptGuard } from './attempt-guard.ts';
import type { KnownDevices } from './known-devices.ts';
import type { PasswordHasher } from './passwords.ts';
import type { SecretSealer } from './secret-sealer.ts';
import type { SessionService, TokenPair } from './sessions.ts';
import { constantTimeEqualHex, hmacHex, numericCode } from './secrets.ts';
import { verifyTotp } from './totp.ts';
import { PROBLEM } from '../api/problem-codes.ts';

const MAX_CODE_ATTEMPTS = 5;

export type MfaChallenge = {
  mfaRequired: true;
  challengeId: string;
  method: MfaMethod;
  destination: string | null;
  expiresIn: number;
};
/** `deviceId`: the browser's known-device cookie, if it sent one. */
type Meta = { ip: string; userAgent: string | undefined; deviceId?: string | undefined };

/** Password, then always a second factor (e-mail or SMS code, or TOTP), then a session. */
export class LoginService {
  constructor(
    private readonly deps: {
      db: Db;
      config: AuthConfig;
      passwords: PasswordHasher;
      guard: AttemptGuard;
      devices: KnownDevices;
      sessions: SessionService;
      notifier: NotificationProvider;
      audit: AuditLog;
      sealer: SecretSealer;
      codeKey: Buffer;
    },
  ) {}

  /**
   * The password step. A browser known to the account has its own failure count and the known lane
   * to the hashing threads; anyone else shares the account's count and the unknown lane.
   */
  async start(
    input: { email: string; password: string; method?: MfaMethod | undefined },
    meta: Meta,
  ): Promise<MfaChallenge> {
    const { db, guard, passwords, config } = this.deps;
    const idHash = guard.identifier(input.email);
    // Without a device cookie this is unknown work: if its queue is full, refuse before any query.
    if (!meta.deviceId) passwords.assertRoom('unknown');
    const known = await this.deps.devices.isKnown(idHash, meta.deviceId);
    if (!known) passwords.assertRoom('unknown');
    const attempt = await guard.begin(
      meta.ip,
      this.#passwordKey(idHash, known ? meta.deviceId : undefined),
      'password',
    );
    let user: typeof users.$inferSelect | undefined;
    let ok = false;
    try {
      [user] = await db.select().from(users).where(eq(users.email, input.email.toLowerCase()));
      if (user) await this.#checkChallengeBudget(user.id);
      ok =
        (await passwords.verify(user?.passwordHash, input.password, known ? 'known' : 'unknown')) &&
        user !== undefined &&
        !user.disabledAt;
    } catch (err) {
      await guard.settle(attempt, undefined);
      throw err;
    }
    // A right password proves the first factor only: the count is reset by a completed sign-in.
    await guard.settle(attempt, ok ? undefined : false);
    if (!ok || !user) {
      await this.#audit('auth.login', 'denied', user?.id ?? null, 'bad_credentials');
      throw new ProblemError(401, PROBLEM.invalidCredentials, 'e-mail or password is wrong');
    }
    if (user.passwordHash && passwords.needsRehash(user.passwordHash)) {
      await db
        .update(users)
        .set({ passwordHash: await passwords.hash(input.password) })
        .where(eq(users.id, user.id));
    }
    const method = input.method ?? user.mfaMethod;
    if (method === 'sms' && !user.phone)
      throw new ProblemError(422, PROBLEM.mfaUnavailable, 'no phone number on this account', [
        { field: 'method', message: 'no phone number on this account' },
      ]);
    if (method === 'totp' && !user.totpSecretSealed)
      throw new ProblemError(422, PROBLEM.mfaUnavailable, 'no authenticator app set up', [
        { field: 'method', message: 'no authenticator app set up' },
      ]);

    const challengeId = randomUUID();
    const expiresAt = new Date(Date.now() + config.otpTtlSeconds * 1000);
    let codeHash: string | null = null;
    let destination: string | null = null;
    if (method !== 'totp') {
      const code = numericCode();
      codeHash = hmacHex(this.deps.codeKey, `${challengeId}:${code}`);
      const recipient = method === 'sms' ? user.phone! : user.email!;
      destination = mask(recipient, method);
      await this.#openChallenge({
        id: challengeId,
        userId: user.id,
        method,
        codeHash,
        expiresAt,
        ip: meta.ip,
      });
      await this.deps.notifier.send(
        loginCodeMessage(method, recipient, code, challengeId, Math.round(config.otpTtlSeconds / 60)),
      );
    } else {
      await this.#openChallenge({
        id: challengeId,
        userId: user.id,
        method,
        codeHash,
        expiresAt,
        ip: meta.ip,
      });
    }
    // Old, never-finished challenges are of no use to anyone; keep the table small.
    await db.delete(mfaChallenges).where(lt(mfaChallenges.expiresAt, new Date(Date.now() - 86_400_000)));
    return { mfaRequired: true, challengeId, method, destination, expiresIn: config.otpTtlSeconds };
  }

  /**
   * The code step. Wrong codes count against the account's code identifier whatever the number of
   * challenges (and a new challenge voids the older ones), and against the address; the reservation
   * is made before the code is compared, so parallel guesses cannot exceed the limit.
   */
  async verify(
    input: { challengeId: string; code: string },
    meta: Meta,
  ): Promise<TokenPair & { deviceId: string }> {
    const { db, guard } = this.deps;
    await guard.checkAddress(meta.ip);
    const [open] = await db
      .select({ userId: mfaChallenges.userId })
      .from(mfaChallenges)
      .where(
        and(
          eq(mfaChallenges.id, input.challengeId),
          isNull(mfaChallenges.consumedAt),
          gt(mfaChallenges.expiresAt, new Date()),
        ),
      );
    if (!open) {
      await guard.record(meta.ip, guard.scoped('code', input.challengeId), 'code', false);
      throw new ProblemError(401, PROBLEM.challengeInvalid, 'sign-in code expired or used up; sign in again');
    }
    const [user] = await db.select().from(users).where(eq(users.id, open.userId));
    if (!user || user.disabledAt || !user.email)
      throw new ProblemError(401, PROBLEM.challengeInvalid, 'sign-in code expired or used up; sign in again');
    const idHash = guard.identifier(user.email);
    const known = await this.deps.devices.isKnown(idHash, meta.deviceId);
    // The account lockout holds here too (for this browser's count when it is a known one).
    await guard.checkIdentifier(this.#passwordKey(idHash, known ? meta.deviceId : undefined));
    const attempt = await guard.begin(meta.ip, guard.scoped('code', user.id), 'code');
    let good = false;
    try {
      good = await this.#checkCode(input, user);
    } catch (err) {
      await guard.settle(attempt, undefined);
      throw err;
    }
    if (!good) {
      await guard.settle(attempt, false);
      await this.#audit('auth.mfa', 'denied', user.id, 'bad_code');
      throw new ProblemError(401, PROBLEM.invalidCode, 'the code is wrong', [
        { field: 'code', message: 'wrong code' },
      ]);
    }
    const consumed = await db
      .update(mfaChallenges)
      .set({ consumedAt: new Date() })
      .where(and(eq(mfaChallenges.id, input.challengeId), isNull(mfaChallenges.consumedAt)))
      .returning({ id: mfaChallenges.id });
    if (!consumed.length) {
      await guard.settle(attempt, undefined);
      throw new ProblemError(401, PROBLEM.challengeInvalid, 'sign-in code expired or used up; sign in again');
    }
    await guard.settle(attempt, true);
    await guard.record(
      meta.ip,
      this.#passwordKey(idHash, known ? meta.deviceId : undefined),
      'password',
      true,
    );
    const deviceId = await this.deps.devices.remember(idHash, known ? meta.deviceId : undefined);
    const pair = await this.deps.sessions.create(user, meta);
    await this.#audit('auth.login', 'allowed', user.id, null, pair.sessionId);
    return { ...pair, deviceId };
  }

  /** Whether the code is right for the challenge (counted: a challenge takes MAX_CODE_ATTEMPTS codes at most). */
  async #checkCode(
    input: { challengeId: string; code: string },
    user: typeof users.$inferSelect,
  ): Promise<boolean> {
    const { db } = this.deps;
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
    if (!ch)
      throw new ProblemError(401, PROBLEM.challengeInvalid, 'sign-in code expired or used up; sign in again');
    if (ch.method !== 'totp')
      return (
        !!ch.codeHash &&
        constantTimeEqualHex(ch.codeHash, hmacHex(this.deps.codeKey, `${ch.id}:${input.code}`))
      );
    const counter = user.totpSecretSealed
      ? verifyTotp(this.deps.sealer.open(user.totpSecretSealed), input.code)
      : null;
    if (counter === null || (user.totpLastCounter !== null && counter <= user.totpLastCounter)) return false;
    // Conditional: the same TOTP code cannot be spent twice, even by two racing requests.
    const upd = await db
      .update(users)
      .set({ totpLastCounter: counter })
      .where(
        and(
          eq(users.id, user.id),
          user.totpLastCounter === null
            ? isNull(users.totpLastCounter)
            : eq(users.totpLastCounter, user.totpLastCounter),
        ),
      )
      .returning({ id: users.id });
    return upd.length === 1;
  }

  /** The identifier password failures count against: the known browser's own, else the account's. */
  #passwordKey(idHash: string, knownDeviceId: string | undefined) {
    return knownDeviceId ? this.deps.guard.scoped('device', `${idHash}:${knownDeviceId}`) : idHash;
  }

  /** 429 once the account was sent LOGIN_CODES_PER_WINDOW challenges in the lockout window (checked before any hashing). */
  async #checkChallengeBudget(userId: string) {
    const { db, config } = this.deps;
    const since = new Date(Date.now() - config.loginLockoutSeconds * 1000);
    const [row] = await db
      .select({ n: count(), oldest: sql<Date | string | null>`min(${mfaChallenges.createdAt})` })
      .from(mfaChallenges)
      .where(and(eq(mfaChallenges.userId, userId), gt(mfaChallenges.createdAt, since)));
    if ((row?.n ?? 0) < config.loginCodesPerWindow) return;
    const oldest = row?.oldest ? new Date(row.oldest).getTime() : Date.now();
    throw new ProblemError(
      429,
      PROBLEM.tooManyCodes,
      'too many sign-in codes were sent to this account; wait before asking for another',
      [],
      (oldest + config.loginLockoutSeconds * 1000 - Date.now()) / 1000,
    );
  }

  /** A new challenge voids the account's older open ones (under a lock, so two at once leave one open). */
  async #openChallenge(row: typeof mfaChallenges.$inferInsert) {
    await this.deps.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`challenge:${row.userId}`}, 0))`);
      await tx
        .update(mfaChallenges)
        .set({ consumedAt: new Date() })
        .where(
          and(
            eq(mfaChallenges.userId, row.userId),
            isNull(mfaChallenges.consumedAt),
            ne(mfaChallenges.id, row.id),
          ),
        );
      await tx.insert(mfaChallenges).values(row);
    });
  }

  async #audit(
    action: 'auth.login' | 'auth.mfa',
    outcome: 'allowed' | 'denied',
    userId: string | null,
    reason: string | null,
    sessionId?: string,
  ) {
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
