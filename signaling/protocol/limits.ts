/** Largest frame the protocol accepts; larger ones get a `frame_too_large` error frame. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Hard transport cap: beyond this the socket layer closes the connection (1009). */
export const MAX_SOCKET_PAYLOAD_BYTES = 1024 * 1024;
export const SIGNALING_PATH = '/ws';
export const JOIN_TOKEN_AUDIENCE = 'carecall:signaling';
export const JOIN_TOKEN_ISSUER = 'carecall:api';
/** A room holds at most this many admitted participants, unless its consult type says otherwise. */
export const MAX_ROOM_PARTICIPANTS = 8;
/** The most a consult type may set (a group session or a talk; the same bound as the database's). */
export const ROOM_CAPACITY_LIMIT = 200;
/** How long a dropped connection's participant is kept for resumption. */
export const RESUME_GRACE_MS = 20_000;
/** Notifications kept per participant for replay on resume. */
export const NOTIFICATION_BUFFER = 512;
