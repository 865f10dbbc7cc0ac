export type SfuErrorCode =
  | 'room_closed'
  | 'peer_closed'
  | 'peer_exists'
  | 'transport_not_found'
  | 'producer_not_found'
  | 'source_already_published'
  | 'consumer_not_found'
  | 'cannot_consume'
  | 'no_worker';

/** Errors the SFU raises on purpose; the signaling tier maps the code to an error frame. */
export class SfuError extends Error {
  constructor(
    readonly code: SfuErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SfuError';
  }
}
