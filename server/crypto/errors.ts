/**
 * Why a sealed value could not be opened. Callers map these to a problem code; the plaintext of a
 * failed open is never returned, not even in part.
 * - ciphertext_invalid: authentication failed (tampered bytes, wrong key, or a value moved to another
 *   scope or record), or the bytes are not an envelope at all.
 * - envelope_unsupported: a format or algorithm this build does not know.
 * - stream_truncated: an encrypted file ended before its final chunk.
 * - data_key_invalid: the wrapped data key does not open under its KEK (a wrong key configured for
 *   that version, or the row was altered).
 */
export type DecryptionErrorCode =
  'ciphertext_invalid' | 'envelope_unsupported' | 'stream_truncated' | 'data_key_invalid';

export class DecryptionError extends Error {
  constructor(
    readonly code: DecryptionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** The KEK version that wrapped a data key is not in this node's configuration. */
export class KeyUnavailableError extends Error {
  readonly code = 'kek_unavailable';
  constructor(readonly kekVersion: number) {
    super(`key-encryption key version ${kekVersion} is not configured (DATA_KEK / DATA_KEK_PREVIOUS)`);
    this.name = 'KeyUnavailableError';
  }
}

/** A scope or record id the crypto layer refuses (programming error, never user text). */
export class InvalidScopeError extends Error {
  readonly code = 'scope_invalid';
  constructor(what: string) {
    super(`${what} must be 1-200 printable ASCII characters`);
    this.name = 'InvalidScopeError';
  }
}
