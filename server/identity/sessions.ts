import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, min } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicMembers, clinics, refreshTokens, sessions, users, type UserRole } from '../../db/schema/index.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../errors.ts';
import type { AccessTokens } from './access-tokens.ts';
import { randomToken, sha256Hex } from './secrets.ts';

export type TokenPair = { accessToken: string; refreshToken: string; expiresIn: number; sessionId: string; tokenType: 'Bearer' };
export type RevokeReason = 'logout' | 'revoked_by_user' | 'refresh_reuse' | 'idle_timeout' | 'password_changed';

// Writing last_seen_at on every request would turn each read into a write; a minute of slack is fine
// against idle timeouts measured in tens of minutes.
const TOUCH_EVERY_MS = 60_000;

export type ActiveSession = { id: string; userId: string; role: UserRole };

/**
 * Server-side sessions behind short-lived access tokens: every request checks the session, so
 * revocation and idle logoff take effect at once. Refresh tokens rotate on every use; presenting
 * an already-used one means it was copied, and the whole session is revoked.
 */
export class SessionService {
  constructor(
    private readonly db: Db,
    private readonly tokens: AccessTokens,
    private readonly config: AuthConfig,
  ) {}

  async create(user: { id: string; role: UserRole }, meta: { ip: string; userAgent: string | undefined }): Promise<TokenPair> {
    const id = randomUUID();
    const now = new Date();
    await this.db.insert(sessions).values({
      id,
      userId: user.id,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.config.refreshTokenTtlSeconds * 1000),
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 200) ?? null,
    });
    return this.#issue(id, user);
  }

  async #issue(sessionId: string, user: { id: string; role: UserRole }): Promise<TokenPair> {
    const refreshToken = randomToken();
    await this.db.insert(refreshTokens).values({ id: randomUUID(), sessionId, tokenHash: sha256Hex(refreshToken) });
    const accessToken = await this.tokens.mint({ sub: user.id, sid: sessionId, role: user.role });
    return { accessToken, refreshToken, expiresIn: this.tokens.ttlSeconds, sessionId, tokenType: 'Bearer' };
  }

  /** Rotates a refresh token. Reuse of a rotated token revokes the session (RFC 9700 §4.14.2). */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const hash = sha256Hex(refreshToken);
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash));
    if (!row) throw new ProblemError(401, 'invalid_refresh_token', 'refresh token not recognised');
    // Conditional update: of two concurrent refreshes with the same token, exactly one wins.
    const claimed = await this.db
      .update(refreshTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
      .returning({ id: refreshTokens.id });
    if (!claimed.length) {
      await this.revoke(row.sessionId, 'refresh_reuse');
      throw new ProblemError(401, 'refresh_token_reused', 'refresh token was already used; the session has been revoked');
    }
    const session = await this.validate(row.sessionId);
    return this.#issue(session.id, { id: session.userId, role: session.role });
  }

  /** Checks a session is live (not revoked, not expired, not idle) and records activity. */
  async validate(sessionId: string): Promise<ActiveSession> {
    const [s] = await this.db
      .select({ id: sessions.id, userId: sessions.userId, role: users.role, lastSeenAt: sessions.lastSeenAt, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt, disabledAt: users.disabledAt })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, sessionId));
    if (!s || s.revokedAt || s.disabledAt) throw new ProblemError(401, 'session_revoked', 'session is no longer valid');
    const now = Date.now();
    if (s.expiresAt.getTime() <= now) throw new ProblemError(401, 'session_expired', 'session expired; sign in again');
    const idleMs = (await this.idleTimeoutSeconds(s.userId)) * 1000;
    if (now - s.lastSeenAt.getTime() > idleMs) {
      await this.revoke(s.id, 'idle_timeout');
      throw new ProblemError(401, 'session_idle_timeout', 'signed out after inactivity');
    }
    if (now - s.lastSeenAt.getTime() > TOUCH_EVERY_MS) {
      await this.db.update(sessions).set({ lastSeenAt: new Date(now) }).where(eq(sessions.id, s.id));
    }
    return { id: s.id, userId: s.userId, role: s.role };
  }

  /** The strictest idle timeout among the user's clinics, else the server default. */
  async idleTimeoutSeconds(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ t: min(clinics.idleTimeoutSeconds) })
      .from(clinicMembers)
      .innerJoin(clinics, eq(clinics.id, clinicMembers.clinicId))
      .where(eq(clinicMembers.userId, userId));
    return row?.t ?? this.config.defaultIdleTimeoutSeconds;
  }

  async revoke(sessionId: string, reason: RevokeReason): Promise<void> {
    await this.db
      .update(sessions)
      .set({ revokedAt: new Date(), revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
  }

  async revokeAllFor(userId: string, reason: RevokeReason, except?: string): Promise<void> {
    const live = await this.db.select({ id: sessions.id }).from(sessions).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
    for (const s of live) if (s.id !== except) await this.revoke(s.id, reason);
  }

  list(userId: string) {
    return this.db
      .select({ id: sessions.id, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt, revokeReason: sessions.revokeReason, ip: sessions.ip, userAgent: sessions.userAgent })
      .from(sessions)
      .where(eq(sessions.userId, userId))
      .orderBy(desc(sessions.createdAt))
      .limit(100);
  }
}
