import { verify, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { joinClaimsSchema, type JoinClaims } from './protocol/join-claims.ts';
import { JOIN_TOKEN_AUDIENCE, JOIN_TOKEN_ISSUER } from './protocol/limits.ts';

export type JoinTokenVerifier = (token: string) => JoinClaims;

export class JoinTokenError extends Error {}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Signaling only ever sees the public key: it can check join tokens, never mint them.
 *
 * Synchronous on purpose: the uWS tier must decide inside its upgrade handler. Upgrading later,
 * from a cork() callback, hits a bug of uWS v20.30 (the only build that loads here): cork() can
 * miss the upgrade and close the new WebSocket right after open (fixed upstream in
 * uWebSockets#1929). jose verifies only asynchronously (WebCrypto), so jose parses the token and
 * node:crypto checks the Ed25519 signature; the claim rules are the ones jose applied before.
 */
export function createJoinTokenVerifier(publicKey: KeyObject): JoinTokenVerifier {
  return (token) => {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new JoinTokenError('malformed');
    const header = decodeProtectedHeader(token);
    if (header.alg !== 'EdDSA' || header.crit !== undefined || header.b64 !== undefined)
      throw new JoinTokenError('header');
    const signature = Buffer.from(parts[2]!, 'base64url');
    // Base64url decoding is lenient; only the canonical encoding of a 64-byte signature is accepted.
    if (signature.length !== 64 || signature.toString('base64url') !== parts[2])
      throw new JoinTokenError('signature');
    if (!verify(null, Buffer.from(`${parts[0]}.${parts[1]}`), publicKey, signature))
      throw new JoinTokenError('signature');
    const claims = decodeJwt(token);
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== JOIN_TOKEN_ISSUER) throw new JoinTokenError('iss');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(JOIN_TOKEN_AUDIENCE)) throw new JoinTokenError('aud');
    if (typeof claims.exp !== 'number' || claims.exp <= now - CLOCK_TOLERANCE_SECONDS)
      throw new JoinTokenError('exp');
    if (
      claims.nbf !== undefined &&
      (typeof claims.nbf !== 'number' || claims.nbf > now + CLOCK_TOLERANCE_SECONDS)
    )
      throw new JoinTokenError('nbf');
    if (typeof claims.sub !== 'string') throw new JoinTokenError('sub');
    return joinClaimsSchema.parse(claims);
  };
}
