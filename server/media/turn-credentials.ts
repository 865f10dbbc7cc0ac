import { createHmac } from 'node:crypto';

export type IceServer = { urls: string[]; username?: string; credential?: string };
export type TurnConfig = { urls: string[]; secret: string; ttlSeconds: number };

/**
 * Short-lived TURN credentials in coturn's REST API scheme (use-auth-secret): the username carries
 * its own expiry, the password is HMAC-SHA1 of it with the shared secret, so coturn needs no database.
 */
export function turnCredentials(turn: TurnConfig, peerId: string, now = Date.now()): IceServer {
  const expiry = Math.floor(now / 1000) + turn.ttlSeconds;
  // ':' separates expiry from id in the scheme; keep the id from adding another.
  const username = `${expiry}:${peerId.replace(/:/g, '_')}`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: turn.urls, username, credential };
}

/** The ICE servers a participant gets: TURN with fresh credentials when configured, else none. */
export function iceServersFor(turn: TurnConfig | undefined, peerId: string): IceServer[] {
  return turn ? [turnCredentials(turn, peerId)] : [];
}
