import { SignPdf } from '@signpdf/signpdf';
import type { SigningIdentity } from './ca.ts';
import { CmsSigner } from './cms-signer.ts';

const signPdfLib = new SignPdf();
// One signer per identity, reused for each of its documents.
const signers = new WeakMap<SigningIdentity, CmsSigner>();

/**
 * Fills the signature placeholder (addSignaturePlaceholder) of a PDF with a detached CMS signature
 * by the identity, over the whole file except the signature itself.
 */
export async function signPdf(pdf: Buffer, identity: SigningIdentity, signingTime: Date): Promise<Buffer> {
  let signer = signers.get(identity);
  if (!signer) {
    signer = new CmsSigner(identity);
    signers.set(identity, signer);
  }
  return signPdfLib.sign(pdf, signer, signingTime);
}
