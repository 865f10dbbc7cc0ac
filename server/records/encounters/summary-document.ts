import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { clinics, doctorSchedules, users } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import { DecryptionError } from '../../crypto/index.ts';
import type { AppointmentRow } from '../../scheduling/appointment-facts.ts';
import type { SummaryInput } from '../pdf/summary-input.ts';
import { createSignedSummary, type SignedSummary } from '../signing/signed-summary.ts';
import type { ClinicalRecordDeps } from './deps.ts';
import { followUpText, recordScope, type EncounterContent } from './encounter-content.ts';

export type StoredSummary = SignedSummary & { documentId: string; blobId: string; sha256: string };

/** The blob of a record document: named by the document id, nothing else. */
export const summaryBlobId = (documentId: string) => `record-${documentId}`;
const documentRecordId = (documentId: string) => `document:${documentId}`;

/** Who and where, as the summary prints them (read once, before the PDF is made). */
export async function summaryParties(db: Db, appointment: AppointmentRow, authorId: string) {
  const [clinic] = await db
    .select({ name: clinics.name })
    .from(clinics)
    .where(eq(clinics.id, appointment.clinicId));
  const people = await db
    .select({ id: users.id, name: users.displayName, dateOfBirth: users.dateOfBirth })
    .from(users)
    .where(inArray(users.id, [appointment.patientId, authorId]));
  const [schedule] = await db
    .select({ timeZone: doctorSchedules.timeZone })
    .from(doctorSchedules)
    .where(eq(doctorSchedules.doctorId, appointment.doctorId));
  const patient = people.find((p) => p.id === appointment.patientId);
  const doctor = people.find((p) => p.id === authorId);
  return {
    clinic: { name: clinic?.name ?? 'Clinic' },
    doctor: { name: doctor?.name ?? 'Doctor' },
    patient: {
      name: patient?.name ?? 'Patient',
      ...(patient?.dateOfBirth ? { dateOfBirth: patient.dateOfBirth } : {}),
    },
    timeZone: schedule?.timeZone ?? 'UTC',
  };
}

/** The summary's input from an encounter version: what the doctor wrote, the parties, the amendment if any. */
export function summaryInput(
  documentId: string,
  content: EncounterContent,
  parties: Awaited<ReturnType<typeof summaryParties>>,
  appointment: AppointmentRow,
  opts: { verifyUrl?: string | undefined; amendment?: { version: number; reason: string } },
): SummaryInput {
  const followUp = followUpText(content.followUp);
  // An amendment says so where a reader looks first: above the findings.
  const findings = opts.amendment
    ? [`Amended record (version ${opts.amendment.version}): ${opts.amendment.reason}`, content.findings]
        .filter(Boolean)
        .join('\n\n')
        .slice(0, 1000)
    : content.findings;
  return {
    documentId,
    clinic: parties.clinic,
    doctor: parties.doctor,
    patient: parties.patient,
    consultedAt: appointment.startsAt,
    timeZone: parties.timeZone,
    ...(content.reasonForVisit ? { reasonForVisit: content.reasonForVisit } : {}),
    ...(findings ? { findings } : {}),
    diagnoses: content.diagnoses.map((d) => ({ code: d.code, title: d.display })),
    recommendations: content.recommendations,
    ...(followUp ? { followUp: followUp.slice(0, 300) } : {}),
    ...(opts.verifyUrl ? { verifyUrl: opts.verifyUrl } : {}),
  };
}

/** Where a reader checks the signature: the public verify endpoint, when it fits the footer. */
export function verifyUrlOf(publicUrl: string): string | undefined {
  if (!/^https?:\/\//.test(publicUrl)) return undefined;
  const url = `${publicUrl.replace(/\/+$/, '')}/api/records/verify`;
  return url.length <= 120 ? url : undefined;
}

/**
 * Renders and signs the summary, then stores it encrypted (FileCipher, the patient's record key,
 * the document id as associated data). Runs before the finalising transaction opens; the caller
 * deletes the blob if that transaction does not commit.
 */
export async function signAndStoreSummary(
  deps: ClinicalRecordDeps,
  input: SummaryInput & { documentId: string },
  clinicId: string,
  patientId: string,
  step: (name: 'sign_pdf' | 'store_pdf') => Promise<void>,
): Promise<StoredSummary> {
  await step('sign_pdf');
  const signing = await deps.signing();
  const signed = await createSignedSummary(input, {
    ca: signing.ca,
    fonts: signing.fonts,
    clinicId,
    now: deps.now,
  });
  await step('store_pdf');
  const blobId = summaryBlobId(input.documentId);
  const encrypt = await deps.cipher.encryptStream(recordScope(patientId), documentRecordId(input.documentId));
  await deps.blobs.put(blobId, Readable.from([signed.pdf]).pipe(encrypt));
  return {
    ...signed,
    documentId: input.documentId,
    blobId,
    sha256: createHash('sha256').update(signed.pdf).digest('hex'),
  };
}

/**
 * A stored summary's PDF, decrypted whole (a summary is tens of kilobytes) and checked against the
 * hash recorded when it was signed: altered storage gives a typed error, never other bytes.
 */
export async function readSummary(
  deps: Pick<ClinicalRecordDeps, 'blobs' | 'cipher'>,
  doc: { id: string; patientId: string; blobId: string | null; sha256: string | null },
): Promise<Buffer> {
  if (!doc.blobId || !doc.sha256) throw unreadable();
  const chunks: Buffer[] = [];
  try {
    const source = await deps.blobs.get(doc.blobId);
    const decrypt = deps.cipher.decryptStream(recordScope(doc.patientId), documentRecordId(doc.id));
    source.on('error', (err) => decrypt.destroy(err));
    for await (const chunk of source.pipe(decrypt)) chunks.push(chunk as Buffer);
  } catch (err) {
    if (err instanceof DecryptionError || (err as { code?: string }).code === 'blob_not_found')
      throw unreadable();
    throw err;
  }
  const pdf = Buffer.concat(chunks);
  if (createHash('sha256').update(pdf).digest('hex') !== doc.sha256) throw unreadable();
  return pdf;
}

const unreadable = () =>
  new ProblemError(
    500,
    PROBLEM.fileUnreadable,
    'the stored document failed its integrity check: nothing is served',
  );
