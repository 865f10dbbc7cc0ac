import { parseSignalingProtocols, type SignalingCredential } from './protocol/index.ts';
import type { UpgradeDecision, UpgradeRequest } from './socket.ts';

type Refusal = Extract<UpgradeDecision<never>, { ok: false }>;

/**
 * The credential of an upgrade, from the Sec-WebSocket-Protocol header. A credential in the query
 * string is refused outright, even a valid one: clients must not put tokens where proxies log them.
 */
export function readCredential(
  request: UpgradeRequest,
): { ok: true; credential: SignalingCredential } | Refusal {
  if (request.query.has('token') || request.query.has('resume')) {
    return {
      ok: false,
      status: 400,
      code: 'credential_in_url',
      detail:
        'send the join token in the Sec-WebSocket-Protocol header (carecall.v1, carecall.token.<token>), never in the URL',
    };
  }
  const parsed = parseSignalingProtocols(request.headers.get('sec-websocket-protocol'));
  if (parsed.ok) return parsed;
  if (parsed.reason === 'missing')
    return { ok: false, status: 401, code: 'token_missing', detail: 'a join token is required' };
  if (parsed.reason === 'no_subprotocol')
    return {
      ok: false,
      status: 400,
      code: 'subprotocol_required',
      detail: 'offer the carecall.v1 subprotocol',
    };
  return {
    ok: false,
    status: 400,
    code: 'credential_malformed',
    detail: 'offer exactly one carecall.token.<token> or carecall.resume.<key>.<seq>',
  };
}
