/**
 * How the user connection is reached and authenticated. No zod here: the browser bundle imports
 * this file (the schemas are in user-chat.ts).
 */
export const USER_SOCKET_PATH = '/ws/user';

/**
 * The API access token travels as a subprotocol, never in the URL (URLs end up in access logs):
 *
 *   Sec-WebSocket-Protocol: carecall.user, carecall.bearer.<access token>
 *
 * The server selects `carecall.user` only: the token is never echoed back.
 */
export const USER_SUBPROTOCOL = 'carecall.user';
const BEARER_PREFIX = 'carecall.bearer.';

/** The subprotocol list a client offers for this access token. */
export function userSocketProtocols(accessToken: string): string[] {
  return [USER_SUBPROTOCOL, `${BEARER_PREFIX}${accessToken}`];
}

export type UserCredentialParse =
  { ok: true; accessToken: string } | { ok: false; reason: 'missing' | 'no_subprotocol' | 'malformed' };

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Reads the access token from a Sec-WebSocket-Protocol header value (comma-separated list). */
export function parseUserSocketProtocols(header: string | null | undefined): UserCredentialParse {
  const offered = (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bearers = offered.filter((p) => p.startsWith(BEARER_PREFIX));
  if (!bearers.length) return { ok: false, reason: 'missing' };
  if (!offered.includes(USER_SUBPROTOCOL)) return { ok: false, reason: 'no_subprotocol' };
  const token = bearers.length === 1 ? bearers[0]!.slice(BEARER_PREFIX.length) : '';
  return JWT.test(token) ? { ok: true, accessToken: token } : { ok: false, reason: 'malformed' };
}

/** Sockets one account may hold at once across its devices, per node (USER_SOCKET_MAX_PER_USER's default). */
export const DEFAULT_USER_SOCKETS_PER_USER = 5;
/** A client refreshes its token this long before it expires. */
export const USER_TOKEN_REFRESH_LEAD_MS = 30_000;
