import { Hono } from 'hono';
import { parseBody, parseParams } from '../api/validation.ts';
import type { ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { PatientRecords } from './patient-repository.ts';
import { breakGlassBody, noteBody, patientParam } from './schemas.ts';

/**
 * A patient's record, only through the repository bound to the caller: it decides, reads or
 * writes, and audits in one transaction. Nothing here looks at roles or touches the database.
 */
export function patientRoutes(identity: Identity, records: PatientRecords) {
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/:patientId', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      return c.json(await records.forActor(c.var.actor).profile(patientId), 200);
    })
    .get('/:patientId/notes', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      return c.json(await records.forActor(c.var.actor).notes(patientId), 200);
    })
    .post('/:patientId/notes', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      const body = await parseBody(c, noteBody);
      return c.json(await records.forActor(c.var.actor).addNote(patientId, body.body), 201);
    })
    .post('/:patientId/break-glass', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      const body = await parseBody(c, breakGlassBody);
      const grant = await records.forActor(c.var.actor).breakGlass(patientId, body.reason);
      return c.json({ grantId: grant.id, expiresAt: grant.expiresAt }, 201);
    });
}
