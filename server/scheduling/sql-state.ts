/**
 * The PostgreSQL SQLSTATE of a failed query, whichever driver raised it: postgres-js and PGlite put
 * `code` on their error, and drizzle wraps that error in a DrizzleQueryError as `cause`.
 */
export function sqlState(err: unknown): string | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** The constraint a failed query violated: postgres-js calls it `constraint_name`, PGlite `constraint`. */
export function sqlConstraint(err: unknown): string | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const name =
      (e as { constraint_name?: unknown; constraint?: unknown }).constraint_name ??
      (e as { constraint?: unknown }).constraint;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

export const EXCLUSION_VIOLATION = '23P01';
/** The exclusion constraint that keeps a patient from two overlapping appointments (migration 0005). */
export const PATIENT_OVERLAP_CONSTRAINT = 'appointments_patient_no_overlap';
export const UNIQUE_VIOLATION = '23505';
export const DEADLOCK_DETECTED = '40P01';

/**
 * Runs a write that an exclusion constraint guards. Two transactions inserting overlapping ranges
 * at the same moment can each wait for the other's uncommitted row (PostgreSQL then aborts one with
 * 40P01). The aborted one is simply retried: by then the survivor has committed or rolled back, so
 * the retry either lands or meets a clean 23P01.
 */
export async function retryOnDeadlock<T>(write: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await write();
    } catch (err) {
      if (sqlState(err) !== DEADLOCK_DETECTED || i >= attempts) throw err;
    }
  }
}
