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

/**
 * The fields that are hashed (timestamps as ISO strings), in canonicalJson's order (sorted); the
 * keyed form adds hashVersion.
 */
const UNKEYED_KEYS = [
  ...['id', 'at', 'actorId', 'actorRole', 'onBehalfOf', 'sessionId', 'ip', 'requestId', 'action'],
  ...['outcome', 'resourceType', 'resourceId', 'patientId', 'clinicId', 'breakGlass', 'reason', 'prevHash'],
].sort();
const KEYED_KEYS = [...UNKEYED_KEYS, 'hashVersion'].sort();

/**
 * canonicalJson of the hashed fields of `row` (plus hashVersion), written straight from it: every
 * append hashes each entry, and the generic form (an object per entry, its keys listed, sorted
 * and joined) cost more than the HMAC itself. Same bytes, pinned against canonicalJson in tests.
 */
export function hashedText(row: Omit<ChainedRow, 'hash'>, keyed: boolean): string {
  const keys = keyed ? KEYED_KEYS : UNKEYED_KEYS;
  let out = '{';
  for (const k of keys) {
    const raw = (row as Record<string, unknown>)[k];
    const value = k === 'at' ? (raw as Date).toISOString() : k === 'hashVersion' ? KEYED : raw;
    if (value === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}"${k}":${canonicalJson(value)}`;
  }
  return `${out}}`;
}

/**
 * The hash an entry must carry for its version; undefined for a version this code does not know.
 * The keyed form covers the version too, so a keyed entry cannot be relabelled as another kind.
 */
export function entryHash(row: Omit<ChainedRow, 'hash'>, key: Buffer): string | undefined {
  if (row.hashVersion === UNKEYED) return createHash('sha256').update(hashedText(row, false)).digest('hex');
  if (row.hashVersion === KEYED) return createHmac('sha256', key).update(hashedText(row, true)).digest('hex');
  return undefined;
}
