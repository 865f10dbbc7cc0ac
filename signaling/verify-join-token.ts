import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { joinClaimsSchema, type JoinClaims } from './protocol/join-claims.ts';
import { JOIN_TOKEN_AUDIENCE, JOIN_TOKEN_ISSUER } from './protocol/limits.ts';

export type JoinTokenVerifier = (token: string) => Promise<JoinClaims>;

/** Signaling only ever sees the public key: it can check join tokens, never mint them. */
export function createJoinTokenVerifier(publicKey: KeyObject): JoinTokenVerifier {
  return async (token) => {
    const { payload } = await jwtVerify(token, publicKey, {
      algorithms: ['EdDSA'],
      audience: JOIN_TOKEN_AUDIENCE,
      issuer: JOIN_TOKEN_ISSUER,
      requiredClaims: ['exp', 'sub'],
    });
    return joinClaimsSchema.parse(payload);
  };
}
