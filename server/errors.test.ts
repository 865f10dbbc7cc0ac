import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { loggableError } from './errors.ts';

describe('loggableError', () => {
  it('keeps query parameters and row values of database errors out of logs', () => {
    const pg = Object.assign(new Error('conflicting key value violates exclusion constraint "appointments_no_double_booking"'), {
      name: 'PostgresError',
      code: '23P01',
      constraint_name: 'appointments_no_double_booking',
      detail: 'Key (doctor_id, ...)=(d, ["2030-01-01"...)) conflicts',
    });
    const err = new DrizzleQueryError('insert into appointments ... values ($1, $2)', ['patient-id', '{"symptoms":"chest pain"}'], pg);
    const logged = JSON.stringify(loggableError(err));
    expect(JSON.parse(logged)).toEqual({ name: 'DrizzleQueryError', sqlState: '23P01', constraint: 'appointments_no_double_booking' });
    expect(logged).not.toContain('chest pain');
    expect(logged).not.toContain('patient-id');
  });

  it('other errors keep their message and stack', () => {
    const e = loggableError(new TypeError('x is not a function'));
    expect(e).toMatchObject({ name: 'TypeError', message: 'x is not a function' });
    expect(String(e.stack)).toContain('TypeError');
  });
});
