import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { GENESIS_HASH, hashedText, KEYED, UNKEYED } from './entry-hash.ts';

const row = (over: Record<string, unknown> = {}) =>
  ({
    id: randomUUID(),
    at: new Date('2026-01-02T03:04:05.678Z'),
    actorId: 'u1',
    actorRole: 'doctor',
    onBehalfOf: null,
    sessionId: 's"1\\',
    ip: '127.0.0.1',
    requestId: 'r\u2028x',
    action: 'message.sent',
    outcome: 'allowed',
    resourceType: 'message',
    resourceId: 'm1',
    patientId: 'p1',
    clinicId: null,
    breakGlass: false,
    reason: 'ünïcode ✓',
    prevHash: GENESIS_HASH,
    hashVersion: KEYED,
    ...over,
  }) as Parameters<typeof hashedText>[0];

/** The generic form the chain was defined with: the hashed fields as an object, canonicalised. */
function reference(r: ReturnType<typeof row>, keyed: boolean) {
  const { hashVersion: _v, at, ...rest } = r;
  return canonicalJson({ ...rest, at: at.toISOString(), ...(keyed ? { hashVersion: KEYED } : {}) });
}

describe('hashedText', () => {
  it('is byte for byte the canonical JSON of the hashed fields, keyed and unkeyed', () => {
    for (const r of [row(), row({ breakGlass: true, onBehalfOf: 'p2', clinicId: 'c1', reason: null })]) {
      expect(hashedText(r, true)).toBe(reference(r, true));
      expect(hashedText({ ...r, hashVersion: UNKEYED }, false)).toBe(reference(r, false));
    }
  });

  it('leaves out a field that is undefined, as canonicalJson does', () => {
    const r = row({ ip: undefined, requestId: undefined });
    expect(hashedText(r, true)).toBe(reference(r, true));
    expect(hashedText(r, true)).not.toContain('"ip"');
  });
});
