import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';

// Linux reports process CPU in clock ticks; 100 per second on every kernel this runs on (CONFIG_HZ is irrelevant to USER_HZ).
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds; 0 if it has gone. */
export function processCpuSeconds(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * The PostgreSQL processes working for this test: its database's backends plus the server's WAL
 * writer, checkpointer and background writer (shared with whatever else runs on the server, so
 * the figure is an upper bound for this test).
 */
export async function postgresPids(db: Db): Promise<number[]> {
  const rows = rowsOf<{ pid: number }>(
    await db.execute(
      sql`select pid from pg_stat_activity where datname = current_database() or backend_type in ('walwriter', 'checkpointer', 'background writer')`,
    ),
  );
  return rows.map((r) => Number(r.pid));
}

export const cpuOf = (pids: number[]) => pids.reduce((s, p) => s + processCpuSeconds(p), 0);
