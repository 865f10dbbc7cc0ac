/**
 * How a client presents its credential on the WebSocket upgrade: as subprotocols, never in the URL
 * (URLs end up in proxy and server access logs). The upgrade decision stays synchronous because
 * the header arrives with the upgrade request itself.
 *
 *   Sec-WebSocket-Protocol: carecall.v1, carecall.token.<join token>
 *   Sec-WebSocket-Protocol: carecall.v1, carecall.resume.<resume key>.<last seq>
 *
 * A JWT (base64url segments joined by dots) and a base64url resume key are valid protocol tokens.
 * The server selects `carecall.v1` only: the credential is never echoed back.
 */
export const SIGNALING_SUBPROTOCOL = 'carecall.v1';
const TOKEN_PREFIX = 'carecall.token.';
const RESUME_PREFIX = 'carecall.resume.';

export type SignalingCredential =
  { kind: 'join'; token: string } | { kind: 'resume'; resumeKey: string; lastSeq: number };

/** The subprotocol list a client offers for this credential. */
export function signalingProtocols(credential: SignalingCredential): string[] {
  const second =
    credential.kind === 'join'
      ? `${TOKEN_PREFIX}${credential.token}`
      : `${RESUME_PREFIX}${credential.resumeKey}.${credential.lastSeq}`;
  return [SIGNALING_SUBPROTOCOL, second];
}

export type CredentialParse =
  | { ok: true; credential: SignalingCredential }
  | { ok: false; reason: 'missing' | 'no_subprotocol' | 'malformed' };

const RESUME = /^([A-Za-z0-9_-]{1,64})\.(\d{1,15})$/;

/** Reads the credential from a Sec-WebSocket-Protocol header value (comma-separated list). */
export function parseSignalingProtocols(header: string | null | undefined): CredentialParse {
  const offered = (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const tokens = offered.filter((p) => p.startsWith(TOKEN_PREFIX));
  const resumes = offered.filter((p) => p.startsWith(RESUME_PREFIX));
  if (tokens.length + resumes.length === 0) return { ok: false, reason: 'missing' };
  if (!offered.includes(SIGNALING_SUBPROTOCOL)) return { ok: false, reason: 'no_subprotocol' };
  if (tokens.length + resumes.length > 1) return { ok: false, reason: 'malformed' };
  if (tokens.length) {
    const token = tokens[0]!.slice(TOKEN_PREFIX.length);
    return token ? { ok: true, credential: { kind: 'join', token } } : { ok: false, reason: 'malformed' };
  }
  const match = RESUME.exec(resumes[0]!.slice(RESUME_PREFIX.length));
  if (!match) return { ok: false, reason: 'malformed' };
  return { ok: true, credential: { kind: 'resume', resumeKey: match[1]!, lastSeq: Number(match[2]) } };
}
