import { sql } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { jsonRows } from '../../../db/json-rows.ts';
import { rowsOf } from '../../../db/rows.ts';
import { icd10Codes } from '../../../db/schema/icd10.ts';
import { readCodeList, type Icd10CodeList } from './codes-file.ts';

export type Icd10LoadResult = { release: string; inserted: number; updated: number; unchanged: number };

// Rows per statement: one json parameter each, so the bound is statement size, not parameter count.
const BATCH = 5000;

/**
 * Brings the icd10_codes table up to the given list (the curated list by default). Idempotent:
 * a second run changes nothing and reports every code unchanged; a changed title or release is
 * updated in place. Codes missing from the list are kept, because recorded diagnoses refer to them.
 * Safe to run from several nodes at once (each row is an upsert).
 */
export async function loadIcd10Codes(db: Db, list: Icd10CodeList = readCodeList()): Promise<Icd10LoadResult> {
  let inserted = 0;
  let changed = 0;
  await db.transaction(async (tx) => {
    for (let i = 0; i < list.codes.length; i += BATCH) {
      const rows = list.codes
        .slice(i, i + BATCH)
        .map((c) => ({ code: c.code, title: c.title, release: list.release }));
      const { columns, select } = jsonRows(icd10Codes, rows);
      // xmax = 0 only on a freshly inserted row version: tells inserts from updates in one statement.
      const result = await tx.execute(sql`
        insert into ${icd10Codes} ${columns} ${select}
        on conflict (code) do update set title = excluded.title, release = excluded.release
        where (${icd10Codes.title}, ${icd10Codes.release}) is distinct from (excluded.title, excluded.release)
        returning (xmax = 0) as inserted`);
      for (const r of rowsOf<{ inserted: boolean }>(result)) r.inserted ? inserted++ : changed++;
    }
  });
  return {
    release: list.release,
    inserted,
    updated: changed,
    unchanged: list.codes.length - inserted - changed,
  };
}

/**
 * At start-up: loads the shipped list when the table lacks it (a fresh database, or a newer list
 * shipped since), and otherwise only counts rows, so a restart costs one query. Idempotent and safe
 * on several nodes at once (the load is an upsert). Returns the load's result, or undefined if the
 * list was there already.
 */
export async function ensureIcd10Codes(
  db: Db,
  list: Icd10CodeList = readCodeList(),
): Promise<Icd10LoadResult | undefined> {
  const [row] = rowsOf<{ n: number }>(
    await db.execute(
      sql`select count(*)::int as n from ${icd10Codes} where ${icd10Codes.release} = ${list.release}`,
    ),
  );
  if ((row?.n ?? 0) >= list.codes.length) return undefined;
  return loadIcd10Codes(db, list);
}
