import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUser,
  relate,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

/**
 * Every route that takes text or dates, fed what an attacker (or a broken client) sends: NUL and
 * other control characters, lone UTF-16 surrogates, megabyte strings, years 0000 and 9999. Each
 * must be a 400 problem+json that names the field, never a 500 and never stored.
 */
type Kind = 'text' | 'multiline' | 'password' | 'datetime' | 'date' | 'bigint';

const NUL = 'a reason with a \u0000 inside it';
const SURROGATE = 'a reason with a \ud800 inside it';
const ESCAPE = 'a reason with \u001b[31m colours';
const HUGE = 'x'.repeat(100_000);
const hostile: Record<Kind, unknown[]> = {
  text: [NUL, SURROGATE, ESCAPE, 'line one\nline two', HUGE, 42],
  multiline: [NUL, SURROGATE, ESCAPE, HUGE],
  password: ['a password with \ud800 inside', HUGE],
  datetime: [
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59-14:00',
    '2027-03-29T09:00:00\u0000+02:00',
    '1899-12-31T23:59:59Z',
    HUGE,
  ],
  date: ['0000-01-01', '9999-12-31', '2027-02-30', '2027-03-29\u0000'],
  bigint: ['1e20', '99999999999999999999', '-1'],
};
// In a URL, a NUL travels as %00 and a lone surrogate cannot be encoded at all (its UTF-8 form is invalid).
const hostileQuery: Record<Kind, string[]> = {
  text: ['%00abc', '%ED%A0%80abc', 'x'.repeat(5000)],
  multiline: [],
  password: [],
  datetime: ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-14:00', '2027-03-29T09:00:00%00Z'],
  date: ['0000-01-01', '9999-12-31', '2027-03-29%00'],
  bigint: ['1e20', '99999999999999999999'],
};

type Probe = {
  name: string;
  method: string;
  path: () => string;
  token?: () => string;
  body?: () => Record<string, unknown>;
  query?: () => Record<string, string>;
  fields: Record<string, Kind>;
};

/** A copy of `body` with the value at a dotted path ('rules.0.validFrom') replaced. */
function withField(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let at: any = copy;
  for (const k of keys.slice(0, -1)) at = at[k];
  at[keys[keys.length - 1]!] = value;
  return copy;
}

describe('hostile text and dates: 400 naming the field on every route, never 500', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let platform: string;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
    await relate(h.db, c.clinicId, c.doctor.id, c.patient.id);
    const admin = await createUser(h.identity, h.db, { role: 'admin' });
    platform = (await signIn(h.call, h.db, admin.email)).accessToken;
  });
  afterAll(() => h.close());

  const anyId = randomUUID();
  const probes: Probe[] = [
    {
      name: 'create clinic',
      method: 'POST',
      path: () => '/api/clinics',
      token: () => platform,
      body: () => ({ name: 'New clinic', adminEmail: 'boss@new.test' }),
      fields: { name: 'text' },
    },
    {
      name: 'rename clinic',
      method: 'PATCH',
      path: () => `/api/clinics/${c.clinicId}`,
      token: () => c.admin.token,
      body: () => ({ name: 'Renamed' }),
      fields: { name: 'text' },
    },
    {
      name: 'add dependent',
      method: 'POST',
      path: () => '/api/me/dependents',
      token: () => c.guardian.token,
      body: () => ({ displayName: 'Kid', dateOfBirth: '2019-01-01', clinicId: c.clinicId }),
      fields: { displayName: 'text', dateOfBirth: 'date' },
    },
    {
      name: 'accept invitation',
      method: 'POST',
      path: () => '/api/invitations/accept',
      body: () => ({
        token: 'a'.repeat(43),
        displayName: 'New Person',
        password: 'a-long-enough-password',
        dateOfBirth: '1990-01-01',
      }),
      fields: { displayName: 'text', password: 'password', dateOfBirth: 'date' },
    },
    {
      name: 'change password',
      method: 'POST',
      path: () => '/api/me/password',
      token: () => c.operator.token,
      body: () => ({ currentPassword: 'wrong-but-unused', newPassword: 'a-long-enough-password' }),
      fields: { newPassword: 'password' },
    },
    {
      name: 'set own time zone',
      method: 'PATCH',
      path: () => '/api/me',
      token: () => c.patient.token,
      body: () => ({ timeZone: 'Europe/Berlin' }),
      fields: { timeZone: 'text' },
    },
    {
      name: 'write a note',
      method: 'POST',
      path: () => `/api/patients/${c.patient.id}/notes`,
      token: () => c.doctor.token,
      body: () => ({ body: 'BP 120/80' }),
      fields: { body: 'multiline' },
    },
    {
      name: 'break glass',
      method: 'POST',
      path: () => `/api/patients/${c.patient.id}/break-glass`,
      token: () => c.doctor.token,
      body: () => ({ reason: 'emergency in the ward' }),
      fields: { reason: 'multiline' },
    },
    {
      name: 'invite a guest',
      method: 'POST',
      path: () => `/api/appointments/${anyId}/guests`,
      token: () => c.doctor.token,
      body: () => ({ kind: 'family', displayName: 'Aunt' }),
      fields: { displayName: 'text' },
    },
    {
      name: 'create consult type',
      method: 'POST',
      path: () => `/api/scheduling/clinics/${c.clinicId}/consult-types`,
      token: () => c.admin.token,
      body: () => ({ name: 'Chat', kind: 'chat', durationMinutes: 15, priceMinor: 0, currency: 'EUR' }),
      fields: { name: 'text' },
    },
    {
      name: 'rename consult type',
      method: 'PATCH',
      path: () => `/api/scheduling/clinics/${c.clinicId}/consult-types/${c.consultTypeId}`,
      token: () => c.admin.token,
      body: () => ({ name: 'Video' }),
      fields: { name: 'text' },
    },
    {
      name: 'add licence',
      method: 'POST',
      path: () => `/api/doctors/${c.doctor.id}/licences`,
      token: () => c.admin.token,
      body: () => ({
        jurisdiction: 'FR',
        number: 'L-9',
        validFrom: '2024-01-01T00:00:00Z',
        expiresAt: '2030-01-01T00:00:00Z',
      }),
      fields: { number: 'text', validFrom: 'datetime', expiresAt: 'datetime' },
    },
    {
      name: 'weekly schedule',
      method: 'PUT',
      path: () => `/api/doctors/${c.doctor.id}/schedule`,
      token: () => c.doctor.token,
      body: () => ({
        timeZone: 'Europe/Berlin',
        rules: [
          { weekday: 1, start: '09:00', end: '17:00', validFrom: '2027-01-01', validUntil: '2027-12-31' },
        ],
      }),
      fields: { timeZone: 'text', 'rules.0.validFrom': 'date', 'rules.0.validUntil': 'date' },
    },
    {
      name: 'schedule exception',
      method: 'POST',
      path: () => `/api/doctors/${c.doctor.id}/exceptions`,
      token: () => c.doctor.token,
      body: () => ({ date: '2027-05-05', kind: 'unavailable' }),
      fields: { date: 'date' },
    },
    {
      name: 'book',
      method: 'POST',
      path: () => '/api/appointments',
      token: () => c.patient.token,
      body: () =>
        booking(c, c.patient.id, '2027-03-29T09:00:00+02:00', {
          reason: 'cough',
          questionnaire: [{ questionId: 'symptoms', answer: 'cough' }],
        }),
      fields: {
        startsAt: 'datetime',
        reason: 'multiline',
        'questionnaire.0.questionId': 'text',
        'questionnaire.0.answer': 'multiline',
      },
    },
    {
      name: 'reschedule',
      method: 'POST',
      path: () => `/api/appointments/${anyId}/reschedule`,
      token: () => c.patient.token,
      body: () => ({ startsAt: '2027-03-29T10:00:00+02:00', reason: 'clash at work' }),
      fields: { startsAt: 'datetime', reason: 'multiline' },
    },
    {
      name: 'cancel',
      method: 'POST',
      path: () => `/api/appointments/${anyId}/cancel`,
      token: () => c.patient.token,
      body: () => ({ reason: 'feeling better' }),
      fields: { reason: 'multiline' },
    },
    {
      name: 'transition',
      method: 'POST',
      path: () => `/api/appointments/${anyId}/transitions`,
      token: () => c.operator.token,
      body: () => ({ to: 'confirmed', reason: 'approved' }),
      fields: { reason: 'multiline' },
    },
    {
      name: 'decline dispatch',
      method: 'POST',
      path: () => `/api/dispatch/${anyId}/decline`,
      token: () => c.doctor.token,
      body: () => ({ reason: 'in surgery' }),
      fields: { reason: 'multiline' },
    },
    {
      name: 'slots',
      method: 'GET',
      path: () => `/api/doctors/${c.doctor.id}/slots`,
      token: () => c.patient.token,
      query: () => ({ from: '2027-03-29', to: '2027-03-30', consultTypeId: c.consultTypeId }),
      fields: { from: 'date', to: 'date' },
    },
    {
      name: 'read schedule',
      method: 'GET',
      path: () => `/api/doctors/${c.doctor.id}/schedule`,
      token: () => c.patient.token,
      query: () => ({ from: '2027-03-29', to: '2027-04-30' }),
      fields: { from: 'date', to: 'date' },
    },
    {
      name: 'query audit',
      method: 'GET',
      path: () => '/api/audit',
      token: () => c.admin.token,
      query: () => ({
        clinicId: c.clinicId,
        from: '2026-01-01T00:00:00Z',
        to: '2030-01-01T00:00:00Z',
        before: '100',
      }),
      fields: { from: 'datetime', to: 'datetime', before: 'bigint' },
    },
    {
      name: 'verify audit',
      method: 'GET',
      path: () => '/api/audit/verify',
      token: () => platform,
      query: () => ({ seq: '1', hash: '0'.repeat(64) }),
      fields: { seq: 'bigint' },
    },
  ];

  const send = (
    p: Probe,
    body: Record<string, unknown> | undefined,
    query: Record<string, string> | undefined,
  ) => {
    const qs = query
      ? `?${Object.entries(query)
          .map(([k, v]) => `${k}=${v}`)
          .join('&')}`
      : '';
    return h.call(p.method, `${p.path()}${qs}`, { token: p.token?.(), ...(body ? { body } : {}) });
  };

  it('the probes are sound: their valid values pass the fields under test', async () => {
    const refused: string[] = [];
    for (const p of probes) {
      const r = await send(p, p.body?.(), p.query?.());
      const probed =
        r.status === 400 && (r.body?.errors ?? []).some((e: { field: string }) => e.field in p.fields);
      if (probed || r.status >= 500)
        refused.push(`${p.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
    }
    expect(refused).toEqual([]);
  });

  it(`refuses every hostile value with 400 problem+json naming the field`, async () => {
    const wrong: string[] = [];
    let cases = 0;
    for (const p of probes) {
      for (const [field, kind] of Object.entries(p.fields)) {
        const values = p.query ? hostileQuery[kind] : hostile[kind];
        for (const value of values) {
          cases++;
          const r = p.query
            ? await send(p, undefined, { ...p.query(), [field]: value as string })
            : await send(p, withField(p.body!(), field, value), undefined);
          const named =
            Array.isArray(r.body?.errors) && r.body.errors.some((e: { field: string }) => e.field === field);
          if (r.status !== 400 || !r.contentType.includes('application/problem+json') || !named) {
            wrong.push(
              `${p.name} ${field}=${JSON.stringify(String(value).slice(0, 40))}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`,
            );
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(cases).toBeGreaterThan(150);
  });

  it('a span that is inverted or too long is a 400 on the later field', async () => {
    const slots = await h.call(
      'GET',
      `/api/doctors/${c.doctor.id}/slots?from=2027-03-29&to=2028-03-29&consultTypeId=${c.consultTypeId}`,
      { token: c.patient.token },
    );
    expect([slots.status, slots.body.errors]).toEqual([
      400,
      [{ field: 'to', message: 'at most 62 days at a time' }],
    ]);
    const audit = await h.call(
      'GET',
      `/api/audit?clinicId=${c.clinicId}&from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z`,
      { token: c.admin.token },
    );
    expect([audit.status, audit.body.errors]).toEqual([
      400,
      [{ field: 'to', message: 'must not be before from' }],
    ]);
  });

  it('text is stored NFC-normalised and trimmed', async () => {
    const decomposed = '  Cafe\u0301 Clinic  ';
    const r = await h.call('PATCH', `/api/clinics/${c.clinicId}`, {
      token: c.admin.token,
      body: { name: decomposed },
    });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('Caf\u00e9 Clinic');
  });

  it('hostile ids in paths and headers, and hostile sign-in fields, are never a 500', async () => {
    const paths = [
      '/api/patients/%00',
      '/api/patients/%ED%A0%80',
      `/api/appointments/${'9'.repeat(5000)}`,
      '/api/doctors/..%2F..%2Fetc/slots',
      '/api/dispatch/%00/decline',
    ];
    for (const path of paths) {
      const r = await h.call('GET', path, { token: c.patient.token });
      expect([400, 404], `${path}: ${r.status}`).toContain(r.status);
    }
    for (const value of [NUL, SURROGATE, HUGE]) {
      for (const [path, body] of [
        ['/api/auth/login', { email: c.patient.email, password: value }],
        ['/api/auth/login', { email: value, password: 'whatever-password' }],
        ['/api/auth/refresh', { refreshToken: value }],
        ['/api/auth/mfa', { challengeId: randomUUID(), code: value }],
      ] as const) {
        const r = await h.call('POST', path, { body });
        expect(r.status, `${path} ${JSON.stringify(body).slice(0, 60)}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${path} ${JSON.stringify(body).slice(0, 60)}`).toBeLessThan(500);
      }
    }
  });
});
