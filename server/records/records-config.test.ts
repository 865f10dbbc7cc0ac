import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';

const CERT = '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----';
const KEY = '-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----';

describe('records configuration', () => {
  it('defaults: a development CA directory and Debian DejaVu fonts', () => {
    expect(loadConfig({}).records).toEqual({
      caCertificatePem: undefined,
      caPrivateKeyPem: undefined,
      caDir: '.data/records-ca',
      pdfFontDir: '/usr/share/fonts/truetype/dejavu',
    });
  });

  it('reads both PEMs, one-line form with \\n escapes included', () => {
    const r = loadConfig({
      RECORDS_CA_CERTIFICATE: CERT,
      RECORDS_CA_PRIVATE_KEY: KEY,
      RECORDS_CA_DIR: '/var/lib/carecall/ca',
      RECORDS_PDF_FONT_DIR: '/opt/fonts',
    }).records;
    expect(r.caCertificatePem).toBe('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
    expect(r.caPrivateKeyPem).toBe('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----');
    expect(r.caDir).toBe('/var/lib/carecall/ca');
    expect(r.pdfFontDir).toBe('/opt/fonts');
  });

  it.each([
    [{ RECORDS_CA_CERTIFICATE: CERT }, 'RECORDS_CA_PRIVATE_KEY'],
    [{ RECORDS_CA_PRIVATE_KEY: KEY }, 'RECORDS_CA_CERTIFICATE'],
    [{ RECORDS_CA_CERTIFICATE: KEY, RECORDS_CA_PRIVATE_KEY: KEY }, 'RECORDS_CA_CERTIFICATE'],
    [{ RECORDS_CA_CERTIFICATE: CERT, RECORDS_CA_PRIVATE_KEY: 'secret' }, 'RECORDS_CA_PRIVATE_KEY'],
    [{ RECORDS_CA_DIR: '  ' }, 'RECORDS_CA_DIR'],
  ])('refuses %j naming %s', (env, variable) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.variable)).toContain(variable);
  });
});
