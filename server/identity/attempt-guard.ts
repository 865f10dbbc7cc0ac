import { and, count, desc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { loginAttempts } from '../../db/schema/index.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../api/errors.ts';
import { hmacHex } from './secrets.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** What an attempt tried: a sign-in password or code, an invitation accept, a password change; or a counted e-mail. */
export type AttemptKind = 'password' | 'code' | 'invitation' | 'password_change' | 'invitation_mail';

/** A reserved attempt: counts against its identifier until settled. */
export type Attempt = { id: number; ip: string; identifierHash: string };

const MINUTE_MS = 60_000;

/**
 * The limits in front of everything that costs a password hash or proves a secret, kept in the
 * database so every node sees the same counts:
 * - per address: failed attempts per minute (LOGIN_RATE_LIMIT_PER_MINUTE). Only failures count, so
 *   a clinic's whole staff behind one NAT can sign in at shift start.
 * - per identifier (an account, a device of an account, an account's codes, an invitation): the
 *   last LOGIN_MAX_FAILURES attempts inside the lockout window all failed = locked. An attempt is
 *   reserved (as not yet successful) before its secret is checked, under a lock on its identifier,
 *   so parallel guesses cannot overrun the limit.
 * Identifiers are HMACs, so unknown e-mails lock the same way (no account enumeration) and the
 * table holds no addresses.
 */
export class AttemptGuard {
  constructor(
    private readonly db: Db,
    private readonly config: AuthConfig,
    private readonly key: Buffer,
  ) {}

  /** An account's sign-in identifier, from its e-mail (known or not). */
  identifier(email: string) {
    return hmacHex(this.key, email.toLowerCase());
  }

  /** An identifier of its own for one purpose: an account's codes, a known device, an invitation. */
  scoped(scope: 'code' | 'device' | 'invitation' | 'password_change' | 'inviter', subject: string) {
    return hmacHex(this.key, `${scope}\u0000${subject}`);
  }

  /** 429 when this address failed too often in the last minute. */
  async checkAddress(ip: string): Promise<void> {
    const since = new Date(Date.now() - MINUTE_MS);
    const [row] = await this.db
      .select({ n: count(), oldest: sql<Date | string | null>`min(${loginAttempts.at})` })
      .from(loginAttempts)
      .where(and(eq(loginAttempts.ip, ip), gt(loginAttempts.at, since), eq(loginAttempts.succeeded, false)));
    if ((row?.n ?? 0) >= this.config.loginRateLimitPerMinute) {
      const oldest = row?.oldest ? new Date(row.oldest).getTime() : Date.now();
      throw new ProblemError(
        429,
        PROBLEM.rateLimited,
        'too many failed attempts from this address; wait a minute',
        [],
        (oldest + MINUTE_MS - Date.now()) / 1000,
      );
    }
  }

  /** 423 while the identifier is locked. */
  async checkIdentifier(identifierHash: string, db: Pick<Db, 'select'> = this.db): Promise<void> {
    const until = await this.lockedUntil(identifierHash, db);
    if (until) throw lockedError(until);
  }

  /** Checks both limits, then reserves an attempt against the identifier (atomically with the check). */
  async begin(ip: string, identifierHash: string, kind: AttemptKind): Promise<Attempt> {
    await this.checkAddress(ip);
    const id = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${identifierHash}, 0))`);
      await this.checkIdentifier(identifierHash, tx);
      const [row] = await tx
        .insert(loginAttempts)
        .values({ ip, identifierHash, kind, succeeded: null })
        .returning({ id: loginAttempts.id });
      return row!.id;
    });
    return { id, ip, identifierHash };
  }

  /** `undefined`: the attempt proved nothing either way (refused for another reason) and is forgotten. */
  async settle(attempt: Attempt, succeeded: boolean | undefined): Promise<void> {
    if (succeeded === undefined) await this.db.delete(loginAttempts).where(eq(loginAttempts.id, attempt.id));
    else await this.db.update(loginAttempts).set({ succeeded }).where(eq(loginAttempts.id, attempt.id));
  }

  /** A settled attempt in one step (a failure that needed no reservation; a success elsewhere). */
  async record(ip: string, identifierHash: string, kind: AttemptKind, succeeded: boolean): Promise<void> {
    await this.db.insert(loginAttempts).values({ ip, identifierHash, kind, succeeded });
  }

  /** Events of one kind in the last `windowMs`, by address or by identifier. */
  async countRecent(
    kind: AttemptKind,
    by: { ip: string } | { identifierHash: string },
    windowMs: number,
  ): Promise<number> {
    const since = new Date(Date.now() - windowMs);
    const who =
      'ip' in by ? eq(loginAttempts.ip, by.ip) : eq(loginAttempts.identifierHash, by.identifierHash);
    const [row] = await this.db
      .select({ n: count() })
      .from(loginAttempts)
      .where(and(who, eq(loginAttempts.kind, kind), gt(loginAttempts.at, since)));
    return row?.n ?? 0;
  }

  /** Locked while the last N attempts inside the lockout window all did not succeed (in-flight ones included). */
  async lockedUntil(identifierHash: string, db: Pick<Db, 'select'> = this.db): Promise<Date | undefined> {
    const windowStart = new Date(Date.now() - this.config.loginLockoutSeconds * 1000);
    const recent = await db
      .select({ at: loginAttempts.at, succeeded: loginAttempts.succeeded })
      .from(loginAttempts)
      .where(and(eq(loginAttempts.identifierHash, identifierHash), gt(loginAttempts.at, windowStart)))
      .orderBy(desc(loginAttempts.at), desc(loginAttempts.id))
      .limit(this.config.loginMaxFailures);
    if (recent.length < this.config.loginMaxFailures || recent.some((r) => r.succeeded === true))
      return undefined;
    return new Date(recent[0]!.at.getTime() + this.config.loginLockoutSeconds * 1000);
  }
}

function lockedError(until: Date) {
  return new ProblemError(
    423,
    PROBLEM.accountLocked,
    `too many failed attempts; try again after ${until.toISOString()}`,
    [],
    (until.getTime() - Date.now()) / 1000,
  );
}
