import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ROLES, type UserRole } from '../../db/schema/index.ts';
import { createClinic, createUser, guard, relate, signIn, startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';

/**
 * Every role of another clinic (and the platform admin, and the wrong people inside the clinic)
 * against every resource of clinic B and its patients: 403 or 404, never data.
 */
describe('authorization matrix: no access across clinic and patient boundaries', () => {
  let h: IdentityHarness;
  const tokens = new Map<string, string>();
  let clinicB: string;
  let patientB: { id: string; email: string };
  let dependentB: { id: string };
  let secrets: string[];
  let invitationB: string;

  beforeAll(async () => {
    h = await startIdentityHarness();
    const clinicA = await createClinic(h.db, 'Clinic A');
    clinicB = await createClinic(h.db, 'Clinic B');
    // Outsiders: one of every role in clinic A, plus a platform admin (member of no clinic).
    for (const role of USER_ROLES) {
      const u = await createUser(h.identity, h.db, role === 'admin' ? { role } : { role, clinicId: clinicA });
      tokens.set(`A:${role}`, (await signIn(h.call, h.db, u.email)).accessToken);
    }
    const depA = await createUser(h.identity, h.db, { role: 'patient', clinicId: clinicA, email: null, password: null, dateOfBirth: '2016-01-01' });
    const guardianA = await createUser(h.identity, h.db, { role: 'guardian', clinicId: clinicA });
    await guard(h.db, guardianA.id, depA.id);
    tokens.set('A:guardian-of-own-dependent', (await signIn(h.call, h.db, guardianA.email)).accessToken);

    // Clinic B's people and records.
    const doctorB = await createUser(h.identity, h.db, { role: 'doctor', clinicId: clinicB });
    patientB = await createUser(h.identity, h.db, { role: 'patient', clinicId: clinicB, phone: '+441632960001', dateOfBirth: '1980-05-05' });
    await relate(h.db, clinicB, doctorB.id, patientB.id);
    dependentB = await createUser(h.identity, h.db, { role: 'patient', clinicId: clinicB, email: null, password: null, dateOfBirth: '2015-02-02' });
    const guardianB = await createUser(h.identity, h.db, { role: 'guardian', clinicId: clinicB });
    await guard(h.db, guardianB.id, dependentB.id);
    tokens.set('B:doctor(treating)', (await signIn(h.call, h.db, doctorB.email)).accessToken);
    tokens.set('B:guardian(of dependent)', (await signIn(h.call, h.db, guardianB.email)).accessToken);
    const inv = await h.call('POST', `/api/clinics/${clinicB}/invitations`, { token: tokens.get('B:doctor(treating)')!, body: { email: 'invitee-b@example.test', role: 'patient' } });
    invitationB = inv.body.id;
    const note = await h.call('POST', `/api/patients/${patientB.id}/notes`, { token: tokens.get('B:doctor(treating)')!, body: { body: 'secret clinical note' } });
    expect(note.status).toBe(201);

    // Insiders who still must not see patient B's clinical record.
    for (const [label, role] of [['B:partner', 'partner'], ['B:other-patient', 'patient'], ['B:other-guardian', 'guardian']] as const) {
      const u = await createUser(h.identity, h.db, { role, clinicId: clinicB });
      tokens.set(label, (await signIn(h.call, h.db, u.email)).accessToken);
    }
    const [pb] = await h.db.query.users.findMany({ where: (u, { eq }) => eq(u.id, patientB.id) });
    secrets = [pb!.displayName, pb!.email!, pb!.phone!, '1980-05-05', 'secret clinical note', 'invitee-b@example.test'];
  });
  afterAll(() => h.close());

  type Probe = { name: string; method: string; path: () => string; body?: () => unknown; headers?: () => Record<string, string> };
  const probes: Probe[] = [
    { name: 'read clinic B', method: 'GET', path: () => `/api/clinics/${clinicB}` },
    { name: 'change clinic B settings', method: 'PATCH', path: () => `/api/clinics/${clinicB}`, body: () => ({ idleTimeoutSeconds: 600 }) },
    { name: 'list clinic B staff', method: 'GET', path: () => `/api/clinics/${clinicB}/staff` },
    { name: 'list clinic B patients', method: 'GET', path: () => `/api/clinics/${clinicB}/patients` },
    { name: 'invite a doctor to clinic B', method: 'POST', path: () => `/api/clinics/${clinicB}/invitations`, body: () => ({ email: 'new-doc@example.test', role: 'doctor' }) },
    { name: 'invite a patient to clinic B', method: 'POST', path: () => `/api/clinics/${clinicB}/invitations`, body: () => ({ email: 'new-pat@example.test', role: 'patient' }) },
    { name: 'list clinic B invitations', method: 'GET', path: () => `/api/clinics/${clinicB}/invitations` },
    { name: 'revoke an invitation of clinic B', method: 'DELETE', path: () => `/api/clinics/${clinicB}/invitations/${invitationB}` },
    { name: 'assign care in clinic B', method: 'POST', path: () => `/api/clinics/${clinicB}/care-relationships`, body: () => ({ doctorId: patientB.id, patientId: patientB.id }) },
    { name: "read patient B's profile", method: 'GET', path: () => `/api/patients/${patientB.id}` },
    { name: "read patient B's notes", method: 'GET', path: () => `/api/patients/${patientB.id}/notes` },
    { name: "write patient B's notes", method: 'POST', path: () => `/api/patients/${patientB.id}/notes`, body: () => ({ body: 'intruder' }) },
    { name: 'break glass on patient B', method: 'POST', path: () => `/api/patients/${patientB.id}/break-glass`, body: () => ({ reason: 'I would like to look please' }) },
    { name: "read dependent B's profile", method: 'GET', path: () => `/api/patients/${dependentB.id}` },
    { name: "read dependent B's profile on their behalf", method: 'GET', path: () => `/api/patients/${dependentB.id}`, headers: () => ({ 'x-on-behalf-of': dependentB.id }) },
    { name: 'act for dependent B', method: 'GET', path: () => '/api/me', headers: () => ({ 'x-on-behalf-of': dependentB.id }) },
    { name: "read clinic B's audit log", method: 'GET', path: () => `/api/audit?clinicId=${clinicB}` },
  ];
  const outsiders = [...USER_ROLES.map((r: UserRole) => `A:${r}`), 'A:guardian-of-own-dependent'];
  // Inside clinic B but without the relationship the probe needs.
  const insiders: Record<string, string[]> = {
    'B:partner': probes.map((p) => p.name).filter((n) => n !== 'read clinic B'),
    'B:other-patient': probes.map((p) => p.name).filter((n) => n !== 'read clinic B'),
    'B:other-guardian': probes.map((p) => p.name).filter((n) => n !== 'read clinic B'),
  };

  const cases = [
    ...outsiders.flatMap((who) => probes.map((p) => [who, p] as const)),
    ...Object.entries(insiders).flatMap(([who, names]) => probes.filter((p) => names.includes(p.name)).map((p) => [who, p] as const)),
  ];

  it(`refuses all ${outsiders.length * probes.length + Object.values(insiders).flat().length} attempts and leaks nothing`, async () => {
    const leaks: string[] = [];
    for (const [who, p] of cases) {
      const r = await h.call(p.method, p.path(), { token: tokens.get(who)!, ...(p.body ? { body: p.body() } : {}), ...(p.headers ? { headers: p.headers() } : {}) });
      const text = JSON.stringify(r.body ?? '');
      if (![403, 404].includes(r.status) || secrets.some((s) => text.includes(s))) leaks.push(`${who} -> ${p.name}: ${r.status} ${text.slice(0, 120)}`);
      else expect(r.contentType).toContain('application/problem+json');
    }
    expect(leaks).toEqual([]);
    // The writes really did not happen.
    const notes = await h.identity.patients.notes(patientB.id);
    expect(notes.map((n) => n.body)).toEqual(['secret clinical note']);
    expect((await h.identity.invitations.list({ clinicId: clinicB, sentBy: null, status: 'pending', limit: 10 })).map((i) => i.id)).toEqual([invitationB]);
  });

  it('denied PHI attempts are in the audit log as denied', async () => {
    const denied = await h.identity.audit.query({ patientId: patientB.id, limit: 500 });
    const deniedReads = denied.filter((e) => e.outcome === 'denied' && e.action === 'patient.notes.read');
    expect(deniedReads.length).toBeGreaterThanOrEqual(outsiders.length);
    expect(deniedReads.every((e) => e.actorId && e.ip === '203.0.113.7')).toBe(true);
  });

  it('the matrix is not vacuous: the entitled people do get the data', async () => {
    const doc = tokens.get('B:doctor(treating)')!;
    const profile = await h.call('GET', `/api/patients/${patientB.id}`, { token: doc });
    expect(profile.status).toBe(200);
    expect(profile.body.email).toBe(patientB.email);
    const notes = await h.call('GET', `/api/patients/${patientB.id}/notes`, { token: doc });
    expect(notes.body.notes[0].body).toBe('secret clinical note');
    const g = tokens.get('B:guardian(of dependent)')!;
    const dep = await h.call('GET', `/api/patients/${dependentB.id}`, { token: g, headers: { 'x-on-behalf-of': dependentB.id } });
    expect(dep.status).toBe(200);
    // ...but a guardian must say they are acting for the dependent.
    expect((await h.call('GET', `/api/patients/${dependentB.id}`, { token: g })).status).toBe(403);
    // ...and acting for the dependent does not open anyone else's record.
    expect((await h.call('GET', `/api/patients/${patientB.id}`, { token: g, headers: { 'x-on-behalf-of': dependentB.id } })).status).toBe(403);
  });
});
