import type { UserRole } from '../../db/schema/index.ts';
import type { Actor } from '../../server/policy/types.ts';
import { createClinic, createUser, guard, signIn, type IdentityHarness } from './identity.ts';

export type Person = { id: string; email: string; token: string; actor: Actor };

/** Mon-Fri 09:00-17:00 in the doctor's zone. */
export const WEEKDAYS_9_TO_5 = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '09:00', end: '17:00' }));

/**
 * A clinic with one of each role, a dependent with a guardian, a 30-minute video consult type, a
 * doctor with a weekly schedule and a licence. Everything goes through the API where an API exists.
 */
export async function schedulingClinic(
  h: Pick<IdentityHarness, 'db' | 'identity' | 'call'>,
  opts: { name?: string; timeZone?: string; licence?: string | null; rules?: typeof WEEKDAYS_9_TO_5 } = {},
) {
  const clinicId = await createClinic(h.db, opts.name ?? 'Clinic');
  const person = async (
    role: UserRole,
    extra: { email?: string | null; password?: string | null; dateOfBirth?: string } = {},
  ): Promise<Person> => {
    const u = await createUser(h.identity, h.db, { role, clinicId, ...extra });
    const token = u.email ? (await signIn(h.call, h.db, u.email)).accessToken : '';
    return {
      id: u.id,
      email: u.email,
      token,
      actor: { userId: u.id, role, sessionId: 'test', clinicIds: [clinicId] },
    };
  };
  const [admin, doctor, operator, patient, guardian] = [
    await person('clinic_admin'),
    await person('doctor'),
    await person('operator'),
    await person('patient'),
    await person('guardian'),
  ];
  const dependent = await person('patient', { email: null, password: null, dateOfBirth: '2018-04-04' });
  await guard(h.db, guardian.id, dependent.id);
  const type = await h.call('POST', `/api/scheduling/clinics/${clinicId}/consult-types`, {
    token: admin.token,
    body: { name: 'Video consult', kind: 'video', durationMinutes: 30, priceMinor: 4500, currency: 'EUR' },
  });
  if (type.status !== 201) throw new Error(`consult type: ${type.status} ${JSON.stringify(type.body)}`);
  const schedule = await h.call('PUT', `/api/doctors/${doctor.id}/schedule`, {
    token: doctor.token,
    body: { timeZone: opts.timeZone ?? 'Europe/Berlin', rules: opts.rules ?? WEEKDAYS_9_TO_5 },
  });
  if (schedule.status !== 200)
    throw new Error(`schedule: ${schedule.status} ${JSON.stringify(schedule.body)}`);
  if (opts.licence !== null) {
    const lic = await h.call('POST', `/api/doctors/${doctor.id}/licences`, {
      token: admin.token,
      body: {
        jurisdiction: opts.licence ?? 'DE',
        number: 'LIC-1',
        validFrom: '2020-01-01T00:00:00Z',
        expiresAt: '2035-01-01T00:00:00Z',
      },
    });
    if (lic.status !== 201) throw new Error(`licence: ${lic.status} ${JSON.stringify(lic.body)}`);
  }
  return {
    clinicId,
    admin,
    doctor,
    operator,
    patient,
    guardian,
    dependent,
    consultTypeId: type.body.id as string,
  };
}

export type SchedulingClinic = Awaited<ReturnType<typeof schedulingClinic>>;

/** A booking body for the clinic's doctor and consult type. */
export const booking = (
  c: SchedulingClinic,
  patientId: string,
  startsAt: string,
  extra: Record<string, unknown> = {},
) => ({
  clinicId: c.clinicId,
  doctorId: c.doctor.id,
  patientId,
  consultTypeId: c.consultTypeId,
  startsAt,
  patientJurisdiction: 'DE-BE',
  ...extra,
});
