import { describe, expect, it } from 'vitest';
import { may } from './decide.ts';
import type { Actor, PatientFacts, Resource } from './types.ts';

const actor = (role: Actor['role'], clinicIds: string[], extra: Partial<Actor> = {}): Actor => ({
  userId: `${role}-1`,
  role,
  sessionId: 's',
  clinicIds,
  ...extra,
});
const patient = (over: Partial<PatientFacts> = {}): PatientFacts => ({
  type: 'patient',
  patientId: 'p-1',
  clinicIds: ['c1'],
  relationships: [],
  guardianIds: [],
  breakGlassDoctorIds: [],
  ...over,
});
const appt = (
  over: Partial<Extract<Resource, { type: 'appointment' }>> = {},
): Extract<Resource, { type: 'appointment' }> => ({
  type: 'appointment',
  appointmentId: 'a-1',
  clinicId: 'c1',
  doctorId: 'doctor-1',
  patient: patient(),
  ...over,
});
const doctor = (clinicIds = ['c1']): Extract<Resource, { type: 'doctor' }> => ({
  type: 'doctor',
  doctorId: 'doctor-1',
  clinicIds,
});

describe('policy: scheduling decisions', () => {
  it('booking: the patient themself, a guardian acting for that dependent, an operator of the clinic; nobody else', () => {
    expect(may({ ...actor('patient', ['c1']), userId: 'p-1' }, 'appointment.book', appt()).allow).toBe(true);
    expect(may(actor('patient', ['c1']), 'appointment.book', appt()).allow).toBe(false);
    const dep = appt({ patient: patient({ guardianIds: ['guardian-1'] }) });
    expect(may(actor('guardian', ['c1'], { onBehalfOf: 'p-1' }), 'appointment.book', dep).allow).toBe(true);
    expect(may(actor('guardian', ['c1']), 'appointment.book', dep).allow).toBe(false);
    expect(may(actor('guardian', ['c1'], { onBehalfOf: 'p-2' }), 'appointment.book', dep).allow).toBe(false);
    expect(may(actor('operator', ['c1']), 'appointment.book', appt()).allow).toBe(true);
    expect(may(actor('operator', ['c2']), 'appointment.book', appt()).allow).toBe(false);
    for (const r of ['doctor', 'clinic_admin', 'partner', 'admin'] as const)
      expect(may(actor(r, ['c1']), 'appointment.book', appt()).allow).toBe(false);
    // A patient outside the appointment's clinic cannot be booked there, even by its operator.
    expect(
      may(actor('operator', ['c1']), 'appointment.book', appt({ patient: patient({ clinicIds: ['c2'] }) }))
        .allow,
    ).toBe(false);
  });

  it('questionnaire answers: patient side and the assigned doctor, not operators or other doctors', () => {
    expect(
      may({ ...actor('patient', ['c1']), userId: 'p-1' }, 'appointment.questionnaire.read', appt()).allow,
    ).toBe(true);
    expect(may(actor('doctor', ['c1']), 'appointment.questionnaire.read', appt()).allow).toBe(true);
    expect(
      may({ ...actor('doctor', ['c1']), userId: 'doctor-2' }, 'appointment.questionnaire.read', appt()).allow,
    ).toBe(false);
    expect(may(actor('operator', ['c1']), 'appointment.questionnaire.read', appt()).allow).toBe(false);
    expect(may(actor('operator', ['c1']), 'appointment.read', appt()).allow).toBe(true);
    // The assigned doctor who left the clinic loses access.
    expect(may(actor('doctor', ['c2']), 'appointment.read', appt()).allow).toBe(false);
  });

  it('transitions: approval by operator or clinic admin; start/complete by the assigned doctor only', () => {
    expect(may(actor('operator', ['c1']), 'appointment.confirm', appt()).allow).toBe(true);
    expect(may(actor('clinic_admin', ['c1']), 'appointment.confirm', appt()).allow).toBe(true);
    expect(may({ ...actor('patient', ['c1']), userId: 'p-1' }, 'appointment.confirm', appt()).allow).toBe(
      false,
    );
    expect(may(actor('doctor', ['c1']), 'appointment.start', appt()).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'appointment.start', appt()).allow).toBe(false);
    expect(
      may({ ...actor('doctor', ['c1']), userId: 'doctor-2' }, 'appointment.complete', appt()).allow,
    ).toBe(false);
    expect(may(actor('operator', ['c1']), 'appointment.no_show', appt()).allow).toBe(true);
    expect(may({ ...actor('patient', ['c1']), userId: 'p-1' }, 'appointment.no_show', appt()).allow).toBe(
      false,
    );
  });

  it('doctor resources: schedule by the doctor or clinic staff; licences by clinic admins; calendar only by the doctor', () => {
    expect(may(actor('doctor', ['c1']), 'doctor.schedule.manage', doctor()).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'doctor.schedule.manage', doctor()).allow).toBe(true);
    expect(may(actor('operator', ['c2']), 'doctor.schedule.manage', doctor()).allow).toBe(false);
    expect(may(actor('patient', ['c1']), 'doctor.schedule.manage', doctor()).allow).toBe(false);
    expect(may(actor('patient', ['c1']), 'doctor.schedule.read', doctor()).allow).toBe(true);
    expect(may(actor('patient', ['c2']), 'doctor.schedule.read', doctor()).allow).toBe(false);
    expect(may(actor('clinic_admin', ['c1']), 'doctor.licence.manage', doctor()).allow).toBe(true);
    expect(may(actor('doctor', ['c1']), 'doctor.licence.manage', doctor()).allow).toBe(false);
    expect(may(actor('doctor', ['c1']), 'doctor.calendar.export', doctor()).allow).toBe(true);
    expect(may(actor('clinic_admin', ['c1']), 'doctor.calendar.export', doctor()).allow).toBe(false);
  });

  it('dispatch: operators create; only doctors whose turn has come accept', () => {
    expect(may(actor('operator', ['c1']), 'dispatch.create', appt({ doctorId: null })).allow).toBe(true);
    expect(may(actor('doctor', ['c1']), 'dispatch.create', appt({ doctorId: null })).allow).toBe(false);
    const offer = {
      type: 'dispatch_offer' as const,
      requestId: 'r',
      clinicId: 'c1',
      patientId: 'p-1',
      offeredDoctorIds: ['doctor-1'],
    };
    expect(may(actor('doctor', ['c1']), 'dispatch.respond', offer).allow).toBe(true);
    expect(may({ ...actor('doctor', ['c1']), userId: 'doctor-2' }, 'dispatch.respond', offer).allow).toBe(
      false,
    );
    expect(may(actor('doctor', ['c2']), 'dispatch.respond', offer).allow).toBe(false);
  });
});
