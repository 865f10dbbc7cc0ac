// What makes an audit append fail for one entry rather than for all: see AuditLog.#append.
import { sqlState } from '../scheduling/sql-state.ts';
import type { AuditEntry } from './audit-log.ts';

/** An entry that could not be appended, with the reason, as a batch result of its own. */
export class Refused {
  constructor(readonly error: unknown) {}
}

/** NUL is refused in PostgreSQL text; a lone surrogate breaks the JSON a batch travels in. */
const UNSTORABLE = /\u0000|\p{Cs}/u;
export function unstorableField(entry: AuditEntry): string | undefined {
  for (const part of [entry.event, entry.ctx ?? {}]) {
    for (const [key, value] of Object.entries(part))
      if (typeof value === 'string' && UNSTORABLE.test(value)) return key;
  }
  return undefined;
}

/**
 * Whether an append failed for what an entry holds rather than for the state of the database:
 * PostgreSQL refused a value (SQLSTATE class 22, data exception, or 23, integrity), or building
 * the entry threw before anything was sent (no code at all; driver and network errors carry one).
 */
export function refusedForContent(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return state.startsWith('22') || state.startsWith('23');
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if ((e as { code?: unknown }).code !== undefined) return false;
  }
  return true;
}
