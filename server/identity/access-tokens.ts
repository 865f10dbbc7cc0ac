import {
  verify as verifySignature,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';
import { USER_ROLES, type UserRole } from '../../db/schema/index.ts';

export const ACCESS_TOKEN_ISSUER = 'carecall-api';
export const ACCESS_TOKEN_AUDIENCE = 'carecall-api';

export type AccessClaims = { sub: string; sid: string; role: UserRole };

const CLOCK_TOLERANCE_SECONDS = 5;
/** Verified tokens remembered at most (the oldest is forgotten first); about 0.5 KiB each. */
const MAX_VERIFIED_TOKENS = 20_000;

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
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('AUTH_TOKEN_PRIVATE_KEY must be an Ed25519 key');
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

  /**
   * Tokens already verified, until they expire: a client sends the same token with every request
   * for its lifetime, and the signature check is the costliest step of authenticating one. The key
   * is the whole token, so only the exact bytes that passed are accepted again.
   */
  readonly #verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();

  async verify(token: string): Promise<AccessClaims> {
    const known = this.#verified.get(token);
    if (known && Date.now() < known.expiresAtMs) return known.claims;
    if (known) this.#verified.delete(token);
    const { claims, expiresAtMs } = await this.#verifySignature(token);
    if (this.#verified.size >= MAX_VERIFIED_TOKENS)
      this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { claims, expiresAtMs });
    return claims;
  }

  /**
   * The same checks without awaiting, for the WebSocket upgrade (the uWS tier decides inside its
   * upgrade handler; see signaling/verify-join-token.ts): jose parses, node:crypto checks the
   * Ed25519 signature. Returns the claims and when the token stops being accepted.
   */
  verifyNow(token: string): { claims: AccessClaims; expiresAtMs: number } {
    const known = this.#verified.get(token);
    if (known && Date.now() < known.expiresAtMs) return known;
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p)))
      throw new AccessTokenError('token_invalid');
    let header, payload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token) as Record<string, unknown>;
    } catch {
      throw new AccessTokenError('token_invalid');
    }
    const signature = Buffer.from(parts[2]!, 'base64url');
    if (
      header.alg !== 'EdDSA' ||
      header.typ !== 'at+jwt' ||
      header.crit !== undefined ||
      signature.length !== 64 ||
      signature.toString('base64url') !== parts[2] ||
      !verifySignature(null, Buffer.from(`${parts[0]}.${parts[1]}`), this.keys.publicKey, signature)
    )
      throw new AccessTokenError('token_invalid');
    const { sub, sid, role, exp, iss, aud } = payload;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (
      iss !== ACCESS_TOKEN_ISSUER ||
      !audiences.includes(ACCESS_TOKEN_AUDIENCE) ||
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      !USER_ROLES.includes(role as UserRole) ||
      typeof exp !== 'number'
    )
      throw new AccessTokenError('token_invalid');
    const expiresAtMs = (exp + CLOCK_TOLERANCE_SECONDS) * 1000;
    if (Date.now() >= expiresAtMs) throw new AccessTokenError('token_expired');
    return { claims: { sub, sid, role: role as UserRole }, expiresAtMs };
  }

  async #verifySignature(token: string): Promise<{ claims: AccessClaims; expiresAtMs: number }> {
    try {
      const { payload } = await jwtVerify(token, this.keys.publicKey, {
        algorithms: ['EdDSA'],
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: 'at+jwt',
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const { sub, sid, role, exp } = payload as Record<string, unknown>;
      if (
        typeof sub !== 'string' ||
        typeof sid !== 'string' ||
        !USER_ROLES.includes(role as UserRole) ||
        typeof exp !== 'number'
      ) {
        throw new AccessTokenError('token_invalid');
      }
      return {
        claims: { sub, sid, role: role as UserRole },
        expiresAtMs: (exp + CLOCK_TOLERANCE_SECONDS) * 1000,
      };
    } catch (err) {
      if (err instanceof AccessTokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new AccessTokenError('token_expired');
      throw new AccessTokenError('token_invalid');
    }
  }
}
