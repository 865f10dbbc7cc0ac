import { ZodError } from 'zod';
import { SfuError } from '../sfu/index.ts';
import type { ErrorBody, ErrorCode } from './protocol/index.ts';

export class SignalingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

const MEDIA_CLIENT_ERRORS = new Set(['TypeError', 'UnsupportedError', 'InvalidStateError']);

/** Maps anything a handler throws to an error body; `internal` hides details from the client. */
export function toErrorBody(err: unknown): { body: ErrorBody; unexpected: boolean } {
  if (err instanceof SignalingError || err instanceof SfuError) {
    return { body: { code: err.code, message: err.message }, unexpected: false };
  }
  if (err instanceof ZodError) {
    const issues = err.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message }));
    return {
      body: { code: 'invalid_request', message: 'request data is invalid', issues },
      unexpected: false,
    };
  }
  // mediasoup rejects bad RTP/DTLS parameters and unsupported codecs with these; the client's fault.
  if (err instanceof Error && MEDIA_CLIENT_ERRORS.has(err.name)) {
    return { body: { code: 'media_error', message: err.message.slice(0, 200) }, unexpected: false };
  }
  return { body: { code: 'internal', message: 'internal error' }, unexpected: true };
}
