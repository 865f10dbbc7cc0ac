import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { USER_ROLES, type UserRole } from '../../db/schema/index.ts';

export const ACCESS_TOKEN_ISSUER = 'carecall-api';
export const ACCESS_TOKEN_AUDIENCE = 'carecall-api';

export type AccessClaims = { sub: string; sid: string; role: UserRole };

export type AuthKeys = {
  privateKey: KeyObject;
  publicKey: KeyObject;
  ephemeral: boolean;
  /** 32 bytes derived from the private key for HMAC of login identifiers and sealing TOTP seeds. */
  derive: (purpose: string) => Buffer;
};

/** Ed25519 key from config, or a per-process key in development (same idea as join tokens). */
export function loadAuthKeys(privateKeyPem: string | undefined): AuthKeys {
  let privateKey: KeyObject;
  let ephemeral = false;
  if (privateKeyPem) {
    privateKey = createPrivateKey(privateKeyPem);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('AUTH_TOKEN_PRIVATE_KEY must be an Ed25519 key');
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    ephemeral = true;
  }
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privateKey,
    publicKey: createPublicKey(privateKey),
    ephemeral,
    derive: (purpose) => createHash('sha256').update(`carecall:${purpose}:`).update(der).digest(),
  };
}

export class AccessTokenError extends Error {
  constructor(readonly code: 'token_expired' | 'token_invalid') {
    super(code === 'token_expired' ? 'access token expired' : 'access token invalid');
  }
}

export class AccessTokens {
  constructor(
    private readonly keys: AuthKeys,
    readonly ttlSeconds: number,
  ) {}

  mint(claims: AccessClaims, ttlSeconds = this.ttlSeconds): Promise<string> {
    return new SignJWT({ sid: claims.sid, role: claims.role })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(claims.sub)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.keys.privateKey);
  }

  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.keys.publicKey, {
        algorithms: ['EdDSA'],
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: 'at+jwt',
        clockTolerance: 5,
      });
      const { sub, sid, role } = payload as Record<string, unknown>;
      if (typeof sub !== 'string' || typeof sid !== 'string' || !USER_ROLES.includes(role as UserRole)) {
        throw new AccessTokenError('token_invalid');
      }
      return { sub, sid, role: role as UserRole };
    } catch (err) {
      if (err instanceof AccessTokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new AccessTokenError('token_expired');
      throw new AccessTokenError('token_invalid');
    }
  }
}
