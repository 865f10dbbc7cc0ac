import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, hotp, totpAt, verifyTotp } from './totp.ts';

describe('TOTP (RFC 6238) and base32 (RFC 4648)', () => {
  const secret = Buffer.from('12345678901234567890');
  it('matches the RFC 6238 SHA-1 test vectors (8 digits)', () => {
    expect(totpAt(secret, 59, 8)).toBe('94287082');
    expect(totpAt(secret, 1111111109, 8)).toBe('07081804');
    expect(totpAt(secret, 1234567890, 8)).toBe('89005924');
    expect(totpAt(secret, 20000000000, 8)).toBe('65353130');
  });
  it('matches the RFC 4226 HOTP test vectors', () => {
    expect([0, 1, 2, 9].map((c) => hotp(secret, c))).toEqual(['755224', '287082', '359152', '520489']);
  });
  it('base32 round-trips and matches the RFC 4648 vector', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI').toString()).toBe('foobar');
  });
  it('accepts one step of drift either way, nothing further', () => {
    const b32 = base32Encode(secret);
    const now = 1_700_000_000_000;
    const code = (offsetSteps: number) => totpAt(secret, now / 1000 + offsetSteps * 30);
    expect(verifyTotp(b32, code(0), now)).toBe(Math.floor(now / 30_000));
    expect(verifyTotp(b32, code(-1), now)).not.toBeNull();
    expect(verifyTotp(b32, code(1), now)).not.toBeNull();
    expect(verifyTotp(b32, code(3), now)).toBeNull();
    expect(verifyTotp(b32, 'abcdef', now)).toBeNull();
  });
});
