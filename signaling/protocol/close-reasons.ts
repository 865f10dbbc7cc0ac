/**
 * Every way a signaling socket is closed on purpose: the WebSocket close reason (sent as the close
 * frame's reason text), its close code, and what the client may do next. One list, read by the
 * server at every close site and by the client when its socket closes (LiveKit's
 * ParticipantCloseReason plays the same part). No zod here: the browser bundle imports this file.
 */

/** What a client may do after a close. */
export type AfterClose =
  /** Reconnect with its resume key: same session, missed notifications replayed (or rejoin if that fails). */
  | 'resume'
  /** The session is gone but the join token may still admit: join again with it. */
  | 'rejoin'
  /** Reconnecting cannot help; tell the person why. */
  | 'final';

export type CloseEntry = { readonly code: number; readonly after: AfterClose; readonly text: string };

export const closeCatalogue = {
  client_left: {
    code: 4004,
    after: 'final',
    text: 'the client left; the server drops the session instead of keeping it for resumption',
  },
  /** Sent by the client itself, never the server: a deliberate drop that looks like a network failure (tests, diagnostics). */
  dropped: { code: 4000, after: 'resume', text: 'the client dropped its socket as a network failure would' },
  duplicate_identity: {
    code: 4001,
    after: 'final',
    text: 'another connection joined with the same identity',
  },
  resumed_elsewhere: { code: 4001, after: 'final', text: 'the session was resumed on another connection' },
  room_closed: { code: 4002, after: 'final', text: 'the room ended' },
  denied: { code: 4003, after: 'final', text: 'the host did not let this participant in' },
  session_expired: { code: 4005, after: 'rejoin', text: 'the server no longer knows this resume key' },
  // What the join token stood for was withdrawn (the RevocationReasons): final, do not reconnect.
  invitation_revoked: { code: 4006, after: 'final', text: "the guest's invitation was revoked" },
  consultation_cancelled: {
    code: 4006,
    after: 'final',
    text: 'the consultation was cancelled or marked no-show',
  },
  consultation_not_open: {
    code: 4006,
    after: 'final',
    text: 'the consultation is not open (completed, awaiting approval or outside its time)',
  },
  removed_by_host: {
    code: 4008,
    after: 'final',
    text: 'a host removed this participant; the identity cannot join the room again',
  },
  ended_by_host: { code: 4009, after: 'final', text: 'a host ended the consultation for everyone' },
  join_timeout: { code: 4010, after: 'rejoin', text: 'the socket did not join within the join deadline' },
  too_many_connections: {
    code: 4007,
    after: 'final',
    text: 'this join link already holds as many connections as it may; close one first',
  },
  // The room's host node died or drains: the same join token reaches its new host (placed anew).
  room_moved: {
    code: 4011,
    after: 'rejoin',
    text: 'the node hosting the room went away or is draining; join again to reach its new host',
  },
  // The user socket (USER_SOCKET_PATH): what its access token stood for ended.
  token_expired: {
    code: 4012,
    after: 'rejoin',
    text: 'the access token expired without an auth.refresh; connect again with a fresh token',
  },
  session_revoked: {
    code: 4013,
    after: 'final',
    text: 'the sign-in session was logged out, revoked or timed out; sign in again',
  },
  account_disabled: { code: 4014, after: 'final', text: 'the account was disabled' },
  too_many_user_connections: {
    code: 4007,
    after: 'final',
    text: 'this account already holds as many user connections as it may; close one first',
  },
  server_shutdown: { code: 1001, after: 'resume', text: 'the node is shutting down' },
  ping_timeout: { code: 1001, after: 'resume', text: 'the client stopped answering pings' },
  frame_too_large: { code: 1009, after: 'resume', text: 'a frame was over the transport cap' },
} as const satisfies Record<string, CloseEntry>;

export type CloseReason = keyof typeof closeCatalogue;

/** The close code of a reason. */
export function closeCode(reason: CloseReason): number {
  return closeCatalogue[reason].code;
}

/**
 * What to do after a close with this code. Codes outside the catalogue (1006 when the network
 * failed, 1000, anything a proxy sends) mean the socket was lost, not ended: resume.
 */
export function afterCloseCode(code: number): AfterClose {
  return Object.values(closeCatalogue).find((entry) => entry.code === code)?.after ?? 'resume';
}

/** The first catalogued reason for a code, for a close that arrived without its reason text. */
export function reasonForCode(code: number): CloseReason | undefined {
  return (Object.keys(closeCatalogue) as CloseReason[]).find(
    (reason) => closeCatalogue[reason].code === code,
  );
}
