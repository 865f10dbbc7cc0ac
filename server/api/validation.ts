import type { Context } from 'hono';
import { z } from 'zod';
import { ProblemError, type FieldError } from './errors.ts';
import { PROBLEM, type ProblemCode } from './problem-codes.ts';

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : '(body)',
    message: i.message,
  }));
}

/** Parses a JSON body with a zod schema; anything wrong becomes a 400 problem+json with field errors. */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ProblemError(400, PROBLEM.invalidBody, 'request body must be JSON', [
      { field: '(body)', message: 'not valid JSON' },
    ]);
  }
  return parseValue(schema, raw, PROBLEM.invalidBody);
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseValue(schema, c.req.query(), PROBLEM.invalidQuery);
}

export function parseParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseValue(schema, c.req.param(), PROBLEM.invalidPath);
}

function parseValue<S extends z.ZodType>(schema: S, raw: unknown, code: ProblemCode): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ProblemError(400, code, 'request is invalid', fieldErrors(r.error));
  return r.data;
}

// Text: the one rule for every free-text field a client sends. PostgreSQL refuses NUL in text and
// lone UTF-16 surrogates in JSON (both would otherwise surface as a 500, and in a shared batch as
// other people's 500s); other control characters corrupt logs, CSV exports and calendar files.
// NFC, so that the same name typed on two keyboards is stored, compared and hashed the same.
const SINGLE_LINE_CONTROLS = /[\u0000-\u001f\u007f]/;
const MULTI_LINE_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// In a /u regex a surrogate pair is one code point, so \p{Cs} matches only the lone halves.
const LONE_SURROGATE = /\p{Cs}/u;
export const isWellFormed = (s: string) => !LONE_SURROGATE.test(s);
export const NOT_WELL_FORMED = 'must be well-formed Unicode text (no lone surrogates)';

export type TextRule = {
  max: number;
  min?: number;
  /** Tab, line feed and carriage return allowed (note bodies, reasons). */
  multiline?: boolean;
  /** Leading and trailing white space removed before the length is checked (default true). */
  trim?: boolean;
  tooShort?: string;
  tooLong?: string;
};

/** A text field under the rule above: refused with a message naming the problem, else normalised. */
export function text(rule: TextRule) {
  const min = rule.min ?? 0;
  const tooShort = rule.tooShort ?? (min <= 1 ? 'required' : `must be at least ${min} characters`);
  const tooLong = rule.tooLong ?? `must be at most ${rule.max} characters`;
  const controls = rule.multiline ? MULTI_LINE_CONTROLS : SINGLE_LINE_CONTROLS;
  return (
    z
      .string({ message: 'must be a string' })
      // Normalising can lengthen a string at most threefold; anything longer is refused before the work.
      .max(rule.max * 3 + 64, tooLong)
      .superRefine((s, ctx) => {
        if (!isWellFormed(s)) ctx.addIssue({ code: 'custom', message: NOT_WELL_FORMED });
        else if (controls.test(s))
          ctx.addIssue({
            code: 'custom',
            message: rule.multiline
              ? 'must not contain control characters (tab and line breaks are allowed)'
              : 'must not contain control characters or line breaks',
          });
      })
      .transform((s) => (rule.trim === false ? s.normalize('NFC') : s.normalize('NFC').trim()))
      .pipe(z.string().min(min, tooShort).max(rule.max, tooLong))
  );
}

// Dates: years outside PostgreSQL's and JavaScript's common ground (year 0, five-digit years after a
// time-zone shift) used to reach the database or the slot arithmetic and fail there. Every date a
// client sends lies in these years; ranges (from/to) are bounded where they are used.
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2200;
const YEARS = `must be between the years ${MIN_YEAR} and ${MAX_YEAR}`;
const inYears = (year: number) => year >= MIN_YEAR && year <= MAX_YEAR;
/** The year is checked only on a well-formed value; otherwise it would only repeat the error. */
const formatValid = (payload: { issues: readonly unknown[] }) => payload.issues.length === 0;

/** An ISO 8601 date-time with an offset, as a Date; the instant (in UTC) must lie in the allowed years. */
export function dateTime(
  message = 'must be an ISO 8601 date-time with offset, e.g. 2027-03-29T09:00:00+02:00',
) {
  return z.iso
    .datetime({ offset: true, message })
    .refine((s) => inYears(Number(s.slice(0, 4))), { message: YEARS, abort: true, when: formatValid })
    .transform((s) => new Date(s))
    .refine((d) => inYears(d.getUTCFullYear()), { message: YEARS });
}

/** A calendar date YYYY-MM-DD (a real one: no 30 February) in the allowed years. */
export function localDate(message = 'must be a date YYYY-MM-DD') {
  return z.iso
    .date({ message })
    .refine((s) => inYears(Number(s.slice(0, 4))), { message: YEARS, when: formatValid });
}

/** Whole days from one YYYY-MM-DD to another. */
export const daysBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 86_400_000;

/** A positive integer query parameter that fits a bigint column and a JS number exactly. */
export const positiveIntParam = () =>
  z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER, 'too large');

export const idSchema = z.uuid({ message: 'must be a UUID' });
export const emailSchema = z
  .email({ message: 'must be an e-mail address' })
  .max(254)
  .transform((e) => e.toLowerCase());
/**
 * Long enough to matter, short enough that hashing it cannot be used to burn CPU. Not normalised
 * (that would change what existing hashes were made from), but it must be well-formed: a lone
 * surrogate would be hashed as U+FFFD, so two different passwords would be the same.
 */
export const passwordSchema = z
  .string()
  .min(12, 'must be at least 12 characters')
  .max(128, 'must be at most 128 characters')
  .refine(isWellFormed, { message: NOT_WELL_FORMED });
export const phoneSchema = z
  .string()
  .regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 number such as +441632960000');
export const displayNameSchema = text({ min: 1, max: 120 });

/**
 * A request body or query, parsed only once the decision is made: someone who may not do this is
 * refused before anything about their input is looked at (the same answer whatever they sent).
 * Services that decide take their input this way; routes pass `() => parseBody(c, schema)`.
 */
export type DeferredInput<T> = () => T | Promise<T>;
