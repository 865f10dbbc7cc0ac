import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import {
  JOIN_TOKEN_AUDIENCE,
  JOIN_TOKEN_ISSUER,
  joinClaimsSchema,
  type JoinClaims,
} from '../../signaling/protocol/index.ts';

export type JoinTokenKeys = { privateKey: KeyObject; publicKey: KeyObject; ephemeral: boolean };

/**
 * Ed25519 keys from config, or a fresh pair per process in development (tokens then do not
 * survive a restart and cannot be shared between nodes, which is fine for one dev process).
 */
export function loadJoinTokenKeys(privateKeyPem: string | undefined): JoinTokenKeys {
  if (privateKeyPem) {
    const privateKey = createPrivateKey(privateKeyPem);
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('JOIN_TOKEN_PRIVATE_KEY must be an Ed25519 key');
    return { privateKey, publicKey: createPublicKey(privateKey), ephemeral: false };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, ephemeral: true };
}

export class JoinTokenIssuer {
  constructor(
    private readonly keys: JoinTokenKeys,
    private readonly ttlSeconds: number,
  ) {}

  async mint(claims: JoinClaims, ttlSeconds = this.ttlSeconds): Promise<string> {
    const { sub, ...rest } = joinClaimsSchema.parse(claims);
    return new SignJWT(rest)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(JOIN_TOKEN_ISSUER)
      .setAudience(JOIN_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.keys.privateKey);
  }
}
