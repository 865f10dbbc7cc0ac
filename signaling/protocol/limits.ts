/** Largest frame the protocol accepts; larger ones get a `frame_too_large` error frame. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Hard transport cap: beyond this the socket layer closes the connection (1009). */
export const MAX_SOCKET_PAYLOAD_BYTES = 1024 * 1024;
export const SIGNALING_PATH = '/ws';
export const JOIN_TOKEN_AUDIENCE = 'carecall:signaling';
export const JOIN_TOKEN_ISSUER = 'carecall:api';
