import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import type { RecordsConfig } from '../../config.ts';
import { certificateDer, createCertificate, fromPem, isCaCertificate, toPem } from './certificates.ts';

/** RSA 2048 with SHA-256: the signature every PDF reader verifies (PAdES baseline, Acrobat, poppler/NSS). */
export const RSA_SIGNING = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;
const EC_SIGNING = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const CA_VALIDITY_YEARS = 10;
const CLINIC_VALIDITY_DAYS = 730;
/** A clinic certificate this close to expiry is replaced by a fresh one at its next use. */
const CLINIC_RENEW_BEFORE_MS = 30 * 86_400_000;
/** Readers may run a few minutes behind: certificates start a little in the past. */
const CLOCK_SKEW_MS = 5 * 60_000;

export class CaConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaConfigError';
  }
}

/** What a signature is made with: the clinic's certificate and key, and the chain up to the CA. */
export type SigningIdentity = {
  readonly clinicId: string;
  readonly certificate: pkijs.Certificate;
  readonly chain: readonly pkijs.Certificate[];
  readonly privateKey: CryptoKey;
};

type Logger = { warn(obj: object, msg: string): void };

/**
 * The deployment's own certificate authority: one self-signed root (from configuration, or in
 * development generated once into RECORDS_CA_DIR) that issues a signing certificate per clinic on
 * demand. Clinic certificates are kept in memory and issued again after a restart or near expiry:
 * every node may issue its own, and all verify the same way because they chain to the one root.
 */
export class DeploymentCa {
  private readonly issued = new Map<string, Promise<SigningIdentity>>();

  private constructor(
    readonly certificate: pkijs.Certificate,
    private readonly privateKey: CryptoKey,
    private readonly now: () => Date,
  ) {}

  /** The CA as configured; without configuration a development CA (refused when env is production). */
  static async load(
    config: RecordsConfig,
    opts: { env: 'development' | 'production' | 'test'; log?: Logger; now?: () => Date },
  ): Promise<DeploymentCa> {
    const now = opts.now ?? (() => new Date());
    if (config.caCertificatePem && config.caPrivateKeyPem)
      return DeploymentCa.fromPem(config.caCertificatePem, config.caPrivateKeyPem, now);
    if (opts.env === 'production') {
      throw new CaConfigError(
        'RECORDS_CA_CERTIFICATE and RECORDS_CA_PRIVATE_KEY are required in production (the CA that signs PDF summaries)',
      );
    }
    const certFile = join(config.caDir, 'ca-certificate.pem');
    const keyFile = join(config.caDir, 'ca-private-key.pem');
    if (existsSync(certFile) && existsSync(keyFile))
      return DeploymentCa.fromPem(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'), now);
    const generated = await DeploymentCa.generate({ commonName: 'CareCall development CA', now: now() });
    mkdirSync(config.caDir, { recursive: true, mode: 0o700 });
    writeFileSync(certFile, generated.certificatePem);
    writeFileSync(keyFile, generated.privateKeyPem, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    opts.log?.warn(
      { caDir: config.caDir },
      'generated a development CA for signed PDF summaries; set RECORDS_CA_CERTIFICATE and RECORDS_CA_PRIVATE_KEY for real use',
    );
    return DeploymentCa.fromPem(generated.certificatePem, generated.privateKeyPem, now);
  }

  /** A new self-signed root (RSA 2048), as PEM; used for development and by operators to make one. */
  static async generate(opts: {
    commonName: string;
    organization?: string;
    now?: Date;
  }): Promise<{ certificatePem: string; privateKeyPem: string }> {
    const now = opts.now ?? new Date();
    const keys = (await webcrypto.subtle.generateKey(RSA_SIGNING, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
    const cert = await createCertificate({
      subject: {
        commonName: opts.commonName,
        ...(opts.organization ? { organization: opts.organization } : {}),
      },
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter,
      ca: true,
    });
    const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    return {
      certificatePem: toPem('CERTIFICATE', certificateDer(cert)),
      privateKeyPem: toPem('PRIVATE KEY', pkcs8),
    };
  }

  private static async fromPem(
    certificatePem: string,
    privateKeyPem: string,
    now: () => Date,
  ): Promise<DeploymentCa> {
    let certificate: pkijs.Certificate;
    try {
      certificate = pkijs.Certificate.fromBER(new Uint8Array(fromPem('CERTIFICATE', certificatePem)));
    } catch {
      throw new CaConfigError('RECORDS_CA_CERTIFICATE is not a readable X.509 certificate');
    }
    let nodeKey;
    try {
      nodeKey = createPrivateKey(privateKeyPem);
    } catch {
      throw new CaConfigError('RECORDS_CA_PRIVATE_KEY is not a readable PKCS#8 private key');
    }
    const algorithm =
      nodeKey.asymmetricKeyType === 'rsa'
        ? RSA_SIGNING
        : nodeKey.asymmetricKeyType === 'ec'
          ? EC_SIGNING
          : undefined;
    if (!algorithm) throw new CaConfigError('RECORDS_CA_PRIVATE_KEY must be an RSA or EC P-256 key');
    const spki = createPublicKey(nodeKey).export({ type: 'spki', format: 'der' });
    if (!Buffer.from(certificate.subjectPublicKeyInfo.toSchema().toBER(false)).equals(spki))
      throw new CaConfigError('RECORDS_CA_PRIVATE_KEY does not belong to RECORDS_CA_CERTIFICATE');
    if (!isCaCertificate(certificate))
      throw new CaConfigError('RECORDS_CA_CERTIFICATE is not a CA certificate (basicConstraints cA)');
    if (certificate.notAfter.value.getTime() <= now().getTime())
      throw new CaConfigError('RECORDS_CA_CERTIFICATE has expired');
    const pkcs8 = nodeKey.export({ type: 'pkcs8', format: 'der' });
    const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
    return new DeploymentCa(certificate, privateKey, now);
  }

  /**
   * The clinic's signing identity, issued on first use (and again near expiry or after a rename).
   * Concurrent first uses share one issuance. The subject names the clinic (no PHI): CN and O are
   * its name, serialNumber its id, which is how a verifier tells which clinic signed.
   */
  forClinic(clinic: { id: string; name: string }): Promise<SigningIdentity> {
    const key = `${clinic.id}\u0000${clinic.name}`;
    const cached = this.issued.get(key);
    if (cached) {
      return cached.then((identity) => {
        if (identity.certificate.notAfter.value.getTime() - this.now().getTime() > CLINIC_RENEW_BEFORE_MS)
          return identity;
        if (this.issued.get(key) === cached) this.issued.delete(key);
        return this.forClinic(clinic);
      });
    }
    const issuing = this.issue(clinic);
    this.issued.set(key, issuing);
    issuing.catch(() => this.issued.delete(key));
    return issuing;
  }

  private async issue(clinic: { id: string; name: string }): Promise<SigningIdentity> {
    if (!clinic.id || !clinic.name.trim())
      throw new TypeError('a clinic needs an id and a name to get a signing certificate');
    const now = this.now();
    const keys = (await webcrypto.subtle.generateKey(RSA_SIGNING, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const certificate = await createCertificate({
      subject: { commonName: clinic.name, organization: clinic.name, serialNumber: clinic.id },
      issuer: this.certificate,
      publicKey: keys.publicKey,
      signingKey: this.privateKey,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(
        Math.min(
          now.getTime() + CLINIC_VALIDITY_DAYS * 86_400_000,
          this.certificate.notAfter.value.getTime(),
        ),
      ),
      ca: false,
    });
    return { clinicId: clinic.id, certificate, chain: [this.certificate], privateKey: keys.privateKey };
  }
}
