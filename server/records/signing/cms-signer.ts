import { webcrypto } from 'node:crypto';
import { Signer } from '@signpdf/utils';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { SigningIdentity } from './ca.ts';

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

/**
 * A CMS (PKCS#7) detached SignedData over the bytes signpdf hands over (the document less the
 * Contents hole), signed with the clinic's key through Node's WebCrypto. Signed attributes:
 * content type, signing time and the SHA-256 message digest, as adbe.pkcs7.detached expects;
 * certificates: the clinic's and the CA's, so a reader can build the chain without fetching.
 */
export class CmsSigner extends Signer {
  private readonly certificates: pkijs.Certificate[];

  constructor(private readonly identity: SigningIdentity) {
    super();
    this.certificates = [identity.certificate, ...identity.chain];
  }

  override async sign(pdfBuffer: Buffer, signingTime: Date = new Date()): Promise<Buffer> {
    const signer = this.certificates[0]!;
    const digest = await webcrypto.subtle.digest('SHA-256', pdfBuffer);
    const signedData = new pkijs.SignedData({
      version: 1,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
      certificates: this.certificates,
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.issuer, serialNumber: signer.serialNumber }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({
            type: 0,
            attributes: [
              new pkijs.Attribute({
                type: OID.contentType,
                values: [new asn1js.ObjectIdentifier({ value: OID.data })],
              }),
              new pkijs.Attribute({
                type: OID.signingTime,
                values: [new asn1js.UTCTime({ valueDate: signingTime })],
              }),
              new pkijs.Attribute({
                type: OID.messageDigest,
                values: [new asn1js.OctetString({ valueHex: digest })],
              }),
            ],
          }),
        }),
      ],
    });
    await signedData.sign(this.identity.privateKey, 0, 'SHA-256');
    const contentInfo = new pkijs.ContentInfo({
      contentType: OID.signedData,
      content: signedData.toSchema(true),
    });
    return Buffer.from(contentInfo.toSchema().toBER(false));
  }
}
