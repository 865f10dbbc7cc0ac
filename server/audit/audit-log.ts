import { randomUUID } from 'node:crypto';
import { and, desc, eq, gte, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { jsonRows } from '../../db/json-rows.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { auditLog } from '../../db/schema/index.ts';
import { Batcher } from '../batcher.ts';
import type { AuditAction } from './audit-actions.ts';
import { currentContext, type RequestContext } from '../request-context.ts';
import { Refused, refusedForContent, unstorableField } from './refused-entries.ts';
import { entryHash, GENESIS_HASH, KEYED, type AuditRow, type ChainedRow } from './entry-hash.ts';
import { verifyChain, type AuditCheckpoint, type VerifyResult } from './verify-chain.ts';

export { GENESIS_HASH, type AuditRow };
export type { AuditCheckpoint, VerifyResult };
// Serialises appends across every node sharing the database so the chain stays linear.
const AUDIT_LOCK_KEY = 7_265_012;
/** Most entries chained and committed in one transaction (group commit). */
const MAX_BATCH = 256;

/** Entries hashed into a chain that starts after `head` (see AuditLog.chainAhead). */
export type ChainedBatch = { head: string; rows: ChainedRow[] };

/** An event with the request context (who, from where) captured when it happened. */
export type AuditEntry = { event: AuditEvent; ctx: RequestContext | undefined };

export type AuditEvent = {
  /** One of the catalogue (audit-actions.ts), which maps it to its FHIR AuditEvent coding. */
  action: AuditAction;
  outcome: 'allowed' | 'denied' | 'failed';
  resourceType: string;
  resourceId?: string | null;
  patientId?: string | null;
  clinicId?: string | null;
  breakGlass?: boolean;
  /** Break-glass justification or a short machine reason for a denial. No PHI values. */
  reason?: string | null;
};

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

/**
 * Append-only, hash-chained record of who did what to which PHI, when, for whom, from where. Each
 * entry's hash is an HMAC with `chainKey`, which must stay outside the database (it is derived from
 * the node's signing key, or AUDIT_CHAIN_KEY): someone who can rewrite rows cannot re-chain them.
 */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly chainKey: Buffer,
  ) {}

  /** The hash of the last entry this node wrote: the likely head of the chain (see appendWithin). */
  #head: string | undefined;
  readonly #appends = new Batcher<AuditEntry, AuditRow | Refused>((batch) => this.#append(batch), {
    maxBatch: MAX_BATCH,
  });

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
   * what one of them holds (a value no check before foresaw), the batch is split in halves and
   * each retried: only the refused entry fails, after about 2·log2(batch)
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
    const lock = sendQuery(tx.execute(this.lockStatement()));
    if (this.#head !== undefined) {
      const guess = this.#chain(this.#head, batch);
      const [, rows] = await Promise.all([lock, this.#insert(tx, guess, this.#head)]);
      if (rows.length) return rows;
    } else await lock;
    const last = await this.head(tx);
    return this.#insert(tx, this.#chain(last?.hash ?? GENESIS_HASH, batch));
  }

  /** The statement that takes the chain's lock, held until the transaction ends; send it before chainedInsert's. */
  lockStatement(): SQL {
    return sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`;
  }

  /** The chain's newest hash (GENESIS_HASH while the log is empty), for a statement to compare or report. */
  headExpression(): SQL {
    return sql`coalesce((select ${auditLog.hash} from ${auditLog} order by ${auditLog.seq} desc limit 1), ${GENESIS_HASH})`;
  }

  /**
   * Entries chained to `head`, by default the head this node expects: the last hash it chained, so
   * that a batch can be chained while the one before it is still committing. The expectation moves
   * on to these entries at once; if they are never committed, the next batch's guard (see
   * chainedInsert) fails and it is chained again to the head that statement reports.
   */
  chainAhead(batch: readonly AuditEntry[], head = this.#head ?? GENESIS_HASH): ChainedBatch {
    const rows = this.#chain(head, batch);
    if (rows.length) this.#head = rows[rows.length - 1]!.hash;
    return { head, rows };
  }

  /**
   * An insert of chained entries for a statement of the caller's (a WITH part, so that the rows
   * the entries describe can be written by the same statement): it inserts the entries only if
   * `when` holds and the chain's head is still the one they were chained to, and inserts nothing
   * otherwise. The transaction must have taken lockStatement() in an earlier statement, so that the
   * head this statement sees cannot move before the commit. Entries get seq in chain order.
   */
  chainedInsert(chained: ChainedBatch, when: SQL): SQL {
    const rows = jsonRows(auditLog, chained.rows);
    return sql`insert into ${auditLog} ${rows.columns} select * from (${rows.select}) r where ${this.headExpression()} = ${chained.head} and ${when}`;
  }

  #chain(head: string, batch: readonly AuditEntry[]): ChainedRow[] {
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
        hashVersion: KEYED,
      };
      const hash = entryHash(entry, this.chainKey)!;
      prevHash = hash;
      return { ...entry, hash };
    });
  }

  /** Inserts chained entries in chain order (so seq order = chain order); with `ifHead`, only if that is the chain's head. */
  async #insert(tx: Tx, values: ChainedRow[], ifHead?: string): Promise<AuditRow[]> {
    const rows = jsonRows(auditLog, values);
    const guard = ifHead === undefined ? sql`` : sql`where ${this.headExpression()} = ${ifHead}`;
    const inserted = rowsOf<{ id: string; seq: string | number }>(
      await tx.execute(
        sql`insert into ${auditLog} ${rows.columns} select * from (${rows.select}) r ${guard} returning ${auditLog.id}, ${auditLog.seq}`,
      ),
    );
    if (!inserted.length) return [];
    // The next append (of this node) guesses this as the head; if this transaction rolls back, that guess fails once.
    this.#head = values[values.length - 1]!.hash;
    const seqById = new Map(inserted.map((r) => [r.id, Number(r.seq)]));
    return values.map((v) => ({ ...v, seq: seqById.get(v.id)! }));
  }

  /** The newest entry's seq and hash (inside `db`'s transaction if one is given); null while the log is empty. */
  async head(db: Db | Tx = this.db): Promise<AuditCheckpoint | null> {
    const [last] = await db
      .select({ seq: auditLog.seq, hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.seq))
      .limit(1);
    return last ?? null;
  }

  /** Recomputes the whole chain (see verify-chain.ts), optionally against a checkpoint logged earlier. */
  verify(opts: { checkpoint?: AuditCheckpoint; batchSize?: number } = {}): Promise<VerifyResult> {
    return verifyChain(this.db, this.chainKey, opts);
  }

  /**
   * On start: if the newest entry is unkeyed (the chain was written before it was keyed), appends a
   * keyed one. From then on the newest entry is always keyed, so rewriting the keyed part of the
   * chain as unkeyed entries cannot pass verification.
   */
  async keyChainHead(): Promise<void> {
    const [newest] = await this.db
      .select({ hashVersion: auditLog.hashVersion })
      .from(auditLog)
      .orderBy(desc(auditLog.seq))
      .limit(1);
    if (newest && newest.hashVersion !== KEYED)
      await this.record({ action: 'audit.chain_keyed', outcome: 'allowed', resourceType: 'audit_log' });
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
