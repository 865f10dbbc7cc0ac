import type { DeferredInput } from '../api/validation.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { invitationListScope } from '../policy/decide.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor } from '../policy/types.ts';
import type { ClinicService } from './clinic-service.ts';
import type { InvitationStatus } from './invitation-list.ts';
import { type InvitationService, PATIENT_INVITE_ROLES, STAFF_INVITE_ROLES } from './invitations.ts';

type Deps = { policy: Policy; audit: AuditLog; clinics: ClinicService; invitations: InvitationService };
type InviteRole = (typeof STAFF_INVITE_ROLES)[number] | (typeof PATIENT_INVITE_ROLES)[number];
type ClinicPatch = { name?: string | undefined; idleTimeoutSeconds?: number | null | undefined };

/** Clinics, their staff, patients, invitations and care relationships, decided per administrator. */
export class ClinicAdministration {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): ClinicAdministrator {
    return new ClinicAdministrator(this.deps, actor);
  }
}

export class ClinicAdministrator {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  /** A new clinic with its first admin's invitation (the platform admin's job). */
  async create(
    input: DeferredInput<{ name: string; idleTimeoutSeconds?: number | undefined; adminEmail: string }>,
  ) {
    const { policy, clinics, invitations, audit } = this.deps;
    await policy.require(this.actor, 'clinic.create', { type: 'platform' });
    const body = await input();
    // Before the clinic exists: a refused invitation e-mail must not leave a clinic without its admin's link.
    await invitations.checkMailBudget(this.actor.userId);
    const clinic = await clinics.create(body);
    const invitation = await invitations.create({
      clinicId: clinic.id,
      role: 'clinic_admin',
      email: body.adminEmail,
      createdBy: this.actor.userId,
    });
    await audit.record({
      action: 'clinic.created',
      outcome: 'allowed',
      resourceType: 'clinic',
      resourceId: clinic.id,
      clinicId: clinic.id,
    });
    return {
      clinic,
      adminInvitation: { id: invitation.id, link: invitation.link, expiresAt: invitation.expiresAt },
    };
  }

  async get(clinicId: string) {
    await this.deps.policy.require(this.actor, 'clinic.read', clinic(clinicId));
    return this.deps.clinics.get(clinicId);
  }

  async update(clinicId: string, input: DeferredInput<ClinicPatch>) {
    await this.deps.policy.require(this.actor, 'clinic.update', clinic(clinicId));
    const updated = await this.deps.clinics.update(clinicId, await input());
    await this.deps.audit.record({
      action: 'clinic.updated',
      outcome: 'allowed',
      resourceType: 'clinic',
      resourceId: updated.id,
      clinicId: updated.id,
    });
    return updated;
  }

  async staff(clinicId: string) {
    await this.deps.policy.require(this.actor, 'clinic.staff.list', clinic(clinicId));
    return this.deps.clinics.staff(clinicId);
  }

  /** Doctors see the patients they treat; clinic admins and operators the whole clinic. */
  async patients(clinicId: string) {
    const { actor } = this;
    await this.deps.policy.require(actor, 'clinic.patients.list', clinic(clinicId));
    return this.deps.clinics.patients(clinicId, actor.role === 'doctor' ? actor.userId : undefined);
  }

  /** Invites staff or a patient: who may do which depends on the role invited. */
  async invite(clinicId: string, body: { email: string; role: InviteRole }) {
    const staff = (STAFF_INVITE_ROLES as readonly string[]).includes(body.role);
    await this.deps.policy.require(
      this.actor,
      staff ? 'clinic.staff.invite' : 'clinic.patient.invite',
      clinic(clinicId),
    );
    const inv = await this.deps.invitations.create({
      clinicId,
      role: body.role,
      email: body.email,
      createdBy: this.actor.userId,
    });
    await this.deps.audit.record({
      action: 'invitation.created',
      outcome: 'allowed',
      resourceType: 'invitation',
      resourceId: inv.id,
      clinicId,
    });
    return { id: inv.id, link: inv.link, expiresAt: inv.expiresAt, role: body.role };
  }

  /** The clinic's invitations, newest first, one page; `next` is the id to continue before. */
  async invitations(
    clinicId: string,
    q: { status?: InvitationStatus | undefined; before?: string | undefined; limit: number },
  ) {
    // The policy says how wide the actor may look (all, or only what they sent) and then checks it.
    const scope = { type: 'invitations' as const, clinicId, ...invitationListScope(this.actor) };
    await this.deps.policy.require(this.actor, 'clinic.invitations.list', scope);
    const list = await this.deps.invitations.list({
      clinicId,
      sentBy: scope.sentBy,
      status: q.status,
      before: q.before,
      limit: q.limit,
    });
    return { invitations: list, next: list.length === q.limit ? list[list.length - 1]!.id : null };
  }

  async revokeInvitation(clinicId: string, invitationId: string) {
    const inv = await this.deps.invitations.find(clinicId, invitationId);
    await this.deps.policy.require(this.actor, 'invitation.revoke', {
      type: 'invitation',
      invitationId: inv.id,
      clinicId: inv.clinicId,
      sentBy: inv.createdBy,
    });
    const { revoked } = await this.deps.invitations.revoke(clinicId, invitationId);
    // Only a change is an event; repeating the DELETE is answered the same but records nothing.
    if (revoked)
      await this.deps.audit.record({
        action: 'invitation.revoked',
        outcome: 'allowed',
        resourceType: 'invitation',
        resourceId: inv.id,
        clinicId: inv.clinicId,
      });
  }

  /** Makes a doctor of the clinic the treating doctor of one of its patients. */
  async assignCare(clinicId: string, input: DeferredInput<{ doctorId: string; patientId: string }>) {
    await this.deps.policy.require(this.actor, 'clinic.care.assign', clinic(clinicId));
    const body = await input();
    await this.deps.clinics.assignCare({ clinicId, ...body, createdBy: this.actor.userId });
    await this.deps.audit.record({
      action: 'care.assigned',
      outcome: 'allowed',
      resourceType: 'patient',
      resourceId: body.patientId,
      patientId: body.patientId,
      clinicId,
    });
    return { clinicId, ...body };
  }
}

const clinic = (clinicId: string) => ({ type: 'clinic' as const, clinicId });
