import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { ProblemError } from '../../api/errors.ts';
import { NAME_OID, nameAttribute } from './certificates.ts';
import { OID } from './cms-signer.ts';
import { PROBLEM } from '../../api/problem-codes.ts';

export const VERIFY_LIMITS = { maxBytes: 10 * 1024 * 1024, maxSignatureBytes: 64 * 1024 } as const;

export type SignatureProblem =
  | 'no_signature'
  | 'malformed_signature'
  | 'digest_mismatch'
  | 'bad_signature'
  | 'untrusted_signer'
  | 'modified_after_signing';

export type SignerInfo = {
  commonName: string | undefined;
  organization: string | undefined;
  /** The clinic id our CA writes into the certificate's serialNumber name attribute. */
  clinicId: string | undefined;
  certificateSerial: string;
  issuer: string | undefined;
};

export type SignatureCheck = {
  /** Intact, by a certificate of a trusted CA, and nothing added after signing. */
  valid: boolean;
  /** The signed bytes are the ones signed, and the signature over them verifies. */
  intact: boolean;
  /** The signer's certificate chains to one of the trusted roots (and was valid when signing). */
  trusted: boolean;
  /** The signature covers the whole file: this is the version that was signed, nothing appended. */
  coversWholeFile: boolean;
  problem: SignatureProblem | undefined;
  signer: SignerInfo | undefined;
  /** The signing time from the signature's signed attributes. */
  signedAt: Date | undefined;
};

/** An upload the verifier will not look at (as the public verify endpoint will answer it). */
export class PdfVerifyInputError extends ProblemError {
  constructor(status: 400 | 413, code: typeof PROBLEM.notAPdf | typeof PROBLEM.pdfTooLarge, message: string) {
    super(status, code, message);
    this.name = 'PdfVerifyInputError';
  }
}

const PDF_HEADER = Buffer.from('%PDF-');
const BYTE_RANGE = /\/ByteRange\s*\[\s*(\d{1,10})\s+(\d{1,10})\s+(\d{1,10})\s+(\d{1,10})\s*\]/g;
const HEX = /^[0-9A-Fa-f]*$/;

/**
 * Checks the (last) signature of a PDF: who signed it, when, whether the signed bytes are intact,
 * whether the signer chains to a trusted root, and whether anything was appended after signing.
 * The hole in the ByteRange must be exactly the hex Contents string, so nothing else can hide in it.
 */
export async function verifySignedPdf(
  input: Uint8Array,
  trust: { roots: readonly pkijs.Certificate[]; now?: Date },
): Promise<SignatureCheck> {
  if (input.byteLength > VERIFY_LIMITS.maxBytes)
    throw new PdfVerifyInputError(
      413,
      PROBLEM.pdfTooLarge,
      `a PDF to verify may be at most ${VERIFY_LIMITS.maxBytes} bytes`,
    );
  const pdf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!pdf.subarray(0, 1024).includes(PDF_HEADER))
    throw new PdfVerifyInputError(400, PROBLEM.notAPdf, 'the file is not a PDF');

  const result: SignatureCheck = {
    valid: false,
    intact: false,
    trusted: false,
    coversWholeFile: false,
    problem: undefined,
    signer: undefined,
    signedAt: undefined,
  };
  const ranges = [...pdf.toString('latin1').matchAll(BYTE_RANGE)];
  const last = ranges.at(-1);
  if (!last) return { ...result, problem: 'no_signature' };
  const [a, b, c, d] = last.slice(1, 5).map(Number) as [number, number, number, number];
  const holeOk =
    a === 0 &&
    b > 0 &&
    c > b + 1 &&
    c + d <= pdf.length &&
    c - b - 2 <= VERIFY_LIMITS.maxSignatureBytes * 2 &&
    pdf[b] === 0x3c &&
    pdf[c - 1] === 0x3e;
  const hex = holeOk ? pdf.subarray(b + 1, c - 1).toString('latin1') : '';
  if (!holeOk || hex.length % 2 !== 0 || !HEX.test(hex)) return { ...result, problem: 'malformed_signature' };
  result.coversWholeFile = c + d === pdf.length;

  let signedData: pkijs.SignedData;
  try {
    const asn1 = asn1js.fromBER(new Uint8Array(Buffer.from(hex, 'hex')));
    if (asn1.offset === -1) throw new Error('not DER');
    const contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
    if (contentInfo.contentType !== OID.signedData) throw new Error('not SignedData');
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
    if (signedData.signerInfos.length !== 1) throw new Error('one signer expected');
  } catch {
    return { ...result, problem: 'malformed_signature' };
  }
  const signerInfo = signedData.signerInfos[0]!;
  const attrs = signerInfo.signedAttrs?.attributes ?? [];
  const digestAttr = attrs.find((x) => x.type === OID.messageDigest)?.values[0] as
    asn1js.OctetString | undefined;
  const timeAttr = attrs.find((x) => x.type === OID.signingTime)?.values[0] as
    asn1js.UTCTime | asn1js.GeneralizedTime | undefined;
  result.signedAt = timeAttr?.toDate();
  const signerCert = findSignerCertificate(signedData, signerInfo);
  if (signerCert) result.signer = describe(signerCert);
  if (!digestAttr || !signerCert || signerInfo.digestAlgorithm.algorithmId !== OID.sha256)
    return { ...result, problem: 'malformed_signature' };

  const signedBytes = Buffer.concat([pdf.subarray(0, b), pdf.subarray(c, c + d)]);
  const digest = createHash('sha256').update(signedBytes).digest();
  if (!digest.equals(Buffer.from(digestAttr.valueBlock.valueHexView)))
    return { ...result, problem: 'digest_mismatch' };
  let signatureOk = false;
  try {
    const r = await signedData.verify({
      signer: 0,
      data: new Uint8Array(signedBytes).buffer,
      extendedMode: true,
      checkChain: false,
    });
    signatureOk = r.signatureVerified === true;
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return { ...result, problem: 'bad_signature' };
  result.intact = true;

  result.trusted = await chainsToRoot(
    signerCert,
    signedData.certificates ?? [],
    trust.roots,
    result.signedAt ?? trust.now ?? new Date(),
  );
  if (!result.trusted) return { ...result, problem: 'untrusted_signer' };
  if (!result.coversWholeFile) return { ...result, problem: 'modified_after_signing' };
  return { ...result, valid: true };
}

function findSignerCertificate(
  signedData: pkijs.SignedData,
  signerInfo: pkijs.SignerInfo,
): pkijs.Certificate | undefined {
  const sid = signerInfo.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return undefined;
  return (signedData.certificates ?? []).find(
    (c): c is pkijs.Certificate =>
      c instanceof pkijs.Certificate &&
      c.issuer.isEqual(sid.issuer) &&
      c.serialNumber.isEqual(sid.serialNumber),
  );
}

async function chainsToRoot(
  signer: pkijs.Certificate,
  bundled: readonly unknown[],
  roots: readonly pkijs.Certificate[],
  at: Date,
): Promise<boolean> {
  if (roots.length === 0) return false;
  // The bundled certificates may only help build the path; trust comes from the given roots alone.
  const intermediates = bundled.filter(
    (c): c is pkijs.Certificate =>
      c instanceof pkijs.Certificate && c !== signer && !roots.some((r) => sameCertificate(r, c)),
  );
  try {
    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: [...roots],
      certs: [signer, ...intermediates],
      checkDate: at,
    });
    const r = await engine.verify();
    return r.result === true;
  } catch {
    return false;
  }
}

function sameCertificate(x: pkijs.Certificate, y: pkijs.Certificate): boolean {
  return Buffer.from(x.toSchema(true).toBER(false)).equals(Buffer.from(y.toSchema(true).toBER(false)));
}

function describe(cert: pkijs.Certificate): SignerInfo {
  return {
    commonName: nameAttribute(cert.subject, NAME_OID.commonName),
    organization: nameAttribute(cert.subject, NAME_OID.organization),
    clinicId: nameAttribute(cert.subject, NAME_OID.serialNumber),
    certificateSerial: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex'),
    issuer: nameAttribute(cert.issuer, NAME_OID.commonName),
  };
}
