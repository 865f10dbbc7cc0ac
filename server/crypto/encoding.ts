import { InvalidScopeError } from './errors.ts';

const utf8 = new TextEncoder();
// Scopes and record ids are ids ("conversation:<uuid>"), never names: printable ASCII keeps them
// out of reach of Unicode look-alikes and makes the associated data unambiguous to read.
const ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

export function assertId(what: string, value: string): void {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new InvalidScopeError(what);
}

/**
 * Associated data: a label and fields, each length-prefixed (u32 big-endian), so that no two
 * different field lists give the same bytes ("a","bc" vs "ab","c").
 */
export function associatedData(label: string, fields: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = [label, ...fields].map((f) => (typeof f === 'string' ? utf8.encode(f) : f));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A data key id (a UUID) as the 16 bytes that envelopes carry. */
export function uuidToBytes(id: string): Uint8Array {
  if (!UUID.test(id)) throw new Error('data key id must be a lower-case UUID');
  return Uint8Array.from(Buffer.from(id.replaceAll('-', ''), 'hex'));
}

export function bytesToUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
