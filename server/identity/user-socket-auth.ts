import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { users } from '../../db/schema/index.ts';
import type { UserAuth, UserIdentity } from '../../signaling/user-chat-port.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { Actor } from '../policy/types.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { SessionService } from './sessions.ts';

/**
 * The user socket's view of identity: the access token checked as the API checks it (signature,
 * issuer, audience, expiry), and the server-side session behind it, live and of the same account.
 * An account with a one-time password gets no socket, as it gets no API beyond changing it.
 */
export function userSocketAuth(deps: { db: Db; tokens: AccessTokens; sessions: SessionService }) {
  const live = async (identity: UserIdentity, touch: boolean) => {
    const session = await deps.sessions.validate(identity.sessionId, { touch });
    if (session.userId !== identity.userId || session.passwordChangeRequired)
      throw new ProblemError(401, PROBLEM.tokenInvalid, 'access token invalid');
    return session;
  };
  const auth: UserAuth = {
    verify(accessToken) {
      const { claims, expiresAtMs } = deps.tokens.verifyNow(accessToken);
      return { userId: claims.sub, sessionId: claims.sid, expiresAtMs };
    },
    async check(identity, active) {
      try {
        await live(identity, active);
        return undefined;
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        const [user] = await deps.db
          .select({ disabledAt: users.disabledAt })
          .from(users)
          .where(eq(users.id, identity.userId));
        return user?.disabledAt ? 'account_disabled' : 'session_revoked';
      }
    },
  };
  /** The live session as the policy's actor, with its clinics as they are now. */
  const actorOf = async (identity: UserIdentity): Promise<Actor> => {
    const s = await live(identity, false);
    return { userId: s.userId, role: s.role, sessionId: s.id, clinicIds: s.clinicIds };
  };
  return { auth, actorOf };
}
