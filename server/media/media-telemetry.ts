import type { Logger } from 'pino';
import type { TransportEvent } from '../../sfu/index.ts';

/**
 * One log line per media connection event. Opaque ids only: room ids are random, peer ids are
 * account or guest ids, never names. A DTLS close is what a leaving client sends: debug only.
 */
export function logTransportEvent(logger: Logger, event: TransportEvent) {
  const { kind, ...fields } = event;
  switch (kind) {
    case 'receive_stalled':
      return logger.warn(
        { ...fields, event: kind },
        'media transport receives nothing: the client has likely lost its connection (consent checks not arriving)',
      );
    case 'ice_disconnected':
    case 'dtls_failed':
      return logger.warn({ ...fields, event: kind }, 'media transport disconnected');
    case 'receive_recovered':
      return logger.info({ ...fields, event: kind }, 'media transport receiving again');
    case 'dtls_closed':
      return logger.debug({ ...fields, event: kind }, 'media transport closed by the client');
  }
}
