import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { errorCode } from '../../db/connection-errors.ts';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  ProblemError,
  databaseUnavailable,
  loggableError,
} from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export { FHIR_JSON };

/** The issue type (http://hl7.org/fhir/issue-type) a status stands for. */
function issueCode(status: number): OperationOutcomeIssue['code'] {
  if (status === 400 || status === 422) return status === 400 ? 'invalid' : 'processing';
  if (status === 401) return 'login';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 406 || status === 415 || status === 405) return 'not-supported';
  if (status === 409) return 'conflict';
  if (status === 413) return 'too-costly';
  if (status === 429) return 'throttled';
  if (status === 503) return 'transient';
  return 'exception';
}

/**
 * Every FHIR error as an OperationOutcome: the problem code in details (a client can rely on it
 * as on the API's problem codes), the message as diagnostics, one issue per refused field with
 * the field as its expression.
 */
export function operationOutcome(err: ProblemError, requestId?: string): OperationOutcome {
  const issue = (diagnostics: string, expression?: string): OperationOutcomeIssue => ({
    severity: err.status >= 500 ? 'fatal' : 'error',
    code: issueCode(err.status),
    details: {
      coding: [{ system: 'https://carecall.dev/problems', code: err.code }],
      text: err.code.replace(/_/g, ' '),
    },
    diagnostics,
    ...(expression ? { expression: [expression] } : {}),
  });
  const issues = err.errors.length
    ? err.errors.map((e) => issue(`${e.field}: ${e.message}`, e.field))
    : [issue(err.message)];
  return {
    resourceType: 'OperationOutcome',
    ...(requestId ? { id: requestId } : {}),
    issue: issues,
  };
}

export const fhirNotFound = (type: string) =>
  new ProblemError(404, PROBLEM.notFound, `no such ${type} (or not yours to see)`);

type Log = (level: 'warn' | 'error', fields: Record<string, unknown>, message: string) => void;

/**
 * Any error as the problem it stands for, as the JSON API's handler decides it (app.ts): an
 * unreachable database is a 503 with Retry-After, anything unexpected a logged 500.
 */
export function problemOf(err: unknown, log: Log): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof HTTPException)
    return new ProblemError(err.status as ContentfulStatusCode, PROBLEM.httpError, err.message);
  const unavailable = databaseUnavailable(err);
  if (unavailable) {
    log('warn', { code: errorCode(err) }, 'database unavailable');
    return new ProblemError(
      unavailable.status,
      unavailable.code,
      unavailable.message,
      [],
      DATABASE_RETRY_AFTER_SECONDS,
    );
  }
  log('error', { err: loggableError(err) }, 'unhandled FHIR error');
  return new ProblemError(500, PROBLEM.internal, 'internal error');
}
