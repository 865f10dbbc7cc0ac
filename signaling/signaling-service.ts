import type { Logger } from 'pino';
import type { SocketConnection, UpgradeDecision, UpgradeRequest } from '../server/http/socket-server.ts';
import type { JoinClaims } from './protocol/index.ts';
import type { RoomHub } from './room-hub.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import { Session } from './session.ts';
import type { JoinTokenVerifier } from './verify-join-token.ts';

export type SignalingDeps = {
  verify: JoinTokenVerifier;
  hub: RoomHub;
  lifecycle: RoomLifecycle;
  metrics: SignalingMetrics;
  logger: Logger;
};

/** The upgrade gate and per-connection sessions, in the shape the socket server expects. */
export function createSignalingService(deps: SignalingDeps) {
  const sessions = new Set<Session>();
  return {
    sessions,
    async authorize(request: UpgradeRequest): Promise<UpgradeDecision<JoinClaims>> {
      const token = request.query.get('token');
      if (!token) return { ok: false, status: 401, body: problem(401, 'token_missing', 'a join token is required') };
      try {
        return { ok: true, context: await deps.verify(token) };
      } catch {
        // Never echo the token or why exactly it failed: both help an attacker more than a user.
        return { ok: false, status: 401, body: problem(401, 'token_invalid', 'the join token is invalid or expired') };
      }
    },
    open(connection: SocketConnection, claims: JoinClaims) {
      const session = new Session(connection, claims, deps);
      sessions.add(session);
      return {
        onMessage: (data: ArrayBuffer | Uint8Array, isBinary: boolean) => session.onMessage(data, isBinary),
        onClose: () => {
          sessions.delete(session);
          session.onClose();
        },
      };
    },
  };
}

function problem(status: number, code: string, detail: string) {
  return { type: `https://carecall.dev/problems/${code}`, title: code.replace(/_/g, ' '), status, code, detail };
}
