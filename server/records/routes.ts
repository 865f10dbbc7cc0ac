import { Hono } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../api/errors.ts';
import type { Identity } from '../identity/create-identity.ts';
import { idSchema, parseBody, parseParams, text } from '../api/validation.ts';
import { authenticate, type ApiEnv } from '../api/middleware.ts';

const patientParam = z.object({ patientId: idSchema });
const noteBody = z.object({ body: text({ min: 1, max: 20_000, multiline: true, tooLong: 'too long' }) });
const breakGlassBody = z.object({ reason: text({ min: 10, max: 500, multiline: true, tooShort: 'give a reason of at least 10 characters' }) });

/** A patient's record. Every route asks the policy first; the policy audits every PHI decision. */
export function patientRoutes(identity: Identity) {
  const { policy, patients } = identity;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/:patientId', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      await policy.require(c.var.actor, 'patient.profile.read', await policy.patient(patientId));
      return c.json(await patients.profile(patientId), 200);
    })
    .get('/:patientId/notes', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      const granted = await policy.require(c.var.actor, 'patient.notes.read', await policy.patient(patientId));
      return c.json({ notes: await patients.notes(patientId), breakGlass: granted.breakGlass }, 200);
    })
    .post('/:patientId/notes', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      const body = await parseBody(c, noteBody);
      const actor = c.var.actor;
      const facts = await policy.patient(patientId);
      const granted = await policy.require(actor, 'patient.notes.write', facts);
      const clinicId = facts.clinicIds.find((id) => actor.clinicIds.includes(id));
      if (!clinicId) throw new ProblemError(403, 'forbidden', 'not allowed');
      const note = await patients.addNote({ patientId, clinicId, authorId: actor.userId, body: body.body });
      await identity.audit.record({ action: 'patient.note.created', outcome: 'allowed', resourceType: 'patient_note', resourceId: note.id, patientId, clinicId, breakGlass: granted.breakGlass });
      return c.json(note, 201);
    })
    .post('/:patientId/break-glass', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      const body = await parseBody(c, breakGlassBody);
      const actor = c.var.actor;
      const facts = await policy.patient(patientId);
      // The reason goes into the audit entry with the break-glass flag; that entry is the point.
      await policy.require(actor, 'patient.break_glass', facts, { reason: body.reason });
      const clinicId = facts.clinicIds.find((id) => actor.clinicIds.includes(id))!;
      const grant = await patients.grantBreakGlass({ doctorId: actor.userId, patientId, clinicId, reason: body.reason, ttlSeconds: identity.config.breakGlassTtlSeconds });
      return c.json({ grantId: grant.id, expiresAt: grant.expiresAt }, 201);
    });
}
