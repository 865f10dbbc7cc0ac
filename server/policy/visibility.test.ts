import { describe, expect, it } from 'vitest';
import type { Actor, PatientFacts } from './types.ts';
import { visibleTo } from './visibility.ts';

const actor = (role: Actor['role'], clinicIds: string[], userId = `${role}-1`): Actor => ({
  userId,
  role,
  sessionId: 's',
  clinicIds,
});
const patient: PatientFacts = {
  type: 'patient',
  patientId: 'p-1',
  clinicIds: ['c1'],
  relationships: [],
  guardianIds: ['guardian-1'],
  breakGlassDoctorIds: [],
};
const appointment = {
  type: 'appointment' as const,
  appointmentId: 'a-1',
  clinicId: 'c1',
  doctorId: 'doctor-9',
  patient,
};

describe('policy: who may learn that a resource exists (403) and who gets the unknown-id 404', () => {
  it('clinics and their doctors: members see them, whatever their role; nobody else', () => {
    for (const role of ['patient', 'partner', 'guardian', 'doctor', 'operator', 'clinic_admin'] as const) {
      expect(visibleTo(actor(role, ['c1']), { type: 'clinic', clinicId: 'c1' })).toBe(true);
      expect(
        visibleTo(actor(role, ['c1']), { type: 'doctor', doctorId: 'doctor-9', clinicIds: ['c1'] }),
      ).toBe(true);
      expect(visibleTo(actor(role, ['c2']), { type: 'clinic', clinicId: 'c1' })).toBe(false);
      expect(
        visibleTo(actor(role, ['c2']), { type: 'doctor', doctorId: 'doctor-9', clinicIds: ['c1'] }),
      ).toBe(false);
    }
    expect(visibleTo(actor('admin', []), { type: 'clinic', clinicId: 'c1' })).toBe(false);
    expect(visibleTo(actor('admin', []), { type: 'platform' })).toBe(true);
  });

  it("patients and appointments: the patient, their guardian and the clinic's staff; not other patients of the clinic", () => {
    for (const r of [patient, appointment]) {
      expect(visibleTo(actor('patient', ['c1'], 'p-1'), r)).toBe(true);
      expect(visibleTo(actor('guardian', ['c1'], 'guardian-1'), r)).toBe(true);
      for (const role of ['doctor', 'operator', 'clinic_admin'] as const)
        expect(visibleTo(actor(role, ['c1']), r)).toBe(true);
      for (const role of ['patient', 'guardian', 'partner'] as const)
        expect(visibleTo(actor(role, ['c1'], `${role}-other`), r)).toBe(false);
      for (const role of ['doctor', 'operator', 'clinic_admin', 'admin'] as const)
        expect(visibleTo(actor(role, ['c2']), r)).toBe(false);
    }
  });

  it('dispatch requests: staff of the clinic, the doctors offered it and its patient', () => {
    const offer = {
      type: 'dispatch_offer' as const,
      requestId: 'r-1',
      clinicId: 'c1',
      patientId: 'p-1',
      offeredDoctorIds: ['doctor-2'],
    };
    expect(visibleTo(actor('doctor', ['c1']), offer)).toBe(true);
    expect(visibleTo(actor('doctor', ['c2'], 'doctor-2'), offer)).toBe(true);
    expect(visibleTo(actor('patient', ['c1'], 'p-1'), offer)).toBe(true);
    expect(visibleTo(actor('patient', ['c1']), offer)).toBe(false);
    expect(visibleTo(actor('operator', ['c2']), offer)).toBe(false);
  });
});
