import type { Logger } from 'pino';
import {
  closeWith,
  type ConnectionHandler,
  type SocketConnection,
  type UpgradeDecision,
  type UpgradeRequest,
} from './socket.ts';
import { connectionHandler } from './connection.ts';
import { roomRequests } from './handlers.ts';
import { Member } from './member.ts';
import { Session } from './session.ts';
import {
  SIGNALING_SUBPROTOCOL,
  type CloseReason,
  type IceServerInfo,
  type JoinClaims,
} from './protocol/index.ts';
import { readCredential } from './upgrade-credential.ts';
import type { RoomHub } from './room-hub.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import type { JoinTokenVerifier } from './verify-join-token.ts';
import type { JoinGrantCheck } from './join-grants.ts';
import type { RoomChat } from './chat-port.ts';
import type { RoomFiles } from './files-port.ts';
import { deferredHandler, relayHandler, type RelayOpening, type SignalRouter } from './relay.ts';
import { resumeKeyHome } from './resume-key.ts';

export type SignalingDeps = {
  verify: JoinTokenVerifier;
  hub: RoomHub;
  lifecycle: RoomLifecycle;
  metrics: SignalingMetrics;
  logger: Logger;
  resumeGraceMs?: number;
  /** A socket that has not joined by then is closed (join_timeout); 0 = no deadline. */
  joinDeadlineMs?: number | undefined;
  iceServersFor?: (peerId: string) => IceServerInfo[];
  grants?: JoinGrantCheck;
  /** Room chat (the server's messaging behind a small interface). */
  chat?: RoomChat;
  /** Room file credentials (the server's files behind a small interface). */
  files?: RoomFiles;
  /** Connections one identity (one join token) may hold at once (JOIN_TOKEN_MAX_SOCKETS); default 3. */
  maxSocketsPerIdentity?: number;
  /** Many nodes: where each room lives; a room hosted elsewhere is relayed there. None = all rooms here. */
  router?: SignalRouter | undefined;
};

export const DEFAULT_MAX_SOCKETS_PER_IDENTITY = 3;
/** A relayed participant accepted here (with the room it is for), or why not. */
export type RelayedOpen =
  | {
      ok: true;
      roomId: string;
      handler: ConnectionHandler;
      /** The edge this participant comes through drains: the participant is told to move its socket. */
      edgeDraining: (deadlineMs: number) => void;
    }
  | { ok: false; reason: CloseReason };
const ignored: ConnectionHandler = { onMessage: () => {}, onClose: () => {} };
const drainingNotice = (session: Session) => (deadlineMs: number) => {
  if (!session.ended) session.notify('nodeDraining', { reason: 'room_moved', deadlineMs });
};
/** One identity in one room: what a join token stands for. */
const identityKey = (claims: JoinClaims) => `${claims.room}\u0000${claims.sub}`;

type UpgradeContext =
  | { kind: 'join'; claims: JoinClaims; token: string }
  | { kind: 'resume'; resumeKey: string; lastSeq: number };

/** The upgrade gate, plus sessions that outlive their connections (resume by key). */
export function createSignalingService(deps: SignalingDeps) {
  const sessions = new Map<string, Session>();
  // Sessions per identity not yet ended: each holds a socket (or its resumption). A join replaces
  // the older ones, but sockets that never join would otherwise pile up on one token without bound.
  const perIdentity = new Map<string, number>();
  const maxSockets = deps.maxSocketsPerIdentity ?? DEFAULT_MAX_SOCKETS_PER_IDENTITY;
  const held = (claims: JoinClaims) => perIdentity.get(identityKey(claims)) ?? 0;
  const sessionDeps = { ...deps, nodeId: deps.router?.nodeId };
  const roomDeps = {
    hub: deps.hub,
    iceServersFor: deps.iceServersFor,
    grants: deps.grants,
    chat: deps.chat,
    files: deps.files,
  };
  const forget = (session: Session) => {
    sessions.delete(session.resumeKey);
    const key = identityKey(session.claims);
    const n = (perIdentity.get(key) ?? 1) - 1;
    if (n > 0) perIdentity.set(key, n);
    else perIdentity.delete(key);
    deps.metrics.connectionClosed();
  };
  /** A join token stands for one identity in one room: its session serves that room's requests. */
  const openRoomSession = (claims: JoinClaims) => {
    const session = new Session(claims, sessionDeps);
    const member = new Member(session);
    session.serve(roomRequests({ member, deps: roomDeps }));
    session.onEnded(() => forget(session));
    return session;
  };
  const sessionFor = new WeakMap<SocketConnection, Session>();
  const openHere = (connection: SocketConnection, claims: JoinClaims) => {
    const session = openRoomSession(claims);
    perIdentity.set(identityKey(claims), held(claims) + 1);
    sessions.set(session.resumeKey, session);
    sessionFor.set(connection, session);
    deps.metrics.connectionOpened();
    session.attach(connection);
    return connectionHandler(connection, session);
  };
  const tooMany = {
    ok: false as const,
    status: 429 as const,
    code: 'too_many_connections',
    detail: `at most ${maxSockets} connections per join link at once; close one first`,
  };

  return {
    sessions,
    authorize(request: UpgradeRequest): UpgradeDecision<UpgradeContext> {
      const parsed = readCredential(request);
      if (!parsed.ok) return parsed;
      const { credential } = parsed;
      if (credential.kind === 'resume') {
        // An unknown key is answered after the upgrade (close 4005), because browsers cannot read
        // the body of a refused upgrade and must tell "expired, rejoin" from "network down".
        return {
          ok: true,
          protocol: SIGNALING_SUBPROTOCOL,
          context: { kind: 'resume', resumeKey: credential.resumeKey, lastSeq: credential.lastSeq },
        };
      }
      let claims: JoinClaims;
      try {
        claims = deps.verify(credential.token);
      } catch {
        // Never echo the token or why exactly it failed: both help an attacker more than a user.
        return {
          ok: false,
          status: 401,
          code: 'token_invalid',
          detail: 'the join token is invalid or expired',
        };
      }
      // What this node knows was revoked; the join request asks the database (join-grants.ts).
      if (deps.grants?.revokedNow(claims))
        return {
          ok: false,
          status: 403,
          code: 'access_revoked',
          detail: 'this join link no longer admits anyone',
        };
      if (held(claims) >= maxSockets) return tooMany;
      return {
        ok: true,
        protocol: SIGNALING_SUBPROTOCOL,
        context: { kind: 'join', claims, token: credential.token },
      };
    },
    open(connection: SocketConnection, context: UpgradeContext): ConnectionHandler {
      if (context.kind === 'resume') {
        const { router } = deps;
        const home = resumeKeyHome(context.resumeKey);
        // The session is kept on another node (its room lives there): the client came back through this one.
        if (router && home && home !== router.nodeId && !sessions.has(context.resumeKey)) {
          const { resumeKey, lastSeq } = context;
          const opening = { kind: 'resume' as const, resumeKey, lastSeq };
          return relayHandler(connection, (events) => router.link(home, opening, events));
        }
        const session = sessions.get(context.resumeKey);
        if (!session || session.ended || !session.attach(connection, context.lastSeq)) {
          queueMicrotask(() => closeWith(connection, 'session_expired'));
          return ignored;
        }
        return connectionHandler(connection, session);
      }
      // Upgrades authorized together can all pass the check above before any of them opens.
      if (held(context.claims) >= maxSockets) {
        queueMicrotask(() => closeWith(connection, 'too_many_connections'));
        return ignored;
      }
      const { router } = deps;
      if (!router) return openHere(connection, context.claims);
      // Where the room lives is known after a directory read: frames wait, in order, until then.
      const deferred = deferredHandler(connection);
      const counted = identityKey(context.claims);
      perIdentity.set(counted, held(context.claims) + 1);
      router.route(context.claims.room).then(
        (route) => {
          perIdentity.set(counted, held(context.claims) - 1);
          if (connection.closed) return route.kind === 'here' && route.release();
          if (route.kind === 'here') {
            const handler = openHere(connection, context.claims);
            sessionFor.get(connection)?.onEnded(route.release);
            return deferred.resolve(handler);
          }
          deferred.resolve(
            relayHandler(connection, (events) =>
              router.link(route.nodeId, { kind: 'join', token: context.token }, events),
            ),
          );
        },
        (err: Error) => {
          perIdentity.set(counted, held(context.claims) - 1);
          deps.logger.warn({ err: err.message, roomId: context.claims.room }, 'room could not be routed');
          closeWith(connection, 'room_moved');
        },
      );
      return deferred.handler;
    },
    /**
     * A participant relayed from another node (this node hosts its room): the token is verified
     * here again, so a message on the bus cannot make up who is joining. A relayed resume needs
     * the session's key, the same secret a direct one needs.
     */
    openRelayed(connection: SocketConnection, opening: RelayOpening): RelayedOpen {
      if (opening.kind === 'resume') {
        const session = sessions.get(opening.resumeKey);
        if (!session || session.ended || !session.attach(connection, opening.lastSeq))
          return { ok: false, reason: 'session_expired' };
        return {
          ok: true,
          roomId: session.claims.room,
          handler: connectionHandler(connection, session),
          edgeDraining: drainingNotice(session),
        };
      }
      let claims: JoinClaims;
      try {
        claims = deps.verify(opening.token);
      } catch {
        // The edge's upgrade gate refuses the same token with 401 when the client joins again.
        return { ok: false, reason: 'session_expired' };
      }
      const revoked = deps.grants?.revokedNow(claims);
      if (revoked) return { ok: false, reason: revoked };
      if (held(claims) >= maxSockets) return { ok: false, reason: 'too_many_connections' };
      const handler = openHere(connection, claims);
      return {
        ok: true,
        roomId: claims.room,
        handler,
        edgeDraining: drainingNotice(sessionFor.get(connection)!),
      };
    },
  };
}
