import type { Logger } from 'pino';
import {
  DEFAULT_USER_SOCKETS_PER_USER,
  parseUserSocketProtocols,
  USER_SUBPROTOCOL,
} from './protocol/index.ts';
import {
  closeWith,
  type ConnectionHandler,
  type SocketConnection,
  type UpgradeDecision,
  type UpgradeRequest,
} from './socket.ts';
import type { UserAuth, UserChat, UserEnded, UserIdentity, UserSocketSlots } from './user-chat-port.ts';
import { UserConnection } from './user-connection.ts';

export type UserSocketDeps = {
  auth: UserAuth;
  chat: UserChat;
  logger: Logger;
  /**
   * User sockets one account may hold at once (USER_SOCKET_MAX_PER_USER): on this node, checked at
   * the upgrade, and on every node together through `slots` as the socket opens.
   */
  maxPerUser?: number;
  slots?: UserSocketSlots;
  requestsPerSecond?: number;
};

type Refusal = Extract<UpgradeDecision<never>, { ok: false }>;

/** Query parameters that would put a credential where proxies log it: refused even when valid. */
const CREDENTIAL_PARAMS = ['token', 'access_token', 'accessToken', 'bearer', 'authorization'];
const JWT_SHAPED = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$/;

/**
 * The user socket's upgrade gate and its open connections per account: the access token is
 * checked at the upgrade (a bad one gets the same problem bodies as a bad join token), the
 * session behind it as the socket opens, and again whenever a session ends (end()) or the periodic
 * recheck runs.
 */
export function createUserSocketService(deps: UserSocketDeps) {
  const byUser = new Map<string, Set<UserConnection>>();
  const maxPerUser = deps.maxPerUser ?? DEFAULT_USER_SOCKETS_PER_USER;
  const held = (userId: string) => byUser.get(userId)?.size ?? 0;
  const all = function* () {
    for (const set of byUser.values()) yield* set;
  };
  const tooMany: Refusal = {
    ok: false,
    status: 429,
    code: 'too_many_connections',
    detail: `at most ${maxPerUser} user connections per account at once; close one first`,
  };

  return {
    authorize(request: UpgradeRequest): UpgradeDecision<UserIdentity> {
      const inUrl =
        CREDENTIAL_PARAMS.some((p) => request.query.has(p)) ||
        [...request.query.values()].some((v) => JWT_SHAPED.test(v));
      if (inUrl)
        return {
          ok: false,
          status: 400,
          code: 'credential_in_url',
          detail: `send the access token in the Sec-WebSocket-Protocol header (${USER_SUBPROTOCOL}, carecall.bearer.<token>), never in the URL`,
        };
      const parsed = parseUserSocketProtocols(request.headers.get('sec-websocket-protocol'));
      if (!parsed.ok) {
        if (parsed.reason === 'missing')
          return { ok: false, status: 401, code: 'token_missing', detail: 'an access token is required' };
        if (parsed.reason === 'no_subprotocol')
          return {
            ok: false,
            status: 400,
            code: 'subprotocol_required',
            detail: `offer the ${USER_SUBPROTOCOL} subprotocol`,
          };
        return {
          ok: false,
          status: 400,
          code: 'credential_malformed',
          detail: 'offer exactly one carecall.bearer.<access token>',
        };
      }
      let identity: UserIdentity;
      try {
        identity = deps.auth.verify(parsed.accessToken);
      } catch {
        // Never echo the token or why exactly it failed.
        return {
          ok: false,
          status: 401,
          code: 'token_invalid',
          detail: 'the access token is invalid or expired',
        };
      }
      if (held(identity.userId) >= maxPerUser) return tooMany;
      return { ok: true, protocol: USER_SUBPROTOCOL, context: identity };
    },

    open(connection: SocketConnection, identity: UserIdentity): ConnectionHandler {
      // Upgrades authorized together can all pass the check above before any of them opens.
      if (held(identity.userId) >= maxPerUser) {
        queueMicrotask(() => closeWith(connection, 'too_many_user_connections'));
        return { onMessage: () => {}, onClose: () => {} };
      }
      let set = byUser.get(identity.userId);
      if (!set) byUser.set(identity.userId, (set = new Set()));
      const mine = set;
      const c = new UserConnection(connection, identity, deps, (closed) => {
        mine.delete(closed);
        if (!mine.size && byUser.get(identity.userId) === mine) byUser.delete(identity.userId);
      });
      mine.add(c);
      return c.handler;
    },

    /** Closes the sockets of an ended session, or of every session of an account. Returns how many. */
    end(ended: { sessionId?: string | undefined; userId?: string | undefined; reason: UserEnded }): number {
      let closed = 0;
      for (const c of [...all()]) {
        const { sessionId, userId } = c.identity;
        if (ended.sessionId !== undefined && ended.sessionId !== sessionId) continue;
        if (ended.userId !== undefined && ended.userId !== userId) continue;
        c.close(ended.reason);
        closed++;
      }
      return closed;
    },

    /** Asks again about every open socket's session (heals a lost end message; catches disabled accounts). */
    async recheck(): Promise<number> {
      const open = [...all()].filter((c) => !c.closed);
      // Together, so the session lookups batch; a failed lookup is a hiccup, not a revocation.
      const verdicts = await Promise.all(
        open.map((c) => deps.auth.check(c.identity, c.takeActivity()).catch(() => undefined)),
      );
      let closed = 0;
      open.forEach((c, i) => {
        const ended = verdicts[i];
        if (ended && !c.closed) {
          c.close(ended);
          closed++;
        }
      });
      return closed;
    },

    connectionCount(): number {
      let n = 0;
      for (const set of byUser.values()) n += set.size;
      return n;
    },
  };
}

export type UserSocketService = ReturnType<typeof createUserSocketService>;
