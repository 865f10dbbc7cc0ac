import { asc, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditLog } from '../../db/schema/index.ts';
import { entryHash, GENESIS_HASH, KEYED, UNKEYED } from './entry-hash.ts';

/** A chain head recorded outside the database (see checkpoints.ts): entry `seq` had hash `hash`. */
export type AuditCheckpoint = { seq: number; hash: string };

export type ChainProblem =
  | 'hash_mismatch'
  | 'chain_break'
  | 'checkpoint_mismatch'
  /** An unkeyed entry after keyed ones, or as the newest entry: written or rewritten without the key. */
  | 'unkeyed_entry'
  | 'unknown_hash_version';

/**
 * Sequence numbers that were never used: a transaction that rolled back after taking one (a
 * booking batch retried alone, a deadlock) leaves one, so they are normal. Reported, not failed:
 * an entry deleted from the middle breaks the chain and is found as chain_break.
 */
export type SeqGap = { afterSeq: number; nextSeq: number };
export type VerifyWarnings = { seqGaps: number; firstSeqGaps: SeqGap[] };

export type VerifyResult = (
  | { ok: true; checked: number; head: string }
  | { ok: false; checked: number; brokenAt: { seq: number; id: string; problem: ChainProblem } }
  /** The entry a checkpoint names is gone: the chain ends before it (its newest entries were
   * deleted), or it continues past it with other entries (deleted, then appended to). */
  | {
      ok: false;
      checked: number;
      brokenAt: { seq: number; id: null; problem: 'truncated' | 'checkpoint_missing' };
    }
) & {
  /** Entries hashed before the chain was keyed (all before the first keyed one). */
  unkeyed: number;
  warnings: VerifyWarnings;
};

const MAX_LISTED_GAPS = 100;

/**
 * Walks the whole chain in seq order, recomputing every hash. Keyed entries can only be made with
 * the chain key, so rewriting one and re-chaining those after it shows up; unkeyed (legacy)
 * entries are accepted only before the first keyed one, and the newest entry must be keyed (a node
 * appends one on start, see AuditLog.keyChainHead), or anyone could rewrite the keyed part as
 * unkeyed. The chain alone cannot show that its newest entries were deleted; given a checkpoint
 * recorded elsewhere earlier, it can: the entry at the checkpoint's seq must still exist and carry
 * the checkpoint's hash.
 */
export async function verifyChain(
  db: Db,
  key: Buffer,
  opts: { checkpoint?: AuditCheckpoint; batchSize?: number } = {},
): Promise<VerifyResult> {
  const batchSize = opts.batchSize ?? 1000;
  const cp = opts.checkpoint;
  const warnings: VerifyWarnings = { seqGaps: 0, firstSeqGaps: [] };
  let prev = GENESIS_HASH;
  let afterSeq = 0;
  let checked = 0;
  let unkeyed = 0;
  let keyedSeen = false;
  let last: { seq: number; id: string; hashVersion: number } | undefined;
  const broken = (seq: number, id: string, problem: ChainProblem): VerifyResult => ({
    ok: false,
    checked,
    brokenAt: { seq, id, problem },
    unkeyed,
    warnings,
  });
  for (;;) {
    const rows = await db
      .select()
      .from(auditLog)
      .where(gt(auditLog.seq, afterSeq))
      .orderBy(asc(auditLog.seq))
      .limit(batchSize);
    for (const row of rows) {
      if (row.prevHash !== prev) return broken(row.seq, row.id, 'chain_break');
      const expected = entryHash(row, key);
      if (expected === undefined) return broken(row.seq, row.id, 'unknown_hash_version');
      if (expected !== row.hash) return broken(row.seq, row.id, 'hash_mismatch');
      if (row.hashVersion === UNKEYED && keyedSeen) return broken(row.seq, row.id, 'unkeyed_entry');
      if (cp && row.seq === cp.seq && row.hash !== cp.hash)
        return broken(row.seq, row.id, 'checkpoint_mismatch');
      if (cp && row.seq > cp.seq && afterSeq < cp.seq)
        return {
          ok: false,
          checked,
          brokenAt: { seq: cp.seq, id: null, problem: 'checkpoint_missing' },
          unkeyed,
          warnings,
        };
      if (row.seq !== afterSeq + 1) {
        warnings.seqGaps++;
        if (warnings.firstSeqGaps.length < MAX_LISTED_GAPS)
          warnings.firstSeqGaps.push({ afterSeq, nextSeq: row.seq });
      }
      if (row.hashVersion === KEYED) keyedSeen = true;
      else unkeyed++;
      prev = row.hash;
      afterSeq = row.seq;
      last = row;
      checked++;
    }
    if (rows.length < batchSize) break;
  }
  if (last && last.hashVersion !== KEYED) return broken(last.seq, last.id, 'unkeyed_entry');
  if (cp && afterSeq < cp.seq)
    return {
      ok: false,
      checked,
      brokenAt: { seq: cp.seq, id: null, problem: 'truncated' },
      unkeyed,
      warnings,
    };
  return { ok: true, checked, head: prev, unkeyed, warnings };
}
