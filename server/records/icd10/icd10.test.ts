import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../../db/client.ts';
import { rowsOf } from '../../../db/rows.ts';
import { createTestDatabase } from '../../../test/helpers/pg.ts';
import { ICD10_CODE_PATTERN, readCodeList } from './codes-file.ts';
import { loadIcd10Codes } from './loader.ts';
import { Icd10QueryError, lookupIcd10, requireIcd10, searchIcd10, UnknownIcd10CodeError } from './search.ts';

const curated = readCodeList();

describe.each(['postgres', 'pglite'] as const)('ICD-10 codes on %s', (engine) => {
  let handle: DbHandle;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (engine === 'postgres') {
      const pg = await createTestDatabase();
      drop = pg.drop;
      handle = await openDb({ databaseUrl: pg.url, maxConnections: 4 });
    } else {
      handle = await openDb({ pgliteDir: 'memory://' });
    }
    // Two loaders at once (two nodes starting together) must both succeed and load each code once.
    const [a, b] = await Promise.all([loadIcd10Codes(handle.db), loadIcd10Codes(handle.db)]);
    expect(a.inserted + b.inserted).toBe(curated.codes.length);
  });
  afterAll(async () => {
    await handle?.close();
    await drop?.();
  });

  const codes = (rows: { code: string }[]) => rows.map((r) => r.code);

  it('loads idempotently: a second run changes nothing, a changed title is updated, a new code inserted', async () => {
    const again = await loadIcd10Codes(handle.db);
    expect(again).toEqual({
      release: 'ICD-10-CM 2025',
      inserted: 0,
      updated: 0,
      unchanged: curated.codes.length,
    });
    const edited = {
      release: curated.release,
      codes: [
        ...curated.codes.map((c) =>
          c.code === 'F41.1' ? { ...c, title: 'Generalized anxiety disorder (edited)' } : c,
        ),
        { code: 'Z99.89', title: 'Dependence on other enabling machines and devices' },
      ],
    };
    expect(await loadIcd10Codes(handle.db, edited)).toEqual({
      release: curated.release,
      inserted: 1,
      updated: 1,
      unchanged: curated.codes.length - 1,
    });
    expect(await lookupIcd10(handle.db, 'F41.1')).toMatchObject({
      found: true,
      title: 'Generalized anxiety disorder (edited)',
    });
    // Back to the shipped list: the title is restored; the extra code stays (recorded diagnoses may use it).
    expect(await loadIcd10Codes(handle.db)).toMatchObject({ inserted: 0, updated: 1 });
    expect(await lookupIcd10(handle.db, 'F41.1')).toMatchObject({
      found: true,
      title: 'Generalized anxiety disorder',
    });
    const count = rowsOf<{ n: number }>(
      await handle.db.execute(sql`select count(*)::int as n from icd10_codes`),
    )[0]!.n;
    expect(count).toBe(curated.codes.length + 1);
    await handle.db.execute(sql`delete from icd10_codes where code = 'Z99.89'`);
  });

  it('refuses a malformed code in the table itself', async () => {
    await expect(
      handle.db.execute(
        sql`insert into icd10_codes (code, title, release) values ('e11.9', 'lower case', 'x')`,
      ),
    ).rejects.toThrow();
    await expect(
      handle.db.execute(
        sql`insert into icd10_codes (code, title, release) values ('E11.', 'trailing dot', 'x')`,
      ),
    ).rejects.toThrow();
  });

  it('finds codes by prefix in code order, typed with or without the dot and in any case', async () => {
    const f32 = codes(await searchIcd10(handle.db, 'F32', { limit: 50 }));
    expect(f32.length).toBe(curated.codes.filter((c) => c.code.startsWith('F32')).length);
    expect(f32.every((c) => c.startsWith('F32'))).toBe(true);
    expect(f32.slice(0, 3)).toEqual(['F32.0', 'F32.1', 'F32.2']);
    expect(codes(await searchIcd10(handle.db, 'f43.2'))).toEqual([
      'F43.20',
      'F43.21',
      'F43.22',
      'F43.23',
      'F43.24',
      'F43.25',
    ]);
    expect(codes(await searchIcd10(handle.db, 'e119'))).toEqual(['E11.9']);
    expect(codes(await searchIcd10(handle.db, 'F32.'))).toEqual(f32.slice(0, 20));
    expect(codes(await searchIcd10(handle.db, 'f32.a'))).toEqual(['F32.A']);
  });

  it('finds codes by words, each word a prefix, stemmed or as typed', async () => {
    const recurrent = await searchIcd10(handle.db, 'major depress recurrent');
    expect(recurrent.length).toBeGreaterThanOrEqual(8);
    expect(recurrent.every((r) => r.code.startsWith('F33') && /recurrent/i.test(r.title))).toBe(true);
    // A half-typed word whose english stem ("depress") is shorter than what was typed.
    expect(codes(await searchIcd10(handle.db, 'depressi', { limit: 50 }))).toEqual(
      expect.arrayContaining(['F32.A', 'F53.0', 'F32.89']),
    );
    // A plural finds the singular through the stemmer.
    expect(codes(await searchIcd10(handle.db, 'episodes', { limit: 50 }))).toEqual(
      expect.arrayContaining(['F32.0', 'F31.0']),
    );
    expect(
      codes(await searchIcd10(handle.db, 'diabetes type 2', { limit: 50 })).every((c) => c.startsWith('E11')),
    ).toBe(true);
    expect(codes(await searchIcd10(handle.db, "Alzheimer's"))).toEqual(['G30.9']);
    expect(codes(await searchIcd10(handle.db, 'vitamin B12'))).toEqual(['D51.9']);
  });

  it('ranks the most relevant and most general first', async () => {
    // "anxiety" in all three words' worth of matches; the general anxiety codes before adjustment disorders.
    const anxiety = codes(await searchIcd10(handle.db, 'anxiety disorder'));
    expect(anxiety.indexOf('F41.9')).toBeLessThan(anxiety.indexOf('F43.22'));
    expect(anxiety.indexOf('F41.1')).toBeLessThan(anxiety.indexOf('F43.23'));
    // Equal relevance: the shorter title first.
    const low = codes(await searchIcd10(handle.db, 'low back pain'));
    expect(low[0]).toBe('M54.59');
  });

  it('narrows a code prefix with words', async () => {
    expect(codes(await searchIcd10(handle.db, 'F33 full remission'))).toEqual(['F33.42']);
    expect(codes(await searchIcd10(handle.db, 'remission F33'))).toEqual(['F33.40', 'F33.41', 'F33.42']);
  });

  it('treats hostile or odd text as plain words', async () => {
    expect(await searchIcd10(handle.db, "'); drop table icd10_codes; --")).toEqual([]);
    expect(codes(await searchIcd10(handle.db, 'diab & | !:* ( <->'))).toEqual(
      expect.arrayContaining(['E11.9', 'E10.9']),
    );
    expect(await searchIcd10(handle.db, 'Zoë Ødegård')).toEqual([]);
    expect(await searchIcd10(handle.db, 'the with')).toEqual([]);
    expect((await lookupIcd10(handle.db, 'E11.9')).found).toBe(true);
  });

  it('answers bad search input with a typed error', async () => {
    for (const [q, limit] of [
      ['', 20],
      ['   ', 20],
      ['x'.repeat(101), 20],
      ['& | !', 20],
      ['a b c d e f g h i j k', 20],
      ['F32', 0],
      ['F32', 51],
      ['F32', 1.5],
    ] as const) {
      const err = await searchIcd10(handle.db, q, { limit }).catch((e: unknown) => e);
      expect(err, `${q} / ${limit}`).toBeInstanceOf(Icd10QueryError);
      expect(err).toMatchObject({ status: 400, code: 'invalid_icd10_query' });
    }
  });

  it('looks up a code, and a miss says why', async () => {
    expect(await lookupIcd10(handle.db, ' f411 ')).toEqual({
      found: true,
      code: 'F41.1',
      title: 'Generalized anxiety disorder',
      release: 'ICD-10-CM 2025',
    });
    expect(await lookupIcd10(handle.db, 'Z99.99')).toEqual({
      found: false,
      reason: 'unknown_code',
      code: 'Z99.99',
    });
    expect(await lookupIcd10(handle.db, 'depression')).toEqual({
      found: false,
      reason: 'malformed_code',
      code: 'depression',
    });
    expect(await lookupIcd10(handle.db, "F41.1' or '1'='1")).toMatchObject({
      found: false,
      reason: 'malformed_code',
    });
    expect(await requireIcd10(handle.db, 'I10')).toMatchObject({
      code: 'I10',
      title: 'Essential (primary) hypertension',
    });
    const err = await requireIcd10(handle.db, 'Z99.99').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownIcd10CodeError);
    expect(err).toMatchObject({ status: 422, code: 'unknown_icd10_code', icd10Code: 'Z99.99' });
  });
});

describe('the shipped ICD-10-CM list', () => {
  it('names its release and has a few hundred well-formed, distinct codes, mental health included', () => {
    expect(curated.release).toBe('ICD-10-CM 2025');
    expect(curated.codes.length).toBeGreaterThanOrEqual(300);
    expect(curated.codes.every((c) => ICD10_CODE_PATTERN.test(c.code) && c.title.length > 0)).toBe(true);
    expect(new Set(curated.codes.map((c) => c.code)).size).toBe(curated.codes.length);
    expect(curated.codes.filter((c) => c.code.startsWith('F')).length).toBeGreaterThanOrEqual(100);
    for (const common of ['I10', 'E11.9', 'J06.9', 'F32.A', 'F41.1', 'M54.50', 'Z00.00'])
      expect(curated.codes.map((c) => c.code)).toContain(common);
  });
});
