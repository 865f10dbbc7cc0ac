import { describe, expect, it } from 'vitest';
import { may } from './decide.ts';
import type { Actor, PatientFacts } from './types.ts';

const actor = (role: Actor['role'], clinicIds: string[], extra: Partial<Actor> = {}): Actor => ({
  userId: `${role}-1`,
  role,
  sessionId: 's',
  clinicIds,
  ...extra,
});
const patient = (over: Partial<PatientFacts> = {}): PatientFacts => ({
  type: 'patient',
  patientId: 'patient-1',
  clinicIds: ['c1'],
  relationships: [{ doctorId: 'doctor-1', clinicId: 'c1' }],
  guardianIds: ['guardian-1'],
  breakGlassDoctorIds: [],
  ...over,
});
const appointment = (over: { clinicId?: string; doctorId?: string; patient?: PatientFacts } = {}) => ({
  type: 'appointment' as const,
  appointmentId: 'a-1',
  clinicId: over.clinicId ?? 'c1',
  doctorId: over.doctorId ?? 'doctor-2',
  patient: over.patient ?? patient(),
});

describe('FHIR decisions: the record’s parties, nobody else', () => {
  it('directory: members who are patients, guardians, doctors, clinic admins; never operators or partners', () => {
    const clinic = { type: 'clinic' as const, clinicId: 'c1' };
    for (const role of ['patient', 'guardian', 'doctor', 'clinic_admin'] as const)
      expect(may(actor(role, ['c1']), 'fhir.directory.read', clinic).allow).toBe(true);
    for (const role of ['operator', 'partner', 'admin'] as const)
      expect(may(actor(role, ['c1']), 'fhir.directory.read', clinic)).toMatchObject({ allow: false });
    expect(may(actor('doctor', ['c2']), 'fhir.directory.read', clinic)).toMatchObject({
      reason: 'not_member',
    });
  });

  it('patient: self, guardian on behalf, treating doctor, break-glass flagged; operators (unlike the JSON API) not', () => {
    expect(may(actor('patient', ['c1'], { userId: 'patient-1' }), 'fhir.patient.read', patient()).allow).toBe(
      true,
    );
    expect(
      may(actor('guardian', ['c1'], { onBehalfOf: 'patient-1' }), 'fhir.patient.read', patient()).allow,
    ).toBe(true);
    expect(may(actor('guardian', ['c1']), 'fhir.patient.read', patient())).toMatchObject({ allow: false });
    expect(may(actor('doctor', ['c1']), 'fhir.patient.read', patient())).toEqual({
      allow: true,
      breakGlass: false,
    });
    expect(
      may(
        actor('doctor', ['c1'], { userId: 'doctor-2' }),
        'fhir.patient.read',
        patient({ breakGlassDoctorIds: ['doctor-2'] }),
      ),
    ).toEqual({ allow: true, breakGlass: true });
    expect(may(actor('operator', ['c1']), 'patient.profile.read', patient()).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'fhir.patient.read', patient()).allow).toBe(false);
    expect(may(actor('partner', ['c1']), 'fhir.patient.read', patient()).allow).toBe(false);
  });

  it('appointment: its doctor or a treating doctor of that clinic, the patient side; not across clinics', () => {
    // Treating the patient in c1 shows nothing of their appointment in c2, even to a doctor of both.
    const both = patient({ clinicIds: ['c1', 'c2'] });
    expect(
      may(
        actor('doctor', ['c1', 'c2']),
        'fhir.appointment.read',
        appointment({ clinicId: 'c2', patient: both }),
      ),
    ).toMatchObject({ allow: false, reason: 'not_treating_here' });
    expect(
      may(
        actor('doctor', ['c1', 'c2']),
        'fhir.appointment.read',
        appointment({ clinicId: 'c1', patient: both }),
      ).allow,
    ).toBe(true);
    const own = actor('doctor', ['c1'], { userId: 'doctor-2' });
    expect(
      may(own, 'fhir.appointment.read', appointment({ patient: patient({ relationships: [] }) })).allow,
    ).toBe(true);
    expect(may(actor('doctor', ['c1']), 'fhir.appointment.read', appointment()).allow).toBe(true);
    expect(
      may(actor('doctor', ['c1', 'c2']), 'fhir.appointment.read', appointment({ clinicId: 'c2' })),
    ).toMatchObject({
      allow: false,
    });
    expect(
      may(actor('doctor', ['c2'], { userId: 'doctor-2' }), 'fhir.appointment.read', appointment()),
    ).toMatchObject({
      reason: 'not_member',
    });
    expect(
      may(actor('patient', ['c1'], { userId: 'patient-1' }), 'fhir.appointment.read', appointment()).allow,
    ).toBe(true);
    expect(may(actor('operator', ['c1']), 'appointment.read', appointment()).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'fhir.appointment.read', appointment()).allow).toBe(false);
  });
});
