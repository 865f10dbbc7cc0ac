import type { Logger } from 'pino';
import { createUserSocketService, type UserSocketService } from '../signaling/user-socket-service.ts';
import type { ClusterBus } from './cluster/cluster-bus.ts';
import { ClusterUserSocketSlots } from './cluster/user-socket-slots.ts';
import { userSocketAuth } from './identity/user-socket-auth.ts';
import { UserChatService } from './messaging/user-chat.ts';
import type { Services } from './services.ts';

type Deps = {
  db: ConstructorParameters<typeof UserChatService>[0]['db'];
  identity: Services['identity'];
  messaging: Services['messaging'];
  livechat: Services['livechat'];
  cluster: ClusterBus;
  logger: Logger;
  maxPerUser: number;
  recheckMs: number;
  /** How long a dead node's sockets still count against their accounts, and how often live ones renew. */
  lease: { leaseMs: number; heartbeatMs: number };
};

/**
 * The user connection: the API's access token and session, the account's conversations. A
 * session ended on any node (logout, revocation, reuse of a refresh token, idle timeout) closes
 * its sockets on every node over the bus; the periodic recheck heals a lost message and catches
 * disabled accounts.
 */
export async function startUserSockets(
  d: Deps,
): Promise<{ service: UserSocketService; stop: () => Promise<void> }> {
  const { identity, logger, cluster } = d;
  const slots = new ClusterUserSocketSlots(cluster.transport, {
    maxPerUser: d.maxPerUser,
    leaseMs: d.lease.leaseMs,
    renewMs: d.lease.heartbeatMs,
    logger,
  });
  slots.start();
  const { auth, actorOf } = userSocketAuth({
    db: d.db,
    tokens: identity.tokens,
    sessions: identity.sessions,
  });
  const service = createUserSocketService({
    auth,
    chat: new UserChatService({
      db: d.db,
      messaging: d.messaging,
      actorOf,
      actOnBehalfOf: identity.actOnBehalfOf,
      liveChatEvents: d.livechat.events,
    }),
    logger,
    maxPerUser: d.maxPerUser,
    slots,
  });
  const stopEnded = await cluster.subscribe('session-ended', (ended) => service.end(ended));
  const offRevoked = identity.sessions.onRevoked((sessionId) => {
    service.end({ sessionId, reason: 'session_revoked' });
    cluster
      .publish('session-ended', { sessionId, reason: 'session_revoked' })
      .catch((err: Error) => logger.warn({ err: err.message }, 'session end not published'));
  });
  const recheck = setInterval(
    () =>
      service
        .recheck()
        .then((closed) => closed && logger.info({ closed }, 'user sockets of ended sessions closed'))
        .catch((err: Error) => logger.warn({ err: err.message }, 'user socket re-check failed')),
    d.recheckMs,
  );
  recheck.unref();
  return {
    service,
    stop: async () => {
      clearInterval(recheck);
      offRevoked();
      await stopEnded();
      await slots.stop();
    },
  };
}
