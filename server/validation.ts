import type { Context } from 'hono';
import { z } from 'zod';
import { ProblemError, type FieldError } from './errors.ts';

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ field: i.path.length ? i.path.join('.') : '(body)', message: i.message }));
}

/** Parses a JSON body with a zod schema; anything wrong becomes a 400 problem+json with field errors. */
export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ProblemError(400, 'invalid_body', 'request body must be JSON', [{ field: '(body)', message: 'not valid JSON' }]);
  }
  return parseValue(schema, raw, 'invalid_body');
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseValue(schema, c.req.query(), 'invalid_query');
}

export function parseParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseValue(schema, c.req.param(), 'invalid_path');
}

function parseValue<S extends z.ZodType>(schema: S, raw: unknown, code: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ProblemError(400, code, 'request is invalid', fieldErrors(r.error));
  return r.data;
}

export const idSchema = z.uuid({ message: 'must be a UUID' });
export const emailSchema = z.email({ message: 'must be an e-mail address' }).max(254).transform((e) => e.toLowerCase());
/** Long enough to matter, short enough that hashing it cannot be used to burn CPU. */
export const passwordSchema = z.string().min(12, 'must be at least 12 characters').max(128, 'must be at most 128 characters');
export const phoneSchema = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 number such as +441632960000');
export const displayNameSchema = z.string().trim().min(1, 'required').max(120);
