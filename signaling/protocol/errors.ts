import type { CloseReason } from './close-reasons.ts';

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
  /** A chat message longer than the server's limit (MESSAGE_MAX_BYTES of UTF-8). */
  'message_too_large',
  /** A chat message without text, or with text that cannot be stored. */
  'message_empty',
  /** Not allowed in this conversation now (waiting room reads, an expired guest, after the call). */
  'not_allowed',
  /** No such conversation or message for this caller. */
  'not_found',
  /** A file message naming a file that does not exist in this conversation (or not for this caller). */
  'file_unknown',
  /** A file message naming a file whose upload has not finished: send it once the upload completes. */
  'file_incomplete',
  /** Only its sender edits or deletes a message, and only once deleted; a file message is never edited. */
  'not_editable',
  /** The node hosting the room did not answer a relayed request in time: retry, or rejoin if it persists. */
  'relay_timeout',
  /** auth.refresh with a token that is invalid, expired, or stands for another session or user. */
  'token_invalid',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/**
 * Why a join token stopped admitting anyone: the guest's invitation was revoked; the consultation
 * was cancelled (or marked no-show); it is not open (completed, awaiting approval, outside its time).
 */
export const revocationReasons = [
  'invitation_revoked',
  'consultation_cancelled',
  'consultation_not_open',
] as const satisfies readonly CloseReason[];
export type RevocationReason = (typeof revocationReasons)[number];
