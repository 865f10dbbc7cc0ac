import { InvalidScopeError } from './errors.ts';

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
  // Sized first and written in place (no encoded copy per field): every message sealed or opened builds one.
  let size = 4 + Buffer.byteLength(label);
  for (const f of fields) size += 4 + (typeof f === 'string' ? Buffer.byteLength(f) : f.length);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const f of [label, ...fields]) {
    const length = typeof f === 'string' ? Buffer.byteLength(f) : f.length;
    out.writeUInt32BE(length, at);
    if (typeof f === 'string') out.write(f, at + 4, 'utf8');
    else out.set(f, at + 4);
    at += 4 + length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
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
