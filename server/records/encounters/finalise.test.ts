import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appointmentEvents,
  appointments,
  auditLog,
  conditions,
  encounters,
  recordDocuments,
  webhookOutbox,
} from '../../../db/schema/index.ts';
import { ENGINES } from '../../../test/helpers/engines.ts';
import { SMALL_PDF } from '../../../test/helpers/app-upload.ts';
import { sampleDraft, startRecordsHarness, type RecordsHarness } from '../test-support/records-harness.ts';
import { FINALISE_STEPS } from './deps.ts';

describe.each(ENGINES)('finalising an encounter on %s', (engine) => {
  let h: RecordsHarness;
  let doctor: string;

  beforeAll(async () => {
    h = await startRecordsHarness(engine);
    doctor = await h.tokenFor(h.seed.doctorId, 'doctor');
  }, 60_000);
  afterAll(() => h?.close());

  const draft = (appointmentId: string, body: unknown = sampleDraft()) =>
    h.call('PUT', `/api/records/appointments/${appointmentId}/encounter`, { token: doctor, body });
  const finalise = (appointmentId: string, token = doctor) =>
    h.call('POST', `/api/records/appointments/${appointmentId}/encounter/finalise`, { token });

  /** Everything a finalisation writes, for one appointment: what must all be there, or none of it. */
  async function footprint(appointmentId: string) {
    const [enc] = await h.db.select().from(encounters).where(eq(encounters.appointmentId, appointmentId));
    const [appt] = await h.db.select().from(appointments).where(eq(appointments.id, appointmentId));
    const docs = enc
      ? await h.db.select().from(recordDocuments).where(eq(recordDocuments.encounterId, enc.id))
      : [];
    const conds = enc ? await h.db.select().from(conditions).where(eq(conditions.encounterId, enc.id)) : [];
    const outbox = (await h.db.select().from(webhookOutbox)).filter(
      (r) => (r.payload as { appointmentId?: string }).appointmentId === appointmentId,
    );
    const events = await h.db
      .select()
      .from(appointmentEvents)
      .where(
        and(eq(appointmentEvents.appointmentId, appointmentId), eq(appointmentEvents.toStatus, 'completed')),
      );
    const audits = enc
      ? await h.db
          .select({ action: auditLog.action })
          .from(auditLog)
          .where(and(eq(auditLog.resourceId, enc.id), eq(auditLog.action, 'encounter.finalised')))
      : [];
    return {
      encounterStatus: enc?.status,
      appointmentStatus: appt?.status,
      documents: docs.map((d) => d.kind).sort(),
      conditions: conds.length,
      outbox: outbox.map((o) => o.event).sort(),
      completedEvents: events.length,
      finalisedAudits: audits.length,
    };
  }

  it('commits the encounter, its conditions, the signed PDF, the chat files, the completed appointment, the outbox row and the audit together', async () => {
    const appointmentId = await h.appointment('in_call');
    await h.chatFile(appointmentId, doctor, SMALL_PDF);
    expect((await draft(appointmentId)).status).toBe(201);
    const blobsBefore = await h.blobNames();
    const done = await finalise(appointmentId);
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({
      version: 1,
      appointmentCompleted: true,
      linkedFileIds: [expect.any(String)],
    });
    expect(await footprint(appointmentId)).toEqual({
      encounterStatus: 'finalised',
      appointmentStatus: 'completed',
      documents: ['chat_file', 'summary_pdf'],
      conditions: 2,
      // The appointment's completion is announced too, in the same transaction.
      outbox: ['appointment.completed', 'record.finalised'],
      completedEvents: 1,
      finalisedAudits: 1,
    });
    // The PDF is one more blob, and it is ciphertext: no PDF header, no patient name.
    const added = (await h.blobNames()).filter((b) => !blobsBefore.includes(b));
    expect(added).toEqual([`record-${done.body.documentId}`]);
    const [outbox] = (await h.db.select().from(webhookOutbox)).filter(
      (r) =>
        (r.payload as { appointmentId?: string }).appointmentId === appointmentId &&
        r.event === 'record.finalised',
    );
    // Ids only in the webhook payload.
    expect(Object.keys(outbox!.payload).sort()).toEqual([
      'appointmentId',
      'documentId',
      'encounterId',
      'patientId',
      'version',
    ]);
    expect(JSON.stringify(outbox!.payload)).not.toMatch(/F32|Sertraline|mood/);

    // Finalising twice: 409, and nothing more is written.
    const again = await finalise(appointmentId);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('encounter_finalised');
    const saved = await draft(appointmentId);
    expect(saved.status).toBe(409);
    expect(saved.body.code).toBe('encounter_finalised');
    expect((await footprint(appointmentId)).documents).toEqual(['chat_file', 'summary_pdf']);
  });

  it('a finalised version is immutable in the database itself (trigger), and so are its conditions and documents', async () => {
    const appointmentId = await h.appointment('in_call');
    await draft(appointmentId);
    expect((await finalise(appointmentId)).status).toBe(201);
    const [enc] = await h.db.select().from(encounters).where(eq(encounters.appointmentId, appointmentId));
    await expect(
      h.db.update(encounters).set({ revision: 99 }).where(eq(encounters.id, enc!.id)),
    ).rejects.toThrow();
    await expect(h.db.delete(encounters).where(eq(encounters.id, enc!.id))).rejects.toThrow();
    await expect(h.db.delete(conditions).where(eq(conditions.encounterId, enc!.id))).rejects.toThrow();
    await expect(
      h.db.update(recordDocuments).set({ size: 1 }).where(eq(recordDocuments.encounterId, enc!.id)),
    ).rejects.toThrow();
  });

  it.each(FINALISE_STEPS)(
    'a failure at step %s leaves no row and no file behind, and the draft can be finalised after',
    async (step) => {
      const appointmentId = await h.appointment('in_call');
      await h.chatFile(appointmentId, doctor, SMALL_PDF);
      await draft(appointmentId);
      const before = await footprint(appointmentId);
      const blobsBefore = await h.blobNames();
      const auditsBefore = await countRows(h, h.seed.patientId);
      h.failing.step = step;
      try {
        const failed = await finalise(appointmentId);
        expect(failed.status).toBe(500);
      } finally {
        h.failing.step = undefined;
      }
      expect(before).toEqual({
        encounterStatus: 'draft',
        appointmentStatus: 'in_call',
        documents: [],
        conditions: 0,
        outbox: [],
        completedEvents: 0,
        finalisedAudits: 0,
      });
      expect(await footprint(appointmentId)).toEqual(before);
      expect(await h.blobNames()).toEqual(blobsBefore);
      expect(await countRows(h, h.seed.patientId)).toEqual(auditsBefore);
      // Nothing half-done stands in the way: the same draft finalises now.
      expect((await finalise(appointmentId)).status).toBe(201);
      expect((await footprint(appointmentId)).documents).toEqual(['chat_file', 'summary_pdf']);
    },
  );

  it('refuses an unknown ICD-10 code (422), a draft without diagnosis (422), and an appointment that has not taken place (409)', async () => {
    const appointmentId = await h.appointment('in_call');
    const unknown = await draft(appointmentId, sampleDraft({ diagnoses: [{ code: 'F99.99' }] }));
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('unknown_icd10_code');
    expect(unknown.contentType).toContain('application/problem+json');
    expect((await draft(appointmentId, sampleDraft({ diagnoses: [] }))).status).toBe(201);
    const incomplete = await finalise(appointmentId);
    expect(incomplete.status).toBe(422);
    expect(incomplete.body.code).toBe('encounter_incomplete');

    const upcoming = await h.appointment('confirmed');
    expect((await draft(upcoming)).status).toBe(201);
    const early = await finalise(upcoming);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('invalid_transition');
    expect(await footprint(upcoming)).toMatchObject({
      encounterStatus: 'draft',
      appointmentStatus: 'confirmed',
    });
  });

  it('finalising someone else’s encounter, or another clinic’s: 404, nothing written', async () => {
    const appointmentId = await h.appointment('in_call');
    await draft(appointmentId);
    const colleague = await h.tokenFor(h.seed.otherDoctorId, 'doctor');
    const elsewhere = await h.tokenFor(h.other.doctorId, 'doctor');
    for (const token of [colleague, elsewhere]) {
      const r = await finalise(appointmentId, token);
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('not_found');
    }
    expect((await footprint(appointmentId)).encounterStatus).toBe('draft');
  });
});

/** Audit entries about the patient's record (the chain must not grow by a failed finalisation). */
async function countRows(h: RecordsHarness, patientId: string): Promise<Record<string, number>> {
  const rows = await h.db
    .select({ action: auditLog.action })
    .from(auditLog)
    .where(eq(auditLog.patientId, patientId));
  const counts: Record<string, number> = {};
  for (const r of rows)
    if (r.action.startsWith('encounter.finalis') || r.action === 'record.document.created')
      counts[r.action] = (counts[r.action] ?? 0) + 1;
  return counts;
}
