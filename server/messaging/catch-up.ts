import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { conversations, messages } from '../../db/schema/index.ts';

type MessageRow = typeof messages.$inferSelect;

/** Where a client stands in a conversation: the last seq it holds and the last change number it applied. */
export type CatchUpFrom = { after: number; changesAfter: number; limit: number };

/** One page of catch-up, read in one transaction; the repository opens and filters the rows. */
export type CatchUpRows = {
  /** Messages after `after`, oldest first (in their current state: edited, deleted). */
  rows: MessageRow[];
  /** Every message up to this seq has been returned (or is not for this member): the next `after`. */
  through: number;
  /** Older messages (seq ≤ `after`) edited or deleted after `changesAfter`, in change order. */
  changed: MessageRow[];
  /** Every change up to this number has been returned: the next `changesAfter`. */
  changesThrough: number;
  /** A page was full: ask again from `through` and `changesThrough`. */
  more: boolean;
};

/**
 * Reads what a client missed since (after, changesAfter). The counters are read first: everything
 * numbered up to them has committed (a send batch or an edit moves its counter in the same
 * transaction as its rows), so the two following reads, which see at least that much, can name the
 * counters as watermarks without skipping anything; what commits meanwhile is read again next time.
 */
export async function readCatchUp(tx: Tx, conversationId: string, from: CatchUpFrom): Promise<CatchUpRows> {
  const [counters] = await tx
    .select({ lastSeq: conversations.lastSeq, lastChange: conversations.lastChange })
    .from(conversations)
    .where(eq(conversations.id, conversationId));
  const lastSeq = counters?.lastSeq ?? 0;
  const lastChange = counters?.lastChange ?? 0;
  const [rows, changed] = await Promise.all([
    tx
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, conversationId),
          sql`${messages.seq} > ${from.after}`,
          sql`${messages.seq} <= ${lastSeq}`,
        ),
      )
      .orderBy(messages.seq)
      .limit(from.limit),
    from.after === 0 || from.changesAfter >= lastChange
      ? Promise.resolve([])
      : tx
          .select()
          .from(messages)
          .where(
            and(
              eq(messages.conversationId, conversationId),
              sql`${messages.seq} <= ${from.after}`,
              sql`${messages.changeSeq} > ${from.changesAfter}`,
              sql`${messages.changeSeq} <= ${lastChange}`,
            ),
          )
          .orderBy(messages.changeSeq)
          .limit(from.limit),
  ]);
  const rowsFull = rows.length === from.limit;
  const changesFull = changed.length === from.limit;
  return {
    rows,
    through: rowsFull ? rows[rows.length - 1]!.seq : Math.max(lastSeq, from.after),
    changed,
    changesThrough: changesFull
      ? changed[changed.length - 1]!.changeSeq!
      : Math.max(lastChange, from.changesAfter),
    more: rowsFull || changesFull,
  };
}

/**
 * Numbers one edit or delete of a conversation: the conversation's row is locked until commit, so
 * change numbers are gap-free and follow commit order (as message seqs do).
 */
export async function nextChange(tx: Tx, conversationId: string): Promise<number> {
  const [row] = await tx
    .update(conversations)
    .set({ lastChange: sql`${conversations.lastChange} + 1` })
    .where(eq(conversations.id, conversationId))
    .returning({ lastChange: conversations.lastChange });
  return row?.lastChange ?? 0;
}
