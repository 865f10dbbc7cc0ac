import { createHash } from 'node:crypto';
import { and, eq, max } from 'drizzle-orm';
import { encounters, recordDocuments } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import { verifySignedPdf, type SignatureCheck } from '../signing/verify-pdf.ts';
import type { RecordsContext } from './deps.ts';
import { readSummary } from './summary-document.ts';

export type VerificationResult = {
  signature: Omit<SignatureCheck, 'signer'> & {
    signer:
      { name: string | undefined; clinicId: string | undefined; issuer: string | undefined } | undefined;
  };
  /** The record document these exact bytes are, if they are one of ours; null otherwise. */
  document: {
    id: string;
    version: number;
    latest: boolean;
    latestVersion: number;
    signedAt: Date | null;
  } | null;
};

/**
 * The public check of a summary: who signed it, when, whether it is intact (signature over these
 * very bytes, by a certificate of our CA) and whether it is the latest version of its encounter.
 * It tells nothing of the content: a PDF's holder has that already, an id's holder learns only the
 * signer, the time and whether it was amended since.
 */
export class SummaryVerification {
  constructor(private readonly ctx: RecordsContext) {}

  async ofUpload(pdf: Uint8Array): Promise<VerificationResult> {
    const check = await this.#check(pdf);
    const sha256 = createHash('sha256').update(pdf).digest('hex');
    const [doc] = await this.ctx.deps.db
      .select()
      .from(recordDocuments)
      .where(and(eq(recordDocuments.sha256, sha256), eq(recordDocuments.kind, 'summary_pdf')))
      .limit(1);
    return { signature: check, document: doc ? await this.#versionOf(doc) : null };
  }

  async ofDocument(documentId: string): Promise<VerificationResult> {
    const [doc] = await this.ctx.deps.db
      .select()
      .from(recordDocuments)
      .where(eq(recordDocuments.id, documentId));
    if (!doc || doc.kind !== 'summary_pdf') throw new ProblemError(404, PROBLEM.notFound, 'no such document');
    const pdf = await readSummary(this.ctx.deps, doc);
    return { signature: await this.#check(pdf), document: await this.#versionOf(doc) };
  }

  async #check(pdf: Uint8Array): Promise<VerificationResult['signature']> {
    const { ca } = await this.ctx.deps.signing();
    const check = await verifySignedPdf(pdf, { roots: [ca.certificate] });
    const { signer, ...rest } = check;
    return {
      ...rest,
      signer: signer
        ? { name: signer.commonName, clinicId: signer.clinicId, issuer: signer.issuer }
        : undefined,
    };
  }

  async #versionOf(doc: typeof recordDocuments.$inferSelect): Promise<VerificationResult['document']> {
    const [own] = await this.ctx.deps.db
      .select({ appointmentId: encounters.appointmentId, version: encounters.version })
      .from(encounters)
      .where(eq(encounters.id, doc.encounterId));
    const [newest] = await this.ctx.deps.db
      .select({ version: max(encounters.version) })
      .from(encounters)
      .where(and(eq(encounters.appointmentId, own!.appointmentId), eq(encounters.status, 'finalised')));
    const latestVersion = newest?.version ?? own!.version;
    return {
      id: doc.id,
      version: own!.version,
      latest: own!.version === latestVersion,
      latestVersion,
      signedAt: doc.signedAt,
    };
  }
}
