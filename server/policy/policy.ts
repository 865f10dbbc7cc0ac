import type { Db } from '../../db/client.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { ProblemError } from '../api/errors.ts';
import { ACTIONS, type Action, type ResourceFor } from './actions.ts';
import { may } from './decide.ts';
import { loadPatientFacts } from './patient-facts.ts';
import type { Actor, Decision, PatientFacts, Resource } from './types.ts';
import { notFoundDetail, visibleTo } from './visibility.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type Granted = { breakGlass: boolean };

/**
 * What routes call: decide, audit PHI decisions (allowed and denied), and turn a denial into 403,
 * or into 404 where the actor may not even learn that the resource exists (visibility.ts).
 * Handlers never look at roles themselves.
 */
export class Policy {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {}

  async require<A extends Action>(
    actor: Actor,
    action: A,
    resource: ResourceFor<A>,
    audit: { resourceId?: string; reason?: string } = {},
  ): Promise<Granted> {
    const { granted, entry } = await this.requireDeferred(actor, action, resource, audit);
    if (entry) await this.audit.append(entry);
    return granted;
  }

  /**
   * Like require(), for a write that records the allowed decision in its own transaction (so the
   * entry commits, or not, with the change it describes): a denial is audited and thrown here; an
   * allowance comes back with the audit entry to append (undefined for non-PHI actions).
   */
  async requireDeferred<A extends Action>(
    actor: Actor,
    action: A,
    resource: ResourceFor<A>,
    audit: { resourceId?: string; reason?: string } = {},
  ): Promise<{ granted: Granted; entry: AuditEntry | undefined }> {
    const decision = may(actor, action, resource);
    const r = resource as Resource;
    const entry = this.#entry(actor, action, r, decision, audit);
    if (!decision.allow) {
      if (entry) await this.audit.append(entry);
      if (!visibleTo(actor, r)) throw new ProblemError(404, PROBLEM.notFound, notFoundDetail(r.type));
      throw new ProblemError(
        403,
        PROBLEM.forbidden,
        decision.reason === 'no_relationship_break_glass_available'
          ? 'no treating relationship with this patient (break-glass access is available with a reason)'
          : 'not allowed',
      );
    }
    return { granted: { breakGlass: decision.breakGlass }, entry };
  }

  /**
   * For the rows of a search, already narrowed in the query to what the actor may see: decides
   * one row and answers with the allowance and its audit entry (to append in the read's
   * transaction), or undefined for a refusal, which the search leaves out of its answer. Such a
   * refusal is not audited: the row is never shown, and a search shows nothing it would not.
   */
  decideRow<A extends Action>(
    actor: Actor,
    action: A,
    resource: ResourceFor<A>,
  ): { granted: Granted; entry: AuditEntry | undefined } | undefined {
    const decision = may(actor, action, resource);
    if (!decision.allow) return undefined;
    const entry = this.#entry(actor, action, resource as Resource, decision, {});
    return { granted: { breakGlass: decision.breakGlass }, entry };
  }

  /** The audit entry of a PHI decision (undefined for the others). */
  #entry(
    actor: Actor,
    action: Action,
    r: Resource,
    decision: Decision,
    audit: { resourceId?: string; reason?: string },
  ): AuditEntry | undefined {
    if (!ACTIONS[action].phi) return undefined;
    return this.audit.entry({
      action,
      outcome: decision.allow ? 'allowed' : 'denied',
      resourceType: r.type,
      resourceId: audit.resourceId ?? resourceId(r),
      patientId: auditPatient(r),
      clinicId: auditClinic(actor, r),
      breakGlass: decision.allow && decision.breakGlass,
      reason: decision.allow ? (audit.reason ?? null) : decision.reason,
    });
  }

  /**
   * For optional parts of a response (e.g. questionnaire answers): decides and audits like
   * require(), but answers with a boolean instead of throwing.
   */
  async allows<A extends Action>(actor: Actor, action: A, resource: ResourceFor<A>): Promise<boolean> {
    try {
      await this.require(actor, action, resource);
      return true;
    } catch (err) {
      if (err instanceof ProblemError && (err.code === PROBLEM.forbidden || err.code === PROBLEM.notFound))
        return false;
      throw err;
    }
  }

  /**
   * Loads the patient's facts or 404s; the policy, not the handler, then decides. A patient the
   * actor may not know of is refused with the same 404, so unknown and hidden ids look alike.
   */
  async patient(patientId: string): Promise<PatientFacts> {
    const facts = await loadPatientFacts(this.db, patientId);
    if (!facts) throw new ProblemError(404, PROBLEM.notFound, notFoundDetail('patient'));
    return facts;
  }
}

/** The clinic an entry belongs to (what clinic admins can see): the one shared with the actor if any. */
function auditClinic(actor: Actor, r: Resource): string | null {
  if (
    r.type === 'clinic' ||
    r.type === 'appointment' ||
    r.type === 'encounter' ||
    r.type === 'dispatch_offer' ||
    r.type === 'invitations' ||
    r.type === 'invitation'
  )
    return r.clinicId;
  if (r.type === 'doctor')
    return r.clinicIds.find((c) => actor.clinicIds.includes(c)) ?? r.clinicIds[0] ?? null;
  if (r.type !== 'patient') return null;
  return r.clinicIds.find((c) => actor.clinicIds.includes(c)) ?? r.clinicIds[0] ?? null;
}

function auditPatient(r: Resource): string | null {
  if (r.type === 'patient') return r.patientId;
  if (r.type === 'appointment' || r.type === 'encounter') return r.patient.patientId;
  if (r.type === 'dispatch_offer') return r.patientId;
  return null;
}

function resourceId(r: Resource): string | null {
  switch (r.type) {
    case 'clinic':
      return r.clinicId;
    case 'patient':
      return r.patientId;
    case 'user':
      return r.userId;
    case 'doctor':
      return r.doctorId;
    case 'appointment':
    case 'encounter':
      return r.appointmentId;
    case 'dispatch_offer':
      return r.requestId;
    case 'invitations':
      return r.clinicId;
    case 'invitation':
      return r.invitationId;
    default:
      return null;
  }
}
