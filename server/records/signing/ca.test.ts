import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { loadPdfFonts } from '../pdf/fonts.ts';
import { nssDbTrusting, pdfsig, scratchDir } from '../test-support/poppler.ts';
import { sampleSummary } from '../test-support/sample-summary.ts';
import { CaConfigError, DeploymentCa } from './ca.ts';
import {
  certificateDer,
  createCertificate,
  isCaCertificate,
  NAME_OID,
  nameAttribute,
  toPem,
} from './certificates.ts';
import { createSignedSummary } from './signed-summary.ts';
import { verifySignedPdf } from './verify-pdf.ts';

const dir = scratchDir();
afterAll(() => dir.remove());
const records = (
  over: Partial<{ caCertificatePem: string; caPrivateKeyPem: string; caDir: string }> = {},
) => ({
  caCertificatePem: undefined,
  caPrivateKeyPem: undefined,
  caDir: join(dir.path, 'dev-ca'),
  pdfFontDir: '',
  ...over,
});
const serial = (c: { serialNumber: { valueBlock: { valueHexView: Uint8Array } } }) =>
  Buffer.from(c.serialNumber.valueBlock.valueHexView).toString('hex');

describe('the deployment CA', () => {
  it('is refused in production without configuration', async () => {
    await expect(DeploymentCa.load(records(), { env: 'production' })).rejects.toThrow(CaConfigError);
  });

  it('in development is generated once into the data directory, with a warning, and reused', async () => {
    const warnings: string[] = [];
    const log = { warn: (_: object, msg: string) => warnings.push(msg) };
    const first = await DeploymentCa.load(records(), { env: 'development', log });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/development CA/);
    expect(statSync(join(dir.path, 'dev-ca', 'ca-private-key.pem')).mode & 0o777).toBe(0o600);
    const second = await DeploymentCa.load(records(), { env: 'development', log });
    expect(warnings).toHaveLength(1);
    expect(certificateDer(second.certificate).equals(certificateDer(first.certificate))).toBe(true);
    expect(readFileSync(join(dir.path, 'dev-ca', 'ca-certificate.pem'), 'utf8')).toBe(
      toPem('CERTIFICATE', certificateDer(first.certificate)),
    );
    expect(isCaCertificate(first.certificate)).toBe(true);
  });

  it('refuses a configured CA that does not fit', async () => {
    const a = await DeploymentCa.generate({ commonName: 'A' });
    const b = await DeploymentCa.generate({ commonName: 'B' });
    const expired = await DeploymentCa.generate({ commonName: 'Old', now: new Date('2000-01-01T00:00:00Z') });
    const ca = await DeploymentCa.load(
      records({ caCertificatePem: a.certificatePem, caPrivateKeyPem: a.privateKeyPem }),
      { env: 'production' },
    );
    const leaf = (await ca.forClinic({ id: 'c1', name: 'Leaf Clinic' })).certificate;
    const cases: [string, string, RegExp][] = [
      [a.certificatePem, b.privateKeyPem, /does not belong/],
      [toPem('CERTIFICATE', certificateDer(leaf)), a.privateKeyPem, /does not belong|not a CA/],
      [
        '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        a.privateKeyPem,
        /not a readable X.509/,
      ],
      [
        a.certificatePem,
        '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
        /not a readable PKCS#8/,
      ],
      [expired.certificatePem, expired.privateKeyPem, /expired/],
    ];
    for (const [cert, key, message] of cases) {
      await expect(
        DeploymentCa.load(records({ caCertificatePem: cert, caPrivateKeyPem: key }), { env: 'production' }),
      ).rejects.toThrow(message);
    }
  });

  it('issues one certificate per clinic on demand, naming the clinic, shared by concurrent first uses', async () => {
    const pems = await DeploymentCa.generate({ commonName: 'CareCall CA', organization: 'CareCall' });
    const ca = await DeploymentCa.load(
      records({ caCertificatePem: pems.certificatePem, caPrivateKeyPem: pems.privateKeyPem }),
      { env: 'production' },
    );
    const [x, y] = await Promise.all([
      ca.forClinic({ id: 'clinic-1', name: 'Zoë’s Clinic' }),
      ca.forClinic({ id: 'clinic-1', name: 'Zoë’s Clinic' }),
    ]);
    expect(x).toBe(y);
    const other = await ca.forClinic({ id: 'clinic-2', name: 'Another Clinic' });
    expect(serial(other.certificate)).not.toBe(serial(x.certificate));
    expect(nameAttribute(x.certificate.subject, NAME_OID.commonName)).toBe('Zoë’s Clinic');
    expect(nameAttribute(x.certificate.subject, NAME_OID.serialNumber)).toBe('clinic-1');
    expect(nameAttribute(x.certificate.issuer, NAME_OID.commonName)).toBe('CareCall CA');
    expect(isCaCertificate(x.certificate)).toBe(false);
    expect(x.chain).toEqual([ca.certificate]);
    // A renamed clinic gets a certificate with its new name.
    const renamed = await ca.forClinic({ id: 'clinic-1', name: 'Zoë’s New Clinic' });
    expect(nameAttribute(renamed.certificate.subject, NAME_OID.commonName)).toBe('Zoë’s New Clinic');
  });

  it('replaces a clinic certificate close to its expiry', async () => {
    let now = new Date();
    const pems = await DeploymentCa.generate({ commonName: 'CareCall CA' });
    const ca = await DeploymentCa.load(
      records({ caCertificatePem: pems.certificatePem, caPrivateKeyPem: pems.privateKeyPem }),
      { env: 'production', now: () => now },
    );
    const first = await ca.forClinic({ id: 'c', name: 'Clinic' });
    expect(await ca.forClinic({ id: 'c', name: 'Clinic' })).toBe(first);
    now = new Date(first.certificate.notAfter.value.getTime() - 10 * 86_400_000);
    const renewed = await ca.forClinic({ id: 'c', name: 'Clinic' });
    expect(serial(renewed.certificate)).not.toBe(serial(first.certificate));
    expect(renewed.certificate.notAfter.value.getTime()).toBeGreaterThan(
      first.certificate.notAfter.value.getTime(),
    );
  });

  it('works with an EC P-256 root an operator brings, and pdfsig trusts what it signs', async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const now = Date.now();
    const root = await createCertificate({
      subject: { commonName: 'Operator EC root' },
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 86_400_000),
      ca: true,
    });
    const certificatePem = toPem('CERTIFICATE', certificateDer(root));
    const privateKeyPem = toPem(
      'PRIVATE KEY',
      new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    );
    const ca = await DeploymentCa.load(
      records({ caCertificatePem: certificatePem, caPrivateKeyPem: privateKeyPem }),
      { env: 'production' },
    );
    const fonts = loadPdfFonts(loadConfig({}).records.pdfFontDir);
    const { pdf } = await createSignedSummary(sampleSummary(), { ca, fonts, clinicId: 'clinic-ec' });
    expect(await verifySignedPdf(pdf, { roots: [ca.certificate] })).toMatchObject({
      valid: true,
      signer: { clinicId: 'clinic-ec', issuer: 'Operator EC root' },
    });
    mkdirSync(join(dir.path, 'ec-nss'));
    const nss = await nssDbTrusting(join(dir.path, 'ec-nss'), dir.file('ec-root.pem', certificatePem));
    const report = await pdfsig(dir.file('ec-signed.pdf', pdf), nss);
    expect(report).toContain('Signature Validation: Signature is Valid.');
    expect(report).toContain('Certificate Validation: Certificate is Trusted.');
  });
});
