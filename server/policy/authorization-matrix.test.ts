import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ROLES, type UserRole } from '../../db/schema/index.ts';
import {
  createClinic,
  createUser,
  guard,
  relate,
  signIn,
  startIdentityHarness,
  storedNotes,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

/**
 * Every role of another clinic (and the platform admin, and the wrong people inside the clinic)
 * against every resource of clinic B and its patients: 403 or 404, never data. And where the caller
 * has no business knowing the resource exists (another clinic's, another patient's), the answer is
 * exactly the one an unknown id gets, so ids cannot be probed.
 */
describe('authorization matrix: no access across clinic and patient boundaries', () => {
  let h: IdentityHarness;
  const tokens = new Map<string, string>();
  let clinicB: string;
  let patientB: { id: string; email: string };
  let dependentB: { id: string };
  let secrets: string[];
  let invitationB: string;
  let doctorB: { id: string; email: string };
  let appointmentB: string;
  /** The ids the probes use: clinic B's real ones, or (see the last test) unknown ones. */
  type Ids = {
    clinic: string;
    patient: string;
    dependent: string;
    invitation: string;
    doctor: string;
    appointment: string;
  };
  let ids: Ids;

  beforeAll(async () => {
    h = await startIdentityHarness();
    const clinicA = await createClinic(h.db, 'Clinic A');
    clinicB = await createClinic(h.db, 'Clinic B');
    // Outsiders: one of every role in clinic A, plus a platform admin (member of no clinic).
    for (const role of USER_ROLES) {
      const u = await createUser(h.identity, h.db, role === 'admin' ? { role } : { role, clinicId: clinicA });
      tokens.set(`A:${role}`, (await signIn(h.call, h.db, u.email)).accessToken);
    }
    const depA = await createUser(h.identity, h.db, {
      role: 'patient',
      clinicId: clinicA,
      email: null,
      password: null,
      dateOfBirth: '2016-01-01',
    });
    const guardianA = await createUser(h.identity, h.db, { role: 'guardian', clinicId: clinicA });
    await guard(h.db, guardianA.id, depA.id);
    tokens.set('A:guardian-of-own-dependent', (await signIn(h.call, h.db, guardianA.email)).accessToken);

    // Clinic B's people and records.
    doctorB = await createUser(h.identity, h.db, { role: 'doctor', clinicId: clinicB });
    patientB = await createUser(h.identity, h.db, {
      role: 'patient',
      clinicId: clinicB,
      phone: '+441632960001',
      dateOfBirth: '1980-05-05',
    });
    await relate(h.db, clinicB, doctorB.id, patientB.id);
    dependentB = await createUser(h.identity, h.db, {
      role: 'patient',
      clinicId: clinicB,
      email: null,
      password: null,
      dateOfBirth: '2015-02-02',
    });
    const guardianB = await createUser(h.identity, h.db, { role: 'guardian', clinicId: clinicB });
    await guard(h.db, guardianB.id, dependentB.id);
    tokens.set('B:doctor(treating)', (await signIn(h.call, h.db, doctorB.email)).accessToken);
    tokens.set('B:guardian(of dependent)', (await signIn(h.call, h.db, guardianB.email)).accessToken);
    const inv = await h.call('POST', `/api/clinics/${clinicB}/invitations`, {
      token: tokens.get('B:doctor(treating)')!,
      body: { email: 'invitee-b@example.test', role: 'patient' },
    });
    invitationB = inv.body.id;
    const note = await h.call('POST', `/api/patients/${patientB.id}/notes`, {
      token: tokens.get('B:doctor(treating)')!,
      body: { body: 'secret clinical note' },
    });
    expect(note.status).toBe(201);

    // Insiders who still must not see patient B's clinical record.
    for (const [label, role] of [
      ['B:partner', 'partner'],
      ['B:other-patient', 'patient'],
      ['B:other-guardian', 'guardian'],
    ] as const) {
      const u = await createUser(h.identity, h.db, { role, clinicId: clinicB });
      tokens.set(label, (await signIn(h.call, h.db, u.email)).accessToken);
    }
    // A bookable doctor and an appointment of patient B.
    const type = await h.scheduling.clinics.createConsultType(clinicB, {
      name: 'Video',
      kind: 'video',
      durationMinutes: 30,
      priceMinor: 1000,
      currency: 'EUR',
    });
    await h.scheduling.availability.setWeekly(
      doctorB.id,
      'UTC',
      [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, startMinute: 0, endMinute: 1440 })),
    );
    await h.scheduling.licences.add(
      doctorB.id,
      {
        jurisdiction: 'DE',
        number: 'L-B',
        validFrom: new Date('2020-01-01Z'),
        expiresAt: new Date('2040-01-01Z'),
      },
      doctorB.id,
    );
    const patientToken = (await signIn(h.call, h.db, patientB.email)).accessToken;
    const booked = await h.call('POST', '/api/appointments', {
      token: patientToken,
      body: {
        clinicId: clinicB,
        doctorId: doctorB.id,
        patientId: patientB.id,
        consultTypeId: type.id,
        startsAt: '2031-01-06T10:00:00Z',
        patientJurisdiction: 'DE',
      },
    });
    expect(booked.status).toBe(201);
    appointmentB = booked.body.id;
    ids = {
      clinic: clinicB,
      patient: patientB.id,
      dependent: dependentB.id,
      invitation: invitationB,
      doctor: doctorB.id,
      appointment: appointmentB,
    };

    const [pb] = await h.db.query.users.findMany({ where: (u, { eq }) => eq(u.id, patientB.id) });
    secrets = [
      pb!.displayName,
      pb!.email!,
      pb!.phone!,
      '1980-05-05',
      'secret clinical note',
      'invitee-b@example.test',
    ];
  });
  afterAll(() => h.close());

  type Probe = {
    name: string;
    method: string;
    path: () => string;
    body?: () => unknown;
    headers?: () => Record<string, string>;
  };
  const probes: Probe[] = [
    { name: 'read clinic B', method: 'GET', path: () => `/api/clinics/${ids.clinic}` },
    {
      name: 'change clinic B settings',
      method: 'PATCH',
      path: () => `/api/clinics/${ids.clinic}`,
      body: () => ({ idleTimeoutSeconds: 600 }),
    },
    { name: 'list clinic B staff', method: 'GET', path: () => `/api/clinics/${ids.clinic}/staff` },
    { name: 'list clinic B patients', method: 'GET', path: () => `/api/clinics/${ids.clinic}/patients` },
    {
      name: 'invite a doctor to clinic B',
      method: 'POST',
      path: () => `/api/clinics/${ids.clinic}/invitations`,
      body: () => ({ email: 'new-doc@example.test', role: 'doctor' }),
    },
    {
      name: 'invite a patient to clinic B',
      method: 'POST',
      path: () => `/api/clinics/${ids.clinic}/invitations`,
      body: () => ({ email: 'new-pat@example.test', role: 'patient' }),
    },
    {
      name: 'list clinic B invitations',
      method: 'GET',
      path: () => `/api/clinics/${ids.clinic}/invitations`,
    },
    {
      name: 'revoke an invitation of clinic B',
      method: 'DELETE',
      path: () => `/api/clinics/${ids.clinic}/invitations/${ids.invitation}`,
    },
    {
      name: 'assign care in clinic B',
      method: 'POST',
      path: () => `/api/clinics/${ids.clinic}/care-relationships`,
      body: () => ({ doctorId: ids.patient, patientId: ids.patient }),
    },
    { name: "read patient B's profile", method: 'GET', path: () => `/api/patients/${ids.patient}` },
    { name: "read patient B's notes", method: 'GET', path: () => `/api/patients/${ids.patient}/notes` },
    {
      name: "write patient B's notes",
      method: 'POST',
      path: () => `/api/patients/${ids.patient}/notes`,
      body: () => ({ body: 'intruder' }),
    },
    {
      name: 'break glass on patient B',
      method: 'POST',
      path: () => `/api/patients/${ids.patient}/break-glass`,
      body: () => ({ reason: 'I would like to look please' }),
    },
    { name: "read dependent B's profile", method: 'GET', path: () => `/api/patients/${ids.dependent}` },
    {
      name: "read dependent B's profile on their behalf",
      method: 'GET',
      path: () => `/api/patients/${ids.dependent}`,
      headers: () => ({ 'x-on-behalf-of': ids.dependent }),
    },
    {
      name: 'act for dependent B',
      method: 'GET',
      path: () => '/api/me',
      headers: () => ({ 'x-on-behalf-of': ids.dependent }),
    },
    { name: "read clinic B's audit log", method: 'GET', path: () => `/api/audit?clinicId=${ids.clinic}` },
    {
      name: "read doctor B's schedule",
      method: 'GET',
      path: () => `/api/doctors/${ids.doctor}/schedule?from=2031-01-01&to=2031-01-31`,
    },
    {
      name: "change doctor B's schedule",
      method: 'PUT',
      path: () => `/api/doctors/${ids.doctor}/schedule`,
      body: () => ({ timeZone: 'UTC', rules: [] }),
    },
    { name: "read doctor B's licences", method: 'GET', path: () => `/api/doctors/${ids.doctor}/licences` },
    {
      name: "list doctor B's appointments",
      method: 'GET',
      path: () => `/api/doctors/${ids.doctor}/appointments`,
    },
    {
      name: "export doctor B's calendar",
      method: 'GET',
      path: () => `/api/doctors/${ids.doctor}/calendar.ics`,
    },
    {
      name: "list patient B's appointments",
      method: 'GET',
      path: () => `/api/appointments?patientId=${ids.patient}`,
    },
    {
      name: "read patient B's appointment",
      method: 'GET',
      path: () => `/api/appointments/${ids.appointment}`,
    },
    {
      name: "join patient B's consultation",
      method: 'POST',
      path: () => `/api/appointments/${ids.appointment}/join-token`,
    },
    {
      name: "cancel patient B's appointment",
      method: 'POST',
      path: () => `/api/appointments/${ids.appointment}/cancel`,
      body: () => ({ reason: 'not mine to cancel' }),
    },
  ];
  const outsiders = [...USER_ROLES.map((r: UserRole) => `A:${r}`), 'A:guardian-of-own-dependent'];
  // Inside clinic B but without the relationship the probe needs.
  const insiders: Record<string, string[]> = {
    // Any member may read the clinic and its doctors' hours (to book them).
    'B:partner': probes
      .map((p) => p.name)
      .filter((n) => n !== 'read clinic B' && n !== "read doctor B's schedule"),
    'B:other-patient': probes
      .map((p) => p.name)
      .filter((n) => n !== 'read clinic B' && n !== "read doctor B's schedule"),
    'B:other-guardian': probes
      .map((p) => p.name)
      .filter((n) => n !== 'read clinic B' && n !== "read doctor B's schedule"),
  };

  const cases = [
    ...outsiders.flatMap((who) => probes.map((p) => [who, p] as const)),
    ...Object.entries(insiders).flatMap(([who, names]) =>
      probes.filter((p) => names.includes(p.name)).map((p) => [who, p] as const),
    ),
  ];

  it(`refuses all ${outsiders.length * probes.length + Object.values(insiders).flat().length} attempts and leaks nothing`, async () => {
    const leaks: string[] = [];
    for (const [who, p] of cases) {
      const r = await h.call(p.method, p.path(), {
        token: tokens.get(who)!,
        ...(p.body ? { body: p.body() } : {}),
        ...(p.headers ? { headers: p.headers() } : {}),
      });
      const text = JSON.stringify(r.body ?? '');
      if (![403, 404].includes(r.status) || secrets.some((s) => text.includes(s)))
        leaks.push(`${who} -> ${p.name}: ${r.status} ${text.slice(0, 120)}`);
      else expect(r.contentType).toContain('application/problem+json');
    }
    expect(leaks).toEqual([]);
    // The writes really did not happen.
    const notes = await storedNotes(h.services, h.db, patientB.id);
    expect(notes.map((n) => n.body)).toEqual(['secret clinical note']);
    expect(
      (
        await h.identity.invitations.list({ clinicId: clinicB, sentBy: null, status: 'pending', limit: 10 })
      ).map((i) => i.id),
    ).toEqual([invitationB]);
  });

  it("another clinic's ids, and other patients' records, are answered exactly as unknown ids are: 404, same body", async () => {
    const unknown: Ids = {
      clinic: randomUUID(),
      patient: randomUUID(),
      dependent: randomUUID(),
      invitation: randomUUID(),
      doctor: randomUUID(),
      appointment: randomUUID(),
    };
    const real = ids;
    const tells: string[] = [];
    let hidden = 0;
    for (const [who, p] of cases) {
      const send = async (use: Ids) => {
        ids = use;
        const r = await h.call(p.method, p.path(), {
          token: tokens.get(who)!,
          ...(p.body ? { body: p.body() } : {}),
          ...(p.headers ? { headers: p.headers() } : {}),
        });
        return { status: r.status, code: r.body?.code, detail: r.body?.detail, errors: r.body?.errors };
      };
      const [onReal, onUnknown] = [await send(real), await send(unknown)];
      ids = real;
      const outsider = who.startsWith('A:');
      if (outsider && onReal.status !== 404)
        tells.push(`${who} -> ${p.name}: ${onReal.status} for another clinic's id`);
      if (onReal.status === 404) {
        hidden++;
        if (JSON.stringify(onReal) !== JSON.stringify(onUnknown))
          tells.push(
            `${who} -> ${p.name}: ${JSON.stringify(onReal)} vs unknown ${JSON.stringify(onUnknown)}`,
          );
      }
    }
    expect(tells).toEqual([]);
    expect(hidden).toBeGreaterThanOrEqual(outsiders.length * probes.length);
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
    const dep = await h.call('GET', `/api/patients/${dependentB.id}`, {
      token: g,
      headers: { 'x-on-behalf-of': dependentB.id },
    });
    expect(dep.status).toBe(200);
    // ...but a guardian must say they are acting for the dependent.
    expect((await h.call('GET', `/api/patients/${dependentB.id}`, { token: g })).status).toBe(403);
    // ...and acting for the dependent does not open anyone else's record (nor tell that it exists).
    expect(
      (
        await h.call('GET', `/api/patients/${patientB.id}`, {
          token: g,
          headers: { 'x-on-behalf-of': dependentB.id },
        })
      ).status,
    ).toBe(404);
  });
});
