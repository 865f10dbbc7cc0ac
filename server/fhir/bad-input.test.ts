import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Person } from '../../test/helpers/scheduling.ts';
import { parseSearch, type SearchParamSpec } from './search-params.ts';
import { assertValidR4 } from './test-support/r4-validator.ts';
import {
  appointmentFor,
  fhirWorld,
  startHarness,
  type FhirWorld,
  type Harness,
} from './test-support/fhir-harness.ts';

const SPECS: SearchParamSpec[] = [
  { name: 'patient', alias: 'subject', type: 'reference', target: ['Patient'], documentation: '' },
  { name: 'date', type: 'date', documentation: '' },
  { name: 'status', type: 'token', documentation: '' },
];
const parse = (q: string) => parseSearch(new URLSearchParams(q), SPECS, ['Appointment:patient']);

describe('search parameters: dates with prefixes are the instants they allow', () => {
  it('a day, a month, a second, with each prefix', () => {
    expect(parse('date=2027-03-29').dates.get('date')).toEqual({
      from: new Date('2027-03-29T00:00:00Z'),
      to: new Date('2027-03-30T00:00:00Z'),
    });
    expect(parse('date=lt2027-03').dates.get('date')).toEqual({ to: new Date('2027-03-01T00:00:00Z') });
    expect(parse('date=le2027-03').dates.get('date')).toEqual({ to: new Date('2027-04-01T00:00:00Z') });
    expect(parse('date=gt2027').dates.get('date')).toEqual({ from: new Date('2028-01-01T00:00:00Z') });
    expect(parse('date=ge2027-03-29T09:00:00%2B02:00').dates.get('date')).toEqual({
      from: new Date('2027-03-29T07:00:00Z'),
    });
    // Two values of one parameter both hold.
    expect(parse('date=ge2027-03-01&date=lt2027-04-01').dates.get('date')).toEqual({
      from: new Date('2027-03-01T00:00:00Z'),
      to: new Date('2027-04-01T00:00:00Z'),
    });
    expect(parse('subject=Patient/abc').refs.get('patient')).toEqual({ type: 'Patient', id: 'abc' });
    expect(
      parse('status=booked,http://hl7.org/fhir/appointmentstatus|fulfilled').tokens.get('status'),
    ).toEqual(['booked', 'fulfilled']);
  });

  it.each([
    ['unknown parameter', 'name=Smith', 'name'],
    ['modifier', 'patient:missing=true', 'patient:missing'],
    ['bad date', 'date=29.03.2027', 'date'],
    ['impossible date', 'date=2027-02-30', 'date'],
    ['date-time without zone', 'date=2027-03-29T09:00', 'date'],
    ['bad prefix', 'date=xx2027-03-29', 'date'],
    ['unsupported prefix', 'date=ap2027-03-29', 'date'],
    ['_count 0', '_count=0', '_count'],
    ['_count over 100', '_count=101', '_count'],
    ['_count not a number', '_count=ten', '_count'],
    ['wrong reference type', 'patient=Practitioner/abc', 'patient'],
    ['both names of one parameter', 'patient=Patient/a&subject=Patient/b', 'subject'],
    ['repeated token', 'status=booked&status=pending', 'status'],
    ['unsupported include', '_include=Appointment:location', '_include'],
    ['bad id', '_id=a_b', '_id'],
  ])('%s is refused naming the parameter', (_name, query, field) => {
    expect(() => parse(query)).toThrowError(
      expect.objectContaining({ status: 400, errors: [expect.objectContaining({ field })] }),
    );
  });
});

describe('bad input over HTTP: an OperationOutcome with the right status (real PostgreSQL)', () => {
  let h: Harness;
  let w: FhirWorld;
  let me: Person;
  const call = async (
    method: string,
    path: string,
    opts: { token?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    const r = await h.call(method, `/fhir/R4/${path}`, { token: opts.token ?? me.token, ...opts });
    expect(r.contentType).toContain('application/fhir+json');
    expect(r.body.resourceType).toBe('OperationOutcome');
    assertValidR4(r.body);
    return r;
  };

  beforeAll(async () => {
    h = await startHarness();
    w = await fhirWorld(h);
    me = w.north.patient;
  });
  afterAll(() => h?.close());

  it.each([
    ['Appointment?name=x', 'name'],
    ['Appointment?date=yesterday', 'date'],
    ['Appointment?date=ne2027-03-29', 'date'],
    ['Appointment?date=zz2027-03-29', 'date'],
    ['Appointment?_count=1000', '_count'],
    ['Appointment?status=done', 'status'],
    ['Appointment?_cursor=not-a-cursor', '_cursor'],
    ['Slot?start=ge2027-03-29', 'schedule'],
    [`Slot?schedule=Schedule/${'0'.repeat(8)}&start=ge2027-01-01&start=lt2027-06-01`, 'start'],
    ['Patient?_sort=name', '_sort'],
  ])('GET %s: 400 invalid, naming %s', async (path, field) => {
    const r = await call('GET', path);
    expect(r.status).toBe(400);
    expect(r.body.issue[0]).toMatchObject({ severity: 'error', code: 'invalid', expression: [field] });
  });

  it('no token: 401 login with WWW-Authenticate; a bad token: 401', async () => {
    const r = await call('GET', 'Patient', { token: '' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.body.issue[0].code).toBe('login');
    expect(
      (await call('GET', 'Patient', { token: '', headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
  });

  it('not FHIR JSON: 406 for Accept or _format, 415 for a body; unknown type 404; DELETE 405', async () => {
    expect((await call('GET', 'Patient', { headers: { accept: 'application/fhir+xml' } })).status).toBe(406);
    expect((await call('GET', 'Patient?_format=xml')).status).toBe(406);
    expect((await call('GET', 'metadata', { headers: { accept: 'text/html' } })).status).toBe(406);
    // Sent as it is (the harness's call() would label any body as JSON).
    const post = await h.app.request('/fhir/R4/Appointment', {
      method: 'POST',
      headers: { authorization: `Bearer ${me.token}`, 'content-type': 'text/plain' },
      body: 'hello',
    });
    const refused = await post.json();
    assertValidR4(refused);
    expect([post.status, refused.issue[0].code]).toEqual([415, 'not-supported']);
    const notJson = await call('POST', 'Appointment', {
      headers: { 'content-type': 'application/fhir+json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect((await call('GET', 'Observation')).status).toBe(404);
    expect((await call('GET', 'Observation/1')).status).toBe(404);
    expect(
      (await call('POST', 'Patient', { headers: { 'content-type': 'application/fhir+json' }, body: '{}' }))
        .status,
    ).toBe(405);
    expect((await call('DELETE', `Patient/${me.id}`)).status).toBe(405);
    // JSON and FHIR JSON are both fine to ask for.
    const ok = await h.call('GET', `/fhir/R4/Patient/${me.id}`, {
      token: me.token,
      headers: { accept: 'application/json' },
    });
    expect(ok.status).toBe(200);
  });

  it('a booking without slot, patient or jurisdiction: 400 naming each; a slot id we never made: 404', async () => {
    const json = { 'content-type': 'application/fhir+json' };
    const empty = await call('POST', 'Appointment', {
      headers: json,
      body: JSON.stringify({ resourceType: 'Appointment' }),
    });
    expect(empty.status).toBe(400);
    expect(empty.body.issue.map((i: any) => i.expression[0])).toEqual([
      'Appointment.slot',
      'Appointment.participant',
      'Appointment.extension',
    ]);
    const unknown = await call('POST', 'Appointment', {
      headers: json,
      body: JSON.stringify(appointmentFor('x'.repeat(50), me.id)),
    });
    expect(unknown.status).toBe(404);
  });
});
