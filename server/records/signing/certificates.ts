import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** X.509 building blocks over pkijs (which signs through Node's WebCrypto). */

export const NAME_OID = { commonName: '2.5.4.3', serialNumber: '2.5.4.5', organization: '2.5.4.10' } as const;
const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
} as const;
// RFC 5280 upper bound of CN, O and serialNumber.
const MAX_NAME_ATTRIBUTE = 64;

export type NameParts = { commonName: string; organization?: string; serialNumber?: string };

export type CertificateSpec = {
  subject: NameParts;
  /** The issuer's certificate; absent = self-signed. */
  issuer?: pkijs.Certificate;
  publicKey: CryptoKey;
  signingKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
};

/** Issues (or self-signs) a certificate: CA = keyCertSign+cRLSign, else digitalSignature+nonRepudiation. */
export async function createCertificate(spec: CertificateSpec): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  cert.subject = distinguishedName(spec.subject);
  cert.issuer = spec.issuer ? spec.issuer.subject : distinguishedName(spec.subject);
  cert.notBefore = time(spec.notBefore);
  cert.notAfter = time(spec.notAfter);
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey);
  const ski = await keyIdentifier(cert.subjectPublicKeyInfo);
  const extensions = [
    new pkijs.Extension({
      extnID: EXT.basicConstraints,
      critical: true,
      extnValue: new pkijs.BasicConstraints(spec.ca ? { cA: true, pathLenConstraint: 0 } : { cA: false })
        .toSchema()
        .toBER(false),
    }),
    // KeyUsage bits: digitalSignature 0x80, nonRepudiation 0x40, keyCertSign 0x04, cRLSign 0x02.
    new pkijs.Extension({
      extnID: EXT.keyUsage,
      critical: true,
      extnValue: (spec.ca ? bits(0x06, 1) : bits(0xc0, 6)).toBER(false),
    }),
    new pkijs.Extension({
      extnID: EXT.subjectKeyIdentifier,
      extnValue: new asn1js.OctetString({ valueHex: ski }).toBER(false),
    }),
  ];
  if (spec.issuer) {
    const issuerSki = await keyIdentifier(spec.issuer.subjectPublicKeyInfo);
    extensions.push(
      new pkijs.Extension({
        extnID: EXT.authorityKeyIdentifier,
        extnValue: new pkijs.AuthorityKeyIdentifier({
          keyIdentifier: new asn1js.OctetString({ valueHex: issuerSki }),
        })
          .toSchema()
          .toBER(false),
      }),
    );
  }
  cert.extensions = extensions;
  await cert.sign(spec.signingKey, 'SHA-256');
  return cert;
}

export function certificateDer(cert: pkijs.Certificate): Buffer {
  return Buffer.from(cert.toSchema(true).toBER(false));
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function fromPem(label: string, pem: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`not a PEM ${label}`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** The attribute of a distinguished name, e.g. nameAttribute(cert.subject, NAME_OID.commonName). */
export function nameAttribute(name: pkijs.RelativeDistinguishedNames, oid: string): string | undefined {
  const v = name.typesAndValues.find((t) => t.type === oid)?.value as
    { valueBlock?: { value?: unknown } } | undefined;
  return typeof v?.valueBlock?.value === 'string' ? v.valueBlock.value : undefined;
}

export function isCaCertificate(cert: pkijs.Certificate): boolean {
  const ext = cert.extensions?.find((e) => e.extnID === EXT.basicConstraints);
  return (ext?.parsedValue as pkijs.BasicConstraints | undefined)?.cA === true;
}

/**
 * One attribute per RDN (CN=…, O=…, serialNumber=…). pkijs would put them all in one multi-valued
 * RDN ("CN=…+O=…"), which readers show oddly; built as DER and parsed back, pkijs keeps this encoding.
 */
function distinguishedName(parts: NameParts): pkijs.RelativeDistinguishedNames {
  const rdn = (type: string, value: asn1js.BaseStringBlock) =>
    new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value }).toSchema()] });
  const rdns = [rdn(NAME_OID.commonName, new asn1js.Utf8String({ value: clip(parts.commonName) }))];
  if (parts.organization)
    rdns.push(rdn(NAME_OID.organization, new asn1js.Utf8String({ value: clip(parts.organization) })));
  // serialNumber is a PrintableString by definition (X.520); ids here are letters, digits and '-'.
  if (parts.serialNumber)
    rdns.push(
      rdn(
        NAME_OID.serialNumber,
        new asn1js.PrintableString({
          value: clip(parts.serialNumber.replace(/[^A-Za-z0-9 '()+,./:=?-]/g, '-')),
        }),
      ),
    );
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER(false));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(value: Date): pkijs.Time {
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });
}

function bits(byte: number, unusedBits: number): asn1js.BitString {
  return new asn1js.BitString({ valueHex: new Uint8Array([byte]).buffer, unusedBits });
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 method 1). */
async function keyIdentifier(spki: pkijs.PublicKeyInfo): Promise<ArrayBuffer> {
  return webcrypto.subtle.digest('SHA-1', spki.subjectPublicKey.valueBlock.valueHexView);
}

function randomSerial(): ArrayBuffer {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and no leading zero byte
  return bytes.buffer;
}

function clip(text: string): string {
  return [...text.trim()].slice(0, MAX_NAME_ATTRIBUTE).join('');
}
