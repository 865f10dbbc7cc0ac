import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Readable } from 'node:stream';
import { ProblemError } from '../api/errors.ts';
import type { ApiEnv } from '../api/middleware.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { parseBody, parseParams } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { ClinicalRecords } from './encounters/clinical-records.ts';
import { etagOf, revisionOf } from './encounters/deps.ts';
import type { PatientRecords } from './patient-repository.ts';
import {
  amendmentBody,
  appointmentParam,
  breakGlassBody,
  documentParam,
  encounterDraftBody,
  encounterParam,
  noteBody,
  patientParam,
} from './schemas.ts';
import { VERIFY_LIMITS } from './signing/verify-pdf.ts';

/**
 * A patient's record, only through the repository bound to the caller: it decides, reads or
 * writes, and audits in one transaction. Nothing here looks at roles or touches the database.
 */
export function patientRoutes(identity: Identity, records: PatientRecords, clinical: ClinicalRecords) {
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/:patientId', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      return c.json(await records.forActor(c.var.actor).profile(patientId), 200);
    })
    .get('/:patientId/record', async (c) => {
      const { patientId } = parseParams(c, patientParam);
      c.header('cache-control', 'private, no-store');
      return c.json(await clinical.forActor(c.var.actor).record(patientId), 200);
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

/** If-Match as a revision: undefined when absent, null when it names none of ours. */
function ifMatchOf(c: Context): number | null | undefined {
  const header = c.req.header('if-match');
  return header === undefined ? undefined : revisionOf(header);
}

/**
 * The encounter of an appointment (its doctor's draft, finalisation, amendments), a version of it,
 * and record documents. Mounted at /api/records.
 */
export function recordRoutes(identity: Identity, clinical: ClinicalRecords) {
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/appointments/:appointmentId/encounter', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const view = await clinical.forActor(c.var.actor).draft(appointmentId);
      c.header('etag', view.etag);
      c.header('cache-control', 'private, no-store');
      return c.json(view, 200);
    })
    .put('/appointments/:appointmentId/encounter', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, encounterDraftBody);
      const { view, created } = await clinical
        .forActor(c.var.actor)
        .saveDraft(appointmentId, body, ifMatchOf(c));
      c.header('etag', view.etag);
      return c.json(view, created ? 201 : 200);
    })
    .post('/appointments/:appointmentId/encounter/finalise', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      return c.json(await clinical.forActor(c.var.actor).finalise(appointmentId, ifMatchOf(c)), 201);
    })
    .post('/appointments/:appointmentId/encounter/amendments', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, amendmentBody);
      return c.json(await clinical.forActor(c.var.actor).amend(appointmentId, body), 201);
    })
    .get('/encounters/:encounterId', async (c) => {
      const { encounterId } = parseParams(c, encounterParam);
      c.header('cache-control', 'private, no-store');
      return c.json(await clinical.forActor(c.var.actor).version(encounterId), 200);
    })
    .get('/documents/:documentId/content', async (c) => {
      const { documentId } = parseParams(c, documentParam);
      const doc = await clinical.forActor(c.var.actor).download(documentId);
      const body = Buffer.isBuffer(doc.body)
        ? new Uint8Array(doc.body)
        : (Readable.toWeb(doc.body) as ReadableStream);
      return new Response(body, {
        status: 200,
        headers: {
          'content-type': doc.type,
          'content-length': String(doc.size),
          'content-disposition': `attachment; filename="${asciiName(doc.name)}"; filename*=UTF-8''${encodeURIComponent(doc.name)}`,
          'x-content-type-options': 'nosniff',
          'cache-control': 'private, no-store',
        },
      });
    });
}

/**
 * The public check of a signed summary (no sign-in: whoever holds the PDF or its id): POST the PDF
 * as the body (application/pdf, at most VERIFY_LIMITS.maxBytes), or GET by document id.
 */
export function verifyRoutes(clinical: ClinicalRecords) {
  return new Hono<ApiEnv>()
    .post(
      '/',
      bodyLimit({
        maxSize: VERIFY_LIMITS.maxBytes,
        onError: () => {
          throw new ProblemError(
            413,
            PROBLEM.pdfTooLarge,
            `a PDF to verify may be at most ${VERIFY_LIMITS.maxBytes} bytes`,
          );
        },
      }),
      async (c) => {
        const pdf = new Uint8Array(await c.req.arrayBuffer());
        return c.json(await clinical.verification.ofUpload(pdf), 200);
      },
    )
    .get('/:documentId', async (c) => {
      const { documentId } = parseParams(c, documentParam);
      return c.json(await clinical.verification.ofDocument(documentId), 200);
    });
}

const asciiName = (name: string) => name.replace(/[^\x20-\x7e]|["\\]/g, '_');
