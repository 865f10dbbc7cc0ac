import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jsonTextList } from '../../db/json-rows.ts';
import { rowsOf } from '../../db/rows.ts';
import { Batcher } from '../batcher.ts';
import {
  clinicMembers,
  clinics,
  refreshTokens,
  sessions,
  users,
  type UserRole,
} from '../../db/schema/index.ts';
import type { AuthConfig } from '../config.ts';
import { ProblemError } from '../api/errors.ts';
import type { AccessTokens } from './access-tokens.ts';
import { randomToken, sha256Hex } from './secrets.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type TokenPair = {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  sessionId: string;
  tokenType: 'Bearer';
};
export type RevokeReason =
  'logout' | 'revoked_by_user' | 'refresh_reuse' | 'idle_timeout' | 'password_changed';

// Writing last_seen_at on every request would turn each read into a write; a minute of slack is fine
// against idle timeouts measured in tens of minutes.
const TOUCH_EVERY_MS = 60_000;

export type ActiveSession = {
  id: string;
  userId: string;
  role: UserRole;
  clinicIds: string[];
  /** The account still has a one-time password: nothing but changing it is allowed. */
  passwordChangeRequired: boolean;
};

/** The strictest idle timeout (seconds) among the clinics of the user `userId` names; null if none sets one. */
const strictestIdleTimeout = (userId: SQL) =>
  sql`(select min(c.idle_timeout_seconds) from ${clinicMembers} m join ${clinics} c on c.id = m.clinic_id where m.user_id = ${userId})`;

type SessionRow = {
  id: string;
  user_id: string;
  role: UserRole;
  // Raw rows: postgres-js gives timestamps as Date, PGlite as Date or string depending on the path.
  last_seen_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  disabled_at: Date | string | null;
  idle_timeout_seconds: number | null;
  clinic_ids: string[];
  password_change_required: boolean;
};

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

  async create(
    user: { id: string; role: UserRole },
    meta: { ip: string; userAgent: string | undefined },
  ): Promise<TokenPair> {
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
    await this.db
      .insert(refreshTokens)
      .values({ id: randomUUID(), sessionId, tokenHash: sha256Hex(refreshToken) });
    const accessToken = await this.tokens.mint({ sub: user.id, sid: sessionId, role: user.role });
    return { accessToken, refreshToken, expiresIn: this.tokens.ttlSeconds, sessionId, tokenType: 'Bearer' };
  }

  /** Rotates a refresh token. Reuse of a rotated token revokes the session (RFC 9700 §4.14.2). */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const hash = sha256Hex(refreshToken);
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash));
    if (!row) throw new ProblemError(401, PROBLEM.invalidRefreshToken, 'refresh token not recognised');
    // Conditional update: of two concurrent refreshes with the same token, exactly one wins.
    const claimed = await this.db
      .update(refreshTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
      .returning({ id: refreshTokens.id });
    if (!claimed.length) {
      await this.revoke(row.sessionId, 'refresh_reuse');
      throw new ProblemError(
        401,
        PROBLEM.refreshTokenReused,
        'refresh token was already used; the session has been revoked',
      );
    }
    const session = await this.validate(row.sessionId);
    return this.#issue(session.id, { id: session.userId, role: session.role });
  }

  /**
   * Checks a session is live (not revoked, not expired, not idle) and records activity. It runs on
   * every authenticated request, so the session, its user, the strictest idle timeout of the user's
   * clinics and their memberships come back in one query, shared by the requests that arrive together.
   * `touch: false` checks without counting as activity (an open socket's periodic check).
   */
  async validate(sessionId: string, opts: { touch?: boolean } = {}): Promise<ActiveSession> {
    const s = await this.#lookups.submit(sessionId);
    if (!s || s.revoked_at || s.disabled_at)
      throw new ProblemError(401, PROBLEM.sessionRevoked, 'session is no longer valid');
    const now = Date.now();
    if (new Date(s.expires_at).getTime() <= now)
      throw new ProblemError(401, PROBLEM.sessionExpired, 'session expired; sign in again');
    const idleMs = (s.idle_timeout_seconds ?? this.config.defaultIdleTimeoutSeconds) * 1000;
    const lastSeen = new Date(s.last_seen_at).getTime();
    if (now - lastSeen > idleMs) {
      await this.revoke(s.id, 'idle_timeout');
      throw new ProblemError(401, PROBLEM.sessionIdleTimeout, 'signed out after inactivity');
    }
    if (opts.touch !== false && now - lastSeen > TOUCH_EVERY_MS) {
      await this.db
        .update(sessions)
        .set({ lastSeenAt: new Date(now) })
        .where(eq(sessions.id, s.id));
    }
    return {
      id: s.id,
      userId: s.user_id,
      role: s.role,
      clinicIds: s.clinic_ids,
      passwordChangeRequired: s.password_change_required,
    };
  }

  readonly #lookups = new Batcher<string, SessionRow | undefined>((ids) => this.#loadSessions(ids), {
    maxBatch: 128,
    inFlight: 2,
  });

  async #loadSessions(ids: string[]): Promise<(SessionRow | undefined)[]> {
    const rows = rowsOf<SessionRow>(
      await this.db.execute(sql`
        select s.id, s.user_id, u.role, s.last_seen_at, s.expires_at, s.revoked_at, u.disabled_at, u.password_change_required,
          ${strictestIdleTimeout(sql`s.user_id`)} as idle_timeout_seconds,
          (select coalesce(json_agg(m.clinic_id), '[]') from ${clinicMembers} m where m.user_id = s.user_id) as clinic_ids
        from ${sessions} s join ${users} u on u.id = s.user_id
        where s.id in ${jsonTextList(ids)}`),
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id));
  }

  /** The strictest idle timeout among the user's clinics, else the server default. */
  async idleTimeoutSeconds(userId: string): Promise<number> {
    const [row] = rowsOf<{ t: number | null }>(
      await this.db.execute(sql`select ${strictestIdleTimeout(sql`${userId}`)} as t`),
    );
    return row?.t ?? this.config.defaultIdleTimeoutSeconds;
  }

  readonly #revokedListeners = new Set<(sessionId: string, reason: RevokeReason) => void>();

  /** Told after a session is revoked here (the node tells every node's open user sockets over the bus). */
  onRevoked(listener: (sessionId: string, reason: RevokeReason) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  async revoke(sessionId: string, reason: RevokeReason): Promise<void> {
    await this.db
      .update(sessions)
      .set({ revokedAt: new Date(), revokeReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
    for (const listener of this.#revokedListeners) listener(sessionId, reason);
  }

  async revokeAllFor(userId: string, reason: RevokeReason, except?: string): Promise<void> {
    const live = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
    for (const s of live) if (s.id !== except) await this.revoke(s.id, reason);
  }

  list(userId: string) {
    return this.db
      .select({
        id: sessions.id,
        createdAt: sessions.createdAt,
        lastSeenAt: sessions.lastSeenAt,
        expiresAt: sessions.expiresAt,
        revokedAt: sessions.revokedAt,
        revokeReason: sessions.revokeReason,
        ip: sessions.ip,
        userAgent: sessions.userAgent,
      })
      .from(sessions)
      .where(eq(sessions.userId, userId))
      .orderBy(desc(sessions.createdAt))
      .limit(100);
  }
}
