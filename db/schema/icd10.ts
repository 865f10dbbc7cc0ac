import { sql, type SQL } from 'drizzle-orm';
import { check, customType, index, pgTable, text } from 'drizzle-orm/pg-core';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * ICD-10 diagnosis codes (reference data, no PHI), loaded from server/records/icd10/data and searched
 * in the database. `code` keeps its dot (E11.9); `code_key` is the same without it, so a prefix typed
 * either way ("E11.9" or "E119") matches. `search` holds the title twice: stemmed (english) so that
 * "episodes" finds "episode", and unstemmed (simple) so that a half-typed word ("depressi") still
 * prefix-matches "depressive", whose english stem is the shorter "depress".
 */
export const icd10Codes = pgTable(
  'icd10_codes',
  {
    code: text('code').primaryKey(),
    codeKey: text('code_key')
      .notNull()
      .generatedAlwaysAs((): SQL => sql`replace(${icd10Codes.code}, '.', '')`),
    title: text('title').notNull(),
    /** Which release the row was last loaded from, e.g. "ICD-10-CM 2025". */
    release: text('release').notNull(),
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(
        (): SQL =>
          sql`to_tsvector('english'::regconfig, ${icd10Codes.title}) || to_tsvector('simple'::regconfig, ${icd10Codes.title})`,
      ),
  },
  (t) => [
    // The ICD-10-CM shape: letter, two characters, then optionally a dot and one to four more.
    check('icd10_codes_code_format', sql`${t.code} ~ '^[A-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?$'`),
    index('icd10_codes_code_key_idx').using('btree', t.codeKey.op('text_pattern_ops')),
    index('icd10_codes_search_idx').using('gin', t.search),
  ],
);
