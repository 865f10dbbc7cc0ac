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
  patientId: 'p-1',
  clinicIds: ['c1'],
  relationships: [],
  guardianIds: [],
  breakGlassDoctorIds: [],
  ...over,
});

describe('policy: may(actor, action, resource)', () => {
  it('doctor: treating relationship only counts in a clinic the doctor still belongs to', () => {
    const p = patient({ relationships: [{ doctorId: 'doctor-1', clinicId: 'c1' }] });
    expect(may(actor('doctor', ['c1']), 'patient.notes.read', p)).toEqual({ allow: true, breakGlass: false });
    expect(may(actor('doctor', ['c2']), 'patient.notes.read', p)).toMatchObject({
      allow: false,
      reason: 'not_in_patient_clinic',
    });
  });

  it('doctor without relationship: denied with break-glass offered; with a grant: allowed and flagged', () => {
    expect(may(actor('doctor', ['c1']), 'patient.notes.read', patient())).toMatchObject({
      allow: false,
      reason: 'no_relationship_break_glass_available',
    });
    expect(may(actor('doctor', ['c1']), 'patient.break_glass', patient())).toEqual({
      allow: true,
      breakGlass: true,
    });
    expect(may(actor('doctor', ['c2']), 'patient.break_glass', patient())).toMatchObject({ allow: false });
    expect(
      may(actor('doctor', ['c1']), 'patient.notes.write', patient({ breakGlassDoctorIds: ['doctor-1'] })),
    ).toEqual({ allow: true, breakGlass: true });
    // A grant does not cross clinic boundaries either.
    expect(
      may(actor('doctor', ['c2']), 'patient.notes.read', patient({ breakGlassDoctorIds: ['doctor-1'] })),
    ).toMatchObject({ allow: false });
  });

  it('operator: demographics in own clinic, never clinical notes', () => {
    expect(may(actor('operator', ['c1']), 'patient.profile.read', patient()).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'patient.notes.read', patient()).allow).toBe(false);
    expect(may(actor('operator', ['c2']), 'patient.profile.read', patient()).allow).toBe(false);
  });

  it('guardian: only when acting on behalf of their own dependent', () => {
    const dep = patient({ guardianIds: ['guardian-1'] });
    expect(may(actor('guardian', ['c1']), 'patient.profile.read', dep)).toMatchObject({
      allow: false,
      reason: 'on_behalf_of_required',
    });
    expect(may(actor('guardian', ['c1'], { onBehalfOf: 'p-1' }), 'patient.profile.read', dep).allow).toBe(
      true,
    );
    expect(may(actor('guardian', ['c1'], { onBehalfOf: 'p-1' }), 'patient.notes.write', dep).allow).toBe(
      false,
    );
    expect(may(actor('guardian', ['c1'], { onBehalfOf: 'p-2' }), 'patient.profile.read', dep).allow).toBe(
      false,
    );
    expect(may(actor('guardian', ['c1']), 'patient.act_on_behalf', patient()).allow).toBe(false);
  });

  it('platform admin manages clinics and audit, reads no PHI; partner reads no PHI', () => {
    expect(may(actor('admin', []), 'clinic.create', { type: 'platform' }).allow).toBe(true);
    expect(may(actor('admin', []), 'audit.verify', { type: 'platform' }).allow).toBe(true);
    expect(may(actor('admin', []), 'patient.profile.read', patient()).allow).toBe(false);
    expect(may(actor('partner', ['c1']), 'patient.profile.read', patient()).allow).toBe(false);
    expect(
      may(actor('partner', ['c1']), 'clinic.patients.list', { type: 'clinic', clinicId: 'c1' }).allow,
    ).toBe(false);
    expect(may(actor('partner', ['c1']), 'clinic.read', { type: 'clinic', clinicId: 'c1' }).allow).toBe(true);
  });

  it('only clinic admins register staff; only doctors and operators invite patients', () => {
    const c1 = { type: 'clinic', clinicId: 'c1' } as const;
    expect(may(actor('clinic_admin', ['c1']), 'clinic.staff.invite', c1).allow).toBe(true);
    for (const r of ['doctor', 'operator', 'partner', 'patient', 'guardian', 'admin'] as const)
      expect(may(actor(r, ['c1']), 'clinic.staff.invite', c1).allow).toBe(false);
    expect(may(actor('doctor', ['c1']), 'clinic.patient.invite', c1).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'clinic.patient.invite', c1).allow).toBe(true);
    expect(may(actor('clinic_admin', ['c1']), 'clinic.patient.invite', c1).allow).toBe(false);
    expect(may(actor('doctor', ['c2']), 'clinic.patient.invite', c1).allow).toBe(false);
  });

  it("invitations: clinic admin manages all of the clinic's; doctors and operators their own; nobody across clinics", () => {
    const mine = { type: 'invitation' as const, invitationId: 'i-1', clinicId: 'c1', sentBy: 'doctor-1' };
    expect(may(actor('clinic_admin', ['c1']), 'invitation.revoke', mine).allow).toBe(true);
    expect(may(actor('doctor', ['c1']), 'invitation.revoke', mine).allow).toBe(true);
    expect(may(actor('doctor', ['c1'], { userId: 'doctor-2' }), 'invitation.revoke', mine)).toMatchObject({
      allow: false,
      reason: 'own_invitations_only',
    });
    expect(may(actor('doctor', ['c2']), 'invitation.revoke', mine)).toMatchObject({
      allow: false,
      reason: 'not_member',
    });
    expect(may(actor('clinic_admin', ['c2']), 'invitation.revoke', mine).allow).toBe(false);
    expect(may(actor('partner', ['c1'], { userId: 'doctor-1' }), 'invitation.revoke', mine).allow).toBe(
      false,
    );
    // Listing: the scope the route asks for is the widest allowed, and nothing wider passes.
    const all = { type: 'invitations' as const, clinicId: 'c1', sentBy: null };
    expect(may(actor('clinic_admin', ['c1']), 'clinic.invitations.list', all).allow).toBe(true);
    expect(may(actor('operator', ['c1']), 'clinic.invitations.list', all).allow).toBe(false);
    expect(
      may(actor('operator', ['c1']), 'clinic.invitations.list', { ...all, sentBy: 'operator-1' }).allow,
    ).toBe(true);
    expect(may(actor('admin', []), 'clinic.invitations.list', all).allow).toBe(false);
  });
});
