import { and, asc, eq, gte, inArray, lte } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { appointments, users, widgetPatientLinks } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditEntry, AuditEvent, AuditLog } from '../audit/audit-log.ts';
import type { ConsultationService } from '../consultations/consultation-service.ts';
import {
  JOIN_CLOSES_AFTER_MS,
  JOIN_OPENS_BEFORE_MS,
  JOINABLE_STATUSES,
} from '../consultations/join-window.ts';
import { hmacHex } from '../identity/secrets.ts';
import { loadPatientFacts } from '../policy/patient-facts.ts';
import type { Actor } from '../policy/types.ts';
import { currentContext } from '../request-context.ts';
import type { ApiKeyPrincipal, ApiKeys } from './api-keys.ts';
import type { WidgetClaims, WidgetTokens } from './widget-tokens.ts';

type Deps = {
  db: Db;
  audit: AuditLog;
  apiKeys: ApiKeys;
  tokens: WidgetTokens;
  consultations: ConsultationService;
  now: () => Date;
  /** HMAC key for the clinics' own patient ids (derived from the node's key, outside the database). */
  linkKey: Buffer;
};

export type WidgetSession = { token: string; expiresAt: string; appointmentId: string | null };
export type WidgetJoin = { joinToken: string; roomId: string; expiresAt: string; appointmentId: string };

/**
 * Widget sessions: a clinic's backend (holding an API key) says "this is my patient X" and gets a
 * short-lived token for the iframe; the iframe trades it for a join token.
 *
 * What `externalPatientId` means: the clinic's own identifier of a patient CareCall already knows
 * (a member of the clinic with an account or a dependent). The first session that names an
 * appointment links the identifier to that appointment's patient; later sessions may then leave
 * the appointment out and get the patient's consultation that is open at the time. One identifier,
 * one patient, per clinic: a session that would re-point either side is refused (409), since it
 * means the clinic's systems disagree about who someone is.
 */
export class WidgetSessions {
  constructor(private readonly deps: Deps) {}

  async create(
    key: ApiKeyPrincipal,
    input: { externalPatientId: string; appointmentId?: string | undefined },
  ): Promise<WidgetSession> {
    const externalIdHash = hmacHex(this.deps.linkKey, `${key.clinicId}\u0000${input.externalPatientId}`);
    const patientId = input.appointmentId
      ? await this.#linkToAppointment(key, externalIdHash, input.appointmentId)
      : await this.#linkedPatient(key, externalIdHash);
    const { token, claims } = await this.deps.tokens.mint({
      patientId,
      clinicId: key.clinicId,
      keyId: key.keyId,
      appointmentId: input.appointmentId,
    });
    return {
      token,
      expiresAt: claims.expiresAt.toISOString(),
      appointmentId: input.appointmentId ?? null,
    };
  }

  async #linkToAppointment(key: ApiKeyPrincipal, externalIdHash: string, appointmentId: string) {
    const [appointment] = await this.deps.db
      .select({ clinicId: appointments.clinicId, patientId: appointments.patientId })
      .from(appointments)
      .where(eq(appointments.id, appointmentId));
    // Another clinic's appointment looks exactly like an unknown one.
    if (!appointment || appointment.clinicId !== key.clinicId) {
      await this.#refuse(key, 'appointment_not_in_clinic', {
        resourceType: 'appointment',
        resourceId: appointmentId,
      });
      throw new ProblemError(404, PROBLEM.notFound, 'no such appointment');
    }
    const patientId = appointment.patientId;
    const mismatch = await this.deps.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(widgetPatientLinks)
        .values({ clinicId: key.clinicId, externalIdHash, patientId })
        .onConflictDoNothing()
        .returning({ patientId: widgetPatientLinks.patientId });
      if (!inserted.length && !(await this.#linked(tx, key.clinicId, externalIdHash, patientId))) return true;
      const event = {
        resourceType: 'appointment',
        resourceId: appointmentId,
        patientId,
        clinicId: key.clinicId,
      };
      const entries: AuditEntry[] = [
        this.#entry({ action: 'widget.session_created', outcome: 'allowed', ...event }),
      ];
      if (inserted.length)
        entries.unshift(this.#entry({ action: 'widget.patient_linked', outcome: 'allowed', ...event }));
      await this.deps.audit.appendWithin(tx, entries);
      return false;
    });
    if (mismatch) {
      await this.#refuse(key, 'external_patient_mismatch', {
        resourceType: 'appointment',
        resourceId: appointmentId,
        patientId,
      });
      throw new ProblemError(
        409,
        PROBLEM.externalPatientMismatch,
        "this patient id is linked to another patient than the appointment's (or the patient to another id)",
      );
    }
    return patientId;
  }

  /** Whether exactly this identifier-patient pair is linked (neither side linked elsewhere). */
  async #linked(tx: Tx, clinicId: string, externalIdHash: string, patientId: string) {
    const rows = await tx
      .select()
      .from(widgetPatientLinks)
      .where(and(eq(widgetPatientLinks.clinicId, clinicId), eq(widgetPatientLinks.patientId, patientId)));
    return rows.length === 1 && rows[0]!.externalIdHash === externalIdHash;
  }

  async #linkedPatient(key: ApiKeyPrincipal, externalIdHash: string) {
    const [link] = await this.deps.db
      .select({ patientId: widgetPatientLinks.patientId })
      .from(widgetPatientLinks)
      .where(
        and(
          eq(widgetPatientLinks.clinicId, key.clinicId),
          eq(widgetPatientLinks.externalIdHash, externalIdHash),
        ),
      );
    if (!link) {
      await this.#refuse(key, 'external_patient_unknown', { resourceType: 'patient' });
      throw new ProblemError(
        404,
        PROBLEM.externalPatientUnknown,
        'this patient id is not linked yet: name an appointment in the first session',
      );
    }
    await this.deps.audit.record({
      action: 'widget.session_created',
      outcome: 'allowed',
      resourceType: 'patient',
      resourceId: link.patientId,
      patientId: link.patientId,
      clinicId: key.clinicId,
    });
    return link.patientId;
  }

  /**
   * The iframe's exchange: the session's patient gets a join token through the same checks as a
   * signed-in patient (policy, joinable status and window, audit), acting as that patient.
   */
  async join(claims: WidgetClaims): Promise<WidgetJoin> {
    if (!(await this.deps.apiKeys.isLive(claims.keyId)))
      throw new ProblemError(
        401,
        PROBLEM.widgetTokenInvalid,
        'the API key behind this widget session was revoked',
      );
    const [patient] = await this.deps.db
      .select({ role: users.role, disabledAt: users.disabledAt })
      .from(users)
      .where(eq(users.id, claims.patientId));
    const facts = await loadPatientFacts(this.deps.db, claims.patientId);
    if (
      !patient ||
      patient.role !== 'patient' ||
      patient.disabledAt ||
      !facts?.clinicIds.includes(claims.clinicId)
    )
      throw new ProblemError(403, PROBLEM.forbidden, 'this widget session cannot join a consultation');
    const appointmentId = claims.appointmentId ?? (await this.#openAppointment(claims));
    const actor: Actor = {
      userId: claims.patientId,
      role: 'patient',
      sessionId: `widget:${claims.sessionId}`,
      clinicIds: facts.clinicIds,
    };
    const ctx = currentContext();
    if (ctx) Object.assign(ctx, { actorId: actor.userId, actorRole: actor.role, sessionId: actor.sessionId });
    const ticket = await this.deps.consultations.joinToken(actor, appointmentId);
    return { joinToken: ticket.token, roomId: ticket.roomId, expiresAt: ticket.expiresAt, appointmentId };
  }

  /** The patient's consultation at this clinic whose room is open now (the earliest if several). */
  async #openAppointment(claims: WidgetClaims): Promise<string> {
    const now = this.deps.now().getTime();
    const [open] = await this.deps.db
      .select({ id: appointments.id })
      .from(appointments)
      .where(
        and(
          eq(appointments.patientId, claims.patientId),
          eq(appointments.clinicId, claims.clinicId),
          inArray(appointments.status, [...JOINABLE_STATUSES] as never[]),
          lte(appointments.startsAt, new Date(now + JOIN_OPENS_BEFORE_MS)),
          gte(appointments.endsAt, new Date(now - JOIN_CLOSES_AFTER_MS)),
        ),
      )
      .orderBy(asc(appointments.startsAt))
      .limit(1);
    if (!open)
      throw new ProblemError(409, PROBLEM.notJoinable, 'no consultation of this patient is open now');
    return open.id;
  }

  #entry(event: AuditEvent): AuditEntry {
    return this.deps.audit.entry(event);
  }

  #refuse(key: ApiKeyPrincipal, reason: string, e: Partial<AuditEvent> & { resourceType: string }) {
    return this.deps.audit.record({
      action: 'widget.session_refused',
      outcome: 'denied',
      clinicId: key.clinicId,
      reason,
      ...e,
    });
  }
}
