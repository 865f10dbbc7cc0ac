import { describe, expect, it } from 'vitest';
import {
  afterCloseCode,
  closeCatalogue,
  closeCode,
  reasonForCode,
  type CloseReason,
} from './close-reasons.ts';
import { revocationReasons } from './errors.ts';

const reasons = Object.keys(closeCatalogue) as CloseReason[];

describe('close catalogue', () => {
  it('gives every reason a code a client can tell apart: reasons sharing a code share what the client does next', () => {
    const byCode = new Map<number, Set<string>>();
    for (const r of reasons)
      byCode.set(closeCode(r), (byCode.get(closeCode(r)) ?? new Set()).add(closeCatalogue[r].after));
    const ambiguous = [...byCode].filter(([, afters]) => afters.size > 1).map(([code]) => code);
    expect(ambiguous, 'codes whose reasons disagree on resume/rejoin/final').toEqual([]);
  });

  it('uses only the standard codes it means (1001 going away, 1009 too big) and the application range 4000-4999', () => {
    const outside = reasons.filter(
      (r) => ![1001, 1009].includes(closeCode(r)) && (closeCode(r) < 4000 || closeCode(r) > 4999),
    );
    expect(outside, 'reasons with a code outside 1001, 1009 and 4000-4999').toEqual([]);
  });

  it('keeps reasons short enough for a close frame (123 bytes) and describes each', () => {
    expect(
      reasons.filter((r) => Buffer.byteLength(r) > 123 || !/^[a-z_]+$/.test(r)),
      'reasons too long or not snake_case',
    ).toEqual([]);
    expect(
      reasons.filter((r) => closeCatalogue[r].text.length < 10),
      'reasons without a description',
    ).toEqual([]);
  });

  it('closes revoked join tokens with one final code', () => {
    expect(
      revocationReasons.map((r) => [closeCode(r), closeCatalogue[r].after]),
      'code and next step of each revocation',
    ).toEqual(revocationReasons.map(() => [4006, 'final']));
  });

  it('tells the client what to do by code', () => {
    expect(afterCloseCode(closeCode('room_closed')), 'room closed').toBe('final');
    expect(afterCloseCode(closeCode('session_expired')), 'unknown resume key').toBe('rejoin');
    expect(afterCloseCode(closeCode('server_shutdown')), 'node going away').toBe('resume');
    expect(afterCloseCode(1006), 'abnormal closure (network)').toBe('resume');
    expect(afterCloseCode(4999), 'a code not in the catalogue').toBe('resume');
    expect(reasonForCode(4006), 'first reason listed for a code').toBe('invitation_revoked');
    expect(reasonForCode(1006), 'no reason for an uncatalogued code').toBeUndefined();
  });
});
