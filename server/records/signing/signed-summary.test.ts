import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { loadPdfFonts } from '../pdf/fonts.ts';
import { renderSummaryPdf } from '../pdf/render-summary.ts';
import { nssDbTrusting, pdfsig, scratchDir } from '../test-support/poppler.ts';
import { sampleSummary } from '../test-support/sample-summary.ts';
import { DeploymentCa } from './ca.ts';
import { createSignedSummary } from './signed-summary.ts';
import { PdfVerifyInputError, verifySignedPdf, VERIFY_LIMITS } from './verify-pdf.ts';

const fonts = loadPdfFonts(loadConfig({}).records.pdfFontDir);
const dir = scratchDir();
let ca: DeploymentCa;
let nssDir: string;
let signed: Buffer;
// Whole seconds, as PDF dates and the CMS signing time carry them; after the test CA's start of validity.
const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);

beforeAll(async () => {
  const pems = await DeploymentCa.generate({ commonName: 'CareCall test CA', organization: 'CareCall' });
  ca = await DeploymentCa.load(
    {
      caCertificatePem: pems.certificatePem,
      caPrivateKeyPem: pems.privateKeyPem,
      caDir: dir.path,
      pdfFontDir: '',
    },
    { env: 'production' },
  );
  nssDir = await nssDbTrusting(dir.path, dir.file('ca.pem', pems.certificatePem));
  signed = (
    await createSignedSummary(sampleSummary(), { ca, fonts, clinicId: 'clinic-7f3e', now: () => signingTime })
  ).pdf;
});
afterAll(() => dir.remove());

/** A copy of the PDF with one byte changed (every bit flipped: always a different byte). */
function withByteChanged(pdf: Buffer, at: number): Buffer {
  const copy = Buffer.from(pdf);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

function signedRanges(pdf: Buffer): [number, number, number, number] {
  const m = /\/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]/.exec(pdf.toString('latin1'));
  return m!.slice(1, 5).map(Number) as [number, number, number, number];
}

describe('signed consultation summary, checked by poppler pdfsig', () => {
  it('is a valid signature over the whole document, by the clinic, trusted once our CA is', async () => {
    const file = dir.file('signed.pdf', signed);
    const trusted = await pdfsig(file, nssDir);
    expect(trusted).toContain('Signature Validation: Signature is Valid.');
    expect(trusted).toContain('Certificate Validation: Certificate is Trusted.');
    expect(trusted).toContain('Total document signed');
    expect(trusted).toContain('Signer Certificate Common Name: Fjordklinikken Ålesund');
    expect(trusted).toContain('Signature Type: adbe.pkcs7.detached');
    expect(trusted).toContain('Signing Hash Algorithm: SHA-256');
    // Without our CA in its trust store the signature is still intact; only the issuer is unknown.
    mkdirSync(join(dir.path, 'other-nss'));
    const unrelated = dir.file(
      'unrelated.pem',
      (await DeploymentCa.generate({ commonName: 'Someone else' })).certificatePem,
    );
    const plain = await pdfsig(file, await nssDbTrusting(join(dir.path, 'other-nss'), unrelated));
    expect(plain).toContain('Signature Validation: Signature is Valid.');
    expect(plain).not.toContain('Certificate is Trusted.');
  });

  it('is reported invalid after one byte changes: before the signature, in its dictionary, in the page content, in the fonts', async () => {
    const [, holeStart, holeEnd] = signedRanges(signed);
    const text = signed.toString('latin1');
    // pdfkit writes the signature dictionary right after the header; pages and fonts follow the hole.
    const positions = {
      headerComment: text.indexOf('%', 1) + 2,
      signatureReason: text.indexOf('(Consultation summary issued') + 2,
      pageContent: text.indexOf('stream', holeEnd) + 20,
      lastFontStream: text.lastIndexOf('stream') - 40,
      producer: text.indexOf('(CareCall)') + 3,
    };
    expect(positions.headerComment).toBeLessThan(holeStart);
    expect(
      Math.min(
        positions.signatureReason,
        positions.pageContent,
        positions.lastFontStream,
        positions.producer,
      ),
    ).toBeGreaterThan(holeEnd);
    for (const [where, at] of Object.entries(positions)) {
      const report = await pdfsig(dir.file(`changed-${where}.pdf`, withByteChanged(signed, at)), nssDir);
      expect(report, where).not.toContain('Signature is Valid');
      expect(report, where).toMatch(/Digest Mismatch|Signature is Invalid/);
      expect(
        (await verifySignedPdf(withByteChanged(signed, at), { roots: [ca.certificate] })).valid,
        where,
      ).toBe(false);
    }
  });

  it('says so when something was appended after signing', async () => {
    const appended = Buffer.concat([signed, Buffer.from('\n% appended after signing\n')]);
    expect(await pdfsig(dir.file('appended.pdf', appended), nssDir)).toContain('Not total document signed');
    expect(await verifySignedPdf(appended, { roots: [ca.certificate] })).toMatchObject({
      valid: false,
      intact: true,
      trusted: true,
      coversWholeFile: false,
      problem: 'modified_after_signing',
    });
  });
});

describe('our own signature verification', () => {
  it('tells who signed, when, and that it is intact and trusted', async () => {
    const check = await verifySignedPdf(signed, { roots: [ca.certificate] });
    expect(check).toEqual({
      valid: true,
      intact: true,
      trusted: true,
      coversWholeFile: true,
      problem: undefined,
      signedAt: signingTime,
      signer: {
        commonName: 'Fjordklinikken Ålesund',
        organization: 'Fjordklinikken Ålesund',
        clinicId: 'clinic-7f3e',
        certificateSerial: expect.stringMatching(/^[0-9a-f]{32}$/),
        issuer: 'CareCall test CA',
      },
    });
  });

  it('finds every changed byte of the signed content', async () => {
    const [, holeStart, holeEnd, tail] = signedRanges(signed);
    for (let i = 0; i < 300; i++) {
      const inFirst = i % 2 === 0;
      const at = inFirst ? randomInt(0, holeStart) : randomInt(holeEnd, holeEnd + tail);
      const check = await verifySignedPdf(withByteChanged(signed, at), { roots: [ca.certificate] }).catch(
        (e: unknown) => e,
      );
      // A changed "%PDF-" header is refused as not a PDF at all; every other change is an invalid signature.
      if (check instanceof PdfVerifyInputError) expect(at).toBeLessThan(5);
      else expect((check as { valid: boolean }).valid, `byte ${at}`).toBe(false);
    }
  });

  it('does not trust a signer from another deployment', async () => {
    const pems = await DeploymentCa.generate({ commonName: 'Impostor CA' });
    const impostor = await DeploymentCa.load(
      {
        caCertificatePem: pems.certificatePem,
        caPrivateKeyPem: pems.privateKeyPem,
        caDir: dir.path,
        pdfFontDir: '',
      },
      { env: 'production' },
    );
    const forged = (
      await createSignedSummary(sampleSummary(), { ca: impostor, fonts, clinicId: 'clinic-7f3e' })
    ).pdf;
    expect(await verifySignedPdf(forged, { roots: [ca.certificate] })).toMatchObject({
      valid: false,
      intact: true,
      trusted: false,
      problem: 'untrusted_signer',
      signer: { clinicId: 'clinic-7f3e' },
    });
    expect(await verifySignedPdf(forged, { roots: [] })).toMatchObject({ valid: false, trusted: false });
  });

  it('reports an unsigned PDF, a broken signature and a replaced signature', async () => {
    expect(
      await verifySignedPdf(await renderSummaryPdf(sampleSummary(), { fonts }), { roots: [ca.certificate] }),
    ).toMatchObject({ valid: false, problem: 'no_signature' });
    const [, holeStart, holeEnd] = signedRanges(signed);
    const garbage = Buffer.from(signed);
    garbage.fill('41', holeStart + 1, holeEnd - 1);
    expect(await verifySignedPdf(garbage, { roots: [ca.certificate] })).toMatchObject({
      valid: false,
      problem: 'malformed_signature',
    });
    const notHex = Buffer.from(signed);
    notHex[holeStart + 10] = 0x5a; // 'Z'
    expect(await verifySignedPdf(notHex, { roots: [ca.certificate] })).toMatchObject({
      valid: false,
      problem: 'malformed_signature',
    });
    // The signature of another document, pasted in: its digest does not match these bytes.
    const otherDoc = (
      await createSignedSummary(sampleSummary({ followUp: 'In two weeks.' }), {
        ca,
        fonts,
        clinicId: 'clinic-7f3e',
        now: () => signingTime,
      })
    ).pdf;
    const [, oStart, oEnd] = signedRanges(otherDoc);
    const swapped = Buffer.concat([
      signed.subarray(0, holeStart),
      otherDoc.subarray(oStart, oEnd),
      signed.subarray(holeEnd),
    ]);
    expect(swapped.length).toBe(signed.length);
    expect(await verifySignedPdf(swapped, { roots: [ca.certificate] })).toMatchObject({
      valid: false,
      problem: 'digest_mismatch',
    });
  });

  it('refuses what is not a PDF and what is too large, with typed errors', async () => {
    await expect(
      verifySignedPdf(Buffer.from('hello, not a pdf'), { roots: [ca.certificate] }),
    ).rejects.toMatchObject({ status: 400, code: 'not_a_pdf' });
    await expect(
      verifySignedPdf(Buffer.alloc(VERIFY_LIMITS.maxBytes + 1, 0x20), { roots: [ca.certificate] }),
    ).rejects.toMatchObject({ status: 413, code: 'pdf_too_large' });
  });
});
