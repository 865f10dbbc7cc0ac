import { problemBody } from '../api/errors.ts';
import type { SocketServerOptions, UpgradeDecision, UpgradeRequest } from './socket-server.ts';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Error'}`;
}

export const PROBLEM_JSON = 'application/problem+json';

/** The refusal as a problem+json document, the same shape the HTTP API answers with. */
export function rejectionBody(rejection: { status: number; code: string; detail: string }): string {
  return JSON.stringify(problemBody(rejection.status, rejection.code, rejection.detail));
}

/** When authorization itself failed (not a refusal): tell the client to try again later. */
export const AUTHORIZE_FAILED = {
  ok: false as const,
  status: 503 as const,
  code: 'unavailable',
  detail: 'try again shortly',
};

/** Runs the server's authorize(); an exception in it becomes AUTHORIZE_FAILED, never a crash of the socket tier. */
export function authorizeSafely<T>(
  opts: SocketServerOptions<T>,
  request: UpgradeRequest,
): UpgradeDecision<T> {
  try {
    return opts.authorize(request);
  } catch {
    return AUTHORIZE_FAILED;
  }
}
