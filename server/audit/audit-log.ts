import { createHash, randomUUID } from 'node:crypto';
import { and, asc, desc, eq, gt, gte, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { jsonRows } from '../../db/json-rows.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { auditLog } from '../../db/schema/index.ts';
import { Batcher } from '../batcher.ts';
import { currentContext, type RequestContext } from '../request-context.ts';
import { sqlState } from '../scheduling/sql-state.ts';
import { canonicalJson } from './canonical-json.ts';

export const GENESIS_HASH = '0'.repeat(64);
// Serialises appends across every node sharing the database so the chain stays linear.
const AUDIT_LOCK_KEY = 7_265_012;
/** Most entries chained and committed in one transaction (group commit). */
const MAX_BATCH = 256;

/** An event with the request context (who, from where) captured when it happened. */
export type AuditEntry = { event: AuditEvent; ctx: RequestContext | undefined };

export type AuditEvent = {
  action: string;
  outcome: 'allowed' | 'denied' | 'failed';
  resourceType: string;
  resourceId?: string | null;
  patientId?: string | null;
  clinicId?: string | null;
  breakGlass?: boolean;
  /** Break-glass justification or a short machine reason for a denial. No PHI values. */
  reason?: string | null;
};

export type AuditRow = typeof auditLog.$inferSelect;

/** The fields that are hashed, in the form they are hashed (timestamps as ISO strings). */
export function hashedFields(row: Omit<AuditRow, 'seq' | 'hash'>) {
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

export const entryHash = (row: Omit<AuditRow, 'seq' | 'hash'>) =>
  createHash('sha256').update(canonicalJson(hashedFields(row))).digest('hex');

export type AuditQuery = {
  clinicId?: string;
  actorId?: string;
  patientId?: string;
  action?: string;
  from?: Date;
  to?: Date;
  /** Entries with seq below this (pagination, newest first). */
  before?: number;
  limit: number;
};

export type VerifyResult =
  | { ok: true; checked: number; head: string }
  | { ok: false; checked: number; brokenAt: { seq: number; id: string; problem: 'hash_mismatch' | 'chain_break' | 'checkpoint_mismatch' } }
  /** The entry a checkpoint names is gone: the chain ends before it (its newest entries were
   * deleted), or it continues past it with other entries (deleted, then appended to). */
  | { ok: false; checked: number; brokenAt: { seq: number; id: null; problem: 'truncated' | 'checkpoint_missing' } };

/** An entry that could not be appended, with the reason, as a batch result of its own. */
class Refused {
  constructor(readonly error: unknown) {}
}

/** NUL is refused in PostgreSQL text; a lone surrogate breaks the JSON a batch travels in. */
const UNSTORABLE = /\u0000|\p{Cs}/u;
function unstorableField(entry: AuditEntry): string | undefined {
  for (const part of [entry.event, entry.ctx ?? {}]) {
    for (const [key, value] of Object.entries(part)) if (typeof value === 'string' && UNSTORABLE.test(value)) return key;
  }
  return undefined;
}

/**
 * Whether an append failed for what an entry holds rather than for the state of the database:
 * PostgreSQL refused a value (SQLSTATE class 22, data exception, or 23, integrity), or building
 * the entry threw before anything was sent (no code at all; driver and network errors carry one).
 */
function refusedForContent(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return state.startsWith('22') || state.startsWith('23');
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code !== undefined) return false;
  }
  return true;
}

/** A chain head recorded outside the database (see checkpoints.ts): entry `seq` had hash `hash`. */
export type AuditCheckpoint = { seq: number; hash: string };

/** Append-only, hash-chained record of who did what to which PHI, when, for whom, from where. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  /** The hash of the last entry this node wrote: the likely head of the chain (see appendWithin). */
  #head: string | undefined;
  readonly #appends = new Batcher<AuditEntry, AuditRow | Refused>((batch) => this.#append(batch), { maxBatch: MAX_BATCH });

  /**
   * Appends one entry; who/where comes from the request context. Resolves once the entry is
   * committed, throws if it cannot be written. Group commit: entries recorded while an append is
   * in flight are chained and committed together in the next transaction, so the serialised part
   * (lock + commit) is paid once per batch instead of once per entry. One node appends one batch at
   * a time; across nodes the advisory lock keeps the chain linear, as before.
   */
  record(event: AuditEvent): Promise<AuditRow> {
    return this.append(this.entry(event));
  }

  /** The event with who/where taken from the current request context, to append now or later. */
  entry(event: AuditEvent): AuditEntry {
    return { event, ctx: currentContext() };
  }

  async append(entry: AuditEntry): Promise<AuditRow> {
    const field = unstorableField(entry);
    // Validation refuses such text at the edge; this keeps it out of a shared batch should any slip by.
    if (field) throw new Error(`audit entry: ${field} holds text the database cannot store`);
    const row = await this.#appends.submit(entry);
    if (row instanceof Refused) throw row.error;
    return row;
  }

  /**
   * One transaction per batch. Entries of unrelated requests share it, so if PostgreSQL refuses
   * what one of them holds (a NUL or a lone surrogate that got past validation), the batch is
   * split in halves and each retried: only the refused entry fails, after about 2·log2(batch)
   * transactions. A database that is unavailable fails the batch as a whole, as splitting would
   * only multiply the attempts.
   */
  async #append(batch: AuditEntry[]): Promise<(AuditRow | Refused)[]> {
    try {
      return await this.db.transaction((tx) => this.appendWithin(tx, batch));
    } catch (error) {
      if (batch.length === 1 || !refusedForContent(error)) return batch.map(() => new Refused(error));
      const half = Math.ceil(batch.length / 2);
      return [...(await this.#append(batch.slice(0, half))), ...(await this.#append(batch.slice(half)))];
    }
  }

  /**
   * Chains and inserts entries inside the caller's transaction, so they commit or roll back with
   * the writes they describe. Takes the chain's lock, held until that transaction ends: callers
   * call this after sending their own statements, so it is taken last and held briefly.
   *
   * Optimistic, so that the whole append travels in the caller's round trip: the entries are
   * chained to the head this node last wrote and inserted only if that is still the head, checked
   * under the lock. If another node (or a rolled-back transaction) moved it, nothing is inserted,
   * and the entries are chained to the real head instead: one more round trip, same result. The
   * statements are sent when this is called, in this order, before it first awaits.
   */
  async appendWithin(tx: Tx, batch: readonly AuditEntry[]): Promise<AuditRow[]> {
    if (!batch.length) return [];
    const lock = sendQuery(tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`));
    if (this.#head !== undefined) {
      const guess = this.#chain(this.#head, batch);
      const [, rows] = await Promise.all([lock, this.#insert(tx, guess, this.#head)]);
      if (rows.length) return rows;
    } else await lock;
    const last = await this.head(tx);
    return this.#insert(tx, this.#chain(last?.hash ?? GENESIS_HASH, batch));
  }

  #chain(head: string, batch: readonly AuditEntry[]): Omit<AuditRow, 'seq'>[] {
    let prevHash = head;
    return batch.map(({ event, ctx }) => {
      const entry = {
        id: randomUUID(),
        // Millisecond precision both here and in the column, so the stored value re-hashes identically.
        at: new Date(),
        actorId: ctx?.actorId ?? null,
        actorRole: ctx?.actorRole ?? null,
        onBehalfOf: ctx?.onBehalfOf ?? null,
        sessionId: ctx?.sessionId ?? null,
        ip: ctx?.ip ?? null,
        requestId: ctx?.requestId ?? null,
        action: event.action,
        outcome: event.outcome,
        resourceType: event.resourceType,
        resourceId: event.resourceId ?? null,
        patientId: event.patientId ?? null,
        clinicId: event.clinicId ?? null,
        breakGlass: event.breakGlass ?? false,
        reason: event.reason ?? null,
        prevHash,
      };
      const hash = entryHash(entry);
      prevHash = hash;
      return { ...entry, hash };
    });
  }

  /** Inserts chained entries in chain order (so seq order = chain order); with `ifHead`, only if that is the chain's head. */
  async #insert(tx: Tx, values: Omit<AuditRow, 'seq'>[], ifHead?: string): Promise<AuditRow[]> {
    const rows = jsonRows(auditLog, values);
    const head = sql`coalesce((select ${auditLog.hash} from ${auditLog} order by ${auditLog.seq} desc limit 1), ${GENESIS_HASH})`;
    const guard = ifHead === undefined ? sql`` : sql`where ${head} = ${ifHead}`;
    const inserted = rowsOf<{ id: string; seq: string | number }>(await tx.execute(sql`insert into ${auditLog} ${rows.columns} select * from (${rows.select}) r ${guard} returning ${auditLog.id}, ${auditLog.seq}`));
    if (!inserted.length) return [];
    // The next append (of this node) guesses this as the head; if this transaction rolls back, that guess fails once.
    this.#head = values[values.length - 1]!.hash;
    const seqById = new Map(inserted.map((r) => [r.id, Number(r.seq)]));
    return values.map((v) => ({ ...v, seq: seqById.get(v.id)! }));
  }

  /** The newest entry's seq and hash (inside `db`'s transaction if one is given); null while the log is empty. */
  async head(db: Db | Tx = this.db): Promise<AuditCheckpoint | null> {
    const [last] = await db.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
    return last ?? null;
  }

  /**
   * Walks the whole chain in seq order, recomputing every hash. The chain alone cannot show that
   * its newest entries were deleted; given a checkpoint recorded elsewhere earlier, it can: the
   * entry at the checkpoint's seq must still exist and carry the checkpoint's hash.
   */
  async verify(opts: { checkpoint?: AuditCheckpoint; batchSize?: number } = {}): Promise<VerifyResult> {
    const batchSize = opts.batchSize ?? 1000;
    const cp = opts.checkpoint;
    let prev = GENESIS_HASH;
    let afterSeq = 0;
    let checked = 0;
    for (;;) {
      const rows = await this.db.select().from(auditLog).where(gt(auditLog.seq, afterSeq)).orderBy(asc(auditLog.seq)).limit(batchSize);
      for (const row of rows) {
        if (row.prevHash !== prev) return { ok: false, checked, brokenAt: { seq: row.seq, id: row.id, problem: 'chain_break' } };
        if (entryHash(row) !== row.hash) return { ok: false, checked, brokenAt: { seq: row.seq, id: row.id, problem: 'hash_mismatch' } };
        if (cp && row.seq === cp.seq && row.hash !== cp.hash) return { ok: false, checked, brokenAt: { seq: row.seq, id: row.id, problem: 'checkpoint_mismatch' } };
        if (cp && row.seq > cp.seq && afterSeq < cp.seq) return { ok: false, checked, brokenAt: { seq: cp.seq, id: null, problem: 'checkpoint_missing' } };
        prev = row.hash;
        afterSeq = row.seq;
        checked++;
      }
      if (rows.length < batchSize) {
        if (cp && afterSeq < cp.seq) return { ok: false, checked, brokenAt: { seq: cp.seq, id: null, problem: 'truncated' } };
        return { ok: true, checked, head: prev };
      }
    }
  }

  query(q: AuditQuery): Promise<AuditRow[]> {
    const conds: SQL[] = [];
    if (q.clinicId) conds.push(eq(auditLog.clinicId, q.clinicId));
    if (q.actorId) conds.push(eq(auditLog.actorId, q.actorId));
    if (q.patientId) conds.push(eq(auditLog.patientId, q.patientId));
    if (q.action) conds.push(eq(auditLog.action, q.action));
    if (q.from) conds.push(gte(auditLog.at, q.from));
    if (q.to) conds.push(lte(auditLog.at, q.to));
    if (q.before) conds.push(lt(auditLog.seq, q.before));
    return this.db
      .select()
      .from(auditLog)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(auditLog.seq))
      .limit(q.limit);
  }
}
