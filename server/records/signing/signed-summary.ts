import type { PdfFonts } from '../pdf/fonts.ts';
import { renderSummaryPdf } from '../pdf/render-summary.ts';
import type { SummaryInput } from '../pdf/summary-input.ts';
import type { DeploymentCa } from './ca.ts';
import { addSignaturePlaceholder } from './placeholder.ts';
import { signPdf } from './sign-pdf.ts';

export type SignedSummary = { pdf: Buffer; signedAt: Date; certificateSerial: string };

export const SIGNATURE_REASON = 'Consultation summary issued by the clinic';

/**
 * A consultation summary, rendered and signed by the clinic's certificate. The signature's reader-
 * visible fields name the clinic and a fixed reason only, never the patient.
 */
export async function createSignedSummary(
  input: SummaryInput,
  deps: { ca: DeploymentCa; fonts: PdfFonts; clinicId: string; now?: () => Date },
): Promise<SignedSummary> {
  const identity = await deps.ca.forClinic({ id: deps.clinicId, name: input.clinic.name });
  // PDF dates and the CMS signing time have whole seconds: use the same instant for both.
  const signedAt = new Date(Math.floor((deps.now?.() ?? new Date()).getTime() / 1000) * 1000);
  const unsigned = await renderSummaryPdf(input, {
    fonts: deps.fonts,
    createdAt: signedAt,
    beforeEnd: (doc) =>
      addSignaturePlaceholder(doc, {
        name: input.clinic.name,
        reason: SIGNATURE_REASON,
        signingTime: signedAt,
      }),
  });
  const pdf = await signPdf(unsigned, identity, signedAt);
  return {
    pdf,
    signedAt,
    certificateSerial: Buffer.from(identity.certificate.serialNumber.valueBlock.valueHexView).toString('hex'),
  };
}
