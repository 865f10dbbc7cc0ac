import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

/**
 * Many rows as ONE json parameter: `select <columns> from json_populate_recordset(null::<table>, $1)`.
 * A multi-row VALUES list costs a parameter per cell to build and a new statement text for every
 * row count; this costs one parameter and has one text per column set. The columns are the keys
 * the rows use (TypeScript names, mapped to the table's); a key missing from a row inserts null,
 * a column no row names keeps its default. Dates travel as ISO strings, jsonb columns as JSON.
 */
export function jsonRows<T extends PgTable>(
  table: T,
  rows: readonly T['$inferInsert'][],
): { columns: SQL; select: SQL } {
  const all = getTableColumns(table);
  // Plain loops: this runs for every row of every group-commit batch, where the generic
  // flatMap/fromEntries form showed up in profiles as a tenth of the chat writer's time.
  const seen = new Set<string>();
  for (const r of rows) for (const k in r) seen.add(k);
  const keys = [...seen];
  const names = keys.map((k) => {
    const column = all[k];
    if (!column) throw new Error(`jsonRows: ${k} is not a column`);
    return column.name;
  });
  const records = new Array<Record<string, unknown>>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>;
    const record: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) record[names[i]!] = row[keys[i]!] ?? null;
    records[r] = record;
  }
  const columns = sql.join(
    names.map((n) => sql.identifier(n)),
    sql`, `,
  );
  return {
    columns: sql`(${columns})`,
    select: sql`select ${columns} from json_populate_recordset(null::${table}, ${JSON.stringify(records)}::json)`,
  };
}

/**
 * `(select …)` of the given texts from one json parameter, for `x in ${jsonTextList(ids)}`: one
 * statement text whatever the number of ids (drizzle's inArray has a parameter per id).
 */
export function jsonTextList(values: readonly string[]): SQL {
  return sql`(select json_array_elements_text(${JSON.stringify(values)}::json))`;
}

/** A bytea value for jsonRows: it travels in the JSON parameter as PostgreSQL's hex text form. */
export const jsonBytea = (bytes: Uint8Array) =>
  `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}` as unknown as Uint8Array;
