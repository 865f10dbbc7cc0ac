/** Every error code a client can receive in an error frame or a failed response. */
export const errorCodes = [
  'bad_frame',
  'frame_too_large',
  'unknown_method',
  'invalid_request',
  'not_joined',
  'not_admitted',
  'room_full',
  'peer_not_found',
  'already_joined',
  'forbidden',
  'room_closed',
  'room_elsewhere',
  'peer_closed',
  'peer_exists',
  'transport_not_found',
  'producer_not_found',
  /** A peer has at most one producer per source: close the one it has before producing another. */
  'source_already_published',
  'consumer_not_found',
  'cannot_consume',
  'no_worker',
  'media_error',
  /** The join token no longer stands for anything (guest revoked, consultation cancelled or not open). */
  'access_revoked',
  /** A host removed this identity from the room: it cannot join it again. */
  'removed_by_host',
  /** A host stopped this source; only a host can release it (releaseMute). */
  'muted_by_host',
  /** A moderation request aimed at oneself or at someone it cannot apply to. */
  'invalid_target',
  /** Too many requests of this kind in a short time: wait and try again. */
  'rate_limited',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** Why the server closed a signaling connection (sent as the WebSocket close reason). */
export const closeReasons = [
  'client_left',
  'duplicate_identity',
  'room_closed',
  'denied',
  'session_expired',
  'server_shutdown',
  'socket_error',
  /** A frame over the transport cap (close code 1009). */
  'frame_too_large',
  // Close code 4006: what the join token stood for was withdrawn (see RevocationReason).
  'invitation_revoked',
  'consultation_cancelled',
  'consultation_not_open',
  /** Close code 4007: the join token already holds JOIN_TOKEN_MAX_SOCKETS connections. */
  'too_many_connections',
  /** Close code 4008: a host removed this participant; final, the identity cannot rejoin the room. */
  'removed_by_host',
  /** Close code 4009: a host ended the consultation for everyone; final. */
  'ended_by_host',
] as const;
export type CloseReason = (typeof closeReasons)[number];
export const CLOSE_CODE_NORMAL = 1000;
export const CLOSE_CODE_GOING_AWAY = 1001;
/** Application close codes (4000-4999). */
export const CLOSE_CODE_REPLACED = 4001;
export const CLOSE_CODE_ROOM_CLOSED = 4002;
export const CLOSE_CODE_DENIED = 4003;
/** The client said leave: do not keep its session for resumption. */
export const CLOSE_CODE_LEFT = 4004;
/** A resume key the server no longer knows: rejoin with a join token. */
export const CLOSE_CODE_SESSION_EXPIRED = 4005;
/** The join token was revoked (reason: a RevocationReason): final, do not reconnect. */
export const CLOSE_CODE_REVOKED = 4006;
/** Too many connections on one join token at once: close one before opening another. */
export const CLOSE_CODE_TOO_MANY_CONNECTIONS = 4007;
/** A host removed this participant from the room (reason removed_by_host): final, do not reconnect. */
export const CLOSE_CODE_REMOVED = 4008;
/** A host ended the consultation for everyone (reason ended_by_host): final, do not reconnect. */
export const CLOSE_CODE_ENDED = 4009;

/**
 * Why a join token stopped admitting anyone: the guest's invitation was revoked; the consultation
 * was cancelled (or marked no-show); it is not open (completed, awaiting approval, outside its time).
 */
export const revocationReasons = ['invitation_revoked', 'consultation_cancelled', 'consultation_not_open'] as const;
export type RevocationReason = (typeof revocationReasons)[number];
