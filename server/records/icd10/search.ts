import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { rowsOf } from '../../../db/rows.ts';
import { icd10Codes } from '../../../db/schema/icd10.ts';
import { ProblemError } from '../../api/errors.ts';
import { ICD10_CODE_PATTERN } from './codes-file.ts';
import { PROBLEM } from '../../api/problem-codes.ts';

export type Icd10Match = { code: string; title: string };
export type Icd10Lookup =
  | { found: true; code: string; title: string; release: string }
  | { found: false; reason: 'unknown_code' | 'malformed_code'; code: string };

export const ICD10_SEARCH_LIMITS = {
  maxQueryLength: 100,
  maxWords: 8,
  maxWordLength: 40,
  defaultLimit: 20,
  maxLimit: 50,
} as const;

// A code typed so far, with or without its dot: "F", "F3", "F32", "F32.", "F32.A", "f329".
const CODE_PREFIX = /^[A-Z]([0-9]([0-9A-Z](\.?[0-9A-Z]{0,4})?)?)?\.?$/;

/** Bad search input, as the API will answer it (400 problem+json). */
export class Icd10QueryError extends ProblemError {
  constructor(message: string, field = 'q') {
    super(400, PROBLEM.invalidIcd10Query, message, [{ field, message }]);
    this.name = 'Icd10QueryError';
  }
}

/** A diagnosis naming a code that is not in the list (422 problem+json; the code is not PHI). */
export class UnknownIcd10CodeError extends ProblemError {
  constructor(readonly icd10Code: string) {
    super(422, PROBLEM.unknownIcd10Code, `${icd10Code} is not a known ICD-10 code`, [
      { field: 'code', message: 'unknown ICD-10 code' },
    ]);
    this.name = 'UnknownIcd10CodeError';
  }
}

/** "e11.9" → "E119": the form stored in code_key. */
function codeKey(text: string): string {
  return text.toUpperCase().replace(/\./g, '');
}

/** Looks one code up (dot optional, any case); a miss says whether the code was unknown or not a code at all. */
export async function lookupIcd10(db: Db, input: string): Promise<Icd10Lookup> {
  const code = input.trim().toUpperCase();
  const dotted = code.length > 3 && !code.includes('.') ? `${code.slice(0, 3)}.${code.slice(3)}` : code;
  if (!ICD10_CODE_PATTERN.test(dotted))
    return { found: false, reason: 'malformed_code', code: input.slice(0, 16) };
  const rows = await db
    .select({ code: icd10Codes.code, title: icd10Codes.title, release: icd10Codes.release })
    .from(icd10Codes)
    .where(sql`${icd10Codes.codeKey} = ${codeKey(dotted)}`)
    .limit(1);
  const row = rows[0];
  return row ? { found: true, ...row } : { found: false, reason: 'unknown_code', code: dotted };
}

/** The lookup for callers that record a diagnosis: the row, or UnknownIcd10CodeError. */
export async function requireIcd10(
  db: Db,
  input: string,
): Promise<{ code: string; title: string; release: string }> {
  const hit = await lookupIcd10(db, input);
  if (!hit.found) throw new UnknownIcd10CodeError(hit.code);
  return { code: hit.code, title: hit.title, release: hit.release };
}

/**
 * Searches as a clinician types: by code prefix ("F32", "f32.a", "E119") and by words ("major
 * depress", "diabetes type 2"), every word matching as a prefix; mixed ("F33 recurrent") works too,
 * each term narrowing the result. A code-like term also matches as a word ("vitamin B12").
 * Ranked: the exact code, then codes under a typed prefix, then text relevance (ts_rank), then
 * (for words alone) shorter, more general titles, then code order. Done in the database with a GIN
 * full-text index and a text_pattern_ops prefix index (the same on PostgreSQL and PGlite, no
 * extension needed).
 */
export async function searchIcd10(
  db: Db,
  query: string,
  opts: { limit?: number } = {},
): Promise<Icd10Match[]> {
  const limit = opts.limit ?? ICD10_SEARCH_LIMITS.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > ICD10_SEARCH_LIMITS.maxLimit) {
    throw new Icd10QueryError(`limit must be an integer from 1 to ${ICD10_SEARCH_LIMITS.maxLimit}`, 'limit');
  }
  const q = query.normalize('NFC').trim();
  if (q.length === 0) throw new Icd10QueryError('the search text is empty');
  if (q.length > ICD10_SEARCH_LIMITS.maxQueryLength)
    throw new Icd10QueryError(
      `the search text is longer than ${ICD10_SEARCH_LIMITS.maxQueryLength} characters`,
    );
  const terms = searchTerms(q);
  if (terms.length === 0) throw new Icd10QueryError('the search text has no letters or digits');

  const termMatches = terms.map((t) => {
    const text = t.words.length === 0 ? undefined : wordsQuery(t.words);
    const byText = text === undefined ? sql`false` : sql`${icd10Codes.search} @@ ${text}`;
    return t.codeKey === undefined
      ? byText
      : sql`(${icd10Codes.codeKey} like ${t.codeKey + '%'} or ${byText})`;
  });
  const allWords = [...new Set(terms.flatMap((t) => t.words))];
  const rankQuery = allWords.length === 0 ? sql`null::tsquery` : wordsQuery(allWords, ' || ');
  const codeKeys = terms.flatMap((t) => (t.codeKey === undefined ? [] : [t.codeKey]));
  // Under a typed code prefix the list reads in code order; for words alone, shorter titles (the
  // more general codes) come first among equally relevant ones.
  const order: SQL[] = [];
  if (codeKeys.length > 0) {
    order.push(
      sql`greatest(${sql.join(
        codeKeys.map(
          (k) =>
            sql`case when ${icd10Codes.codeKey} = ${k} then 2 when ${icd10Codes.codeKey} like ${k + '%'} then 1 else 0 end`,
        ),
        sql`, `,
      )}) desc`,
    );
  }
  order.push(sql`coalesce(ts_rank(${icd10Codes.search}, ${rankQuery}), 0) desc`);
  if (codeKeys.length === 0) order.push(sql`length(${icd10Codes.title}) asc`);
  order.push(sql`${icd10Codes.codeKey} asc`);
  const result = await db.execute(sql`
    select ${icd10Codes.code} as code, ${icd10Codes.title} as title
    from ${icd10Codes}
    where ${sql.join(termMatches, sql` and `)}
    order by ${sql.join(order, sql`, `)}
    limit ${limit}`);
  return rowsOf<Icd10Match>(result);
}

type SearchTerm = { codeKey: string | undefined; words: string[] };

/**
 * Whitespace-separated terms; a term shaped like a code prefix keeps its code key. Words are the
 * letters and digits of a term; lone letters (the "s" of "Alzheimer's") are dropped unless the term
 * is a code ("F").
 */
function searchTerms(q: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  let wordCount = 0;
  for (const raw of q.split(/\s+/)) {
    const upper = raw.toUpperCase();
    const key = CODE_PREFIX.test(upper) ? codeKey(upper) : undefined;
    const words = (raw.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])
      .filter((w) => w.length > 1 || /\p{N}/u.test(w))
      .map((w) => w.slice(0, ICD10_SEARCH_LIMITS.maxWordLength));
    wordCount += Math.max(words.length, key === undefined ? 0 : 1);
    if (key !== undefined || words.length > 0) terms.push({ codeKey: key, words });
  }
  if (wordCount > ICD10_SEARCH_LIMITS.maxWords)
    throw new Icd10QueryError(`the search text has more than ${ICD10_SEARCH_LIMITS.maxWords} words`);
  return terms;
}

/**
 * Every word as a prefix, stemmed (english) or as typed (simple), joined with AND (or OR for ranking).
 * Words are letters and digits only, so appending ':*' cannot inject tsquery syntax; they still
 * travel as parameters.
 */
function wordsQuery(words: string[], join: ' && ' | ' || ' = ' && '): SQL {
  return sql`(${sql.join(
    words.map((w) => sql`(to_tsquery('english', ${w + ':*'}) || to_tsquery('simple', ${w + ':*'}))`),
    sql.raw(join),
  )})`;
}
