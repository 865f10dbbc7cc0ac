import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import type { AttemptGuard } from './attempt-guard.ts';
import type { KnownDevices } from './known-devices.ts';
import type { PasswordHasher } from './passwords.ts';
import type { SecretSealer } from './secret-sealer.ts';
import type { SessionService } from './sessions.ts';
import { newTotpSecret, otpauthUri, verifyTotp } from './totp.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** What a signed-in user changes about their own account: profile view, password, TOTP. */
export class AccountService {
  constructor(
    private readonly deps: {
      db: Db;
      passwords: PasswordHasher;
      sealer: SecretSealer;
      sessions: SessionService;
      guard: AttemptGuard;
      devices: KnownDevices;
    },
  ) {}

  async me(userId: string) {
    const [u] = await this.deps.db
      .select({
        id: users.id,
        role: users.role,
        email: users.email,
        phone: users.phone,
        displayName: users.displayName,
        dateOfBirth: users.dateOfBirth,
        mfaMethod: users.mfaMethod,
        timeZone: users.timeZone,
      })
      .from(users)
      .where(eq(users.id, userId));
    if (!u) throw new ProblemError(404, PROBLEM.notFound, 'no such user');
    return u;
  }

  /** The zone reminders are shown in; null clears it (reminders then use the doctor's zone). */
  async setTimeZone(userId: string, timeZone: string | null) {
    await this.deps.db.update(users).set({ timeZone }).where(eq(users.id, userId));
  }

  /**
   * Changing the password signs out every other session (a thief's included) and forgets the
   * account's known browsers. Wrong current passwords count like sign-in failures (per address, and
   * per account: a stolen session cannot guess the password at the hashing threads' expense).
   */
  async changePassword(userId: string, sessionId: string, current: string, next: string, ip: string) {
    const { db, guard, passwords } = this.deps;
    const attempt = await guard.begin(ip, guard.scoped('password_change', userId), 'password_change');
    let ok = false;
    let email: string | null = null;
    try {
      const [u] = await db
        .select({ hash: users.passwordHash, email: users.email })
        .from(users)
        .where(eq(users.id, userId));
      email = u?.email ?? null;
      ok = await passwords.verify(u?.hash, current, 'known');
    } catch (err) {
      await guard.settle(attempt, undefined);
      throw err;
    }
    if (!ok) {
      await guard.settle(attempt, false);
      throw new ProblemError(400, PROBLEM.invalidBody, 'current password is wrong', [
        { field: 'currentPassword', message: 'wrong password' },
      ]);
    }
    if (next === current) {
      await guard.settle(attempt, undefined);
      throw new ProblemError(
        422,
        PROBLEM.passwordUnchanged,
        'the new password must differ from the current one',
        [{ field: 'newPassword', message: 'same as the current password' }],
      );
    }
    try {
      await db
        .update(users)
        .set({ passwordHash: await passwords.hash(next, 'known'), passwordChangeRequired: false })
        .where(eq(users.id, userId));
    } catch (err) {
      await guard.settle(attempt, undefined);
      throw err;
    }
    await guard.settle(attempt, true);
    await this.deps.sessions.revokeAllFor(userId, 'password_changed', sessionId);
    if (email) await this.deps.devices.forgetAll(guard.identifier(email));
  }

  async setMfaMethod(userId: string, method: 'email' | 'sms') {
    const [u] = await this.deps.db.select({ phone: users.phone }).from(users).where(eq(users.id, userId));
    if (method === 'sms' && !u?.phone)
      throw new ProblemError(422, PROBLEM.mfaUnavailable, 'no phone number on this account', [
        { field: 'method', message: 'no phone number on this account' },
      ]);
    await this.deps.db.update(users).set({ mfaMethod: method }).where(eq(users.id, userId));
  }

  /** Step 1: a new secret, kept pending until the user proves their app has it. */
  async beginTotp(userId: string) {
    const [u] = await this.deps.db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    const secret = newTotpSecret();
    await this.deps.db
      .update(users)
      .set({ totpPendingSealed: this.deps.sealer.seal(secret) })
      .where(eq(users.id, userId));
    return { secret, otpauthUri: otpauthUri(secret, u?.email ?? userId) };
  }

  /** Step 2: a valid code from the app makes TOTP the user's second factor. */
  async confirmTotp(userId: string, code: string) {
    const [u] = await this.deps.db
      .select({ pending: users.totpPendingSealed })
      .from(users)
      .where(eq(users.id, userId));
    if (!u?.pending) throw new ProblemError(409, PROBLEM.totpNotStarted, 'start TOTP set-up first');
    const counter = verifyTotp(this.deps.sealer.open(u.pending), code);
    if (counter === null)
      throw new ProblemError(400, PROBLEM.invalidBody, 'wrong code', [
        { field: 'code', message: 'wrong code' },
      ]);
    await this.deps.db
      .update(users)
      .set({
        totpSecretSealed: u.pending,
        totpPendingSealed: null,
        totpLastCounter: counter,
        mfaMethod: 'totp',
      })
      .where(eq(users.id, userId));
  }

  async disableTotp(userId: string) {
    await this.deps.db
      .update(users)
      .set({ totpSecretSealed: null, totpPendingSealed: null, totpLastCounter: null, mfaMethod: 'email' })
      .where(eq(users.id, userId));
  }
}
