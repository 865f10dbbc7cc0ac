import { Hono } from 'hono';
import type { JoinTokenVerifier } from '../../signaling/verify-join-token.ts';
import { ProblemError } from '../api/errors.ts';
import { iceServersFor, type TurnConfig } from './turn-credentials.ts';

/**
 * ICE servers for someone holding a join token (the pre-call check runs before any sign-in).
 * Credentials are bound to the token's identity and expire on their own.
 */
export function iceServerRoutes(verify: JoinTokenVerifier, turn: TurnConfig | undefined) {
  return new Hono().get('/', (c) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    if (!token) throw new ProblemError(401, 'token_missing', 'send the join token as a Bearer token');
    let claims;
    try {
      claims = verify(token);
    } catch {
      throw new ProblemError(401, 'token_invalid', 'the join token is invalid or expired');
    }
    c.header('cache-control', 'no-store');
    return c.json({ iceServers: iceServersFor(turn, claims.sub) });
  });
}
