import { createHash, createHmac } from 'node:crypto';
import type { auditLog } from '../../db/schema/index.ts';
import { canonicalJson } from './canonical-json.ts';

export type AuditRow = typeof auditLog.$inferSelect;
/** A row as it is chained: everything but seq, which the database assigns. */
export type ChainedRow = Omit<AuditRow, 'seq'>;

export const GENESIS_HASH = '0'.repeat(64);
/** Plain sha256: entries written before the chain was keyed. Anyone could recompute them. */
export const UNKEYED = 1;
/** HMAC-SHA256 with the chain key, which lives outside the database: what every entry gets now. */
export const KEYED = 2;

/** The fields that are hashed, in the form they are hashed (timestamps as ISO strings). */
function hashedFields(row: Omit<ChainedRow, 'hash' | 'hashVersion'>) {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actorId: row.actorId,
    actorRole: row.actorRole,
    onBehalfOf: row.onBehalfOf,
    sessionId: row.sessionId,
    ip: row.ip,
    requestId: row.requestId,
    action: row.action,
    outcome: row.outcome,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    patientId: row.patientId,
    clinicId: row.clinicId,
    breakGlass: row.breakGlass,
    reason: row.reason,
    prevHash: row.prevHash,
  };
}

/**
 * The hash an entry must carry for its version; undefined for a version this code does not know.
 * The keyed form covers the version too, so a keyed entry cannot be relabelled as another kind.
 */
export function entryHash(row: Omit<ChainedRow, 'hash'>, key: Buffer): string | undefined {
  if (row.hashVersion === UNKEYED)
    return createHash('sha256')
      .update(canonicalJson(hashedFields(row)))
      .digest('hex');
  if (row.hashVersion === KEYED)
    return createHmac('sha256', key)
      .update(canonicalJson({ ...hashedFields(row), hashVersion: KEYED }))
      .digest('hex');
  return undefined;
}
