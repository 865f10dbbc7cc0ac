import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { doctorCalendarFeeds, users } from '../../db/schema/index.ts';
import { randomToken, sha256Hex } from '../identity/secrets.ts';

/** What randomToken() makes: 32 bytes in base64url. Anything else cannot be a feed secret. */
const SECRET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export type FeedStatus = { active: boolean; issuedAt: string | null; lastAccessedAt: string | null };

/**
 * Secret subscription URLs for doctors' calendars. Calendar apps cannot send a Bearer token, so the
 * URL itself is the credential: 256 random bits, shown once, stored as sha256 only (a database leak
 * does not leak working URLs; sha256 suffices because the secret is not guessable like a password).
 */
export class CalendarFeedService {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
  ) {}

  /** Issues a new secret for the doctor; any earlier one stops working at the same moment. */
  async issue(doctorId: string): Promise<{ secret: string; issuedAt: Date }> {
    const secret = randomToken();
    const issuedAt = this.now();
    const row = { tokenHash: sha256Hex(secret), issuedAt, revokedAt: null, lastAccessedAt: null };
    await this.db
      .insert(doctorCalendarFeeds)
      .values({ doctorId, ...row })
      .onConflictDoUpdate({ target: doctorCalendarFeeds.doctorId, set: row });
    return { secret, issuedAt };
  }

  /** True if a live feed was revoked, false if there was none (revoking twice is not an error). */
  async revoke(doctorId: string): Promise<boolean> {
    const rows = await this.db
      .update(doctorCalendarFeeds)
      .set({ revokedAt: this.now() })
      .where(and(eq(doctorCalendarFeeds.doctorId, doctorId), isNull(doctorCalendarFeeds.revokedAt)))
      .returning({ doctorId: doctorCalendarFeeds.doctorId });
    return rows.length > 0;
  }

  async status(doctorId: string): Promise<FeedStatus> {
    const [row] = await this.db
      .select()
      .from(doctorCalendarFeeds)
      .where(and(eq(doctorCalendarFeeds.doctorId, doctorId), isNull(doctorCalendarFeeds.revokedAt)));
    return {
      active: !!row,
      issuedAt: row?.issuedAt.toISOString() ?? null,
      lastAccessedAt: row?.lastAccessedAt?.toISOString() ?? null,
    };
  }

  /**
   * The doctor a secret belongs to, stamping the access; undefined for a malformed, unknown or
   * revoked secret, or a doctor whose account was disabled (the feed dies with the account).
   */
  async resolve(secret: string): Promise<string | undefined> {
    if (!SECRET_FORMAT.test(secret)) return undefined;
    const [row] = await this.db
      .update(doctorCalendarFeeds)
      .set({ lastAccessedAt: this.now() })
      .from(users)
      .where(
        and(
          eq(doctorCalendarFeeds.tokenHash, sha256Hex(secret)),
          isNull(doctorCalendarFeeds.revokedAt),
          eq(users.id, doctorCalendarFeeds.doctorId),
          eq(users.role, 'doctor'),
          isNull(users.disabledAt),
        ),
      )
      .returning({ doctorId: doctorCalendarFeeds.doctorId });
    return row?.doctorId;
  }
}
