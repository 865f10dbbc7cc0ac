import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Tx } from '../../../db/client.ts';
import {
  appointmentEvents,
  appointments,
  conditions,
  conversations,
  files,
  recordDocuments,
  webhookOutbox,
  type WebhookEvent,
} from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import type { Actor } from '../../policy/types.ts';
import { announce } from '../../webhooks/catalogue.ts';
import type { RecordsContext } from './deps.ts';
import type { EncounterContent } from './encounter-content.ts';
import type { StoredSummary } from './summary-document.ts';

/** One finalised version about to be committed, everything slow (PDF, signature, blob) done already. */
export type VersionPlan = {
  actor: Actor;
  encounterId: string;
  version: number;
  appointmentId: string;
  clinicId: string;
  patientId: string;
  content: EncounterContent;
  summary: StoredSummary;
  /** Writes (or inserts) the encounter row itself; returns false if it changed meanwhile. */
  writeEncounter: (tx: Tx) => Promise<boolean>;
  /** Moves the appointment to completed (the first finalisation only). */
  completeAppointment: boolean;
  event: WebhookEvent;
  entries: AuditEntry[];
};

export type CommittedVersion = {
  encounterId: string;
  version: number;
  finalisedAt: Date;
  documentId: string;
  linkedFileIds: string[];
  appointmentCompleted: boolean;
};

/**
 * The transaction of a finalisation or amendment: the encounter version, its conditions, the
 * summary document, the consultation's chat files linked into the record, the appointment moved
 * to completed, the webhook event and the audit entries commit together or not at all.
 */
export async function commitVersion(ctx: RecordsContext, plan: VersionPlan): Promise<CommittedVersion> {
  const { audit } = ctx.deps;
  const finalisedAt = plan.summary.signedAt;
  const event = (
    action: 'encounter.finalised' | 'encounter.amended' | 'record.document.created',
    id: string,
  ) =>
    audit.entry({
      action,
      outcome: 'allowed',
      resourceType: action === 'record.document.created' ? 'record_document' : 'encounter',
      resourceId: id,
      patientId: plan.patientId,
      clinicId: plan.clinicId,
    });
  return ctx.deps.db.transaction(async (tx) => {
    await ctx.step('encounter');
    if (!(await plan.writeEncounter(tx)))
      throw new ProblemError(
        409,
        PROBLEM.conflict,
        'the encounter changed meanwhile: reload it and finalise again',
      );

    await ctx.step('conditions');
    const conditionRows = await Promise.all(
      plan.content.diagnoses.map(async (d, position) => {
        const id = randomUUID();
        return {
          id,
          encounterId: plan.encounterId,
          patientId: plan.patientId,
          position,
          clinicalStatus: d.status,
          sealedCoding: await ctx.content.sealCoding(plan.patientId, id, d),
          recordedAt: finalisedAt,
        };
      }),
    );
    if (conditionRows.length) await tx.insert(conditions).values(conditionRows);

    await ctx.step('document');
    await tx.insert(recordDocuments).values({
      id: plan.summary.documentId,
      patientId: plan.patientId,
      clinicId: plan.clinicId,
      encounterId: plan.encounterId,
      kind: 'summary_pdf',
      blobId: plan.summary.blobId,
      mediaType: 'application/pdf',
      size: plan.summary.pdf.length,
      sha256: plan.summary.sha256,
      signedAt: plan.summary.signedAt,
      certificateSerial: plan.summary.certificateSerial,
      createdAt: finalisedAt,
    });

    await ctx.step('chat_files');
    const linkedFileIds = await linkChatFiles(tx, plan, finalisedAt);

    await ctx.step('appointment');
    const appointmentCompleted = plan.completeAppointment && (await completeAppointment(tx, plan));

    await ctx.step('outbox');
    await tx.insert(webhookOutbox).values({
      id: randomUUID(),
      clinicId: plan.clinicId,
      event: plan.event,
      // Ids only: a receiver fetches the record through the API it is authorised for.
      payload: {
        encounterId: plan.encounterId,
        appointmentId: plan.appointmentId,
        patientId: plan.patientId,
        documentId: plan.summary.documentId,
        version: plan.version,
      },
      createdAt: finalisedAt,
    });

    await ctx.step('audit');
    await audit.appendWithin(tx, [
      ...plan.entries,
      event(plan.version === 1 ? 'encounter.finalised' : 'encounter.amended', plan.encounterId),
      event('record.document.created', plan.summary.documentId),
      ...linkedFileIds.map((id) => event('record.document.created', id)),
    ]);
    return {
      encounterId: plan.encounterId,
      version: plan.version,
      finalisedAt,
      documentId: plan.summary.documentId,
      linkedFileIds,
      appointmentCompleted,
    };
  });
}

/** The complete files of the appointment's room chat not yet in the record; returns the new documents' ids. */
async function linkChatFiles(tx: Tx, plan: VersionPlan, at: Date): Promise<string[]> {
  const chatFiles = await tx
    .select({ id: files.id, type: files.declaredType, size: files.size })
    .from(files)
    .innerJoin(conversations, eq(conversations.id, files.conversationId))
    .where(
      and(
        eq(conversations.appointmentId, plan.appointmentId),
        eq(conversations.kind, 'room'),
        eq(files.status, 'complete'),
        eq(files.forPatientRecord, true),
      ),
    );
  if (!chatFiles.length) return [];
  const rows = chatFiles.map((f) => ({
    id: randomUUID(),
    patientId: plan.patientId,
    clinicId: plan.clinicId,
    encounterId: plan.encounterId,
    kind: 'chat_file' as const,
    fileId: f.id,
    mediaType: f.type,
    size: f.size,
    createdAt: at,
  }));
  const inserted = await tx
    .insert(recordDocuments)
    .values(rows)
    .onConflictDoNothing({ target: recordDocuments.fileId })
    .returning({ id: recordDocuments.id });
  return inserted.map((r) => r.id);
}

/** in_call → completed with its event row and webhook event, conditional on the status (a racing change loses); completed stays. */
async function completeAppointment(tx: Tx, plan: VersionPlan): Promise<boolean> {
  const [moved] = await tx
    .update(appointments)
    .set({ status: 'completed', updatedAt: plan.summary.signedAt })
    .where(and(eq(appointments.id, plan.appointmentId), eq(appointments.status, 'in_call')))
    .returning({ id: appointments.id, doctorId: appointments.doctorId });
  if (!moved) {
    const [now] = await tx
      .select({ status: appointments.status })
      .from(appointments)
      .where(eq(appointments.id, plan.appointmentId));
    if (now?.status === 'completed') return false;
    throw new ProblemError(
      409,
      PROBLEM.invalidTransition,
      `the appointment is ${now?.status ?? 'gone'}: only a consultation that took place is finalised`,
    );
  }
  await tx.insert(appointmentEvents).values({
    appointmentId: plan.appointmentId,
    fromStatus: 'in_call',
    toStatus: 'completed',
    actorId: plan.actor.userId,
    actorRole: plan.actor.role,
    onBehalfOf: null,
    event: 'completed',
    reason: 'encounter finalised',
  });
  await announce(tx, plan.clinicId, 'appointment.completed', {
    appointmentId: plan.appointmentId,
    patientId: plan.patientId,
    doctorId: moved.doctorId,
    status: 'completed',
  });
  return true;
}
