import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type FieldError = { field: string; message: string };

/** An error that knows how it should look to an API client (RFC 9457 problem details). */
export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ProblemError';
  }
}

export function problemBody(status: number, code: string, detail: string, errors: FieldError[] = []) {
  return {
    type: `https://carecall.dev/problems/${code}`,
    title: code.replace(/_/g, ' '),
    status,
    code,
    detail,
    ...(errors.length ? { errors } : {}),
  };
}

export function problemResponse(c: Context, err: ProblemError) {
  return c.body(JSON.stringify(problemBody(err.status, err.code, err.message, err.errors)), err.status, {
    'content-type': 'application/problem+json',
  });
}
