import { and, count, desc, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { loginAttempts } from '../../db/schema/index.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../errors.ts';
import { hmacHex } from './secrets.ts';

/**
 * Two limits, both in the database so every node sees them: attempts per IP per minute (slows
 * password spraying) and consecutive failures per account identifier (lockout). The identifier is
 * an HMAC of the e-mail, so unknown e-mails lock the same way (no account enumeration) and the
 * table holds no addresses.
 */
export class LoginThrottle {
  constructor(
    private readonly db: Db,
    private readonly config: AuthConfig,
    private readonly key: Buffer,
  ) {}

  identifier(email: string) {
    return hmacHex(this.key, email.toLowerCase());
  }

  async check(ip: string, identifierHash: string): Promise<void> {
    const minuteAgo = new Date(Date.now() - 60_000);
    const [perIp] = await this.db
      .select({ n: count() })
      .from(loginAttempts)
      .where(and(eq(loginAttempts.ip, ip), gt(loginAttempts.at, minuteAgo)));
    if ((perIp?.n ?? 0) >= this.config.loginRateLimitPerMinute) {
      throw new ProblemError(429, 'rate_limited', 'too many sign-in attempts from this address; wait a minute');
    }
    const lockedUntil = await this.lockedUntil(identifierHash);
    if (lockedUntil) throw new ProblemError(423, 'account_locked', `too many failed sign-ins; try again after ${lockedUntil.toISOString()}`);
  }

  /** Locked while the last N attempts inside the lockout window all failed. */
  async lockedUntil(identifierHash: string): Promise<Date | undefined> {
    const windowStart = new Date(Date.now() - this.config.loginLockoutSeconds * 1000);
    const recent = await this.db
      .select({ at: loginAttempts.at, succeeded: loginAttempts.succeeded })
      .from(loginAttempts)
      .where(and(eq(loginAttempts.identifierHash, identifierHash), gt(loginAttempts.at, windowStart)))
      .orderBy(desc(loginAttempts.at), desc(loginAttempts.id))
      .limit(this.config.loginMaxFailures);
    if (recent.length < this.config.loginMaxFailures || recent.some((r) => r.succeeded)) return undefined;
    return new Date(recent[0]!.at.getTime() + this.config.loginLockoutSeconds * 1000);
  }

  async record(ip: string, identifierHash: string, succeeded: boolean): Promise<void> {
    await this.db.insert(loginAttempts).values({ ip, identifierHash, succeeded });
  }
}
