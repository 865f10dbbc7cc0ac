import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { users } from '../../db/schema/index.ts';
import { ProblemError } from '../errors.ts';
import type { PasswordHasher } from './passwords.ts';
import type { Sealer } from './seal.ts';
import type { SessionService } from './sessions.ts';
import { newTotpSecret, otpauthUri, verifyTotp } from './totp.ts';

/** What a signed-in user changes about their own account: profile view, password, TOTP. */
export class AccountService {
  constructor(private readonly deps: { db: Db; passwords: PasswordHasher; sealer: Sealer; sessions: SessionService }) {}

  async me(userId: string) {
    const [u] = await this.deps.db
      .select({ id: users.id, role: users.role, email: users.email, phone: users.phone, displayName: users.displayName, dateOfBirth: users.dateOfBirth, mfaMethod: users.mfaMethod, timeZone: users.timeZone })
      .from(users)
      .where(eq(users.id, userId));
    if (!u) throw new ProblemError(404, 'not_found', 'no such user');
    return u;
  }

  /** The zone reminders are shown in; null clears it (reminders then use the doctor's zone). */
  async setTimeZone(userId: string, timeZone: string | null) {
    await this.deps.db.update(users).set({ timeZone }).where(eq(users.id, userId));
  }

  /** Changing the password signs out every other session (a thief's included). */
  async changePassword(userId: string, sessionId: string, current: string, next: string) {
    const [u] = await this.deps.db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, userId));
    if (!(await this.deps.passwords.verify(u?.hash, current))) {
      throw new ProblemError(400, 'invalid_body', 'current password is wrong', [{ field: 'currentPassword', message: 'wrong password' }]);
    }
    await this.deps.db.update(users).set({ passwordHash: await this.deps.passwords.hash(next), passwordChangeRequired: false }).where(eq(users.id, userId));
    await this.deps.sessions.revokeAllFor(userId, 'password_changed', sessionId);
  }

  async setMfaMethod(userId: string, method: 'email' | 'sms') {
    const [u] = await this.deps.db.select({ phone: users.phone }).from(users).where(eq(users.id, userId));
    if (method === 'sms' && !u?.phone) throw new ProblemError(422, 'mfa_unavailable', 'no phone number on this account', [{ field: 'method', message: 'no phone number on this account' }]);
    await this.deps.db.update(users).set({ mfaMethod: method }).where(eq(users.id, userId));
  }

  /** Step 1: a new secret, kept pending until the user proves their app has it. */
  async beginTotp(userId: string) {
    const [u] = await this.deps.db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    const secret = newTotpSecret();
    await this.deps.db.update(users).set({ totpPendingSealed: this.deps.sealer.seal(secret) }).where(eq(users.id, userId));
    return { secret, otpauthUri: otpauthUri(secret, u?.email ?? userId) };
  }

  /** Step 2: a valid code from the app makes TOTP the user's second factor. */
  async confirmTotp(userId: string, code: string) {
    const [u] = await this.deps.db.select({ pending: users.totpPendingSealed }).from(users).where(eq(users.id, userId));
    if (!u?.pending) throw new ProblemError(409, 'totp_not_started', 'start TOTP set-up first');
    const counter = verifyTotp(this.deps.sealer.open(u.pending), code);
    if (counter === null) throw new ProblemError(400, 'invalid_body', 'wrong code', [{ field: 'code', message: 'wrong code' }]);
    await this.deps.db
      .update(users)
      .set({ totpSecretSealed: u.pending, totpPendingSealed: null, totpLastCounter: counter, mfaMethod: 'totp' })
      .where(eq(users.id, userId));
  }

  async disableTotp(userId: string) {
    await this.deps.db.update(users).set({ totpSecretSealed: null, totpPendingSealed: null, totpLastCounter: null, mfaMethod: 'email' }).where(eq(users.id, userId));
  }
}
