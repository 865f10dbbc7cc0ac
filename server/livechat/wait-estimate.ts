import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { liveChats } from '../../db/schema/index.ts';

/** How many recent assignments the drain rate is measured over, and how far back they may lie. */
const RECENT = 20;
const WINDOW_MS = 3_600_000;

/**
 * The wait of the chat at `position`: the time the clinic's queue lately took per assignment,
 * times the places ahead of it (and its own). From the last 20 assignments of the past hour;
 * null with fewer than two, rather than a number made up.
 */
export async function estimateWait(tx: Tx, clinicId: string, position: number): Promise<number | null> {
  const since = new Date(Date.now() - WINDOW_MS);
  const [row] = rowsOf<{ n: string | number; first: string | Date | null; last: string | Date | null }>(
    await tx.execute(sql`
      select count(*) as n, min(assigned_at) as first, max(assigned_at) as last from (
        select assigned_at from ${liveChats}
         where clinic_id = ${clinicId} and assigned_at is not null and assigned_at > ${since.toISOString()}::timestamptz
         order by assigned_at desc limit ${RECENT}) recent`),
  );
  const n = Number(row?.n ?? 0);
  if (n < 2 || !row?.first || !row.last) return null;
  const perAssignmentMs = (new Date(row.last).getTime() - new Date(row.first).getTime()) / (n - 1);
  return Math.round((perAssignmentMs * position) / 1000);
}
