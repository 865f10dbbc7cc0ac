import { randomBytes, randomUUID } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicApiKeys } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { constantTimeEqualHex, sha256Hex } from '../identity/secrets.ts';

/** What a key may be used for; a key holds one or more. */
export const API_KEY_SCOPES = ['widget:sessions'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * `cck_<prefix>_<secret>`: the prefix (10 base32 characters) is public and names the key in lists;
 * the secret is 32 random bytes. Only sha256(secret) is stored: a high-entropy secret needs no slow
 * hash, and the lookup by prefix keeps the compare to one row, done in constant time.
 */
const KEY_FORMAT = /^cck_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const newPrefix = () => [...randomBytes(10)].map((b) => BASE32[b & 31]).join('');

export type ApiKeyView = {
  id: string;
  prefix: string;
  label: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
};

/** The key a request authenticated with: its clinic and what it may do. */
export type ApiKeyPrincipal = { keyId: string; prefix: string; clinicId: string; scopes: readonly string[] };

type Row = typeof clinicApiKeys.$inferSelect;
const view = (r: Row): ApiKeyView => ({
  id: r.id,
  prefix: r.prefix,
  label: r.label,
  scopes: r.scopes as ApiKeyScope[],
  createdAt: r.createdAt.toISOString(),
  lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  revokedAt: r.revokedAt?.toISOString() ?? null,
});

export class ApiKeys {
  constructor(private readonly db: Db) {}

  /** A new key; the full key is returned here only and never again. */
  async create(input: { clinicId: string; label: string; scopes: ApiKeyScope[]; createdBy: string }) {
    const prefix = newPrefix();
    const secret = randomBytes(32).toString('base64url');
    const [row] = await this.db
      .insert(clinicApiKeys)
      .values({
        id: randomUUID(),
        clinicId: input.clinicId,
        prefix,
        secretHash: sha256Hex(secret),
        scopes: [...new Set(input.scopes)],
        label: input.label,
        createdBy: input.createdBy,
      })
      .returning();
    return { ...view(row!), key: `cck_${prefix}_${secret}` };
  }

  async list(clinicId: string): Promise<ApiKeyView[]> {
    const rows = await this.db
      .select()
      .from(clinicApiKeys)
      .where(eq(clinicApiKeys.clinicId, clinicId))
      .orderBy(desc(clinicApiKeys.createdAt));
    return rows.map(view);
  }

  /** Revokes at once (every check reads the row); `revoked` is false when it was revoked already. */
  async revoke(clinicId: string, keyId: string, by: string): Promise<{ revoked: boolean }> {
    const [key] = await this.db
      .select({ id: clinicApiKeys.id, revokedAt: clinicApiKeys.revokedAt })
      .from(clinicApiKeys)
      .where(and(eq(clinicApiKeys.id, keyId), eq(clinicApiKeys.clinicId, clinicId)));
    if (!key) throw new ProblemError(404, PROBLEM.notFound, 'no such API key');
    const done = await this.db
      .update(clinicApiKeys)
      .set({ revokedAt: new Date(), revokedBy: by })
      .where(and(eq(clinicApiKeys.id, keyId), isNull(clinicApiKeys.revokedAt)))
      .returning({ id: clinicApiKeys.id });
    return { revoked: done.length > 0 };
  }

  /** The Authorization header's key, checked: 401 unless it is a live key of ours with `scope`'s permission. */
  async authenticate(header: string | undefined, scope: ApiKeyScope): Promise<ApiKeyPrincipal> {
    if (!header)
      throw new ProblemError(
        401,
        PROBLEM.apiKeyInvalid,
        'send the clinic API key: Authorization: Bearer cck_…',
      );
    const match = KEY_FORMAT.exec(/^Bearer (\S+)$/.exec(header)?.[1] ?? '');
    if (!match) throw new ProblemError(401, PROBLEM.apiKeyInvalid, 'not a CareCall clinic API key');
    const [, prefix, secret] = match as unknown as [string, string, string];
    const [row] = await this.db.select().from(clinicApiKeys).where(eq(clinicApiKeys.prefix, prefix));
    // An unknown prefix costs the same hash as a known one, so timing does not tell them apart.
    const matches = constantTimeEqualHex(sha256Hex(secret), row?.secretHash ?? sha256Hex(''));
    if (!row || !matches) throw new ProblemError(401, PROBLEM.apiKeyInvalid, 'unknown API key');
    if (row.revokedAt) throw new ProblemError(401, PROBLEM.apiKeyRevoked, 'this API key was revoked');
    if (!row.scopes.includes(scope))
      throw new ProblemError(403, PROBLEM.apiKeyScope, `this API key lacks the ${scope} scope`);
    await this.db.update(clinicApiKeys).set({ lastUsedAt: new Date() }).where(eq(clinicApiKeys.id, row.id));
    return { keyId: row.id, prefix, clinicId: row.clinicId, scopes: row.scopes };
  }

  /** Whether a key is still live (a widget token dies with the key that minted it). */
  async isLive(keyId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ revokedAt: clinicApiKeys.revokedAt })
      .from(clinicApiKeys)
      .where(eq(clinicApiKeys.id, keyId));
    return !!row && !row.revokedAt;
  }
}
