import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { DatabaseDeadlineError, markFromPostgres } from '../../db/connection-errors.ts';
import { BatchDeadlineError } from '../batcher.ts';
import { databaseUnavailable, loggableError } from './errors.ts';

describe('loggableError', () => {
  it('keeps query parameters and row values of database errors out of logs', () => {
    const pg = Object.assign(
      new Error('conflicting key value violates exclusion constraint "appointments_no_double_booking"'),
      {
        name: 'PostgresError',
        code: '23P01',
        constraint_name: 'appointments_no_double_booking',
        detail: 'Key (doctor_id, ...)=(d, ["2030-01-01"...)) conflicts',
      },
    );
    const err = new DrizzleQueryError(
      'insert into appointments ... values ($1, $2)',
      ['patient-id', '{"symptoms":"chest pain"}'],
      pg,
    );
    const logged = JSON.stringify(loggableError(err));
    expect(JSON.parse(logged)).toEqual({
      name: 'DrizzleQueryError',
      sqlState: '23P01',
      constraint: 'appointments_no_double_booking',
    });
    expect(logged).not.toContain('chest pain');
    expect(logged).not.toContain('patient-id');
  });

  it('other errors keep their message and stack', () => {
    const e = loggableError(new TypeError('x is not a function'));
    expect(e).toMatchObject({ name: 'TypeError', message: 'x is not a function' });
    expect(String(e.stack)).toContain('TypeError');
  });
});

describe('databaseUnavailable (503 + Retry-After for connection-class database errors)', () => {
  const marked = (e: Error & { code?: string }) => markFromPostgres(e);
  const withCode = (code: string, name = 'Error') =>
    Object.assign(new Error(`failed: ${code}`), { code, name });

  it('maps what postgres-js raises when the database is gone, refusing sessions or too slow', () => {
    const cases = [
      withCode('CONNECTION_CLOSED'),
      withCode('CONNECTION_DESTROYED'),
      withCode('CONNECT_TIMEOUT'),
      marked(withCode('ECONNREFUSED')),
      marked(withCode('ECONNRESET')),
      marked(withCode('57P01', 'PostgresError')),
      marked(withCode('57P03', 'PostgresError')),
      marked(withCode('08006', 'PostgresError')),
      marked(withCode('53300', 'PostgresError')),
      new DrizzleQueryError('select 1', [], marked(withCode('57P01', 'PostgresError'))),
      new DrizzleQueryError('select 1', [], new DatabaseDeadlineError(10_000)),
      new BatchDeadlineError(30_000),
    ];
    for (const err of cases)
      expect(databaseUnavailable(err), String(err)).toMatchObject({
        status: 503,
        code: 'database_unavailable',
      });
  });

  it('leaves other errors alone: constraint and deadlock errors, programming errors', () => {
    for (const err of [
      marked(withCode('23505', 'PostgresError')),
      marked(withCode('40P01', 'PostgresError')),
      marked(withCode('42601', 'PostgresError')),
      new TypeError('x'),
      'text',
    ])
      expect(databaseUnavailable(err)).toBeUndefined();
  });

  it("does not take another client's socket error (Redis, SMTP) for a database outage", () => {
    expect(databaseUnavailable(withCode('ECONNREFUSED'))).toBeUndefined();
    expect(databaseUnavailable(new Error('wrapped', { cause: withCode('ETIMEDOUT') }))).toBeUndefined();
  });

  it('never misfires on embedded PGlite: its errors are not raised through the PostgreSQL client', async () => {
    const db = new PGlite();
    try {
      const real = await db.query('select 1/0').then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(real?.code).toBe('22012');
      expect(databaseUnavailable(real)).toBeUndefined();
      // Even a PGlite error that carried a connection-class SQLSTATE would not count.
      expect(databaseUnavailable(Object.assign(real!, { code: '57P01' }))).toBeUndefined();
    } finally {
      await db.close();
    }
  });
});
